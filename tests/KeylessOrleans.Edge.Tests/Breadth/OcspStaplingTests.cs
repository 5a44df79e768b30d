using KeylessOrleans.TestSupport;

namespace KeylessOrleans.Edge.Tests.Breadth;

/// <summary>
/// The edge staples the OCSP response of the certificate it serves, fetched from the responder the certificate
/// names (a real openssl ocsp here), in TLS 1.2 (CertificateStatus) and TLS 1.3 (status_request in the
/// end-entity CertificateEntry); a "revoked" answer is never stapled.
/// </summary>
[Collection(BreadthCollection.Name)]
public sealed class OcspStaplingTests(BreadthFixture edge)
{
    [Theory]
    [InlineData("-tls1_2")]
    [InlineData("-tls1_3")]
    public async Task Openssl_status_shows_a_stapled_good_response_for_the_served_certificate(string version)
    {
        // The first handshake for a certificate only starts the fetch; handshakes never wait for the responder.
        ExternalTool.Result? last = null;
        var stapled = await Poll.UntilAsync(async () =>
        {
            last = await edge.SClientAsync(BreadthFixture.OcspHost, version, "-status");
            return last.Output.Contains("OCSP Response Status: successful");
        }, TimeSpan.FromSeconds(20));

        Assert.True(stapled, last?.All);
        Assert.Equal(0, last!.ExitCode);
        Assert.Contains("Cert Status: good", last.Output);
        Assert.Contains("Responder Id: CN = KeylessOrleans Test CA", last.Output);
        Assert.Contains("Next Update:", last.Output);
        Assert.Contains(TestOrigin.Body, last.Output);
    }

    [Fact]
    public async Task Gnutls_receives_the_staple_and_trusts_the_certificate()
    {
        await Poll.UntilAsync(async () => (await edge.SClientAsync(BreadthFixture.OcspHost, "-status")).Output.Contains("Cert Status: good"), TimeSpan.FromSeconds(20));

        var result = await edge.GnutlsAsync(BreadthFixture.OcspHost, "NORMAL");

        Assert.True(result.ExitCode == 0, result.All);
        Assert.True(result.Output.Contains("Options: OCSP status request"), result.All); // GnuTLS checks a staple it gets
        Assert.Contains("The certificate is trusted", result.Output);
    }

    [Fact]
    public async Task A_revoked_certificates_response_is_not_stapled()
    {
        using var meters = new EdgeMeterRecorder(edge, ("keyless.edge.ocsp.fetches", "outcome"));
        await edge.SClientAsync(BreadthFixture.RevokedHost, "-status"); // starts the fetch
        Assert.True(await Poll.UntilAsync(() => Task.FromResult(meters.Total("keyless.edge.ocsp.fetches", "refused") > 0), TimeSpan.FromSeconds(20)));

        var result = await edge.SClientAsync(BreadthFixture.RevokedHost, "-tls1_2", "-status");

        Assert.Equal(0, result.ExitCode); // the handshake itself goes on: a missing staple is the client's call
        Assert.Contains("OCSP response: no response sent", result.Output);
    }

    [Fact]
    public async Task A_client_that_does_not_ask_gets_no_staple()
    {
        await Poll.UntilAsync(async () => (await edge.SClientAsync(BreadthFixture.OcspHost, "-status")).Output.Contains("Cert Status: good"), TimeSpan.FromSeconds(20));

        var result = await edge.SClientAsync(BreadthFixture.OcspHost, "-tls1_3", "-msg");

        Assert.Equal(0, result.ExitCode);
        Assert.DoesNotContain("OCSP Response Status", result.Output);
    }
}
