using System.CommandLine;
using System.Text.Json;
using System.Text.Json.Serialization;
using KeylessOrleans.Cli.Status;
using KeylessOrleans.Registry;
using KeylessOrleans.Status;
using Spectre.Console;

namespace KeylessOrleans.Cli.Commands;

/// <summary>
/// <c>keyless status</c>: the operator's one-screen view of the cluster: silos and roles, tenants, their replicas
/// and keys (from the registry), and each edge's handshakes and errors of the last minute.
/// </summary>
internal static class StatusCommand
{
    private static readonly JsonSerializerOptions Json = new(JsonSerializerDefaults.Web)
    {
        WriteIndented = true,
        Converters = { new JsonStringEnumConverter() },
    };

    public static Command Create()
    {
        var json = new Option<bool>("--json") { Description = "Write the status as JSON (for scripts) instead of tables" };
        var tenants = new Option<string[]>("--tenant") { Description = "Show these tenants (repeat the option for several)", AllowMultipleArgumentsPerToken = true };
        var all = new Option<bool>("--all") { Description = $"Show every tenant (by default, above {SummaryAbove} tenants: the busiest and those with errors)" };
        var command = new Command("status", "Show silos, tenants, host names, keys, replicas and the last minute of handshakes.") { json, tenants, all };
        var connection = new ClientConnectionOptions();
        connection.AddTo(command);
        command.SetAction(result => connection.RunAsync(result, async grains =>
        {
            var registry = grains.GetGrain<IRegistryGrain>(IRegistryGrain.DefaultKey);
            var names = await registry.ListTenantsAsync(null, IRegistryGrain.MaxTenantPage);
            var cluster = await grains.GetGrain<IClusterStatusGrain>(IClusterStatusGrain.DefaultKey).GetStatusAsync();
            var shown = Shown(names, result.GetValue(tenants) ?? [], result.GetValue(all), cluster);
            var records = new List<TenantRecord>();
            foreach (var batch in shown.Chunk(64))
                records.AddRange((await Task.WhenAll(batch.Select(registry.GetTenantAsync))).OfType<TenantRecord>());
            var view = StatusView.From(names.Count, records, cluster);
            if (result.GetValue(json))
            {
                Console.WriteLine(JsonSerializer.Serialize(view, Json));
                return 0;
            }
            StatusTables.Write(CreateConsole(), view);
            return 0;
        }));
        return command;
    }

    /// <summary>Above this many tenants, status shows a summary unless asked for more.</summary>
    public const int SummaryAbove = 50;

    /// <summary>The tenants asked for; else all of a small fleet; else those with errors and the busiest, up to <see cref="SummaryAbove"/>.</summary>
    private static IReadOnlyList<string> Shown(IReadOnlyList<string> names, string[] asked, bool all, ClusterStatus cluster)
    {
        if (asked.Length > 0) return names.Intersect(asked, StringComparer.Ordinal).ToList();
        if (all || names.Count <= SummaryAbove) return names;
        var counts = cluster.Edges.SelectMany(e => e.Handshakes).GroupBy(h => h.Tenant)
            .Select(g => (Tenant: g.Key, Errors: g.Where(h => h.Outcome != "ok").Sum(h => h.Count), Total: g.Sum(h => h.Count)));
        return counts.OrderByDescending(c => c.Errors > 0).ThenByDescending(c => c.Total).Select(c => c.Tenant)
            .Intersect(names, StringComparer.Ordinal).Take(SummaryAbove).ToList();
    }

    /// <summary>Piped output (scripts, tests) gets plain text at a width that keeps rows on one line.</summary>
    private static IAnsiConsole CreateConsole()
    {
        var console = AnsiConsole.Create(new AnsiConsoleSettings { Out = new AnsiConsoleOutput(Console.Out) });
        if (Console.IsOutputRedirected) console.Profile.Width = 200;
        return console;
    }
}
