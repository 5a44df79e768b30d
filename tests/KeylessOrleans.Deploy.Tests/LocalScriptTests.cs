namespace KeylessOrleans.Deploy.Tests;

/// <summary>
/// deploy/local/run.sh, read as text (MultiHostTests in KeylessOrleans.EndToEnd.Tests runs it): the federated shape,
/// with no plaintext or single-organization switch left in.
/// </summary>
public class LocalScriptTests
{
    private static readonly string Script = DeployFiles.Read("local", "run.sh");

    /// <summary>The logical line (continuations joined) that starts the process named <paramref name="name"/>.</summary>
    private static string StartLine(string name) =>
        Script.Replace("\\\n", " ").Split('\n').Single(l => l.TrimStart().StartsWith($"start {name} ", StringComparison.Ordinal));

    [Fact]
    public void Operator_cluster_uses_mutual_tls_and_no_single_organization_mode()
    {
        Assert.DoesNotContain("--shared-cluster", Script);
        Assert.DoesNotContain("ALLOWPLAINTEXTMULTIHOST", Script, StringComparison.OrdinalIgnoreCase);
        foreach (var edge in new[] { "edge1", "edge2" })
        {
            Assert.Contains("${cluster[@]}", StartLine(edge));
            Assert.Contains($"${{{edge}_tls[@]}}", StartLine(edge));
        }
    }

    [Fact]
    public void Key_server_is_its_own_cluster_behind_a_gateway_and_the_operator_records_it()
    {
        var keyServer = StartLine("keyserver");
        Assert.DoesNotContain("${cluster[@]}", keyServer); // not the edges' Redis
        Assert.DoesNotContain("--redis", keyServer);
        Assert.Contains("--gateway-port \"$keyserver_gateway\"", keyServer);
        Assert.Contains("--edge-ca \"$operator_ca\"", keyServer);
        Assert.Contains("\"${keyserver_tls[@]}\"", keyServer);
        Assert.Contains("tls keyserver \"$tenant_ca\"", Script); // its certificate's CA is the tenant's, not the operator's
        Assert.Contains("--key-server \"primary=127.0.0.1:$keyserver_gateway\" --key-server-ca \"$tenant_ca\"", Script);
    }
}
