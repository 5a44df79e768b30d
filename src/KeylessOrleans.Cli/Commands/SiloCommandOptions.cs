using System.CommandLine;

namespace KeylessOrleans.Cli.Commands;

/// <summary>Options every silo command takes; each maps onto a configuration key.</summary>
internal sealed class SiloCommandOptions
{
    public Option<string?> Config { get; } = new("--config") { Description = "JSON configuration file (sections Keyless:Cluster, Keyless:Edge, Keyless:KeyServer)" };
    public Option<int?> SiloPort { get; } = new("--silo-port") { Description = "Port for silo-to-silo traffic (default 11111)" };
    public Option<string?> PrimarySilo { get; } = new("--primary") { Description = "host:port of the primary silo to join (localhost clustering); omit on the primary" };
    public Option<string?> ClusterId { get; } = new("--cluster-id") { Description = "Orleans cluster id (default keyless)" };

    public void AddTo(Command command)
    {
        command.Options.Add(Config);
        command.Options.Add(SiloPort);
        command.Options.Add(PrimarySilo);
        command.Options.Add(ClusterId);
    }

    public Dictionary<string, string?> Overrides(ParseResult result) => new()
    {
        ["Keyless:Cluster:SiloPort"] = result.GetValue(SiloPort)?.ToString(),
        ["Keyless:Cluster:PrimarySilo"] = result.GetValue(PrimarySilo),
        ["Keyless:Cluster:ClusterId"] = result.GetValue(ClusterId),
    };
}
