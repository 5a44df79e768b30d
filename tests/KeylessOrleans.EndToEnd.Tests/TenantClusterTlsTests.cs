using System.Net;
using System.Security.Cryptography.X509Certificates;
using KeylessOrleans.Cluster.Security;
using KeylessOrleans.Keys;
using KeylessOrleans.TestSupport;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Orleans.Configuration;
using Orleans.Connections.Security;
using Orleans.Runtime;

namespace KeylessOrleans.EndToEnd.Tests;

/// <summary>
/// A real `keyless keyserver` as its tenant's own cluster, with mutual TLS set up as a tenant and the operator do it
/// with the keyless program: the tenant's CA certifies the key server, the operator's CA certifies edges. Its gateway
/// lets in the operator's edges only; its silo port lets in the tenant's own silos only.
/// </summary>
public sealed class TenantClusterTlsTests : IDisposable
{
    private readonly TempDirectory _files = new("keyless-tenant-tls-test");
    private readonly TestCertificateAuthority _webCa = new();
    private readonly TenantKeyFolder _keys;

    public TenantClusterTlsTests() => _keys = new TenantKeyFolder(_webCa, ["www.acme.test"]);

    private string F(string relative) => Path.Combine(_files.Path, relative);

    [Fact]
    public async Task Only_the_operators_edges_reach_the_tenants_gateway_and_nothing_but_the_tenants_silos_reaches_its_silo_port()
    {
        // The tenant's PKI, on the tenant's side: its own CA and its key server's certificate (key made there).
        await RunOkAsync("ca", "init", "--dir", F("tenant-ca"), "--name", "Acme key server CA");
        await RunOkAsync("cert", "request", "--tenant", "acme", "--out", F("acme"));
        await RunOkAsync("cert", "issue", "--ca-dir", F("tenant-ca"), "--role", "onprem", "--tenant", "acme", "--csr", F("acme/csr.pem"), "--out", F("acme"));
        // The operator's: its CA and an edge certificate. And someone else's CA with an edge certificate of the same name.
        await RunOkAsync("ca", "init", "--dir", F("operator-ca"));
        await RunOkAsync("cert", "issue", "--ca-dir", F("operator-ca"), "--role", "edge", "--name", "edge1", "--out", F("edge"));
        await RunOkAsync("ca", "init", "--dir", F("other-ca"));
        await RunOkAsync("cert", "issue", "--ca-dir", F("other-ca"), "--role", "edge", "--name", "edge1", "--out", F("fake-edge"));

        var siloPort = KeylessProcess.FreePort();
        var gatewayPort = KeylessProcess.FreePort();
        await using var keyServer = KeylessProcess.Start("keyserver", "--tenant", "acme", "--keys", _keys.Path,
            "--audit-log", F("audit.log"), "--silo-port", $"{siloPort}", "--gateway-port", $"{gatewayPort}",
            "--tls-cert", F("acme/cert.pem"), "--tls-key", F("acme/key.pem"), "--tls-ca", F("tenant-ca/ca.pem"), "--edge-ca", F("operator-ca/ca.pem"));
        using var admin = new AdminEndpoint(keyServer.AdminPort);
        Assert.True(await Poll.UntilAsync(async () => (await admin.GetAsync("readyz")).Status == 200, TimeSpan.FromSeconds(60)),
            $"the key server never became ready:\n{keyServer.Output}");

        // The operator's edge reads the replica's chains through the gateway.
        await using (var edge = await ConnectAsync(gatewayPort, "edge"))
        {
            var chains = await edge.Client.GetGrain<IKeyServerGrain>("acme/primary").GetChainsIfChangedAsync(null);
            Assert.NotNull(chains);
            Assert.Equal(new[] { _keys.EcdsaKeyId, _keys.RsaKeyId }.Order(), chains.Chains.Select(c => c.KeyId).Order());
        }

        // An edge certificate from another CA, and the tenant's own on-prem certificate, are refused at the gateway.
        await Assert.ThrowsAnyAsync<Exception>(async () => await ReadChainsAsync(gatewayPort, "fake-edge"));
        await keyServer.WaitForLineAsync("Refused a cluster connection: gateway port: certificate 'CN=keyless://edge/edge1' is not issued by the cluster CA", TimeSpan.FromSeconds(10));
        await Assert.ThrowsAnyAsync<Exception>(async () => await ReadChainsAsync(gatewayPort, "acme"));
        await keyServer.WaitForLineAsync("Refused a cluster connection: gateway port: certificate 'CN=keyless://onprem/acme/primary'", TimeSpan.FromSeconds(10));

        // The operator's own edge certificate does not open the silo port: only the tenant's silos speak there.
        await Assert.ThrowsAnyAsync<Exception>(async () => await ReadChainsAsync(siloPort, "edge"));
        await keyServer.WaitForLineAsync("Refused a cluster connection: silo port: certificate 'CN=keyless://edge/edge1' is not issued by the cluster CA", TimeSpan.FromSeconds(10));
        Assert.False(keyServer.HasExited);
    }

    [Fact]
    public async Task A_second_replica_of_the_tenant_joins_through_the_silo_port_and_a_silo_naming_another_tenant_does_not()
    {
        await RunOkAsync("ca", "init", "--dir", F("tenant-ca"), "--name", "Acme key server CA");
        await RunOkAsync("cert", "issue", "--ca-dir", F("tenant-ca"), "--role", "onprem", "--tenant", "acme", "--out", F("acme"));
        await RunOkAsync("cert", "issue", "--ca-dir", F("tenant-ca"), "--role", "onprem", "--tenant", "acme", "--replica", "backup", "--out", F("backup"));
        // The check does not rely on the tenant's CA issuing nothing else: a certificate for another tenant from it.
        await RunOkAsync("cert", "issue", "--ca-dir", F("tenant-ca"), "--role", "onprem", "--tenant", "globex", "--out", F("globex"));
        await RunOkAsync("ca", "init", "--dir", F("operator-ca"));
        await RunOkAsync("cert", "issue", "--ca-dir", F("operator-ca"), "--role", "edge", "--name", "edge1", "--out", F("edge"));

        var siloPort = KeylessProcess.FreePort();
        var gatewayPort = KeylessProcess.FreePort();
        await using var primary = StartKeyServer("acme", "primary", "acme", siloPort, gatewayPort);
        using var admin = new AdminEndpoint(primary.AdminPort);
        Assert.True(await Poll.UntilAsync(async () => (await admin.GetAsync("readyz")).Status == 200, TimeSpan.FromSeconds(60)),
            $"the key server never became ready:\n{primary.Output}");
        await using var backup = StartKeyServer("acme", "backup", "backup", KeylessProcess.FreePort(), KeylessProcess.FreePort(), "--primary", $"127.0.0.1:{siloPort}");

        // The edge knows only the primary's gateway; the backup's grain is reached inside the tenant's cluster.
        await using var edge = await ConnectAsync(gatewayPort, "edge");
        var backupServer = edge.Client.GetGrain<IKeyServerGrain>("acme/backup");
        Assert.True(await Poll.UntilAsync(async () =>
        {
            try
            {
                return await backupServer.GetChainsIfChangedAsync(null) is { Chains.Count: 2 };
            }
            catch (Exception e) when (e is OrleansException or TimeoutException)
            {
                return false; // not a member yet
            }
        }, TimeSpan.FromSeconds(60)), $"the backup replica never served through the primary's gateway:\n{backup.Output}");

        // A silo with another tenant's identity, asking to join acme's cluster, is refused at the silo port.
        await using var intruder = StartKeyServer("globex", "primary", "globex", KeylessProcess.FreePort(), KeylessProcess.FreePort(),
            "--primary", $"127.0.0.1:{siloPort}", "--cluster-id", TenantCluster.ClusterId("acme"));
        await primary.WaitForLineAsync("Refused a cluster connection: silo port: certificate 'CN=keyless://onprem/globex/primary' is not an on-prem silo of tenant acme", TimeSpan.FromSeconds(30));
        await Assert.ThrowsAnyAsync<Exception>(() => edge.Client.GetGrain<IKeyServerGrain>("globex/primary").GetChainsIfChangedAsync(null));
        Assert.False(primary.HasExited);
    }

    private KeylessProcess StartKeyServer(string tenant, string replica, string identity, int siloPort, int gatewayPort, params string[] more) =>
        KeylessProcess.Start(["keyserver", "--tenant", tenant, "--replica", replica, "--keys", _keys.Path,
            "--audit-log", F($"audit-{tenant}-{replica}.log"), "--silo-port", $"{siloPort}", "--gateway-port", $"{gatewayPort}",
            "--tls-cert", F($"{identity}/cert.pem"), "--tls-key", F($"{identity}/key.pem"), "--tls-ca", F("tenant-ca/ca.pem"),
            "--edge-ca", F("operator-ca/ca.pem"), .. more]);

    private async Task ReadChainsAsync(int port, string identity)
    {
        await using var client = await ConnectAsync(port, identity);
        await client.Client.GetGrain<IKeyServerGrain>("acme/primary").GetChainsIfChangedAsync(null);
    }

    /// <summary>
    /// An Orleans client of acme's cluster as an edge makes one: static clustering to one port, mutual TLS with the
    /// certificate in <paramref name="identity"/>, accepting only acme's key servers certified by acme's CA.
    /// </summary>
    private async Task<ClientHost> ConnectAsync(int port, string identity)
    {
        var certificate = X509Certificate2.CreateFromPemFile(F($"{identity}/cert.pem"), F($"{identity}/key.pem"));
        var tenantCa = X509CertificateLoader.LoadCertificateFromFile(F("tenant-ca/ca.pem"));
        var builder = Host.CreateEmptyApplicationBuilder(new HostApplicationBuilderSettings { DisableDefaults = true });
        builder.UseOrleansClient(client =>
        {
            client.UseStaticClustering(new IPEndPoint(IPAddress.Loopback, port));
            client.Configure<ClusterOptions>(o =>
            {
                o.ClusterId = TenantCluster.ClusterId("acme");
                o.ServiceId = TenantCluster.ServiceId;
            });
            client.UseTls(certificate, tls =>
            {
                tls.RemoteCertificateMode = RemoteCertificateMode.RequireCertificate;
                tls.ClientCertificateMode = RemoteCertificateMode.RequireCertificate;
                tls.OnAuthenticateAsClient = (_, settings) => settings.TargetHost = "keyless-cluster";
                tls.RemoteCertificateValidation = (peer, _, _) => ClusterCertificates.Problem(peer, tenantCa) is null
                    && SiloIdentity.FromCertificate(peer) is { Role: SiloIdentity.OnPremRole, Tenant: "acme" };
            });
        });
        var host = builder.Build();
        try
        {
            using var deadline = new CancellationTokenSource(TimeSpan.FromSeconds(20));
            await host.StartAsync(deadline.Token);
        }
        catch
        {
            host.Dispose();
            throw;
        }
        return new ClientHost(host);
    }

    private sealed class ClientHost(IHost host) : IAsyncDisposable
    {
        public IClusterClient Client => host.Services.GetRequiredService<IClusterClient>();

        public async ValueTask DisposeAsync()
        {
            using var deadline = new CancellationTokenSource(TimeSpan.FromSeconds(5));
            try
            {
                await host.StopAsync(deadline.Token);
            }
            catch (OperationCanceledException)
            {
                // a client whose gateway refused it may not stop cleanly; it is disposed all the same
            }
            host.Dispose();
        }
    }

    private static async Task RunOkAsync(params string[] arguments)
    {
        var (exitCode, output) = await KeylessProcess.RunToEndAsync(arguments);
        Assert.True(exitCode == 0, $"keyless {string.Join(' ', arguments)} failed:\n{output}");
    }

    public void Dispose()
    {
        _keys.Dispose();
        _webCa.Dispose();
        _files.Dispose();
    }
}
