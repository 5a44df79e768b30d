using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using System.Text.Json;
using KeylessOrleans.TestSupport;
using Xunit.Abstractions;

namespace KeylessOrleans.EndToEnd.Tests;

/// <summary>
/// A scanner or a flood of garbage at a real `keyless edge`: its log stays readable (failures alike are logged a few
/// in full, then counted once per window) while its metrics count every failed handshake exactly.
/// </summary>
public sealed class FailedHandshakeFloodTests(ITestOutputHelper output) : IDisposable
{
    private const int Connections = 50_000;
    private const int Concurrency = 32; // well below Keyless:Edge:Limits:MaxConnectionsPerClientAddress (256): none is refused at accept
    private const int FirstInFull = 5; // the edge's defaults: Keyless:Edge:FailedHandshakeLog:FirstInFull, …Window
    private static readonly TimeSpan Window = TimeSpan.FromSeconds(10);

    private readonly TempDirectory _files = new("keyless-flood-test");

    [Fact]
    public async Task A_flood_of_50000_garbage_connections_writes_a_bounded_number_of_log_lines_and_metrics_count_every_one()
    {
        var httpsPort = KeylessProcess.FreePort();
        var tenants = _files.Write("tenants.json", JsonSerializer.Serialize(new
        {
            tenants = new[] { new { tenant = "shop", hostNames = new[] { "shop.example.test" }, origin = new { host = "127.0.0.1", port = KeylessProcess.FreePort() } } },
        }));
        var lifetime = Stopwatch.StartNew(); // the edge's log windows start with it
        await using var edge = KeylessProcess.Start("edge", "--shared-cluster", "--https-port", $"{httpsPort}", "--silo-port", $"{KeylessProcess.FreePort()}",
            "--gateway-port", $"{KeylessProcess.FreePort()}", "--tenants", tenants, "--log-format", "json");
        using var admin = new AdminEndpoint(edge.AdminPort);
        TimeSpan flood;
        try
        {
            await edge.WaitForLineAsync("Edge listening for TLS", TimeSpan.FromSeconds(60));
            var before = await admin.MetricsAsync();

            var clock = Stopwatch.StartNew();
            var clientErrors = await FloodAsync(new IPEndPoint(IPAddress.Loopback, httpsPort));
            flood = clock.Elapsed;
            output.WriteLine($"{Connections} garbage connections in {flood.TotalSeconds:F1} s ({Connections / flood.TotalSeconds:F0}/s), {clientErrors} client-side errors");
            Assert.Equal(0, clientErrors);

            // Every one is a failed handshake in keyless.edge.handshakes: exactly, not about.
            var metrics = "";
            await Poll.UntilAsync(async () =>
            {
                metrics = await admin.MetricsAsync(); // the exporter may serve a cached scrape for a moment
                return Failed(metrics) - Failed(before) >= Connections;
            }, TimeSpan.FromSeconds(30));
            Assert.Equal(Connections, Failed(metrics) - Failed(before));
            Assert.Equal(0, AdminEndpoint.Sum(metrics, "keyless_edge_handshakes_total", ("outcome", "ok")));
            Assert.Equal(0, AdminEndpoint.Sum(metrics, "keyless_edge_connections_refused_total"));
            output.WriteLine(string.Join('\n', metrics.Split('\n').Where(l => l.StartsWith("keyless_edge_handshakes_total", StringComparison.Ordinal))));

            // A graceful stop writes the last window's summaries: nothing is left uncounted in the log either.
            edge.Signal(System.Runtime.InteropServices.PosixSignal.SIGTERM);
            Assert.True(await edge.WaitForExitAsync(TimeSpan.FromSeconds(60)), "the edge did not stop");
            lifetime.Stop();
        }
        finally
        {
            output.WriteLine("--- edge output (first 40 lines) ---\n" + string.Join('\n', edge.Output.Split('\n').Take(40)));
        }

        var log = Count(edge.Output); // complete: the edge has exited
        output.WriteLine($"log: {log.InFull} lines in full, {log.Summaries} summary lines counting {log.Summarized} more, {log.Kinds.Count} kinds: {string.Join(", ", log.Kinds)}");

        // The log accounts for every failure too: those in full plus the counts of the summaries.
        Assert.Equal(Connections, log.InFull + log.Summarized);
        // The bound: per window and kind (reason, tenant, client network) at most FirstInFull lines and one summary.
        // Windows run from the edge's start; its life spans at most ceil(life / window) + 1 of them (the last
        // partial one is summarized at shutdown).
        var windows = (int)Math.Ceiling(lifetime.Elapsed / Window) + 1;
        var bound = log.Kinds.Count * windows * (FirstInFull + 1);
        Assert.True(log.InFull + log.Summaries <= bound, $"{log.InFull + log.Summaries} failed-handshake lines > {bound} ({log.Kinds.Count} kinds × {windows} windows × {FirstInFull + 1})");
        Assert.True(log.Kinds.Count <= 2, $"garbage of two shapes from one network, yet kinds: {string.Join(", ", log.Kinds)}");
    }

    private static double Failed(string metrics) =>
        AdminEndpoint.Sum(metrics, "keyless_edge_handshakes_total") - AdminEndpoint.Sum(metrics, "keyless_edge_handshakes_total", ("outcome", "ok"));

    /// <summary>
    /// Connects <see cref="Connections"/> times, <see cref="Concurrency"/> at a time, sends garbage and reads until the
    /// edge closes (so it has counted the failure), then resets: neither side keeps a TIME_WAIT port. Clients come
    /// from 127.0.0.1–8 so even 50,000 closings cannot use up one address's ephemeral ports.
    /// </summary>
    private static async Task<int> FloodAsync(IPEndPoint edge)
    {
        var next = -1;
        var errors = 0;
        await Task.WhenAll(Enumerable.Range(0, Concurrency).Select(worker => Task.Run(async () =>
        {
            var random = new Random(worker);
            var buffer = new byte[4096];
            int i;
            while ((i = Interlocked.Increment(ref next)) < Connections)
            {
                try
                {
                    using var socket = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
                    using var deadline = new CancellationTokenSource(TimeSpan.FromSeconds(20));
                    socket.Bind(new IPEndPoint(new IPAddress([127, 0, 0, (byte)(1 + i % 8)]), 0));
                    await socket.ConnectAsync(edge, deadline.Token);
                    await socket.SendAsync(Garbage(i, random), SocketFlags.None, deadline.Token);
                    while (await socket.ReceiveAsync(buffer, SocketFlags.None, deadline.Token) > 0)
                    {
                    }
                    socket.LingerState = new LingerOption(true, 0);
                }
                catch (Exception e) when (e is SocketException or OperationCanceledException)
                {
                    Interlocked.Increment(ref errors);
                }
            }
        })));
        return errors;
    }

    /// <summary>
    /// Two shapes of garbage: random bytes that are no TLS record (a first byte below 20, no record type), and a
    /// handshake record holding a ClientHello cut short — what a port scanner and a broken client send.
    /// </summary>
    private static byte[] Garbage(int index, Random random)
    {
        if (index % 2 == 1) return [0x16, 0x03, 0x01, 0x00, 0x08, 0x01, 0x00, 0x00, 0x04, 0x03, 0x03, 0xFF, 0xFF];
        var bytes = new byte[64];
        random.NextBytes(bytes);
        bytes[0] = (byte)random.Next(20);
        return bytes;
    }

    private readonly record struct LogCount(int InFull, int Summaries, long Summarized, IReadOnlySet<string> Kinds);

    /// <summary>The edge's failed-handshake lines: 3201 in full, 3203/3204 summaries with their counts.</summary>
    private static LogCount Count(string output)
    {
        int inFull = 0, summaries = 0;
        long summarized = 0;
        var kinds = new HashSet<string>(StringComparer.Ordinal);
        foreach (var line in output.Split('\n', StringSplitOptions.RemoveEmptyEntries))
        {
            if (!line.StartsWith('{')) continue;
            using var entry = JsonDocument.Parse(line);
            var state = entry.RootElement.GetProperty("State");
            switch (entry.RootElement.GetProperty("EventId").GetInt32())
            {
                case 3201:
                    inFull++;
                    kinds.Add($"{state.GetProperty("Reason").GetString()} {state.GetProperty("Tenant").GetString()} {FailedNetwork(state.GetProperty("Client").GetString()!)}");
                    break;
                case 3203 or 3204:
                    summaries++;
                    summarized += long.Parse(state.GetProperty("Count").ToString());
                    break;
            }
        }
        return new(inFull, summaries, summarized, kinds);
    }

    private static string FailedNetwork(string client) => client[..client.LastIndexOf('.')] + ".0/24";

    public void Dispose() => _files.Dispose();
}
