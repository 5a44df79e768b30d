using System.Net.Security;
using System.Security.Authentication;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using KeylessOrleans.TestSupport;

namespace KeylessOrleans.Edge.Tests;

/// <summary>.NET's SslStream (OpenSSL underneath) completes every handshake kind against the keyless edge.</summary>
public sealed class SslStreamHandshakeTests(EdgeFixture edge) : IClassFixture<EdgeFixture>
{
    [Fact]
    public async Task Tls13_handshake_completes_without_the_key_on_the_edge_and_reaches_the_origin()
    {
        var calls = edge.KeyGrainCalls;
        var (tls, response) = await edge.FetchAsync(SslProtocols.Tls13);

        Assert.Equal(SslProtocols.Tls13, tls.SslProtocol);
        Assert.StartsWith("HTTP/1.1 200 OK", response);
        Assert.EndsWith(TestOrigin.Body, response);
        Assert.True(edge.KeyGrainCalls > calls, "the handshake made no key-grain call");
    }

    public static TheoryData<TlsCipherSuite, string> Tls12Suites() => new()
    {
        { TlsCipherSuite.TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256, "RSA" },
        { TlsCipherSuite.TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256, "RSA" },
        { TlsCipherSuite.TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384, "ECDSA" },
        { TlsCipherSuite.TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256, "ECDSA" },
        { TlsCipherSuite.TLS_RSA_WITH_AES_128_GCM_SHA256, "RSA" },
        { TlsCipherSuite.TLS_RSA_WITH_AES_256_GCM_SHA384, "RSA" },
    };

    [Theory]
    [MemberData(nameof(Tls12Suites))]
    public async Task Tls12_handshake_completes_for_every_suite_with_the_matching_chain(TlsCipherSuite suite, string keyType)
    {
        var (tls, response) = await edge.FetchAsync(SslProtocols.Tls12, [suite]);

        Assert.Equal(SslProtocols.Tls12, tls.SslProtocol);
        Assert.Equal(suite, tls.NegotiatedCipherSuite);
        Assert.StartsWith("HTTP/1.1 200 OK", response);
        using var certificate = X509CertificateLoader.LoadCertificate(tls.RemoteCertificate!.GetRawCertData());
        Assert.Equal(keyType == "RSA" ? "1.2.840.113549.1.1.1" : "1.2.840.10045.2.1", certificate.PublicKey.Oid.Value);
    }

    [Fact]
    public async Task Wildcard_host_is_served_from_the_same_tenant()
    {
        var (tls, response) = await edge.FetchAsync(SslProtocols.Tls13, host: "api.acme.test");
        Assert.StartsWith("HTTP/1.1 200 OK", response);
        tls.Dispose();
    }

    [Fact]
    public async Task Unknown_server_name_is_refused()
    {
        await Assert.ThrowsAnyAsync<AuthenticationException>(() => edge.FetchAsync(SslProtocols.Tls13, host: "unknown.test"));
        // The edge keeps serving.
        var (_, response) = await edge.FetchAsync(SslProtocols.Tls13);
        Assert.StartsWith("HTTP/1.1 200 OK", response);
    }
}
