using System.Net;
using System.Net.Security;
using System.Net.Sockets;
using System.Security.Authentication;
using System.Security.Cryptography.X509Certificates;
using System.Text;
using KeylessOrleans.Edge.Routing;
using KeylessOrleans.Edge.Tls;
using KeylessOrleans.Registry;
using KeylessOrleans.TestSupport;
using KeylessOrleans.TestSupport.Hostile;
using Microsoft.Extensions.DependencyInjection;

namespace KeylessOrleans.Edge.Tests.Federation;

/// <summary>
/// The operator's cluster (one edge) and three tenants, each a cluster of its own that the edge reaches only as a
/// client: acme and initech run the product's key server; umbrella is hostile and announces chains whose keys it does
/// not hold. Initech's key folder also carries a certificate for acme's name.
/// </summary>
public sealed class FederatedTenantsFixture : IAsyncLifetime
{
    public const string AcmeHost = "www.acme.test";
    public const string InitechHost = "www.initech.test";
    public const string UmbrellaHost = "www.umbrella.test";
    public const string WayneHost = "www.wayne.test";

    public TestCertificateAuthority Authority { get; } = new();
    public TestOrigin Origin { get; } = new();
    public TenantKeyFolder AcmeKeys { get; private set; } = null!;
    public TenantKeyFolder InitechKeys { get; private set; } = null!;
    public string StolenKeyId { get; private set; } = null!;
    public string UnprovenKeyId { get; private set; } = null!;
    public KeylessTestCluster Operator { get; private set; } = null!;
    public TenantKeyServerHost Acme { get; private set; } = null!;
    public TenantKeyServerHost Initech { get; private set; } = null!;
    public TenantKeyServerHost Umbrella { get; private set; } = null!;

    /// <summary>Hostile too, but it holds its key: it proves possession, then answers handshakes with bad signatures.</summary>
    public TenantKeyServerHost Wayne { get; private set; } = null!;
    public IPEndPoint EdgeEndPoint { get; private set; } = null!;
    public SiloPlan.Edge EdgePlan { get; } = new(HttpsPort: 0);

    public IServiceProvider EdgeServices => Operator.Services(Operator.Silo(EdgePlan));
    internal RouteTable Routes => EdgeServices.GetRequiredService<RouteTable>();

    public async Task InitializeAsync()
    {
        AcmeKeys = new TenantKeyFolder(Authority, [AcmeHost, "*.acme.test"]);
        InitechKeys = new TenantKeyFolder(Authority, [InitechHost]);
        // Initech's own key, certified (by a CA a browser would trust) for acme's name too: the edge must not route it.
        var (stolen, _) = TestKeys.Ecdsa(System.Security.Cryptography.ECCurve.NamedCurves.nistP256, TestKeys.Format.Pkcs8);
        InitechKeys.Add("acme-name.pem", stolen, Authority, LeafExtras.None, InitechHost, AcmeHost);
        StolenKeyId = KeylessOrleans.Keys.KeyIds.FromSubjectPublicKeyInfo(stolen.SubjectPublicKeyInfo);

        Operator = await KeylessTestCluster.StartAsync(EdgePlan);
        Acme = await TenantKeyServerHost.StartAsync("acme", "primary", AcmeKeys.Path);
        Initech = await TenantKeyServerHost.StartAsync("initech", "primary", InitechKeys.Path);

        // Umbrella announces a chain for its own name whose private key it does not have.
        var (unproven, _) = TestKeys.Ecdsa(System.Security.Cryptography.ECCurve.NamedCurves.nistP256, TestKeys.Format.Pkcs8);
        using var leaf = Authority.Issue(unproven.SubjectPublicKeyInfo, UmbrellaHost);
        UnprovenKeyId = KeylessOrleans.Keys.KeyIds.FromSubjectPublicKeyInfo(unproven.SubjectPublicKeyInfo);
        HostileKeyServer.Announced["umbrella/primary"] =
        [
            new CertificateChainRegistration(UnprovenKeyId, KeylessOrleans.Keys.KeyAlgorithm.EcdsaP256, [leaf.RawData, Authority.Certificate.RawData], [UmbrellaHost], leaf.NotAfter),
        ];
        Umbrella = await TenantKeyServerHost.StartAsync("umbrella", "primary", "", keyServer: false,
            configureSilo: silo => silo.Services.Configure<Orleans.Configuration.GrainTypeOptions>(o => o.Classes.RemoveWhere(t => !HostileKeyServer.IsHostileClass(t))));

        var (wayneKey, _) = TestKeys.Ecdsa(System.Security.Cryptography.ECCurve.NamedCurves.nistP256, TestKeys.Format.Pkcs8);
        using var wayneLeaf = Authority.Issue(wayneKey.SubjectPublicKeyInfo, WayneHost);
        var wayneKeyId = KeylessOrleans.Keys.KeyIds.FromSubjectPublicKeyInfo(wayneKey.SubjectPublicKeyInfo);
        HostileKeyServer.Announced["wayne/primary"] =
        [
            new CertificateChainRegistration(wayneKeyId, KeylessOrleans.Keys.KeyAlgorithm.EcdsaP256, [wayneLeaf.RawData, Authority.Certificate.RawData], [WayneHost], wayneLeaf.NotAfter),
        ];
        var wayneSigner = System.Security.Cryptography.ECDsa.Create();
        wayneSigner.ImportPkcs8PrivateKey(wayneKey.Pkcs8, out _);
        HostileKeyServer.Answers["wayne"] = request => request is KeylessOrleans.Keys.ProvePossessionRequest proof
            ? KeylessOrleans.Keys.KeyOperationResult.Success(wayneSigner.SignData(
                KeylessOrleans.Keys.KeyPossession.SignedContent(new KeylessOrleans.Keys.KeyGrainKey("wayne", "primary", wayneKeyId), proof.Challenge),
                System.Security.Cryptography.HashAlgorithmName.SHA256, System.Security.Cryptography.DSASignatureFormat.Rfc3279DerSequence))
            : KeylessOrleans.Keys.KeyOperationResult.Success(wayneSigner.SignData(new byte[32], System.Security.Cryptography.HashAlgorithmName.SHA256,
                System.Security.Cryptography.DSASignatureFormat.Rfc3279DerSequence)); // a real signature by the key, over the wrong content
        Wayne = await TenantKeyServerHost.StartAsync("wayne", "primary", "", keyServer: false,
            configureSilo: silo => silo.Services.Configure<Orleans.Configuration.GrainTypeOptions>(o => o.Classes.RemoveWhere(t => !HostileKeyServer.IsHostileClass(t))));

        var registry = Operator.Grains.GetGrain<IRegistryGrain>(IRegistryGrain.DefaultKey);
        var origin = new OriginEndpoint("127.0.0.1", Origin.Port);
        await registry.SetTenantAsync(new TenantSettings("acme", [AcmeHost, "*.acme.test"], origin, KeyServers: [Acme.Endpoint]));
        await registry.SetTenantAsync(new TenantSettings("initech", [InitechHost], origin, KeyServers: [Initech.Endpoint]));
        await registry.SetTenantAsync(new TenantSettings("umbrella", [UmbrellaHost], origin, KeyServers: [Umbrella.Endpoint]));
        await registry.SetTenantAsync(new TenantSettings("wayne", [WayneHost], origin, KeyServers: [Wayne.Endpoint]));

        EdgeEndPoint = await EdgeServices.GetRequiredService<EdgeListener>().BoundEndPoint.WaitAsync(TimeSpan.FromSeconds(30));
        if (!await Poll.UntilAsync(() => Task.FromResult(
                Routes.Resolve(AcmeHost)?.Keys.Keys.Count == 2 && Routes.Resolve(InitechHost)?.Keys.Keys.Count == 2
                && Routes.Resolve(UmbrellaHost) is not null && Routes.FederatedReplica("umbrella", "primary") is not null && Routes.Resolve(WayneHost)?.Keys.Keys.Count == 1), TimeSpan.FromSeconds(60)))
            throw new TimeoutException("the edge never admitted the tenants' chains");
    }

    /// <summary>An HTTPS request through the edge, the server certificate checked against the test CA for <paramref name="host"/>.</summary>
    public async Task<(SslProtocols Protocol, string Response)> FetchAsync(string host, SslProtocols protocols, TlsCipherSuite[]? suites = null)
    {
        using var socket = new Socket(SocketType.Stream, ProtocolType.Tcp);
        await socket.ConnectAsync(EdgeEndPoint);
        await using var tls = new SslStream(new NetworkStream(socket, ownsSocket: false));
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(20));
        await tls.AuthenticateAsClientAsync(new SslClientAuthenticationOptions
        {
            TargetHost = host,
            EnabledSslProtocols = protocols,
            CipherSuitesPolicy = suites is null ? null : new CipherSuitesPolicy(suites),
            RemoteCertificateValidationCallback = (_, certificate, _, _) => certificate is not null && IssuedByTestCa(certificate, host),
        }, timeout.Token);
        await tls.WriteAsync(Encoding.ASCII.GetBytes($"GET / HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n\r\n"), timeout.Token);
        var response = await new StreamReader(tls, Encoding.ASCII).ReadToEndAsync(timeout.Token);
        return (tls.SslProtocol, response);
    }

    private bool IssuedByTestCa(X509Certificate certificate, string host)
    {
        using var chain = new X509Chain();
        chain.ChainPolicy.TrustMode = X509ChainTrustMode.CustomRootTrust;
        chain.ChainPolicy.CustomTrustStore.Add(Authority.Certificate);
        chain.ChainPolicy.RevocationMode = X509RevocationMode.NoCheck;
        using var leaf = X509CertificateLoader.LoadCertificate(certificate.GetRawCertData());
        return chain.Build(leaf) && leaf.MatchesHostname(host);
    }

    public async Task DisposeAsync()
    {
        await Operator.DisposeAsync();
        await Acme.DisposeAsync();
        await Initech.DisposeAsync();
        await Umbrella.DisposeAsync();
        await Wayne.DisposeAsync();
        AcmeKeys.Dispose();
        InitechKeys.Dispose();
        await Origin.DisposeAsync();
        Authority.Dispose();
    }
}
