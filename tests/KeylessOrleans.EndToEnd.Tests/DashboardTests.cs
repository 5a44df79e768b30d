using System.Net;
using System.Net.Http.Headers;
using System.Text;
using KeylessOrleans.TestSupport;

namespace KeylessOrleans.EndToEnd.Tests;

/// <summary>
/// The Orleans Dashboard on an edge's admin endpoint: open on loopback, never open beyond it — there it needs the
/// operator's password, and without one it is not served at all.
/// </summary>
public sealed class DashboardTests : IDisposable
{
    private readonly TempDirectory _files = new("keyless-dashboard-test");
    private readonly HttpClient _http = new() { Timeout = TimeSpan.FromSeconds(10) };

    private static async Task<(KeylessProcess Edge, int AdminPort)> StartEdgeAsync(params string[] adminOptions)
    {
        var admin = KeylessProcess.FreePort();
        var edge = KeylessProcess.Start(["edge", "--https-port", $"{KeylessProcess.FreePort()}", "--silo-port", $"{KeylessProcess.FreePort()}",
            "--gateway-port", $"{KeylessProcess.FreePort()}", "--admin-port", $"{admin}", .. adminOptions]);
        await edge.WaitForLineAsync("Admin endpoint on", TimeSpan.FromSeconds(60));
        return (edge, admin);
    }

    [Fact]
    public async Task On_loopback_the_dashboard_shows_the_cluster()
    {
        var (edge, admin) = await StartEdgeAsync();
        await using (edge)
        {
            var page = await _http.GetAsync($"http://127.0.0.1:{admin}/dashboard/");
            Assert.Equal(HttpStatusCode.OK, page.StatusCode);
            Assert.Contains("<html", await page.Content.ReadAsStringAsync(), StringComparison.OrdinalIgnoreCase);
            // The dashboard collects every second or so: its first answers may still be empty.
            var counters = "";
            Assert.True(await Poll.UntilAsync(async () =>
                (counters = await _http.GetStringAsync($"http://127.0.0.1:{admin}/dashboard/DashboardCounters")).Contains("\"status\":\"Active\""),
                TimeSpan.FromSeconds(20)), $"the dashboard never listed this edge as an active silo: {counters}");
        }
    }

    [Fact]
    public async Task Beyond_loopback_the_dashboard_needs_the_password_and_without_one_is_not_served()
    {
        var (open, openAdmin) = await StartEdgeAsync("--admin-listen", "0.0.0.0", "--admin-insecure-plain-http");
        await using (open)
        {
            Assert.Equal(HttpStatusCode.NotFound, (await _http.GetAsync($"http://127.0.0.1:{openAdmin}/dashboard/DashboardCounters")).StatusCode);
            Assert.Equal(HttpStatusCode.OK, (await _http.GetAsync($"http://127.0.0.1:{openAdmin}/healthz")).StatusCode);
            await open.WaitForLineAsync("Orleans Dashboard not served", TimeSpan.FromSeconds(5));
        }

        var passwordFile = _files.Write("dashboard-password", "correct horse battery staple\n");
        var admin = KeylessProcess.FreePort();
        await using var guarded = KeylessProcess.Start(new Dictionary<string, string> { ["KEYLESS__ADMIN__DASHBOARDPASSWORDFILE"] = passwordFile },
            "edge", "--https-port", $"{KeylessProcess.FreePort()}", "--silo-port", $"{KeylessProcess.FreePort()}", "--gateway-port", $"{KeylessProcess.FreePort()}",
            "--admin-port", $"{admin}", "--admin-listen", "0.0.0.0", "--admin-insecure-plain-http");
        await guarded.WaitForLineAsync("Admin endpoint on", TimeSpan.FromSeconds(60));
        var url = $"http://127.0.0.1:{admin}/dashboard/DashboardCounters";

        Assert.Equal(HttpStatusCode.Unauthorized, (await _http.GetAsync(url)).StatusCode);
        Assert.Equal(HttpStatusCode.Unauthorized, (await SendAsync(url, "operator:wrong")).StatusCode);
        var authorized = await SendAsync(url, "operator:correct horse battery staple");
        Assert.Equal(HttpStatusCode.OK, authorized.StatusCode);
        Assert.Contains("\"hosts\"", await authorized.Content.ReadAsStringAsync());
    }

    private Task<HttpResponseMessage> SendAsync(string url, string credentials)
    {
        var request = new HttpRequestMessage(HttpMethod.Get, url);
        request.Headers.Authorization = new AuthenticationHeaderValue("Basic", Convert.ToBase64String(Encoding.UTF8.GetBytes(credentials)));
        return _http.SendAsync(request);
    }

    public void Dispose()
    {
        _http.Dispose();
        _files.Dispose();
    }
}
