using System.CommandLine;
using System.Globalization;
using KeylessOrleans.KeyServer.Audit;

namespace KeylessOrleans.Cli.Commands;

/// <summary>The tenant's tools for its key server's audit log.</summary>
internal static class AuditCommand
{
    public static Command Create()
    {
        var file = new Argument<string>("file")
        {
            Description = "The audit log (Keyless:KeyServer:AuditLog:Path of the key server), one rotated file (.gz read as such), " +
                "or a folder: every log in it with all its rotated files, walked in order as one chain",
        };
        var key = new Option<string?>("--key") { Description = "The audit key file (Keyless:KeyServer:AuditLog:KeyPath; default FILE.key when it exists): checkpoints are authenticated with it" };
        var anchor = new Option<string?>("--anchor") { Description = "A chain head known from off the host, SEQ:HEADHEX: record SEQ must be in the file with that hash (a tail cut off after it is reported)" };
        var heads = new Option<string?>("--heads") { Description = "A shipped heads file (Keyless:KeyServer:AuditLog:HeadsFile): its last line is the anchor" };
        var verify = new Command("verify",
            "Walk an audit log's hash chain and checkpoints (one file, or a folder's rotated files in order): exit 0 if intact (and the anchor met), 1 naming the first broken record, a forged checkpoint or a cut-off tail, 2 if it cannot be read.")
        {
            file, key, anchor, heads,
        };
        verify.SetAction(result => Verify(result.GetValue(file)!, result.GetValue(key), result.GetValue(anchor), result.GetValue(heads)));
        return new Command("audit", "The key server's audit log.") { verify };
    }

    private static int Verify(string path, string? keyPath, string? anchorText, string? headsPath)
    {
        if (!Directory.Exists(path)) return Verify(path, 1, (key, anchor) => AuditLogVerifier.VerifyFiles([path], key, anchor), keyPath, anchorText, headsPath);
        var logs = AuditLogFiles.LogsIn(path);
        if (logs.Count == 0)
        {
            Console.Error.WriteLine($"folder '{path}' holds no audit log (no rotated files, and no *.log with its .key or .state beside it)");
            return 2;
        }
        var worst = 0;
        foreach (var live in logs)
        {
            var files = AuditLogFiles.Chain(live).Count;
            Console.WriteLine($"{live}: {files} file(s)");
            // Walked as it is when each file is opened: the key server may be rotating and compressing it meanwhile.
            worst = Math.Max(worst, Verify(live, files, (key, anchor) => AuditLogVerifier.VerifyLog(live, key, anchor), keyPath, anchorText, headsPath));
        }
        return worst;
    }

    /// <summary>Verifies the log <paramref name="path"/> names by <paramref name="walk"/>; <paramref name="files"/> were listed before it.</summary>
    private static int Verify(string path, int files, Func<byte[]?, AuditAnchor?, AuditVerification> walk, string? keyPath, string? anchorText, string? headsPath)
    {
        byte[]? key = null;
        AuditAnchor? anchor = null;
        string? anchorFrom = null;
        try
        {
            var live = AuditLogFiles.TryParseRotated(path, out var of, out _) ? of : path;
            if (keyPath is null && File.Exists(live + ".key")) keyPath = live + ".key";
            if (keyPath is not null) key = AuditKey.Read(keyPath);
            if (anchorText is not null)
            {
                if (!AuditAnchor.TryParse(anchorText, out anchor))
                {
                    Console.Error.WriteLine($"--anchor '{anchorText}' is not SEQ:HEADHEX (a record number and 64 hex digits)");
                    return 2;
                }
                anchorFrom = "--anchor";
            }
            else if (headsPath is not null)
            {
                anchor = AuditHeadShipper.LastAnchor(headsPath);
                if (anchor is null)
                {
                    Console.Error.WriteLine($"heads file '{headsPath}' has no heads line");
                    return 2;
                }
                anchorFrom = $"the last line of {headsPath}";
            }
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or InvalidDataException)
        {
            Console.Error.WriteLine(e.Message);
            return 2;
        }

        AuditVerification result;
        try
        {
            result = walk(key, anchor);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or InvalidDataException)
        {
            Console.Error.WriteLine(e is FileNotFoundException or DirectoryNotFoundException
                ? $"audit log '{path}' does not exist"
                : $"audit log '{path}' cannot be read: {e.Message}");
            return 2;
        }

        var failed = false;
        if (result.Break is { } broken)
        {
            Console.WriteLine($"broken at record {broken.Record} (line {broken.Line}): {broken.Reason}");
            Console.WriteLine($"  the {result.Records} records before it are intact (chain head {result.HeadHex})");
            failed = true;
        }
        else
        {
            Console.WriteLine(result.Records == 0
                ? "ok: 0 records"
                : result.FirstSequence == 1
                    ? $"ok: {result.Records} records, first at {Time(result.First)}, last at {Time(result.Last)}, chain head {result.HeadHex}"
                    : $"ok: records {result.FirstSequence}–{result.Records}, first at {Time(result.First)}, last at {Time(result.Last)}, chain head {result.HeadHex}");
        }
        if (files > 1 || result.Files > 1)
            Console.WriteLine($"  files: {result.Files} walked in order, each continuing the one before"
                + (result.Chains > 1 ? $"; {result.Chains} chains (a later file starts a new chain)" : ""));
        if (result.ContinuesFrom is { } from)
            Console.WriteLine($"  continues record {from.Sequence} (head {from.HeadHex}) of {result.ContinuesFile ?? "an earlier file"}, which is not part of this walk: earlier records are not checked here");
        if (result.FormatV1Lines > 0)
            Console.WriteLine($"  {result.FormatV1Lines} line(s) in the v1 format (long names, hex digests)");

        if (result.StartsChain)
            Console.WriteLine(result.Replaces is { } replaced
                ? $"  new chain: its first record says it replaces a chain that reached record {replaced.Sequence} (head {replaced.HeadHex})"
                : "  the chain starts with this file (its first record names no earlier chain)");

        if (key is null)
        {
            Console.WriteLine($"  checkpoints: {result.Checkpoints}, not authenticated (no --key and no {Path.GetFileName(path)}.key beside the log: anyone can rebuild an unkeyed chain)");
        }
        else if (result.Checkpoints == 0)
        {
            Console.WriteLine($"no checkpoint: nothing in this file is authenticated by the key {keyPath}");
            failed = true;
        }
        else
        {
            var last = result.LastCheckpoint!;
            Console.WriteLine($"  checkpoints: {result.Checkpoints}, authenticated with {keyPath}; the last covers record {last.Covers} (at {Time(last.Time)})");
            if (result.Uncovered > 0)
                Console.WriteLine($"  {result.Uncovered} record(s) after the last checkpoint are not covered by one yet (normal for a live log; a stopped key server writes one last checkpoint)");
        }

        if (anchor is not null)
        {
            switch (result.Anchor)
            {
                case AuditAnchorStatus.Met:
                    Console.WriteLine($"  anchor met: record {anchor.Sequence} has head {anchor.HeadHex} ({anchorFrom})");
                    break;
                case AuditAnchorStatus.Earlier:
                    Console.WriteLine($"  anchor not checked: record {anchor.Sequence} ({anchorFrom}) is in a file before the first one walked");
                    break;
                case AuditAnchorStatus.Mismatch:
                    Console.WriteLine($"rewritten: record {anchor.Sequence} does not have the head {anchor.HeadHex} given by {anchorFrom}: the chain was replaced");
                    failed = true;
                    break;
                default:
                    Console.WriteLine(result.IsIntact
                        ? $"cut off: {anchorFrom} says record {anchor.Sequence} exists (head {anchor.HeadHex}), but the chain ends at record {result.Records}: at least {anchor.Sequence - result.Records} record(s) are missing from its end"
                        : $"cut off: {anchorFrom} says record {anchor.Sequence} exists, but the intact chain ends at record {result.Records}");
                    failed = true;
                    break;
            }
        }
        return failed ? 1 : 0;
    }

    private static string Time(DateTime? time) => time!.Value.ToString(AuditChain.TimeFormat, CultureInfo.InvariantCulture);
}
