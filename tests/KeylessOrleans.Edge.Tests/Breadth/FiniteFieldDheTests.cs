using KeylessOrleans.TestSupport;

namespace KeylessOrleans.Edge.Tests.Breadth;

/// <summary>
/// Finite-field DHE with RFC 7919 groups only: TLS 1.2 DHE_RSA (the key server signs the ServerDHParams after
/// checking the group) and TLS 1.3 ffdhe key shares.
/// </summary>
[Collection(BreadthCollection.Name)]
public sealed class FiniteFieldDheTests(BreadthFixture edge)
{
    [Fact]
    public async Task Openssl_tls12_dhe_rsa_completes_with_ffdhe2048_signed_by_the_key_server()
    {
        var calls = edge.KeyGrainCalls;

        var result = await edge.SClientAsync(EdgeFixture.Host, "-tls1_2", "-cipher", "DHE-RSA-AES128-GCM-SHA256");

        Assert.True(result.ExitCode == 0, result.All);
        Assert.Contains("New, TLSv1.2, Cipher is DHE-RSA-AES128-GCM-SHA256", result.Output);
        Assert.Contains("Server Temp Key: DH, 2048 bits", result.All);
        Assert.Contains(TestOrigin.Body, result.Output);
        Assert.Equal(calls + 1, edge.KeyGrainCalls); // the ServerKeyExchange signature
    }

    [Theory]
    [InlineData("FFDHE3072", "(DHE-FFDHE3072)")]
    [InlineData("FFDHE4096", "(DHE-FFDHE4096)")]
    public async Task Gnutls_tls12_dhe_gets_the_rfc7919_group_it_asked_for(string group, string expected)
    {
        var result = await edge.GnutlsAsync(EdgeFixture.Host, $"NORMAL:-VERS-ALL:+VERS-TLS1.2:-KX-ALL:+DHE-RSA:-GROUP-ALL:+GROUP-{group}");

        Assert.True(result.ExitCode == 0, result.All);
        Assert.True(result.All.Contains(expected), result.All);
    }

    [Fact]
    public async Task Tls13_ffdhe_key_share_completes()
    {
        var result = await edge.SClientAsync(EdgeFixture.Host, "-tls1_3", "-groups", "ffdhe2048");

        Assert.True(result.ExitCode == 0, result.All);
        Assert.Contains("New, TLSv1.3", result.Output);
        Assert.Contains("Server Temp Key: DH, 2048 bits", result.All);
        Assert.Contains(TestOrigin.Body, result.Output);
    }

    [Fact]
    public async Task A_client_offering_only_ffdhe8192_gets_no_dhe_and_no_key_call()
    {
        var calls = edge.KeyGrainCalls;

        var result = await edge.GnutlsAsync(EdgeFixture.Host, "NORMAL:-VERS-ALL:+VERS-TLS1.2:-KX-ALL:+DHE-RSA:-GROUP-ALL:+GROUP-FFDHE8192");

        Assert.NotEqual(0, result.ExitCode);
        Assert.Contains("handshake failed", result.All, StringComparison.OrdinalIgnoreCase);
        Assert.Equal(calls, edge.KeyGrainCalls);
    }
}
