using System.Diagnostics;
using System.Globalization;
using KeylessOrleans.TestSupport;

namespace KeylessOrleans.Benchmarks;

/// <summary>
/// redis-server from Debian on a free loopback port, in a folder of its own, without snapshots or an append-only file
/// (the benchmark measures the registry, not Redis's disk). Started and stopped by PID; asked with redis-cli.
/// </summary>
internal sealed class RedisServer : IAsyncDisposable
{
    private readonly KeylessProcess _process;

    private RedisServer(KeylessProcess process, int port) => (_process, Port) = (process, port);

    public int Port { get; }

    /// <summary>The StackExchange.Redis configuration string for this server.</summary>
    public string Endpoint => $"127.0.0.1:{Port}";

    public static async Task<RedisServer> StartAsync(string workDirectory)
    {
        var port = KeylessProcess.FreePort();
        var folder = Directory.CreateDirectory(Path.Combine(workDirectory, "redis")).FullName;
        var process = KeylessProcess.StartProgram("redis-server",
            ["--port", port.ToString(CultureInfo.InvariantCulture), "--bind", "127.0.0.1", "--dir", folder, "--save", "", "--appendonly", "no", "--protected-mode", "yes"], null);
        var server = new RedisServer(process, port);
        for (var attempt = 0; attempt < 100; attempt++)
        {
            if (process.HasExited) throw new InvalidOperationException($"redis-server exited:\n{process.Output}");
            if ((await server.CommandAsync("PING")).Trim() == "PONG") return server;
            await Task.Delay(100);
        }
        await server.DisposeAsync();
        throw new TimeoutException("redis-server did not answer PING within 10 s");
    }

    /// <summary>One field of INFO (e.g. "used_memory", "total_net_input_bytes"), or -1 when absent.</summary>
    public async Task<long> InfoAsync(string section, string field)
    {
        foreach (var line in (await CommandAsync("INFO", section)).Split('\n'))
            if (line.StartsWith(field + ":", StringComparison.Ordinal) && long.TryParse(line[(field.Length + 1)..].Trim(), CultureInfo.InvariantCulture, out var value))
                return value;
        return -1;
    }

    public async Task<long> KeysAsync() => long.TryParse((await CommandAsync("DBSIZE")).Trim(), CultureInfo.InvariantCulture, out var keys) ? keys : -1;

    private async Task<string> CommandAsync(params string[] command)
    {
        var start = new ProcessStartInfo("redis-cli") { RedirectStandardOutput = true, RedirectStandardError = true };
        foreach (var argument in (string[])["-h", "127.0.0.1", "-p", Port.ToString(CultureInfo.InvariantCulture), .. command]) start.ArgumentList.Add(argument);
        using var cli = Process.Start(start)!;
        var output = await cli.StandardOutput.ReadToEndAsync();
        await cli.WaitForExitAsync();
        return output;
    }

    public ValueTask DisposeAsync() => _process.DisposeAsync();
}
