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
using Microsoft.Extensions.DependencyInjection;

namespace KeylessOrleans.Edge.Tests;

/// <summary>
/// An edge silo listening for TLS on a free loopback port, the key server of tenant "acme" (RSA-2048 and ECDSA P-256
/// chains for www.acme.test and *.acme.test) as a cluster of its own that the edge reaches as a client, and a plain
/// HTTP origin behind them.
/// </summary>
public class EdgeFixture : IAsyncLifetime
{
    public const string Host = "www.acme.test";

    public EdgeFixture() : this(plan => plan)
    {
    }

    /// <summary>For fixtures that need an edge configured otherwise (e.g. <c>plan =&gt; plan with { … }</c>).</summary>
    protected EdgeFixture(Func<SiloPlan.Edge, SiloPlan.Edge> adjust) =>
        EdgePlan = adjust(new(HttpsPort: 0) { HandshakeTimeout = TimeSpan.FromSeconds(3), IdleTimeout = TimeSpan.FromSeconds(3) });

    public TestCertificateAuthority Authority { get; } = new();
    public TenantKeyFolder AcmeKeys { get; private set; } = null!;
    public TestOrigin Origin { get; } = new();
    public SiloPlan.Edge EdgePlan { get; }
    public TenantKeyServerHost Acme { get; private set; } = null!;

    /// <summary>The services of acme's key server (key store, audit log).</summary>
    public IServiceProvider AcmeServices => Acme.Services;
    public KeylessTestCluster Cluster { get; private set; } = null!;
    public IPEndPoint EdgeEndPoint { get; private set; } = null!;
    public TempDirectory Files { get; } = new("keyless-edge-test");

    /// <summary>The test CA as a PEM file, for openssl and curl.</summary>
    public string CaFile { get; private set; } = null!;

    public IServiceProvider EdgeServices => Cluster.Services(Cluster.Silo(EdgePlan));

    internal EdgeListener Listener => EdgeServices.GetRequiredService<EdgeListener>();

    public virtual async Task InitializeAsync()
    {
        AcmeKeys = new TenantKeyFolder(Authority, [Host, "*.acme.test"]);
        await PrepareKeysAsync(AcmeKeys);
        CaFile = Files.Write("ca.pem", System.Security.Cryptography.PemEncoding.WriteString("CERTIFICATE", Authority.Certificate.RawData));
        Cluster = await KeylessTestCluster.StartAsync(EdgePlan);
        Acme = await TenantKeyServerHost.StartAsync("acme", "primary", AcmeKeys.Path, ConfigureAcme, calls: Cluster.Calls);
        await SetAcmeOriginAsync(new OriginEndpoint("127.0.0.1", Origin.Port));
        EdgeEndPoint = await EdgeServices.GetRequiredService<EdgeListener>().BoundEndPoint.WaitAsync(TimeSpan.FromSeconds(30));
        await WaitUntilRoutedAsync(Host);
    }

    /// <summary>For fixtures that configure acme's key server otherwise (access policy, HSM keys).</summary>
    protected virtual void ConfigureAcme(KeylessOrleans.KeyServer.Hosting.KeyServerOptions options)
    {
    }

    /// <summary>For fixtures that give acme more keys (or certificates with other extensions) before its key server starts.</summary>
    protected virtual Task PrepareKeysAsync(TenantKeyFolder keys) => Task.CompletedTask;

    /// <summary>Changes acme's origin settings and waits until the edge routes with them.</summary>
    public Task SetAcmeOriginAsync(OriginEndpoint origin) => SetAcmeAsync(new TenantSettings("acme", [Host, "*.acme.test"], origin));

    /// <summary>Changes acme's tenant settings (its key server's gateway added when they name none) and waits until the edge routes with them.</summary>
    public async Task SetAcmeAsync(TenantSettings settings)
    {
        if (settings.KeyServers is null) settings = settings with { KeyServers = [Acme.Endpoint] };
        await Cluster.Grains.GetGrain<IRegistryGrain>(IRegistryGrain.DefaultKey).SetTenantAsync(settings);
        var routes = EdgeServices.GetRequiredService<RouteTable>();
        var clock = System.Diagnostics.Stopwatch.StartNew();
        // By value: the registry stores its own copy (lists as arrays), so the routed record is an equal one, not this one.
        while (routes.Resolve(Host)?.Tenant.SameAs(settings) != true)
        {
            if (clock.Elapsed > TimeSpan.FromSeconds(30)) throw new TimeoutException("the edge never saw the new origin");
            await Task.Delay(50);
        }
    }

    public async Task WaitUntilRoutedAsync(string host)
    {
        var routes = EdgeServices.GetRequiredService<RouteTable>();
        var clock = System.Diagnostics.Stopwatch.StartNew();
        while (routes.Resolve(host) is not { Keys.Keys.Count: > 0 })
        {
            if (clock.Elapsed > TimeSpan.FromSeconds(30)) throw new TimeoutException($"{host} never became routable");
            await Task.Delay(50);
        }
    }

    /// <summary>Key-grain calls the edge has made so far (every key operation crosses the cluster as one).</summary>
    public int KeyGrainCalls => Cluster.Calls.KeyGrainCalls;

    /// <summary>openssl s_client against this edge for <paramref name="host"/>, verifying the chain, sending one request.</summary>
    public Task<ExternalTool.Result> SClientAsync(string host, params string[] options) =>
        ExternalTool.RunAsync("openssl",
            ["s_client", "-connect", EdgeEndPoint.ToString(), "-servername", host, "-CAfile", CaFile, "-verify_return_error", "-ign_eof", .. options],
            standardInput: $"GET / HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n\r\n");

    /// <summary>GnuTLS's client against this edge for <paramref name="host"/> with a priority string; verifies the chain and name.</summary>
    public Task<ExternalTool.Result> GnutlsAsync(string host, string priority) =>
        ExternalTool.RunAsync("gnutls-cli",
            ["--x509cafile", CaFile, "-p", EdgeEndPoint.Port.ToString(), "--sni-hostname", host, "--verify-hostname", host, "--priority", priority, "127.0.0.1"],
            standardInput: "");

    /// <summary>Connects with .NET's SslStream, trusting only the test CA, and fetches "/".</summary>
    public async Task<(SslStream Tls, string Response)> FetchAsync(SslProtocols protocols, TlsCipherSuite[]? suites = null, string host = Host)
    {
        var socket = new Socket(SocketType.Stream, ProtocolType.Tcp);
        await socket.ConnectAsync(EdgeEndPoint);
        return await FetchAsync(socket, protocols, suites, host);
    }

    /// <summary>Like <see cref="FetchAsync(SslProtocols, TlsCipherSuite[], string)"/> over a socket already connected to the edge.</summary>
    public async Task<(SslStream Tls, string Response)> FetchAsync(Socket socket, SslProtocols protocols, TlsCipherSuite[]? suites = null, string host = Host)
    {
        var tls = new SslStream(new NetworkStream(socket, ownsSocket: true));
        var options = new SslClientAuthenticationOptions
        {
            TargetHost = host,
            EnabledSslProtocols = protocols,
            CipherSuitesPolicy = suites is null ? null : new CipherSuitesPolicy(suites),
            RemoteCertificateValidationCallback = (_, certificate, _, _) => ChainsToTestCa(certificate, host),
        };
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(20));
        await tls.AuthenticateAsClientAsync(options, timeout.Token);
        await tls.WriteAsync(Encoding.ASCII.GetBytes($"GET / HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n\r\n"), timeout.Token);
        using var reader = new StreamReader(tls, Encoding.ASCII, leaveOpen: true);
        var response = await reader.ReadToEndAsync(timeout.Token);
        return (tls, response);
    }

    private bool ChainsToTestCa(X509Certificate? certificate, string host)
    {
        if (certificate is null) return false;
        using var chain = new X509Chain();
        chain.ChainPolicy.TrustMode = X509ChainTrustMode.CustomRootTrust;
        chain.ChainPolicy.CustomTrustStore.Add(Authority.Certificate);
        chain.ChainPolicy.RevocationMode = X509RevocationMode.NoCheck;
        var leaf = X509CertificateLoader.LoadCertificate(certificate.GetRawCertData());
        return chain.Build(leaf) && leaf.MatchesHostname(host);
    }

    public virtual async Task DisposeAsync()
    {
        await Cluster.DisposeAsync();
        await Acme.DisposeAsync();
        await Origin.DisposeAsync();
        AcmeKeys.Dispose();
        Authority.Dispose();
        Files.Dispose();
    }
}
