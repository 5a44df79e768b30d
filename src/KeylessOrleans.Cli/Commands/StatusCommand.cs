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
        var command = new Command("status", "Show silos, tenants, host names, keys, replicas and the last minute of handshakes.") { json };
        var connection = new ClientConnectionOptions();
        connection.AddTo(command);
        command.SetAction(result => connection.RunAsync(result, async grains =>
        {
            var registry = await grains.GetGrain<IRegistryGrain>(IRegistryGrain.DefaultKey).GetSnapshotIfChangedAsync(-1);
            var cluster = await grains.GetGrain<IClusterStatusGrain>(IClusterStatusGrain.DefaultKey).GetStatusAsync();
            var view = StatusView.From(registry!, cluster);
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

    /// <summary>Piped output (scripts, tests) gets plain text at a width that keeps rows on one line.</summary>
    private static IAnsiConsole CreateConsole()
    {
        var console = AnsiConsole.Create(new AnsiConsoleSettings { Out = new AnsiConsoleOutput(Console.Out) });
        if (Console.IsOutputRedirected) console.Profile.Width = 200;
        return console;
    }
}
