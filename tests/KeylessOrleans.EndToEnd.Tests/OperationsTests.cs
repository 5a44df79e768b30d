using System.Diagnostics;
using System.Net.Security;
using System.Net.Sockets;
using System.Security.Authentication;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using System.Text.Json;
using System.Text.RegularExpressions;
using KeylessOrleans.TestSupport;
using Xunit.Abstractions;

namespace KeylessOrleans.EndToEnd.Tests;

/// <summary>
/// Day-two operations against real processes (`keyless origin`, `edge`, `keyserver`, with default timings): hot
/// reload of the key folder and `keyless status`.
/// </summary>
public sealed class OperationsTests(ITestOutputHelper output) : IAsyncLifetime
{
    private const string Host = "shop.example.test";
    private readonly TempDirectory _files = new("keyless-ops-test");
    private readonly TestCertificateAuthority _ca = new();
    private TenantKeyFolder _keys = null!;
    private KeylessProcess _origin = null!, _edge = null!, _keyServer = null!;
    private int _httpsPort, _gatewayPort;

    public async Task InitializeAsync()
    {
        _keys = new TenantKeyFolder(_ca, [Host]);
        var originPort = KeylessProcess.FreePort();
        _httpsPort = KeylessProcess.FreePort();
        _gatewayPort = KeylessProcess.FreePort();
        var siloPort = KeylessProcess.FreePort();
        var tenants = _files.Write("tenants.json", JsonSerializer.Serialize(new
        {
            tenants = new[] { new { tenant = "shop", hostNames = new[] { Host }, origin = new { host = "127.0.0.1", port = originPort } } },
        }));
        _origin = KeylessProcess.Start("origin", "--listen", $"127.0.0.1:{originPort}");
        _edge = KeylessProcess.Start("edge", "--shared-cluster", "--https-port", $"{_httpsPort}", "--silo-port", $"{siloPort}",
            "--gateway-port", $"{_gatewayPort}", "--tenants", tenants, "--edge-id", "edge-ops");
        await _edge.WaitForLineAsync("Edge listening for TLS", TimeSpan.FromSeconds(60));
        _keyServer = KeylessProcess.Start("keyserver", "--shared-cluster", "--tenant", "shop", "--replica", "dc1", "--keys", _keys.Path,
            "--silo-port", $"{KeylessProcess.FreePort()}", "--primary", $"127.0.0.1:{siloPort}");
        var clock = Stopwatch.StartNew();
        while (await TryServedCertificateAsync() is null)
        {
            if (clock.Elapsed > TimeSpan.FromSeconds(60) || _keyServer.HasExited)
                throw new TimeoutException($"never served:\n{_edge.Output}\n--- key server ---\n{_keyServer.Output}");
            await Task.Delay(250);
        }
    }

    /// <summary>The end-entity certificate the edge serves for <see cref="Host"/> over TLS 1.3 (its ECDSA chain), or null when the handshake fails.</summary>
    private async Task<string?> TryServedCertificateAsync()
    {
        try
        {
            using var socket = new Socket(SocketType.Stream, ProtocolType.Tcp);
            await socket.ConnectAsync("127.0.0.1", _httpsPort);
            await using var tls = new SslStream(new NetworkStream(socket, ownsSocket: false));
            using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(10));
            await tls.AuthenticateAsClientAsync(new SslClientAuthenticationOptions
            {
                TargetHost = Host,
                EnabledSslProtocols = SslProtocols.Tls13,
                RemoteCertificateValidationCallback = (_, certificate, _, _) => certificate is not null,
            }, timeout.Token);
            return X509CertificateLoader.LoadCertificate(tls.RemoteCertificate!.GetRawCertData()).Thumbprint;
        }
        catch (Exception e) when (e is AuthenticationException or IOException or SocketException or OperationCanceledException)
        {
            return null;
        }
    }

    [Fact]
    public async Task Replacing_a_certificate_and_key_in_the_watched_folder_a_client_sees_the_new_certificate_without_any_restart()
    {
        var before = await TryServedCertificateAsync();
        var (key, _) = TestKeys.Ecdsa(ECCurve.NamedCurves.nistP256);
        using var leaf = _ca.Issue(key, Host);
        File.WriteAllText(Path.Combine(_keys.Path, "ecdsa-new.pem"), key.Pem + "\n" + _ca.ChainPem(leaf));
        File.SetUnixFileMode(Path.Combine(_keys.Path, "ecdsa-new.pem"), UnixFileMode.UserRead | UnixFileMode.UserWrite);
        File.Delete(Path.Combine(_keys.Path, "ecdsa.pem"));

        var clock = Stopwatch.StartNew();
        var failures = 0;
        string? served;
        while ((served = await TryServedCertificateAsync()) != leaf.Thumbprint && clock.Elapsed < TimeSpan.FromSeconds(10))
        {
            if (served is null) failures++;
            await Task.Delay(100);
        }
        output.WriteLine($"new certificate served {clock.Elapsed.TotalMilliseconds:0} ms after the folder changed ({failures} failed handshakes meanwhile)");

        Assert.NotEqual(before, leaf.Thumbprint);
        Assert.True(served == leaf.Thumbprint, $"still not served after {clock.Elapsed}:\n{_keyServer.Output}");
        Assert.Equal(0, failures);
        Assert.False(_edge.HasExited || _keyServer.HasExited);
        Assert.Contains("Key folder changed", _keyServer.Output);
    }

    [Fact]
    public async Task Keyless_status_against_a_running_cluster_prints_the_tenant_and_its_replicas()
    {
        for (var i = 0; i < 3; i++) Assert.NotNull(await TryServedCertificateAsync());

        // Edges report every 5 s: wait (with --json, as a script would) until the handshakes show.
        var clock = Stopwatch.StartNew();
        JsonElement tenant;
        while (true)
        {
            var json = await KeylessProcess.RunToEndAsync("status", "--gateway-port", $"{_gatewayPort}", "--json");
            Assert.True(json.ExitCode == 0, json.Output);
            using var document = JsonDocument.Parse(json.Output[json.Output.IndexOf('{')..]);
            tenant = Assert.Single(document.RootElement.GetProperty("tenants").EnumerateArray()).Clone();
            if (tenant.GetProperty("succeeded").GetInt64() >= 3) break;
            Assert.True(clock.Elapsed < TimeSpan.FromSeconds(20), $"no handshakes in the status after {clock.Elapsed}:\n{json.Output}");
            await Task.Delay(1000);
        }
        output.WriteLine($"handshakes showed in the status after {clock.Elapsed.TotalMilliseconds:0} ms");
        Assert.Equal("shop", tenant.GetProperty("tenant").GetString());
        var replica = Assert.Single(tenant.GetProperty("replicas").EnumerateArray());
        Assert.Equal("dc1", replica.GetProperty("replica").GetString());
        Assert.Equal("Active", replica.GetProperty("silo").GetString());

        var status = await KeylessProcess.RunToEndAsync("status", "--gateway-port", $"{_gatewayPort}");
        output.WriteLine(status.Output);
        Assert.True(status.ExitCode == 0, status.Output);
        Assert.Contains("shop", status.Output);
        Assert.Contains(Host, status.Output);
        Assert.Contains("dc1 (Active)", status.Output);
        Assert.Contains(_keys.EcdsaKeyId[..16], status.Output);
        Assert.Contains(_keys.RsaKeyId[..16], status.Output);
        var handshakes = Regex.Match(status.Output, @"edge-ops\s+│\s+\d+\s+│\s+shop\s+│\s+(\d+)"); // Edge │ Open │ Tenant │ OK
        Assert.True(handshakes.Success && long.Parse(handshakes.Groups[1].Value) >= 3, status.Output);
    }

    public async Task DisposeAsync()
    {
        await _keyServer.DisposeAsync();
        await _edge.DisposeAsync();
        await _origin.DisposeAsync();
        _keys.Dispose();
        _ca.Dispose();
        _files.Dispose();
    }
}
