using System.Net.Sockets;
using System.Text;
using KeylessOrleans.Edge.Tls;
using KeylessOrleans.TestSupport;
using KeylessOrleans.TestSupport.Fuzzing;
using Org.BouncyCastle.Security;
using Org.BouncyCastle.Tls;
using Org.BouncyCastle.Tls.Crypto;
using Org.BouncyCastle.Tls.Crypto.Impl.BC;

namespace KeylessOrleans.Edge.Tests;

/// <summary>
/// TLS 1.3 post-quantum hybrid key agreement (X25519MLKEM768, SecP256r1MLKEM768) for the clients that send a share
/// for it, browsers first; classical groups for everyone else, never through a HelloRetryRequest.
/// </summary>
public sealed class PostQuantumKeyAgreementTests(EdgeFixture edge) : IClassFixture<EdgeFixture>
{
    private const string Handshakes = "keyless.edge.handshakes";

    [Theory]
    [InlineData(NamedGroup.X25519MLKEM768)]
    [InlineData(NamedGroup.SecP256r1MLKEM768)]
    public async Task A_tls13_client_offering_only_a_hybrid_group_gets_it(int group)
    {
        using var meters = new EdgeMeterRecorder(edge, (Handshakes, "group"));
        var result = await Task.Run(() => Connect(ProtocolVersion.TLSv13, [group], [group]));
        Assert.Equal(group, result.Group);
        Assert.Equal(1, result.ServerHellos);
        Assert.StartsWith("HTTP/1.1 200 OK", result.Response);
        Assert.Equal(1, meters.Total(Handshakes, NamedGroup.GetName(group)));
    }

    [Fact]
    public async Task A_client_that_supports_a_hybrid_but_sent_only_an_x25519_share_gets_x25519_without_a_hello_retry()
    {
        using var meters = new EdgeMeterRecorder(edge, (Handshakes, "group"));
        var result = await Task.Run(() => Connect(ProtocolVersion.TLSv13, [NamedGroup.X25519MLKEM768, NamedGroup.x25519], [NamedGroup.x25519]));
        Assert.Equal(NamedGroup.x25519, result.Group);
        Assert.Equal(1, result.ServerHellos); // a HelloRetryRequest would have been a second one
        Assert.StartsWith("HTTP/1.1 200 OK", result.Response);
        Assert.Equal(1, meters.Total(Handshakes, "x25519"));
    }

    [Fact]
    public async Task A_client_that_sent_both_shares_gets_the_hybrid()
    {
        var result = await Task.Run(() => Connect(ProtocolVersion.TLSv13, [NamedGroup.x25519, NamedGroup.X25519MLKEM768], [NamedGroup.x25519, NamedGroup.X25519MLKEM768]));
        Assert.Equal(NamedGroup.X25519MLKEM768, result.Group);
        Assert.Equal(1, result.ServerHellos);
    }

    [Fact]
    public async Task A_tls12_client_listing_a_hybrid_first_gets_a_classical_curve()
    {
        using var meters = new EdgeMeterRecorder(edge, (Handshakes, "group"));
        var result = await Task.Run(() => Connect(ProtocolVersion.TLSv12, [NamedGroup.X25519MLKEM768, NamedGroup.secp256r1], []));
        Assert.StartsWith("HTTP/1.1 200 OK", result.Response);
        Assert.Equal(1, meters.Total(Handshakes, "secp256r1"));
    }

    [Theory]
    [InlineData(1215)]
    [InlineData(1217)]
    [InlineData(1184)]
    public async Task A_hybrid_key_share_of_the_wrong_length_gets_illegal_parameter(int length)
    {
        var hello = ClientHelloBuilder.Standard(new Random(length), EdgeFixture.Host, hybrid: true);
        hello.Extensions.RemoveAll(e => e.Type == 51);
        hello.Extensions.Add(ClientHelloBuilder.KeyShare((ClientHelloBuilder.X25519MLKem768, ClientHelloBuilder.Bytes(new Random(1), length))));
        var answer = await ServerHelloProbe.SendAsync(edge.EdgeEndPoint, hello.Record(), 4096, TimeSpan.FromSeconds(10));
        Assert.Equal(AlertDescription.illegal_parameter, answer.Alert);
    }

    [Fact]
    public async Task Firefox_esr_completes_a_handshake_with_X25519MLKEM768()
    {
        using var meters = new EdgeMeterRecorder(edge, (Handshakes, "group"));
        using var firefox = await FirefoxHeadless.CreateAsync(await File.ReadAllTextAsync(edge.CaFile));
        var (loaded, result) = await firefox.LoadAsync($"https://{EdgeFixture.Host}:{edge.EdgeEndPoint.Port}/");
        Assert.True(loaded, result.All);
        Assert.True(meters.Total(Handshakes, "X25519MLKEM768") >= 1, string.Join(", ", meters.ByTag(Handshakes)));
    }

    [Fact]
    public async Task Chromium_completes_a_handshake_with_X25519MLKEM768()
    {
        using var meters = new EdgeMeterRecorder(edge, (Handshakes, "group"));
        using var chromium = await ChromiumHeadless.CreateAsync(await File.ReadAllTextAsync(edge.CaFile));
        var result = await chromium.DumpDomAsync($"https://{EdgeFixture.Host}:{edge.EdgeEndPoint.Port}/");
        Assert.True(result.Output.Contains(TestOrigin.Body), result.All);
        Assert.True(meters.Total(Handshakes, "X25519MLKEM768") >= 1, string.Join(", ", meters.ByTag(Handshakes)));
    }

    [Fact]
    public void The_group_order_option_names_every_bad_entry()
    {
        Assert.Equal([NamedGroup.X25519MLKEM768, NamedGroup.SecP256r1MLKEM768, NamedGroup.x25519], KeyShareGroups.Parse(KeyShareGroups.DefaultTls13, out var none)[..3]);
        Assert.Empty(none);
        KeyShareGroups.Parse("x25519, kyber768, X25519, secp521r1", out var errors);
        Assert.Equal(3, errors.Count);
        KeyShareGroups.Parse(" ", out var empty);
        Assert.Single(empty);
    }

    private sealed record Outcome(int Group, int ServerHellos, string Response);

    /// <summary>A BouncyCastle client that offers exactly <paramref name="groups"/> and sends shares for <paramref name="shares"/>.</summary>
    private Outcome Connect(ProtocolVersion version, int[] groups, int[] shares)
    {
        using var socket = new Socket(SocketType.Stream, ProtocolType.Tcp) { ReceiveTimeout = 20_000, SendTimeout = 20_000 };
        socket.Connect(edge.EdgeEndPoint);
        var protocol = new TlsClientProtocol(new NetworkStream(socket, ownsSocket: false));
        var client = new GroupClient(new BcTlsCrypto(new SecureRandom()), version, groups, shares);
        protocol.Connect(client);
        protocol.Stream.Write(Encoding.ASCII.GetBytes($"GET / HTTP/1.1\r\nHost: {EdgeFixture.Host}\r\nConnection: close\r\n\r\n"));
        using var reader = new StreamReader(protocol.Stream, Encoding.ASCII);
        var response = reader.ReadToEnd();
        return new(client.Group, client.ServerHellos, response);
    }

    private sealed class GroupClient(TlsCrypto crypto, ProtocolVersion version, int[] groups, int[] shares) : DefaultTlsClient(crypto)
    {
        public int ServerHellos { get; private set; }
        public int Group => m_context.SecurityParameters.NegotiatedGroup;

        protected override ProtocolVersion[] GetSupportedVersions() => version.Only();

        protected override IList<int> GetSupportedGroups(IList<int> namedGroupRoles) => groups;

        public override IList<int> GetEarlyKeyShareGroups() => shares;

        protected override IList<ServerName> GetSniServerNames() => [new(NameType.host_name, Encoding.ASCII.GetBytes(EdgeFixture.Host))];

        /// <summary>Called once per ServerHello and once per HelloRetryRequest.</summary>
        public override void NotifySelectedCipherSuite(int selectedCipherSuite)
        {
            ServerHellos++;
            base.NotifySelectedCipherSuite(selectedCipherSuite);
        }

        public override TlsAuthentication GetAuthentication() => new AnyServer();
    }

    /// <summary>The certificate is not what these tests check (the SslStream and curl tests verify it).</summary>
    private sealed class AnyServer : TlsAuthentication
    {
        public void NotifyServerCertificate(TlsServerCertificate serverCertificate)
        {
        }

        public TlsCredentials? GetClientCredentials(CertificateRequest certificateRequest) => null;
    }
}
