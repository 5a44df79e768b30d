using KeylessOrleans.KeyServer.Hosting;
using KeylessOrleans.TestSupport;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;

namespace KeylessOrleans.Edge.Tests.Breadth;

/// <summary>
/// RFC 9345 delegated credentials: TLS 1.3 clients that accept them are served with a key the tenant's key server
/// certified for the edge, and the key server sees no CertificateVerify call for them; other clients take the
/// keyless path on the same edge.
/// </summary>
[Collection(BreadthCollection.Name)]
public sealed class DelegatedCredentialTests(BreadthFixture edge)
{
    private int CertificateVerifyCalls => edge.Cluster.Calls.Messages.Count(m => m.Method.Contains(KeylessOrleans.Keys.SignCertificateVerifyRequest.OperationName) && m.Method.Contains("IKeyGrain")) / 2;

    /// <summary>The first handshake that could use a credential only starts its issuance; wait until one is served.</summary>
    private async Task<NssClient> NssWithCredentialServedAsync(string host = BreadthFixture.DelegationHost)
    {
        var nss = await NssClient.CreateAsync(edge.Authority);
        ExternalTool.Result? last = null;
        var delegated = await Poll.UntilAsync(async () =>
        {
            last = await nss.GetAsync(edge.EdgeEndPoint.Port, host, delegatedCredentials: true);
            return last.All.Contains("Received a Delegated Credential");
        }, TimeSpan.FromSeconds(20));
        Assert.True(delegated, last?.All);
        return nss;
    }

    [Fact]
    public async Task Nss_tstclnt_is_served_through_a_delegated_credential_without_a_certificate_verify_call()
    {
        using var nss = await NssWithCredentialServedAsync();

        var calls = CertificateVerifyCalls;
        for (var i = 0; i < 3; i++)
        {
            var result = await nss.GetAsync(edge.EdgeEndPoint.Port, BreadthFixture.DelegationHost, delegatedCredentials: true);
            Assert.True(result.ExitCode == 0, result.All);
            Assert.Contains("Received a Delegated Credential", result.All);
            Assert.Contains(TestOrigin.Body, result.Output);
        }
        Assert.Equal(calls, CertificateVerifyCalls);

        // The issuance is in the tenant's audit log, like any other key operation.
        var auditLog = edge.AcmeServices
            .GetRequiredService<IOptions<KeyServerOptions>>().Value.AuditLog.Path!;
        Assert.True(await Poll.UntilAsync(() => Task.FromResult(File.ReadLines(auditLog).Any(line =>
            line.Contains("\"op\":\"delegate_credential\"") && line.Contains($"\"sni\":\"{BreadthFixture.DelegationHost}\"") && line.Contains("\"r\":\"Ok\""))),
            TimeSpan.FromSeconds(5)));
    }

    [Fact]
    public async Task Clients_that_do_not_accept_credentials_take_the_keyless_path_on_the_same_edge()
    {
        using var nss = await NssWithCredentialServedAsync();

        var calls = CertificateVerifyCalls;
        var openssl = await edge.SClientAsync(BreadthFixture.DelegationHost, "-tls1_3");
        var nssWithout = await nss.GetAsync(edge.EdgeEndPoint.Port, BreadthFixture.DelegationHost, delegatedCredentials: false);

        Assert.True(openssl.ExitCode == 0, openssl.All);
        Assert.Contains(TestOrigin.Body, openssl.Output);
        Assert.True(nssWithout.ExitCode == 0, nssWithout.All);
        Assert.DoesNotContain("Received a Delegated Credential", nssWithout.All);
        Assert.Contains(TestOrigin.Body, nssWithout.Output);
        Assert.Equal(calls + 2, CertificateVerifyCalls); // one key-server signature each
    }

    [Fact]
    public async Task One_credential_serves_every_name_of_its_certificate()
    {
        using var meters = new EdgeMeterRecorder(edge, ("keyless.edge.delegated_credentials.issued", "outcome"));
        var (first, second) = (BreadthFixture.SharedDelegationHosts[0], BreadthFixture.SharedDelegationHosts[1]);
        using var nss = await NssWithCredentialServedAsync(first);

        // The other name's very first handshake is served with it: names under a wildcard cost no issuance each.
        var other = await nss.GetAsync(edge.EdgeEndPoint.Port, second, delegatedCredentials: true);

        Assert.True(other.ExitCode == 0, other.All);
        Assert.Contains("Received a Delegated Credential", other.All);
        Assert.Equal(1, meters.Total("keyless.edge.delegated_credentials.issued", "ok"));
    }

    [Fact]
    public async Task A_credential_and_an_ocsp_staple_arrive_together_for_a_certificate_that_has_both()
    {
        using var nss = await NssClient.CreateAsync(edge.Authority);
        ExternalTool.Result? last = null;
        // The first handshakes only start the issuance and the OCSP fetch; wait until one gets both.
        var both = await Poll.UntilAsync(async () =>
        {
            last = await nss.GetAsync(edge.EdgeEndPoint.Port, BreadthFixture.DelegationOcspHost, delegatedCredentials: true, ocspStapling: true);
            return last.All.Contains("Received a Delegated Credential") && last.All.Contains("Received 1 Cert Status items (OCSP stapled data)");
        }, TimeSpan.FromSeconds(20));
        Assert.True(both, last?.All);
        Assert.Equal(0, last!.ExitCode);
        Assert.Contains(TestOrigin.Body, last.Output);
    }

    [Fact]
    public async Task Once_the_tenant_revokes_delegation_no_new_credential_is_issued_and_clients_get_keyless_handshakes()
    {
        using var meters = new EdgeMeterRecorder(edge, ("keyless.edge.delegated_credentials.issued", "outcome"));
        var marker = Path.Combine(edge.AcmeKeys.Path, "delegation-revoked"); // Keyless:KeyServer:DelegatedCredentials:RevocationFile
        await File.WriteAllTextAsync(marker, "");
        try
        {
            using var nss = await NssClient.CreateAsync(edge.Authority);
            var first = await nss.GetAsync(edge.EdgeEndPoint.Port, BreadthFixture.SecondDelegationHost, delegatedCredentials: true);
            Assert.True(first.ExitCode == 0, first.All);
            Assert.True(await Poll.UntilAsync(() => Task.FromResult(meters.Total("keyless.edge.delegated_credentials.issued", "refused") > 0), TimeSpan.FromSeconds(10)));

            var calls = CertificateVerifyCalls;
            var next = await nss.GetAsync(edge.EdgeEndPoint.Port, BreadthFixture.SecondDelegationHost, delegatedCredentials: true);

            Assert.True(next.ExitCode == 0, next.All);
            Assert.DoesNotContain("Received a Delegated Credential", next.All);
            Assert.Contains(TestOrigin.Body, next.Output);
            Assert.Equal(calls + 1, CertificateVerifyCalls);
            Assert.Equal(0, meters.Total("keyless.edge.delegated_credentials.issued", "ok"));
        }
        finally
        {
            File.Delete(marker);
        }
    }
}
