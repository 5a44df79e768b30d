using System.Diagnostics;

namespace KeylessOrleans.TestSupport;

/// <summary>Runs a command-line client (openssl, curl) with a time limit, killing it by PID if it overruns.</summary>
public static class ExternalTool
{
    public sealed record Result(int ExitCode, string Output, string Error)
    {
        public string All => Output + "\n" + Error;
    }

    /// <summary>curl https://HOST:PORT/ through 127.0.0.1, trusting only <paramref name="caFile"/>.</summary>
    public static Task<Result> CurlAsync(string host, int port, string caFile) =>
        RunAsync("curl", ["-sS", "--max-time", "10", "--cacert", caFile, "--resolve", $"{host}:{port}:127.0.0.1", $"https://{host}:{port}/"]);

    public static async Task<Result> RunAsync(string file, IEnumerable<string> arguments, string? standardInput = null, TimeSpan? timeout = null,
        string? workingDirectory = null, IReadOnlyDictionary<string, string>? environment = null)
    {
        var start = new ProcessStartInfo(file)
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            RedirectStandardInput = true,
            UseShellExecute = false,
            WorkingDirectory = workingDirectory ?? Environment.CurrentDirectory,
        };
        foreach (var argument in arguments) start.ArgumentList.Add(argument);
        foreach (var (name, value) in environment ?? new Dictionary<string, string>()) start.Environment[name] = value;
        using var process = Process.Start(start) ?? throw new InvalidOperationException($"could not start {file}");
        var output = process.StandardOutput.ReadToEndAsync();
        var error = process.StandardError.ReadToEndAsync();
        try
        {
            if (standardInput is not null) await process.StandardInput.WriteAsync(standardInput);
            process.StandardInput.Close();
        }
        catch (IOException)
        {
            // The tool finished (e.g. on a handshake alert) before reading its input.
        }
        using var limit = new CancellationTokenSource(timeout ?? TimeSpan.FromSeconds(30));
        try
        {
            await process.WaitForExitAsync(limit.Token);
        }
        catch (OperationCanceledException)
        {
            process.Kill(entireProcessTree: true);
            await process.WaitForExitAsync();
            throw new TimeoutException($"{file} {string.Join(' ', arguments)} did not finish in time:\n{await output}\n{await error}");
        }
        return new Result(process.ExitCode, await output, await error);
    }
}
