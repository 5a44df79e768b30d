using KeylessOrleans.Edge.Tls;
using KeylessOrleans.TestSupport.Fuzzing;
using Org.BouncyCastle.Tls;

namespace KeylessOrleans.Edge.Tests;

/// <summary>The checks before BouncyCastle refuse no hello a real client sends (the refusals are in ConformanceAlertTests).</summary>
public sealed class ClientHelloCheckTests
{
    [Theory]
    [InlineData(true, false)]
    [InlineData(true, true)]
    [InlineData(false, false)]
    public void Browser_shaped_hellos_pass(bool tls13, bool hybrid)
    {
        var hello = ClientHelloBuilder.Standard(new Random(1), "www.acme.test", tls13, hybrid);
        Assert.Null(ClientHelloCheck.Check(hello.HandshakeMessage()));
    }

    [Fact]
    public void Grease_values_unknown_extensions_alpn_and_an_empty_key_share_list_pass()
    {
        var hello = ClientHelloBuilder.Standard(new Random(2), "www.acme.test");
        hello.CipherSuites.Insert(0, 0x0a0a);
        hello.Extensions.Insert(0, TlsExtension.Raw(0x1a1a, []));
        hello.Extensions.Add(new(16, w => w.Vector("ALPN list", 2, l => { l.Vector("h2", 1, p => p.Bytes("h2"u8)); l.Vector("http/1.1", 1, p => p.Bytes("http/1.1"u8)); })));
        hello.Extensions.Add(TlsExtension.Raw(21, new byte[200])); // padding
        hello.Extensions.RemoveAll(e => e.Type == 51);
        hello.Extensions.Add(ClientHelloBuilder.KeyShare()); // RFC 8446 §4.2.8: empty, to ask for a HelloRetryRequest
        Assert.Null(ClientHelloCheck.Check(hello.HandshakeMessage()));
    }

    [Fact]
    public void A_hello_without_extensions_passes_the_layout_check_and_is_judged_by_its_version()
    {
        var hello = new ClientHelloBuilder { LegacyVersion = 0x0303 };
        hello.CipherSuites.Add(0x009c);
        Assert.Null(ClientHelloCheck.Check(hello.HandshakeMessage()));
        hello.LegacyVersion = 0x0301;
        Assert.Equal(AlertDescription.protocol_version, ClientHelloCheck.Check(hello.HandshakeMessage())?.Alert);
    }

    [Fact]
    public void Another_handshake_message_is_left_to_bouncycastle()
    {
        Assert.Null(ClientHelloCheck.Check([16, 0, 0, 2, 0, 0]));
    }
}
