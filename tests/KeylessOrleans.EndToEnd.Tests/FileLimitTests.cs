using System.Net;
using System.Net.Sockets;
using KeylessOrleans.TestSupport;
using KeylessOrleans.TestSupport.Fuzzing;

namespace KeylessOrleans.EndToEnd.Tests;

/// <summary>
/// A connection flood cannot exhaust the edge's file descriptors: the .NET runtime aborts a process that runs out
/// ("Out of memory."), so the edge holds fewer connections than its open-file limit allows.
/// </summary>
public sealed class FileLimitTests
{
    private const int FileLimit = 700;
    private const int Flood = 600; // with the ~200 descriptors a started edge holds, well past the limit

    [Fact]
    public async Task An_edge_with_a_low_open_file_limit_survives_a_connection_flood_and_serves_after()
    {
        var httpsPort = KeylessProcess.FreePort();
        var adminPort = KeylessProcess.FreePort();
        await using var edge = KeylessProcess.StartProgram("prlimit",
            [$"--nofile={FileLimit}:{FileLimit}", "dotnet", Path.Combine(AppContext.BaseDirectory, "keyless.dll"), "edge",
             "--https-port", $"{httpsPort}", "--silo-port", $"{KeylessProcess.FreePort()}", "--gateway-port", $"{KeylessProcess.FreePort()}",
             "--admin-port", $"{adminPort}"],
            null);
        await edge.WaitForLineAsync("Edge listening for TLS", TimeSpan.FromSeconds(60));
        Assert.Contains("lowered to", edge.Output);
        var server = new IPEndPoint(IPAddress.Loopback, httpsPort);

        using var admin = new AdminEndpoint(adminPort);
        var flood = new List<Socket>();
        var connected = 0;
        try
        {
            for (var i = 0; i < Flood; i++)
            {
                // Three source addresses, so the per-address cap (256) is not what stops the flood.
                var socket = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
                flood.Add(socket);
                socket.Bind(new IPEndPoint(IPAddress.Parse($"127.0.0.{1 + i % 3}"), 0));
                try
                {
                    await socket.ConnectAsync(server);
                    connected++;
                }
                catch (SocketException)
                {
                    break; // nothing listens any more: the assertion below says why
                }
            }
            // The edge has taken every connection off its queue once each is open, refused, or ended as a handshake.
            var taken = await Poll.UntilAsync(async () => edge.HasExited || Accounted(await admin.MetricsAsync()) >= connected, TimeSpan.FromSeconds(30));
            Assert.False(edge.HasExited, $"the edge died under the flood:\n{edge.Output}");
            Assert.True(taken, $"the edge did not take all {connected} connections within 30 s:\n{edge.Output}");
        }
        finally
        {
            foreach (var socket in flood) socket.Dispose();
        }

        // Still alive and answering: a ClientHello for a name no tenant serves gets its alert, once the edge has seen
        // the flood's connections close (until then it may refuse at its connection limit).
        Assert.True(await Poll.UntilAsync(async () => edge.HasExited || OpenConnections(await admin.MetricsAsync()) == 0, TimeSpan.FromSeconds(30)),
            $"connections still open 30 s after the flood ended:\n{edge.Output}");
        var hello = ClientHelloBuilder.Standard(new Random(1), "nobody.test").Record();
        var result = await FuzzClient.SendAsync(server, new FuzzInput(0, "valid", hello, FuzzEnding.HalfClose), TimeSpan.FromSeconds(10));
        Assert.True(result.Outcome is FuzzOutcome.Alert, $"{result}\n{edge.Output}");
        Assert.False(edge.HasExited);
    }

    private static double OpenConnections(string metrics) => AdminEndpoint.Sum(metrics, "keyless_edge_connections_open");

    private static double Accounted(string metrics) => OpenConnections(metrics)
        + AdminEndpoint.Sum(metrics, "keyless_edge_connections_refused_total") + AdminEndpoint.Sum(metrics, "keyless_edge_handshakes_total");
}
