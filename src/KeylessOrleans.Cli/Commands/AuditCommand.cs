using System.CommandLine;
using System.Globalization;
using KeylessOrleans.KeyServer.Audit;

namespace KeylessOrleans.Cli.Commands;

/// <summary>The tenant's tools for its key server's audit log.</summary>
internal static class AuditCommand
{
    public static Command Create()
    {
        var file = new Argument<string>("file") { Description = "The audit log (Keyless:KeyServer:AuditLog:Path of the key server)" };
        var verify = new Command("verify", "Walk an audit log's hash chain: exit 0 if intact, 1 naming the first broken record, 2 if it cannot be read.") { file };
        verify.SetAction(result => Verify(result.GetValue(file)!));
        return new Command("audit", "The key server's audit log.") { verify };
    }

    private static int Verify(string path)
    {
        AuditVerification result;
        try
        {
            result = AuditLogVerifier.VerifyFile(path);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            Console.Error.WriteLine(e is FileNotFoundException or DirectoryNotFoundException
                ? $"audit log '{path}' does not exist"
                : $"audit log '{path}' cannot be read: {e.Message}");
            return 2;
        }
        if (result.Break is { } broken)
        {
            Console.WriteLine($"broken at record {broken.Record} (line {broken.Line}): {broken.Reason}");
            Console.WriteLine($"the {result.Records} records before it are intact (chain head {result.HeadHex})");
            return 1;
        }
        Console.WriteLine(result.Records == 0
            ? $"ok: 0 records, chain head {result.HeadHex} (the genesis value)"
            : $"ok: {result.Records} records, first at {Time(result.First)}, last at {Time(result.Last)}, chain head {result.HeadHex}");
        return 0;
    }

    private static string Time(DateTime? time) => time!.Value.ToString(AuditChain.TimeFormat, CultureInfo.InvariantCulture);
}
