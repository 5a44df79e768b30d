using System.CommandLine;

namespace KeylessOrleans.Cli.Commands;

/// <summary>The mutual-TLS options shared by silos and the tenant commands, mapped onto Keyless:Cluster.</summary>
internal sealed class ClusterTlsCommandOptions
{
    public Option<string?> Certificate { get; } = new("--tls-cert") { Description = "This process's cluster certificate (PEM), from `keyless cert issue`: turns on mutual TLS" };
    public Option<string?> Key { get; } = new("--tls-key") { Description = "Private key of --tls-cert (PEM)" };
    public Option<string?> Authority { get; } = new("--tls-ca") { Description = "The operator's cluster CA certificate (PEM)" };

    public IEnumerable<Option> All => [Certificate, Key, Authority];

    public void AddOverrides(ParseResult result, IDictionary<string, string?> overrides)
    {
        overrides["Keyless:Cluster:TlsCertificate"] = result.GetValue(Certificate);
        overrides["Keyless:Cluster:TlsKey"] = result.GetValue(Key);
        overrides["Keyless:Cluster:TlsCa"] = result.GetValue(Authority);
    }
}
