using System.Globalization;
using KeylessOrleans.TestSupport;

namespace KeylessOrleans.Benchmarks;

/// <summary>Downloads the origin's bulk response with curl through a TLS server and reports the speed curl measured.</summary>
internal static class BulkDownload
{
    public static async Task<double> MedianMegabytesPerSecondAsync(int port, int runs)
    {
        var speeds = new List<double>();
        for (var i = 0; i < runs; i++)
        {
            var result = await ExternalTool.RunAsync("curl",
                ["-sk", "--tlsv1.3", "-o", "/dev/null", "-w", "%{speed_download} %{size_download}",
                 "--resolve", $"{BenchCluster.Host}:{port}:127.0.0.1", $"https://{BenchCluster.Host}:{port}/bulk"],
                timeout: TimeSpan.FromMinutes(2));
            var parts = result.Output.Trim().Split(' ');
            if (result.ExitCode != 0 || parts.Length != 2 || long.Parse(parts[1], CultureInfo.InvariantCulture) != BulkOrigin.BulkBytes)
                throw new InvalidOperationException($"bulk download through port {port} failed: {result.All}");
            speeds.Add(double.Parse(parts[0], CultureInfo.InvariantCulture) / 1_000_000);
        }
        return speeds.Order().ElementAt(speeds.Count / 2);
    }
}
