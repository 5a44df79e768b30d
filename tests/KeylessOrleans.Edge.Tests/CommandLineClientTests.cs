using KeylessOrleans.TestSupport;

namespace KeylessOrleans.Edge.Tests;

/// <summary>openssl s_client and curl, the clients operators reach for, complete handshakes against the edge.</summary>
public sealed class CommandLineClientTests(EdgeFixture edge) : IClassFixture<EdgeFixture>
{
    private Task<ExternalTool.Result> SClientAsync(params string[] extra) => edge.SClientAsync(EdgeFixture.Host, extra);

    public static TheoryData<string[], string, string, string> Handshakes() => new()
    {
        { ["-tls1_3", "-sigalgs", "rsa_pss_rsae_sha256"], "TLSv1.3", "TLS_AES_128_GCM_SHA256", "RSA-PSS" },
        { ["-tls1_3", "-sigalgs", "rsa_pss_rsae_sha384", "-ciphersuites", "TLS_AES_256_GCM_SHA384"], "TLSv1.3", "TLS_AES_256_GCM_SHA384", "RSA-PSS" },
        { ["-tls1_3", "-sigalgs", "ecdsa_secp256r1_sha256", "-ciphersuites", "TLS_CHACHA20_POLY1305_SHA256"], "TLSv1.3", "TLS_CHACHA20_POLY1305_SHA256", "ECDSA" },
        { ["-tls1_2", "-cipher", "ECDHE-RSA-AES128-GCM-SHA256"], "TLSv1.2", "ECDHE-RSA-AES128-GCM-SHA256", "RSA" },
        { ["-tls1_2", "-cipher", "ECDHE-RSA-AES128-GCM-SHA256", "-sigalgs", "rsa_pkcs1_sha384"], "TLSv1.2", "ECDHE-RSA-AES128-GCM-SHA256", "RSA" },
        { ["-tls1_2", "-cipher", "ECDHE-ECDSA-AES256-GCM-SHA384"], "TLSv1.2", "ECDHE-ECDSA-AES256-GCM-SHA384", "ECDSA" },
        { ["-tls1_2", "-cipher", "AES128-GCM-SHA256"], "TLSv1.2", "AES128-GCM-SHA256", "" },
    };

    [Theory]
    [MemberData(nameof(Handshakes))]
    public async Task Openssl_s_client_negotiates_the_expected_version_suite_and_signature(string[] options, string version, string suite, string signatureType)
    {
        var result = await SClientAsync(options);

        Assert.True(result.ExitCode == 0, result.All);
        Assert.Contains($"New, {version}, Cipher is {suite}", result.Output);
        Assert.Contains("Verify return code: 0 (ok)", result.Output);
        if (signatureType.Length > 0) Assert.Contains($"Peer signature type: {signatureType}", result.All);
        Assert.Contains(TestOrigin.Body, result.Output);
    }

    [Theory]
    [InlineData("ECDHE-ECDSA-AES128-GCM-SHA256")]
    [InlineData("ECDHE-RSA-AES128-GCM-SHA256")]
    public async Task A_tls12_client_that_prefers_curves_the_edge_lacks_gets_one_it_has(string suite)
    {
        // BouncyCastle alone would take secp521r1, whose ServerKeyExchange the key server does not sign.
        var result = await SClientAsync("-tls1_2", "-cipher", suite, "-groups", "secp521r1:X448:brainpoolP256r1:P-256");

        Assert.True(result.ExitCode == 0, result.All);
        Assert.Contains("Server Temp Key: ECDH, prime256v1", result.All);
        Assert.Contains(TestOrigin.Body, result.Output);
    }

    // secp521r1 and X448 first, as testssl.sh and some clients send them: the edge must skip to a group the key server signs.
    [Fact]
    public async Task Tls12_ecdhe_uses_the_first_group_the_edge_shares_with_the_client()
    {
        var result = await SClientAsync("-tls1_2", "-cipher", "ECDHE-RSA-AES128-GCM-SHA256", "-groups", "secp521r1:X448:X25519");

        Assert.True(result.ExitCode == 0, result.All);
        Assert.Contains("Server Temp Key: X25519", result.All);
        Assert.Contains(TestOrigin.Body, result.Output);
    }

    [Fact]
    public async Task Tls12_ecdhe_client_sharing_no_group_gets_handshake_failure_without_a_key_call()
    {
        var calls = edge.KeyGrainCalls;
        var result = await SClientAsync("-tls1_2", "-cipher", "ECDHE-RSA-AES128-GCM-SHA256:ECDHE-ECDSA-AES128-GCM-SHA256", "-groups", "secp521r1");

        Assert.Contains("alert number 40", result.All); // handshake_failure, not internal_error after a refused signing
        Assert.Equal(calls, edge.KeyGrainCalls);
    }

    [Fact]
    public async Task Openssl_gets_unrecognized_name_for_an_unknown_host()
    {
        var result = await ExternalTool.RunAsync("openssl",
            ["s_client", "-connect", edge.EdgeEndPoint.ToString(), "-servername", "nobody.test", "-tls1_3"], standardInput: "");
        Assert.NotEqual(0, result.ExitCode);
        Assert.Contains("alert number 112", result.All);
    }

    [Fact]
    public async Task Openssl_without_sni_gets_unrecognized_name_when_no_default_host_is_set()
    {
        var result = await ExternalTool.RunAsync("openssl",
            ["s_client", "-connect", edge.EdgeEndPoint.ToString(), "-noservername", "-tls1_2"], standardInput: "");
        Assert.Contains("alert number 112", result.All);
    }

    [Theory]
    [InlineData("--tlsv1.3")]
    [InlineData("--tls-max", "1.2")]
    public async Task Curl_fetches_the_origin_through_the_edge(params string[] versionOptions)
    {
        var result = await ExternalTool.RunAsync("curl",
            ["-sS", "--cacert", edge.CaFile, "--resolve", $"{EdgeFixture.Host}:{edge.EdgeEndPoint.Port}:127.0.0.1",
             "-w", "\n%{http_code} %{ssl_verify_result}", .. versionOptions, $"https://{EdgeFixture.Host}:{edge.EdgeEndPoint.Port}/"]);

        Assert.True(result.ExitCode == 0, result.All);
        Assert.Contains(TestOrigin.Body, result.Output);
        Assert.EndsWith("200 0", result.Output.Trim());
    }

    [Theory]
    [InlineData(true)] // by session ticket, openssl's default
    [InlineData(false)] // by session id
    public async Task Tls12_session_resumption_makes_no_key_call(bool ticket)
    {
        var session = Path.Combine(edge.Files.Path, $"session-{Guid.NewGuid():n}.pem");
        string[] options = ["-tls1_2", "-cipher", "ECDHE-ECDSA-AES128-GCM-SHA256", .. ticket ? Array.Empty<string>() : ["-no_ticket"]];
        var first = await SClientAsync([.. options, "-sess_out", session]);
        Assert.Contains("New, TLSv1.2", first.Output);

        var calls = edge.KeyGrainCalls;
        var resumed = await SClientAsync([.. options, "-sess_in", session]);

        Assert.Contains("Reused, TLSv1.2", resumed.Output);
        Assert.Contains(TestOrigin.Body, resumed.Output);
        Assert.Equal(calls, edge.KeyGrainCalls);
    }
}
