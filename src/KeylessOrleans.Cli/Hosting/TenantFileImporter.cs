using System.Text.Json;
using KeylessOrleans.Cli.Diagnostics;
using KeylessOrleans.Registry;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;

namespace KeylessOrleans.Cli.Hosting;

/// <summary>
/// Loads operator tenant settings from a JSON file into the registry at start, retrying until the registry is up:
/// <c>{ "tenants": [ { "tenant": "demo", "hostNames": ["demo.localhost"], "origin": { "host": "127.0.0.1", "port": 8080 } } ] }</c>.
/// Its progress is what <see cref="TenantFileReadinessCheck"/> reports: an edge is not ready before its file is in.
/// </summary>
internal sealed partial class TenantFileImporter(string file, TimeSpan readyWithin, IGrainFactory grains, TimeProvider time, ILogger<TenantFileImporter> logger)
    : BackgroundService
{
    /// <summary>The setting that bounds how long the import holds readiness, and its default.</summary>
    public const string ReadyWithinSetting = "Keyless:Edge:TenantsFileReadyWithin";
    public static readonly TimeSpan DefaultReadyWithin = TimeSpan.FromMinutes(1);

    private static readonly JsonSerializerOptions Json = new() { PropertyNameCaseInsensitive = true };
    private readonly TaskCompletionSource _done = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private readonly List<string> _refused = [];
    private int _imported;
    private int _total = -1;
    private long? _started;

    /// <summary><see cref="ReadyWithinSetting"/>'s value: a duration of at least zero, the default when unset.</summary>
    public static TimeSpan ParseReadyWithin(string? value)
    {
        if (string.IsNullOrWhiteSpace(value)) return DefaultReadyWithin;
        if (TimeSpan.TryParse(value, System.Globalization.CultureInfo.InvariantCulture, out var parsed) && parsed >= TimeSpan.Zero) return parsed;
        throw new ArgumentException($"{ReadyWithinSetting} '{value}' is not a duration of at least zero, such as 00:01:00");
    }

    public TimeSpan ReadyWithin => readyWithin;

    /// <summary>
    /// The import has held readiness for <see cref="ReadyWithin"/> and is not done: a file so long (or a registry so slow)
    /// that the edge reports ready anyway rather than stay out of the load balancer for the rest of it.
    /// </summary>
    public bool Overdue => !_done.Task.IsCompleted && _started is { } started && time.GetElapsedTime(started) >= readyWithin;

    /// <summary>Completes once every tenant of the file was imported or refused by the registry.</summary>
    public Task Done => _done.Task;

    /// <summary>Tenants of the file so far: imported, refused (their names; why is logged), and how many the file holds (-1 before it is read).</summary>
    public (int Imported, IReadOnlyList<string> Refused, int Total) Progress
    {
        get
        {
            lock (_refused) return (_imported, _refused.ToArray(), _total);
        }
    }

    public static IReadOnlyList<TenantSettings> Read(string file)
    {
        var document = JsonSerializer.Deserialize<TenantFile>(File.ReadAllText(file), Json)
            ?? throw new InvalidDataException($"Tenant file '{file}' is empty.");
        return document.Tenants;
    }

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        _started = time.GetTimestamp();
        var tenants = Read(file);
        lock (_refused) _total = tenants.Count;
        var registry = grains.GetGrain<IRegistryGrain>(IRegistryGrain.DefaultKey);
        await ImportAsync(registry, tenants, stoppingToken);
        if (!stoppingToken.IsCancellationRequested) _done.TrySetResult();
    }

    private async Task ImportAsync(IRegistryGrain registry, IReadOnlyList<TenantSettings> tenants, CancellationToken stoppingToken)
    {
        foreach (var tenant in tenants)
        {
            while (!stoppingToken.IsCancellationRequested)
            {
                try
                {
                    await registry.SetTenantAsync(tenant).WaitAsync(TimeSpan.FromSeconds(10), stoppingToken);
                    LogImported(tenant.Tenant, string.Join(", ", tenant.HostNames), tenant.Origin.Host, tenant.Origin.Port);
                    lock (_refused) _imported++;
                    break;
                }
                catch (ArgumentException e)
                {
                    LogRefused(tenant.Tenant, e.Message);
                    lock (_refused) _refused.Add(tenant.Tenant);
                    break;
                }
                catch (Exception e) when (!stoppingToken.IsCancellationRequested)
                {
                    LogRetrying(tenant.Tenant, e.GetType().Name);
                    await Task.Delay(TimeSpan.FromSeconds(1), stoppingToken);
                }
            }
        }
    }

    private sealed record TenantFile(IReadOnlyList<TenantSettings> Tenants);

    [LoggerMessage(EventId = EventIds.TenantImported, Level = LogLevel.Information, Message = "Tenant {Tenant} imported: {HostNames} -> {OriginHost}:{OriginPort}")]
    private partial void LogImported(string tenant, string hostNames, string originHost, int originPort);

    [LoggerMessage(EventId = EventIds.TenantImportRefused, Level = LogLevel.Error, Message = "Tenant {Tenant} refused by the registry: {Reason}")]
    private partial void LogRefused(string tenant, string reason);

    [LoggerMessage(EventId = EventIds.TenantImportRetrying, Level = LogLevel.Warning, Message = "Registry not reachable yet for tenant {Tenant} ({Error}); retrying")]
    private partial void LogRetrying(string tenant, string error);
}
