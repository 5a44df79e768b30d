using System.CommandLine;
using System.Net;
using KeylessOrleans.Cli.Origin;

namespace KeylessOrleans.Cli.Commands;

internal static class OriginCommand
{
    public const string DefaultBody = "Hello from the KeylessOrleans demo origin. TLS ended at the edge; the private key never left the key server.\n";

    public static Command Create()
    {
        var listen = new Option<string>("--listen") { Description = "address:port to serve plain HTTP on", DefaultValueFactory = _ => "127.0.0.1:8080" };
        var command = new Command("origin", "Run a tiny plain-HTTP origin that answers every request with 200 (for the demo and tests).") { listen };
        command.SetAction(async (result, cancellationToken) =>
        {
            if (!IPEndPoint.TryParse(result.GetValue(listen)!, out var endPoint))
            {
                await Console.Error.WriteLineAsync($"--listen '{result.GetValue(listen)}' is not address:port");
                return 2;
            }
            using var stop = new CancellationTokenSource();
            using var sigterm = System.Runtime.InteropServices.PosixSignalRegistration.Create(System.Runtime.InteropServices.PosixSignal.SIGTERM, c => { c.Cancel = true; stop.Cancel(); });
            using var sigint = System.Runtime.InteropServices.PosixSignalRegistration.Create(System.Runtime.InteropServices.PosixSignal.SIGINT, c => { c.Cancel = true; stop.Cancel(); });
            await new DemoOrigin(endPoint, DefaultBody).RunAsync(stop.Token);
            return 0;
        });
        return command;
    }
}
