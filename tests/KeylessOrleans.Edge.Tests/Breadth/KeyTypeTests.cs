using KeylessOrleans.TestSupport;

namespace KeylessOrleans.Edge.Tests.Breadth;

/// <summary>
/// Certificates with ECDSA P-384, Ed25519 and large RSA keys are served end to end: the key stays on the key server,
/// openssl and GnuTLS verify the chain and the handshake signature, and the origin's answer comes back.
/// </summary>
[Collection(BreadthCollection.Name)]
public sealed class KeyTypeTests(BreadthFixture edge)
{
    public static TheoryData<string, string[], string, string> Handshakes() => new()
    {
        { BreadthFixture.P384Host, ["-tls1_3"], "Peer signature type: ECDSA", "Server public key is 384 bit" },
        { BreadthFixture.P384Host, ["-tls1_2", "-cipher", "ECDHE-ECDSA-AES128-GCM-SHA256"], "Peer signature type: ECDSA", "Server public key is 384 bit" },
        { BreadthFixture.Ed25519Host, ["-tls1_3"], "Peer signature type: ed25519", "Server public key is 256 bit" },
        { BreadthFixture.Ed25519Host, ["-tls1_2", "-cipher", "ECDHE-ECDSA-AES256-GCM-SHA384"], "Peer signature type: ed25519", "Server public key is 256 bit" },
        { BreadthFixture.Rsa3072Host, ["-tls1_3"], "Peer signature type: RSA-PSS", "Server public key is 3072 bit" },
        { BreadthFixture.Rsa4096Host, ["-tls1_3"], "Peer signature type: RSA-PSS", "Server public key is 4096 bit" },
        { BreadthFixture.Rsa4096Host, ["-tls1_2", "-cipher", "ECDHE-RSA-AES128-GCM-SHA256"], "Peer signature type: RSA", "Server public key is 4096 bit" },
        { BreadthFixture.Rsa4096Host, ["-tls1_2", "-cipher", "AES128-GCM-SHA256"], "Cipher is AES128-GCM-SHA256", "Server public key is 4096 bit" },
    };

    [Theory]
    [MemberData(nameof(Handshakes))]
    public async Task Openssl_completes_a_verified_handshake_with_each_key_type(string host, string[] options, string signature, string keySize)
    {
        var calls = edge.KeyGrainCalls;

        var result = await edge.SClientAsync(host, options);

        Assert.True(result.ExitCode == 0, result.All);
        Assert.Contains("Verify return code: 0 (ok)", result.Output);
        Assert.True(result.All.Contains(signature), result.All);
        Assert.Contains(keySize, result.All);
        Assert.Contains(TestOrigin.Body, result.Output);
        Assert.True(edge.KeyGrainCalls > calls, "the signature (or decryption) came from the key server");
    }

    [Theory]
    [InlineData(BreadthFixture.Ed25519Host, "NORMAL:-VERS-ALL:+VERS-TLS1.3", "(EdDSA-Ed25519)")]
    [InlineData(BreadthFixture.Ed25519Host, "NORMAL:-VERS-ALL:+VERS-TLS1.2", "(EdDSA-Ed25519)")]
    [InlineData(BreadthFixture.P384Host, "NORMAL:-VERS-ALL:+VERS-TLS1.3", "(ECDSA-SECP384R1-SHA384)")]
    public async Task Gnutls_verifies_ed25519_and_p384_certificates(string host, string priority, string signature)
    {
        var result = await edge.GnutlsAsync(host, priority);

        Assert.True(result.ExitCode == 0, result.All);
        Assert.True(result.All.Contains(signature), result.All);
        Assert.Contains("The certificate is trusted", result.Output);
        Assert.Contains("Handshake was completed", result.Output);
    }
}
