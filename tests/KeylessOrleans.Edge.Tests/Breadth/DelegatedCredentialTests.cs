using KeylessOrleans.TestSupport;

namespace KeylessOrleans.Edge.Tests.Breadth;

/// <summary>
/// RFC 9345 delegated credentials: TLS 1.3 clients that accept them are served with a key the tenant's key server
/// certified for the edge, and the key server sees no CertificateVerify call for them; other clients take the
/// keyless path on the same edge.
/// </summary>
public sealed class DelegatedCredentialTests(BreadthFixture edge) : IClassFixture<BreadthFixture>
{
    private int CertificateVerifyCalls => edge.Cluster.Calls.Messages.Count(m => m.Method.Contains("SignCertificateVerify") && m.Method.Contains("IKeyGrain")) / 2;

    [Fact]
    public async Task Nss_tstclnt_is_served_through_a_delegated_credential_without_a_certificate_verify_call()
    {
        using var nss = await NssClient.CreateAsync(edge.Authority);
        ExternalTool.Result? last = null;
        var delegated = await Poll.UntilAsync(async () =>
        {
            last = await nss.GetAsync(edge.EdgeEndPoint.Port, BreadthFixture.DelegationHost, delegatedCredentials: true);
            return last.All.Contains("Received a Delegated Credential");
        }, TimeSpan.FromSeconds(20));
        Assert.True(delegated, last?.All);

        var calls = CertificateVerifyCalls;
        for (var i = 0; i < 3; i++)
        {
            var result = await nss.GetAsync(edge.EdgeEndPoint.Port, BreadthFixture.DelegationHost, delegatedCredentials: true);
            Assert.True(result.ExitCode == 0, result.All);
            Assert.Contains("Received a Delegated Credential", result.All);
            Assert.Contains(TestOrigin.Body, result.Output);
        }
        Assert.Equal(calls, CertificateVerifyCalls);
    }
}
