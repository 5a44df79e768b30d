using System.Net.Sockets;
using System.Text;
using KeylessOrleans.TestSupport;
using KeylessOrleans.TestSupport.Fuzzing;
using Org.BouncyCastle.Security;
using Org.BouncyCastle.Tls;
using Org.BouncyCastle.Tls.Crypto;
using Org.BouncyCastle.Tls.Crypto.Impl.BC;

namespace KeylessOrleans.Edge.Tests;

/// <summary>
/// Malformed and unusual clients end in the fatal alert RFC 8446 §6 / RFC 5246 §7.2 assign, sent in the clear as the
/// edge's first record (never a bare close, never internal_error for the client's mistake), and the edge keeps
/// serving. The records are written by the test, byte by byte, over a real socket.
/// </summary>
public sealed class ConformanceAlertTests(EdgeFixture edge) : IClassFixture<EdgeFixture>
{
    private const byte DecodeError = 50;
    private const byte ProtocolVersionAlert = 70;
    private const byte IllegalParameter = 47;
    private const byte HandshakeFailure = 40;
    private const byte MissingExtension = 109;
    private const byte UnexpectedMessage = 10;

    private static ClientHelloBuilder Tls13Hello() => ClientHelloBuilder.Standard(new Random(13), EdgeFixture.Host);

    private static ClientHelloBuilder Tls12Hello() => ClientHelloBuilder.Standard(new Random(12), EdgeFixture.Host, tls13: false);

    /// <summary>A record of content type <paramref name="type"/> around <paramref name="payload"/> (one record: the tests' messages are small).</summary>
    private static byte[] Record(byte type, byte[] payload) => [type, 3, 3, (byte)(payload.Length >> 8), (byte)payload.Length, .. payload];

    /// <summary>A handshake message of type <paramref name="type"/> with <paramref name="body"/> as its body and its 24-bit length set to match.</summary>
    private static byte[] Message(byte type, byte[] body) => [type, (byte)(body.Length >> 16), (byte)(body.Length >> 8), (byte)body.Length, .. body];

    private static TlsExtension Extension(int type, params int[] u16s) =>
        new(type, w => w.Vector("list", 2, l => { foreach (var value in u16s) l.U16(value); }));

    private static void Replace(ClientHelloBuilder hello, TlsExtension extension)
    {
        hello.Extensions.RemoveAll(e => e.Type == extension.Type);
        hello.Extensions.Add(extension);
    }

    /// <summary>Sends <paramref name="bytes"/> and reads what the edge answers until it closes.</summary>
    private async Task<byte[]> SendAsync(byte[] bytes)
    {
        using var socket = new Socket(SocketType.Stream, ProtocolType.Tcp);
        await socket.ConnectAsync(edge.EdgeEndPoint);
        await socket.SendAsync(bytes, SocketFlags.None);
        return await ReadToCloseAsync(socket);
    }

    private static async Task<byte[]> ReadToCloseAsync(Socket socket)
    {
        var (reply, closed) = await SocketReads.ReadToCloseAsync(socket, TimeSpan.FromSeconds(15));
        Assert.True(closed, "the edge never closed the connection");
        return reply;
    }

    /// <summary>The edge's first record is a fatal alert with <paramref name="description"/>.</summary>
    private static void AssertFatalAlert(byte[] reply, byte description)
    {
        Assert.True(reply.Length >= 7, $"expected an alert record, got {reply.Length} bytes (a bare close)");
        Assert.True(reply[0] == 21, $"expected an alert record, got content type {reply[0]}");
        Assert.Equal(2, reply[3] << 8 | reply[4]);
        Assert.Equal(2, reply[5]); // fatal
        Assert.Equal(description, reply[6]);
    }

    private async Task AssertAlertAsync(byte[] bytes, byte description)
    {
        AssertFatalAlert(await SendAsync(bytes), description);
        var (_, response) = await edge.FetchAsync(System.Security.Authentication.SslProtocols.Tls13);
        Assert.StartsWith("HTTP/1.1 200 OK", response);
    }

    [Fact]
    public async Task The_unmodified_hellos_get_a_server_hello()
    {
        foreach (var hello in new[] { Tls13Hello(), Tls12Hello() })
        {
            var reply = await SendAsync(hello.Record());
            Assert.Equal(22, reply[0]);
            Assert.Equal(2, reply[5]); // ServerHello
        }
    }

    [Theory]
    [InlineData(1)]
    [InlineData(7)]
    public async Task A_client_hello_padded_past_its_extensions_gets_decode_error(int padding)
    {
        var message = Tls13Hello().HandshakeMessage();
        await AssertAlertAsync(Record(22, Message(1, [.. message[4..], .. new byte[padding]])), DecodeError);
    }

    [Theory]
    [InlineData(1)]
    [InlineData(40)]
    public async Task A_client_hello_truncated_inside_its_extensions_gets_decode_error(int cut)
    {
        var message = Tls13Hello().HandshakeMessage();
        await AssertAlertAsync(Record(22, Message(1, message[4..^cut])), DecodeError);
    }

    /// <summary>
    /// Every length prefix inside the ClientHello (session id, cipher suites, compression methods, the extensions
    /// block, each extension and the lists inside them: server_name, supported_groups, signature_algorithms,
    /// supported_versions, key_share …) one too long and one too short.
    /// </summary>
    [Fact]
    public async Task Every_length_inside_the_client_hello_that_disagrees_with_its_content_gets_decode_error()
    {
        foreach (var build in new Func<ClientHelloBuilder>[] { Tls13Hello, Tls12Hello })
        {
            var fields = build().LengthFields();
            for (var field = 0; field < fields.Count; field++)
            {
                var (name, width, length) = fields[field];
                if (name is "record" or "handshake") continue; // the framing: a longer one only waits for more bytes
                foreach (var wrong in new[] { length + 1, length - 1 })
                {
                    if (wrong < 0 || wrong >= 1 << (8 * width)) continue;
                    var reply = await SendAsync(build().Record(new LengthPatch(field, wrong)));
                    Assert.True(reply.Length >= 7 && reply[0] == 21 && reply[6] == DecodeError,
                        $"{name} ({field}) declared {wrong} instead of {length}: {Convert.ToHexString(reply.AsSpan(0, Math.Min(7, reply.Length)))}");
                }
            }
        }
        var (_, response) = await edge.FetchAsync(System.Security.Authentication.SslProtocols.Tls13);
        Assert.StartsWith("HTTP/1.1 200 OK", response);
    }

    [Theory]
    [InlineData(0)]
    [InlineData(1)]
    [InlineData(3)]
    [InlineData(16)]
    [InlineData(20)]
    [InlineData(400)]
    public async Task A_signature_algorithms_list_length_that_lies_gets_decode_error_not_internal_error(int declared)
    {
        var hello = Tls13Hello();
        var field = hello.LengthFields().Select((f, i) => (f.Name, Index: i)).Single(f => f.Name == "signature_algorithms list").Index;
        await AssertAlertAsync(hello.Record(new LengthPatch(field, declared)), DecodeError);
    }

    [Fact]
    public async Task An_extended_master_secret_extension_with_data_gets_decode_error()
    {
        var hello = Tls12Hello();
        Replace(hello, TlsExtension.Raw(23, [0]));
        await AssertAlertAsync(hello.Record(), DecodeError);
    }

    [Fact]
    public async Task A_session_id_longer_than_32_bytes_gets_decode_error()
    {
        var hello = Tls13Hello();
        hello.SessionId = new byte[33];
        await AssertAlertAsync(hello.Record(), DecodeError);
    }

    [Theory]
    [InlineData(0x0000)]
    [InlineData(0x0002)]
    [InlineData(0x0200)]
    [InlineData(0x0300)]
    public async Task A_tls13_hello_with_legacy_version_ssl3_or_below_gets_protocol_version(int legacyVersion)
    {
        var hello = Tls13Hello();
        hello.LegacyVersion = legacyVersion;
        await AssertAlertAsync(hello.Record(), ProtocolVersionAlert);
    }

    [Theory]
    [InlineData(0x0000)]
    [InlineData(0x0301)]
    [InlineData(0x0302)]
    public async Task A_hello_without_supported_versions_below_tls12_gets_protocol_version(int legacyVersion)
    {
        var hello = Tls12Hello();
        hello.LegacyVersion = legacyVersion;
        await AssertAlertAsync(hello.Record(), ProtocolVersionAlert);
    }

    [Fact]
    public async Task A_version_the_tls_stack_cannot_read_gets_protocol_version_not_internal_error()
    {
        var hello = Tls12Hello();
        hello.LegacyVersion = 0xfefe;
        await AssertAlertAsync(hello.Record(), ProtocolVersionAlert);
        hello = Tls13Hello();
        Replace(hello, new(43, w => w.Vector("supported_versions list", 1, l => { l.U16(0xfefe); l.U16(0x0304); })));
        await AssertAlertAsync(hello.Record(), ProtocolVersionAlert);
    }

    [Fact]
    public async Task Supported_versions_without_tls12_or_tls13_gets_protocol_version()
    {
        var hello = Tls13Hello();
        Replace(hello, new(43, w => w.Vector("supported_versions list", 1, l => { l.U16(0x7f1c); l.U16(0x0000); })));
        await AssertAlertAsync(hello.Record(), ProtocolVersionAlert);
    }

    [Theory]
    [InlineData(0x0401, 0x0501, 0x0601)] // rsa_pkcs1_*: not for TLS 1.3 CertificateVerify (RFC 8446 §4.2.3)
    [InlineData(0x0809, 0x080a, 0x080b)] // rsa_pss_pss_*: the edge's RSA certificate is rsaEncryption
    [InlineData(0x0203, 0x0303)] // ecdsa_sha1, ecdsa_sha224
    public async Task A_tls13_client_no_certificate_can_serve_gets_handshake_failure_before_any_server_hello(params int[] schemes)
    {
        var hello = Tls13Hello();
        Replace(hello, new(13, w => w.Vector("signature_algorithms list", 2, l => { foreach (var s in schemes) l.U16(s); })));
        await AssertAlertAsync(hello.Record(), HandshakeFailure);
    }

    [Theory]
    [InlineData(0x001a, 65)] // brainpoolP256r1, an obsolete curve, not in supported_groups
    [InlineData(0x001e, 56)] // x448, not in supported_groups
    public async Task A_key_share_for_a_group_supported_groups_does_not_list_gets_illegal_parameter(int group, int length)
    {
        var hello = Tls13Hello();
        Replace(hello, Extension(10, 0x0017));
        Replace(hello, ClientHelloBuilder.KeyShare((group, new byte[length])));
        await AssertAlertAsync(hello.Record(), IllegalParameter);
    }

    [Fact]
    public async Task Two_key_shares_for_one_group_get_illegal_parameter()
    {
        var hello = Tls13Hello();
        Replace(hello, ClientHelloBuilder.KeyShare((0x001d, new byte[32]), (0x001d, new byte[32])));
        await AssertAlertAsync(hello.Record(), IllegalParameter);
    }

    [Theory]
    [InlineData(0x001d, 31)] // x25519
    [InlineData(0x001d, 33)]
    [InlineData(0x001e, 55)] // x448
    [InlineData(0x0017, 64)] // secp256r1
    public async Task A_key_share_of_the_wrong_size_for_its_group_gets_illegal_parameter(int group, int length)
    {
        var hello = Tls13Hello();
        Replace(hello, Extension(10, group, 0x001d));
        Replace(hello, ClientHelloBuilder.KeyShare((group, new byte[length])));
        await AssertAlertAsync(hello.Record(), IllegalParameter);
    }

    [Fact]
    public async Task A_tls13_hello_with_supported_groups_and_no_key_share_gets_missing_extension()
    {
        var hello = Tls13Hello();
        hello.Extensions.RemoveAll(e => e.Type == 51);
        await AssertAlertAsync(hello.Record(), MissingExtension);
    }

    [Fact]
    public async Task A_key_share_extension_without_its_list_gets_decode_error()
    {
        var hello = Tls13Hello();
        Replace(hello, TlsExtension.Raw(51, []));
        await AssertAlertAsync(hello.Record(), DecodeError);
    }

    [Fact]
    public async Task An_empty_key_share_list_gets_a_hello_retry_request()
    {
        var hello = Tls13Hello();
        Replace(hello, ClientHelloBuilder.KeyShare());
        var reply = await SendAsync(hello.Record());
        Assert.Equal(22, reply[0]);
        Assert.Equal(2, reply[5]);
        // RFC 8446 §4.1.3: a HelloRetryRequest is a ServerHello with this random.
        Assert.Equal("CF21AD74E59A6111BE1D8C021E65B891C2A211167ABB8C5E079E09E2C8A8339C", Convert.ToHexString(reply.AsSpan(11, 32)));
        // No cookie: the connection keeps its state, and clients that do not expect one are not refused.
        Assert.DoesNotContain(44, ServerHelloExtensionTypes(reply));
    }

    /// <summary>The extension types of the ServerHello (or HelloRetryRequest) at the start of <paramref name="reply"/>.</summary>
    private static List<int> ServerHelloExtensionTypes(byte[] reply)
    {
        var at = 5 + 4 + 2 + 32; // record header, handshake header, legacy_version, random
        at += 1 + reply[at] + 2 + 1; // session id, cipher suite, compression method
        var end = at + 2 + (reply[at] << 8 | reply[at + 1]);
        var types = new List<int>();
        for (at += 2; at + 4 <= end; at += 4 + (reply[at + 2] << 8 | reply[at + 3])) types.Add(reply[at] << 8 | reply[at + 1]);
        return types;
    }

    [Fact]
    public async Task A_tls13_hello_with_only_unknown_groups_gets_handshake_failure()
    {
        var hello = Tls13Hello();
        Replace(hello, Extension(10, 0x0105, 0x01ff, 0xfe00));
        Replace(hello, ClientHelloBuilder.KeyShare((0x0105, new byte[32])));
        await AssertAlertAsync(hello.Record(), HandshakeFailure);
    }

    [Fact]
    public async Task A_client_key_exchange_instead_of_a_client_hello_gets_unexpected_message()
    {
        await AssertAlertAsync(Record(22, Message(16, [0, 2, 1, 2])), UnexpectedMessage);
    }

    /// <summary>TLS 1.2: the client answers the server's flight with something other than its ClientKeyExchange.</summary>
    [Theory]
    [InlineData("change_cipher_spec")]
    [InlineData("finished")]
    [InlineData("zero-length application data")]
    public async Task A_tls12_client_that_skips_its_key_exchange_gets_unexpected_message(string instead)
    {
        byte[] next = instead switch
        {
            "change_cipher_spec" => Record(20, [1]),
            "finished" => Record(22, Message(20, new byte[12])),
            _ => Record(23, []),
        };
        using var socket = new Socket(SocketType.Stream, ProtocolType.Tcp);
        await socket.ConnectAsync(edge.EdgeEndPoint);
        await socket.SendAsync(Tls12Hello().Record(), SocketFlags.None);
        await ReadThroughServerHelloDoneAsync(socket);
        await socket.SendAsync(next, SocketFlags.None);
        AssertFatalAlert(await ReadToCloseAsync(socket), UnexpectedMessage);
    }

    /// <summary>Reads the server's plaintext TLS 1.2 flight up to and including ServerHelloDone.</summary>
    private static async Task ReadThroughServerHelloDoneAsync(Socket socket)
    {
        var received = new List<byte>();
        var buffer = new byte[16384];
        using var limit = new CancellationTokenSource(TimeSpan.FromSeconds(15));
        while (true)
        {
            var read = await socket.ReceiveAsync(buffer, SocketFlags.None, limit.Token);
            Assert.True(read > 0, "the edge closed before ServerHelloDone");
            received.AddRange(buffer[..read]);
            // ServerHelloDone is the flight's last message: type 14, empty body, at the end of a handshake record.
            if (received.Count >= 9 && received[0] == 22 && received[^4] == 14 && received[^3] == 0 && received[^2] == 0 && received[^1] == 0) return;
        }
    }

    /// <summary>After a TLS 1.3 handshake, a KeyUpdate (RFC 8446 §4.6.3) that is malformed; the alert comes encrypted.</summary>
    [Theory]
    [InlineData(new byte[] { }, DecodeError)] // no request_update
    [InlineData(new byte[] { 0, 0 }, DecodeError)] // a byte too many
    [InlineData(new byte[] { 5 }, IllegalParameter)] // neither update_not_requested nor update_requested
    public void A_malformed_key_update_after_the_handshake_gets_its_alert(byte[] body, byte description)
    {
        using var socket = new Socket(SocketType.Stream, ProtocolType.Tcp) { ReceiveTimeout = 15_000, SendTimeout = 15_000 };
        socket.Connect(edge.EdgeEndPoint);
        var protocol = new RawRecordClientProtocol(new NetworkStream(socket, ownsSocket: false));
        protocol.Connect(new Tls13Client(new BcTlsCrypto(new SecureRandom())));
        protocol.WriteRecord(ContentType.handshake, Message(24, body));
        var alert = Assert.Throws<TlsFatalAlertReceived>(() => protocol.Stream.ReadByte());
        Assert.Equal(description, alert.AlertDescription);
    }

    /// <summary>A BouncyCastle client that can write any record once the handshake is done (protected with its keys).</summary>
    private sealed class RawRecordClientProtocol(Stream stream) : TlsClientProtocol(stream)
    {
        public void WriteRecord(short type, byte[] fragment) => SafeWriteRecord(type, fragment, 0, fragment.Length);
    }

    private sealed class Tls13Client(TlsCrypto crypto) : DefaultTlsClient(crypto)
    {
        protected override ProtocolVersion[] GetSupportedVersions() => ProtocolVersion.TLSv13.Only();

        protected override IList<ServerName> GetSniServerNames() => [new(NameType.host_name, Encoding.ASCII.GetBytes(EdgeFixture.Host))];

        public override TlsAuthentication GetAuthentication() => new AnyServer();
    }

    /// <summary>The certificate is not what these tests check.</summary>
    private sealed class AnyServer : TlsAuthentication
    {
        public void NotifyServerCertificate(TlsServerCertificate serverCertificate)
        {
        }

        public TlsCredentials? GetClientCredentials(CertificateRequest certificateRequest) => null;
    }
}
