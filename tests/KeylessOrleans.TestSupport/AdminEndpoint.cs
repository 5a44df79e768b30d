using System.Globalization;
using System.Net.Http;
using System.Text.RegularExpressions;

namespace KeylessOrleans.TestSupport;

/// <summary>A silo's admin endpoint as Prometheus and a load balancer see it: /metrics, /healthz, /readyz over plain HTTP.</summary>
public sealed partial class AdminEndpoint(int port) : IDisposable
{
    private readonly HttpClient _http = new() { BaseAddress = new Uri($"http://127.0.0.1:{port}/"), Timeout = TimeSpan.FromSeconds(10) };

    /// <summary>Status code and body; 0 when nothing answers (not started yet, or stopped).</summary>
    public async Task<(int Status, string Body)> GetAsync(string path)
    {
        try
        {
            using var response = await _http.GetAsync(path);
            return ((int)response.StatusCode, await response.Content.ReadAsStringAsync());
        }
        catch (HttpRequestException)
        {
            return (0, "");
        }
    }

    public async Task<string> MetricsAsync()
    {
        var (status, body) = await GetAsync("metrics");
        if (status != 200) throw new InvalidOperationException($"/metrics answered {status}");
        return body;
    }

    /// <summary>
    /// Sum of the samples of <paramref name="name"/> (exact series name, e.g. "x_total" or "x_bucket") carrying all
    /// <paramref name="labels"/>; 0 when there are none.
    /// </summary>
    public static double Sum(string exposition, string name, params (string Label, string Value)[] labels) =>
        Samples(exposition, name).Where(s => labels.All(l => s.Labels.TryGetValue(l.Label, out var v) && v == l.Value)).Sum(s => s.Value);

    public static IEnumerable<(IReadOnlyDictionary<string, string> Labels, double Value)> Samples(string exposition, string name)
    {
        foreach (var line in exposition.Split('\n'))
        {
            var match = SampleLine().Match(line);
            if (!match.Success || match.Groups["name"].Value != name) continue;
            var labels = LabelPair().Matches(match.Groups["labels"].Value).ToDictionary(m => m.Groups[1].Value, m => m.Groups[2].Value);
            yield return (labels, double.Parse(match.Groups["value"].Value, CultureInfo.InvariantCulture));
        }
    }

    public void Dispose() => _http.Dispose();

    [GeneratedRegex(@"^(?<name>[a-zA-Z_:][a-zA-Z0-9_:]*)(\{(?<labels>.*)\})?\s+(?<value>\S+)")]
    private static partial Regex SampleLine();

    [GeneratedRegex(@"([a-zA-Z_][a-zA-Z0-9_]*)=""((?:[^""\\]|\\.)*)""")]
    private static partial Regex LabelPair();
}
