using System.Diagnostics;
using System.Security.Authentication;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using KeylessOrleans.KeyServer.KeyStore;
using KeylessOrleans.TestSupport;
using Microsoft.Extensions.DependencyInjection;
using Xunit.Abstractions;

namespace KeylessOrleans.Edge.Tests;

/// <summary>
/// Hot reload end to end in one process: the key server's folder changes under a running cluster and a TLS client
/// of the edge sees the change, with no silo restarted. TLS 1.3 so the edge serves the ECDSA chain (its first
/// choice) and no session is resumed with an old certificate.
/// </summary>
public sealed class HotReloadTests(ITestOutputHelper output) : IAsyncLifetime
{
    private readonly EdgeFixture _edge = new();

    public Task InitializeAsync() => _edge.InitializeAsync();

    private string KeyFolder => _edge.AcmeKeys.Path;

    private IKeyStore AcmeStore => _edge.AcmeServices.GetRequiredService<IKeyStore>();

    private async Task<string> ServedThumbprintAsync()
    {
        var (tls, response) = await _edge.FetchAsync(SslProtocols.Tls13);
        using (tls)
        {
            Assert.Contains(TestOrigin.Body, response);
            return X509CertificateLoader.LoadCertificate(tls.RemoteCertificate!.GetRawCertData()).Thumbprint;
        }
    }

    /// <summary>Writes a key (new, or the one already there) with a freshly issued certificate, as an operator would.</summary>
    private string WriteKeyAndCertificate(string file, TestKey key)
    {
        using var leaf = _edge.Authority.Issue(key, EdgeFixture.Host, "*.acme.test");
        var path = Path.Combine(KeyFolder, file);
        File.WriteAllText(path, key.Pem + "\n" + _edge.Authority.ChainPem(leaf));
        File.SetUnixFileMode(path, UnixFileMode.UserRead | UnixFileMode.UserWrite);
        return leaf.Thumbprint;
    }

    private async Task<TimeSpan> UntilServedAsync(string thumbprint)
    {
        var clock = Stopwatch.StartNew();
        var seen = await Poll.UntilAsync(async () => await ServedThumbprintAsync() == thumbprint, TimeSpan.FromSeconds(10));
        Assert.True(seen, $"the edge still served the old certificate {clock.Elapsed.TotalSeconds:0.0} s after the change");
        return clock.Elapsed;
    }

    [Fact]
    public async Task Replacing_a_certificate_and_key_in_the_watched_folder_serves_the_new_certificate_without_a_restart()
    {
        var before = await ServedThumbprintAsync();
        var (newKey, _) = TestKeys.Ecdsa(ECCurve.NamedCurves.nistP256);

        var expected = WriteKeyAndCertificate("ecdsa-2027.pem", newKey);
        File.Delete(Path.Combine(KeyFolder, "ecdsa.pem"));
        var elapsed = await UntilServedAsync(expected);

        output.WriteLine($"new key and certificate served {elapsed.TotalMilliseconds:0} ms after the folder changed");
        Assert.NotEqual(before, expected);
        Assert.DoesNotContain(AcmeStore.Keys, k => k.KeyId == _edge.AcmeKeys.EcdsaKeyId);
    }

    [Fact]
    public async Task A_renewed_certificate_for_the_same_key_is_served_without_a_restart()
    {
        var before = await ServedThumbprintAsync();

        var expected = WriteKeyAndCertificate("ecdsa-renewed.pem", _edge.AcmeKeys.Ecdsa);
        File.Delete(Path.Combine(KeyFolder, "ecdsa.pem"));
        var elapsed = await UntilServedAsync(expected);

        output.WriteLine($"renewed certificate served {elapsed.TotalMilliseconds:0} ms after the folder changed");
        Assert.NotEqual(before, expected);
        Assert.Contains(AcmeStore.Keys, k => k.KeyId == _edge.AcmeKeys.EcdsaKeyId);
    }

    [Fact]
    public async Task A_broken_file_dropped_into_the_folder_leaves_the_working_keys_serving()
    {
        var before = await ServedThumbprintAsync();
        var reloaded = AcmeStore.GetReloadToken();

        File.WriteAllText(Path.Combine(KeyFolder, "broken.pem"), "-----BEGIN PRIVATE KEY-----\nnot base64!\n-----END PRIVATE KEY-----\n");
        Assert.True(await Poll.UntilAsync(() => Task.FromResult(reloaded.HasChanged), TimeSpan.FromSeconds(10)), "the key server never rescanned");

        Assert.Equal(2, AcmeStore.Keys.Count);
        Assert.Equal(before, await ServedThumbprintAsync());
    }

    [Fact]
    public async Task A_tls12_session_made_before_a_renewal_is_not_resumed_with_the_old_certificate()
    {
        var session = Path.Combine(_edge.Files.Path, "session.pem");
        var first = await SClientAsync("-sess_out", session);
        Assert.Contains("New, TLSv1.2", first.Output);
        Assert.Contains("Reused, TLSv1.2", (await SClientAsync("-sess_in", session)).Output);

        var expected = WriteKeyAndCertificate("ecdsa-renewed.pem", _edge.AcmeKeys.Ecdsa);
        File.Delete(Path.Combine(KeyFolder, "ecdsa.pem"));
        await UntilServedAsync(expected);

        var after = await SClientAsync("-sess_in", session);
        Assert.Contains("New, TLSv1.2", after.Output);
        Assert.Contains(TestOrigin.Body, after.Output);
    }

    private Task<ExternalTool.Result> SClientAsync(params string[] extra) =>
        ExternalTool.RunAsync("openssl",
            ["s_client", "-connect", _edge.EdgeEndPoint.ToString(), "-servername", EdgeFixture.Host, "-CAfile", _edge.CaFile,
             "-verify_return_error", "-ign_eof", "-tls1_2", "-cipher", "ECDHE-ECDSA-AES128-GCM-SHA256", .. extra],
            standardInput: $"GET / HTTP/1.1\r\nHost: {EdgeFixture.Host}\r\nConnection: close\r\n\r\n");

    public Task DisposeAsync() => _edge.DisposeAsync();
}
