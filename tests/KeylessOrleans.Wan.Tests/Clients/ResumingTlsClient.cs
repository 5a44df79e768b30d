using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using System.Text;
using Org.BouncyCastle.Security;
using Org.BouncyCastle.Tls;
using Org.BouncyCastle.Tls.Crypto.Impl.BC;

namespace KeylessOrleans.Wan.Tests.Clients;

/// <summary>
/// TLS 1.2 handshakes that resume one session by its id (no key operation on the edge's side), timed one by one.
/// BouncyCastle's client, because .NET's SslStream on Linux does not resume TLS 1.2 sessions by id.
/// </summary>
public sealed class ResumingTlsClient(IPEndPoint edge, string host, Func<Socket> newSocket)
{
    private TlsSession? _session;

    /// <summary>One handshake: how long it took and whether it resumed the session of the one before.</summary>
    public (TimeSpan Duration, bool Resumed) Handshake()
    {
        var clock = Stopwatch.StartNew();
        using var socket = newSocket();
        socket.NoDelay = true;
        socket.ReceiveTimeout = socket.SendTimeout = 5000;
        socket.Connect(edge);
        using var stream = new NetworkStream(socket, ownsSocket: false);
        var client = new Client(host, _session);
        var protocol = new TlsClientProtocol(stream);
        protocol.Connect(client);
        var elapsed = clock.Elapsed;
        _session = client.Session;
        protocol.Close();
        return (elapsed, client.Resumed);
    }

    private sealed class Client(string host, TlsSession? resume) : DefaultTlsClient(new BcTlsCrypto(new SecureRandom()))
    {
        public TlsSession? Session { get; private set; }

        public bool Resumed { get; private set; }

        protected override ProtocolVersion[] GetSupportedVersions() => ProtocolVersion.TLSv12.Only();

        protected override IList<ServerName> GetSniServerNames() => [new ServerName(NameType.host_name, Encoding.ASCII.GetBytes(host))];

        public override TlsSession? GetSessionToResume() => resume;

        public override void NotifyHandshakeComplete()
        {
            base.NotifyHandshakeComplete();
            Session = m_context.ResumableSession;
            Resumed = m_context.SecurityParameters.IsResumedSession;
        }

        // The load is about timing, not the test CA: any server certificate is accepted (its key is still proven).
        public override TlsAuthentication GetAuthentication() => new AnyServer();
    }

    private sealed class AnyServer : TlsAuthentication
    {
        public void NotifyServerCertificate(TlsServerCertificate serverCertificate)
        {
        }

        public TlsCredentials? GetClientCredentials(CertificateRequest certificateRequest) => null;
    }
}
