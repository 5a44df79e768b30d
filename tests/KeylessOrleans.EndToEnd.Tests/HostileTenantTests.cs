using System.Diagnostics;
using System.Net;
using System.Net.Security;
using System.Net.Sockets;
using System.Security.Authentication;
using System.Security.Cryptography;
using System.Text.Json;
using KeylessOrleans.Cluster.Security;
using KeylessOrleans.TestSupport;

namespace KeylessOrleans.EndToEnd.Tests;

/// <summary>
/// Real processes, as deployed: one edge in the operator's cluster (mutual TLS, the operator's CA) and tenants' key
/// servers each in a cluster of its own (mutual TLS, each tenant's own CA), reached by the edge as a client. Tenant
/// "evil" runs the real key server with a certificate for acme's name in its folder; "mallory" is recorded with acme's
/// gateway but its own CA; "stuck"'s gateway accepts connections and never answers.
/// </summary>
public sealed class HostileTenantTests(HostileTenantTests.Deployment deployment) : IClassFixture<HostileTenantTests.Deployment>
{
    [Fact]
    public async Task A_tenant_is_served_through_its_own_cluster_over_mutual_tls()
    {
        var result = await deployment.CurlAsync("www.acme.test");

        Assert.True(result.ExitCode == 0, result.All);
        Assert.Contains(TestOrigin.Body, result.Output);
    }

    [Fact]
    public async Task A_chain_for_another_tenants_name_is_refused_while_the_tenants_own_chains_serve()
    {
        // An edge fetches and checks a tenant's chains when it first serves one of its names.
        await deployment.CurlAsync("www.evil.test");
        Assert.True(await Poll.UntilAsync(() => Task.FromResult(deployment.Edge.Output.Contains("Refused a certificate chain of evil/primary")
            && deployment.Edge.Output.Contains("www.acme.test, which tenant evil was not given")), TimeSpan.FromSeconds(30)), deployment.Edge.Output);

        var evil = await deployment.CurlAsync("www.evil.test");
        Assert.True(evil.ExitCode == 0, evil.All);
        for (var i = 0; i < 5; i++) Assert.Equal(deployment.AcmeLeaf, await deployment.ServedLeafAsync("www.acme.test"));
    }

    [Fact]
    public async Task A_gateway_presenting_another_tenants_key_server_certificate_is_refused()
    {
        await Assert.ThrowsAnyAsync<Exception>(() => deployment.HandshakeAsync("www.mallory.test"));
        Assert.True(await Poll.UntilAsync(() => Task.FromResult(deployment.Edge.Output.Contains("Refused a gateway of tenant mallory")), TimeSpan.FromSeconds(30)),
            deployment.Edge.Output);
        await Assert.ThrowsAnyAsync<Exception>(() => deployment.HandshakeAsync("www.mallory.test"));
    }

    [Fact]
    public async Task A_gateway_that_hangs_costs_its_own_handshakes_a_deadline_and_other_tenants_nothing()
    {
        var baseline = await deployment.HandshakeTimesAsync("www.acme.test", 40);

        var stuck = Enumerable.Range(0, 16).Select(async _ =>
        {
            var clock = Stopwatch.StartNew();
            await Assert.ThrowsAnyAsync<Exception>(() => deployment.HandshakeAsync("www.stuck.test"));
            return clock.Elapsed;
        }).ToList();
        var during = await deployment.HandshakeTimesAsync("www.acme.test", 40);
        var stuckTimes = await Task.WhenAll(stuck);

        // The edge's key-call deadline is 2 s; the client's own timeout is 20 s, so a hang would show.
        Assert.All(stuckTimes, t => Assert.True(t < TimeSpan.FromSeconds(2) + TimeSpan.FromSeconds(3), $"a handshake of the hung tenant took {t}"));
        // Had acme's handshakes queued behind stuck's (threads, bulkhead, one client for both), most of them would wait
        // out stuck's deadline; a single slow one (a GC, a slow fsync of the audit log) says nothing about isolation.
        var (p90Before, p90During) = (Percentile(baseline, 0.9), Percentile(during, 0.9));
        Assert.True(p90During < p90Before * 3 + TimeSpan.FromMilliseconds(150),
            $"acme's p90 went from {p90Before.TotalMilliseconds:0.0} ms to {p90During.TotalMilliseconds:0.0} ms while stuck's gateway hung");
        Assert.True(during.Max() < TimeSpan.FromSeconds(2), $"an acme handshake took {during.Max().TotalMilliseconds:0} ms, as long as stuck's deadline");
    }

    [Fact]
    public async Task Status_shows_each_tenants_own_key_servers_and_the_keys_the_edges_admitted()
    {
        // Edges admit a tenant's keys when they first serve it, and report them with their status.
        await deployment.HandshakeAsync("www.acme.test");
        await deployment.CurlAsync("www.evil.test");
        await Assert.ThrowsAnyAsync<Exception>(() => deployment.HandshakeAsync("www.mallory.test"));
        var (exitCode, output) = (0, "");
        await Poll.UntilAsync(async () =>
        {
            (exitCode, output) = await deployment.StatusJsonAsync();
            return exitCode != 0 || (output.Contains("\"silo\": \"Active\"") && output.Split("\"keyId\"").Length - 1 >= 4); // acme's 2, evil's 2
        }, TimeSpan.FromSeconds(30));

        Assert.True(exitCode == 0, output);
        using var json = System.Text.Json.JsonDocument.Parse(output[output.IndexOf('{')..]);
        var tenants = json.RootElement.GetProperty("tenants").EnumerateArray().ToDictionary(t => t.GetProperty("tenant").GetString()!);
        var acme = tenants["acme"].GetProperty("replicas").EnumerateArray().Single();
        Assert.Equal("primary", acme.GetProperty("replica").GetString());
        Assert.Equal("Active", acme.GetProperty("silo").GetString());
        Assert.Equal(2, acme.GetProperty("keys").GetArrayLength());
        var evil = tenants["evil"].GetProperty("replicas").EnumerateArray().Single();
        Assert.Equal(2, evil.GetProperty("keys").GetArrayLength()); // its chain for acme's name is not among them
        Assert.Equal(0, tenants["mallory"].GetProperty("replicas").EnumerateArray().Single().GetProperty("keys").GetArrayLength());
    }

    private static TimeSpan Percentile(IReadOnlyList<TimeSpan> samples, double p) =>
        samples.Order().ElementAt(Math.Min(samples.Count - 1, (int)Math.Ceiling(p * samples.Count) - 1));

    public sealed class Deployment : IAsyncLifetime
    {
        private readonly TempDirectory _files = new("keyless-hostile");
        private readonly ClusterIdentities _operator = new("Operator CA");
        private readonly ClusterIdentities _acmeCa = new("Acme key-server CA");
        private readonly ClusterIdentities _evilCa = new("Evil key-server CA");
        private readonly TestCertificateAuthority _web = new();
        private readonly TestOrigin _origin = new();
        private readonly TcpListener _stuckGateway = new(IPAddress.Loopback, 0);
        private readonly List<Socket> _held = [];
        private TenantKeyFolder _acmeKeys = null!;
        private TenantKeyFolder _evilKeys = null!;
        private KeylessProcess _acme = null!;
        private KeylessProcess _evil = null!;
        private int _httpsPort;
        private int _gatewayPort;

        public KeylessProcess Edge { get; private set; } = null!;
        public byte[] AcmeLeaf { get; private set; } = null!;

        public async Task InitializeAsync()
        {
            _acmeKeys = new TenantKeyFolder(_web, ["www.acme.test"]);
            _evilKeys = new TenantKeyFolder(_web, ["www.evil.test"]);
            var (stolen, _) = TestKeys.Ecdsa(ECCurve.NamedCurves.nistP256, TestKeys.Format.Pkcs8);
            _evilKeys.Add("acme-name.pem", stolen, _web, LeafExtras.None, "www.evil.test", "www.acme.test");
            _stuckGateway.Start();
            _ = HoldConnectionsAsync();

            var acmeGateway = KeylessProcess.FreePort();
            var evilGateway = KeylessProcess.FreePort();
            _acme = StartKeyServer("acme", _acmeCa, _acmeKeys.Path, acmeGateway);
            _evil = StartKeyServer("evil", _evilCa, _evilKeys.Path, evilGateway);

            var origin = new { host = "127.0.0.1", port = _origin.Port };
            var tenants = new
            {
                tenants = new object[]
                {
                    Tenant("acme", "www.acme.test", origin, acmeGateway, _acmeCa),
                    Tenant("evil", "www.evil.test", origin, evilGateway, _evilCa),
                    Tenant("mallory", "www.mallory.test", origin, acmeGateway, _evilCa), // acme's gateway, but another CA
                    Tenant("stuck", "www.stuck.test", origin, ((IPEndPoint)_stuckGateway.LocalEndpoint).Port, _acmeCa),
                },
            };
            var tenantsFile = _files.Write("tenants.json", JsonSerializer.Serialize(tenants));
            var edgeIdentity = _operator.Issue(SiloIdentity.Edge("edge1"));
            _httpsPort = KeylessProcess.FreePort();
            _gatewayPort = KeylessProcess.FreePort();
            Edge = KeylessProcess.Start("edge", "--https-port", $"{_httpsPort}", "--silo-port", $"{KeylessProcess.FreePort()}",
                "--gateway-port", $"{_gatewayPort}", "--tenants", tenantsFile, "--edge-id", "edge1",
                "--tls-cert", edgeIdentity.Certificate, "--tls-key", edgeIdentity.Key, "--tls-ca", _operator.CaFile);

            if (!await Poll.UntilAsync(async () => (await CurlAsync("www.acme.test")).ExitCode == 0 && (await CurlAsync("www.evil.test")).ExitCode == 0,
                    TimeSpan.FromSeconds(90)))
                throw new TimeoutException($"the edge never served acme and evil\n--- edge\n{Edge.Output}\n--- acme\n{_acme.Output}\n--- evil\n{_evil.Output}");
            AcmeLeaf = await ServedLeafAsync("www.acme.test");
        }

        private object Tenant(string name, string host, object origin, int gatewayPort, ClusterIdentities ca) => new
        {
            tenant = name,
            hostNames = new[] { host },
            origin,
            keyServers = new[] { new { replica = "primary", gateway = $"127.0.0.1:{gatewayPort}" } },
            keyServerCa = File.ReadAllText(ca.CaFile),
        };

        private KeylessProcess StartKeyServer(string tenant, ClusterIdentities tenantCa, string keys, int gatewayPort)
        {
            var identity = tenantCa.Issue(SiloIdentity.OnPrem(tenant, "primary"));
            return KeylessProcess.Start("keyserver", "--tenant", tenant, "--keys", keys, "--silo-port", $"{KeylessProcess.FreePort()}",
                "--gateway-port", $"{gatewayPort}", "--audit-log", Path.Combine(_files.Path, $"{tenant}-audit.log"),
                "--tls-cert", identity.Certificate, "--tls-key", identity.Key, "--tls-ca", tenantCa.CaFile, "--edge-ca", _operator.CaFile);
        }

        /// <summary><c>keyless status --json</c> as the operator runs it (operator certificate, call proofs).</summary>
        public Task<(int ExitCode, string Output)> StatusJsonAsync()
        {
            var operatorIdentity = _operator.Issue(SiloIdentity.Operator("ops"));
            return KeylessProcess.RunToEndAsync("status", "--gateway-port", $"{_gatewayPort}", "--json",
                "--tls-cert", operatorIdentity.Certificate, "--tls-key", operatorIdentity.Key, "--tls-ca", _operator.CaFile);
        }

        /// <summary>Accepts and holds connections, saying nothing: a gateway that hangs.</summary>
        private async Task HoldConnectionsAsync()
        {
            try
            {
                while (true)
                {
                    var socket = await _stuckGateway.AcceptSocketAsync();
                    lock (_held) _held.Add(socket);
                }
            }
            catch (Exception e) when (e is SocketException or ObjectDisposedException)
            {
                // Stopped.
            }
        }

        public Task<ExternalTool.Result> CurlAsync(string host) =>
            ExternalTool.RunAsync("curl", ["-sS", "--max-time", "10", "--cacert", WebCaFile(), "--resolve", $"{host}:{_httpsPort}:127.0.0.1", $"https://{host}:{_httpsPort}/"]);

        private string WebCaFile() => File.Exists(Path.Combine(_files.Path, "web-ca.pem"))
            ? Path.Combine(_files.Path, "web-ca.pem")
            : _files.Write("web-ca.pem", PemEncoding.WriteString("CERTIFICATE", _web.Certificate.RawData));

        /// <summary>A TLS 1.3 handshake (no request) for <paramref name="host"/>; throws when it fails.</summary>
        public async Task<byte[]> HandshakeAsync(string host)
        {
            using var socket = new Socket(SocketType.Stream, ProtocolType.Tcp);
            await socket.ConnectAsync(IPAddress.Loopback, _httpsPort);
            await using var tls = new SslStream(new NetworkStream(socket, ownsSocket: false));
            using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(20));
            await tls.AuthenticateAsClientAsync(new SslClientAuthenticationOptions
            {
                TargetHost = host,
                EnabledSslProtocols = SslProtocols.Tls13,
                RemoteCertificateValidationCallback = (_, _, _, _) => true, // what is served is asserted by the caller
            }, timeout.Token);
            return tls.RemoteCertificate!.GetRawCertData();
        }

        public async Task<byte[]> ServedLeafAsync(string host) => await HandshakeAsync(host);

        /// <summary>Sequential handshakes' durations.</summary>
        public async Task<IReadOnlyList<TimeSpan>> HandshakeTimesAsync(string host, int count)
        {
            var times = new List<TimeSpan>();
            for (var i = 0; i < count; i++)
            {
                var clock = Stopwatch.StartNew();
                await HandshakeAsync(host);
                times.Add(clock.Elapsed);
            }
            return times;
        }

        public async Task DisposeAsync()
        {
            if (Edge is not null) await Edge.DisposeAsync();
            if (_acme is not null) await _acme.DisposeAsync();
            if (_evil is not null) await _evil.DisposeAsync();
            _stuckGateway.Stop();
            lock (_held) _held.ForEach(s => s.Dispose());
            await _origin.DisposeAsync();
            _acmeKeys?.Dispose();
            _evilKeys?.Dispose();
            _web.Dispose();
            _operator.Dispose();
            _acmeCa.Dispose();
            _evilCa.Dispose();
            _files.Dispose();
        }
    }
}
