using KeylessOrleans.Edge.Tls.Crypto;
using Org.BouncyCastle.Math.EC.Rfc7748;
using Org.BouncyCastle.Security;
using Org.BouncyCastle.Tls;
using Org.BouncyCastle.Tls.Crypto;

namespace KeylessOrleans.Edge.Tests.Crypto;

/// <summary>
/// The edge's X25519 comes from OpenSSL: it must agree with BouncyCastle's own X25519 (what every other peer of these
/// tests computes) and refuse a small-order peer key the way TLS requires. Real clients (openssl, gnutls, curl,
/// SslStream) complete X25519 handshakes against it in the interop tests.
/// </summary>
public sealed class OpenSslX25519Tests
{
    private readonly EdgeTlsCrypto _crypto = new(new SecureRandom());

    [Fact]
    public void The_edge_does_x25519_with_openssl_on_linux()
    {
        Assert.True(EdgeTlsCrypto.UsesOpenSslX25519);
        Assert.IsType<OpenSslX25519>(_crypto.CreateECDomain(new TlsECConfig(NamedGroup.x25519)).CreateECDH());
        Assert.IsNotType<OpenSslX25519>(_crypto.CreateECDomain(new TlsECConfig(NamedGroup.secp256r1)).CreateECDH());
    }

    [Fact]
    public void Both_sides_of_an_agreement_with_bouncycastle_reach_the_same_secret()
    {
        var random = new SecureRandom();
        for (var i = 0; i < 50; i++)
        {
            var edge = _crypto.CreateECDomain(new TlsECConfig(NamedGroup.x25519)).CreateECDH();
            var edgePublic = edge.GenerateEphemeral();

            var peerPrivate = new byte[X25519.ScalarSize];
            random.NextBytes(peerPrivate);
            var peerPublic = new byte[X25519.PointSize];
            X25519.ScalarMultBase(peerPrivate, 0, peerPublic, 0);
            var expected = new byte[X25519.PointSize];
            Assert.True(X25519.CalculateAgreement(peerPrivate, 0, edgePublic, 0, expected, 0));

            edge.ReceivePeerValue(peerPublic);
            Assert.Equal(expected, edge.CalculateSecret().Extract());
        }
    }

    [Theory]
    [InlineData("0000000000000000000000000000000000000000000000000000000000000000")] // the point of order 1
    [InlineData("0100000000000000000000000000000000000000000000000000000000000000")] // ... and of order 4
    [InlineData("e0eb7a7c3b41b8ae1656e3faf19fc46ada098deb9c32b1fd866205165f49b800")] // of order 8
    public void A_small_order_peer_key_fails_the_handshake(string peerHex)
    {
        var edge = _crypto.CreateECDomain(new TlsECConfig(NamedGroup.x25519)).CreateECDH();
        edge.GenerateEphemeral();
        edge.ReceivePeerValue(Convert.FromHexString(peerHex));
        var alert = Assert.Throws<TlsFatalAlert>(() => edge.CalculateSecret());
        Assert.Equal(AlertDescription.handshake_failure, alert.AlertDescription);
    }

    [Fact]
    public void A_peer_key_of_the_wrong_length_is_an_illegal_parameter()
    {
        var edge = _crypto.CreateECDomain(new TlsECConfig(NamedGroup.x25519)).CreateECDH();
        edge.GenerateEphemeral();
        var alert = Assert.Throws<TlsFatalAlert>(() => edge.ReceivePeerValue(new byte[31]));
        Assert.Equal(AlertDescription.illegal_parameter, alert.AlertDescription);
    }
}
