using KeylessOrleans.Edge.Diagnostics;
using KeylessOrleans.Edge.Hosting;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace KeylessOrleans.Edge.Tls.Tickets;

/// <summary>
/// Fetches the fleet's ticket keys at start and every <see cref="EdgeResumptionOptions.TicketKeyRefresh"/>: a new key
/// reaches every edge well before it is the only one left to open tickets with. While the keys cannot be fetched the
/// edge keeps the ones it has (and before the first fetch it issues no tickets: clients resume by session id).
/// </summary>
internal sealed partial class SessionTicketKeyFollower(
    IGrainFactory grains,
    SessionTicketKeyRing ring,
    IOptions<EdgeOptions> options,
    ILogger<SessionTicketKeyFollower> logger) : BackgroundService
{
    protected override Task ExecuteAsync(CancellationToken stoppingToken)
    {
        if (!options.Value.Resumption.Tickets) return Task.CompletedTask;
        var keys = grains.GetGrain<ISessionTicketKeysGrain>(ISessionTicketKeysGrain.DefaultKey);
        return PollingLoop.RunAsync(async stopping =>
            {
                var fetched = await keys.GetKeysAsync().WaitAsync(TimeSpan.FromSeconds(10), stopping);
                var first = !ring.HasKeys;
                ring.Use(fetched);
                if (first) LogFirstKeys(fetched.Keys.Count);
            },
            () => ring.HasKeys ? options.Value.Resumption.TicketKeyRefresh : TimeSpan.FromSeconds(1),
            e => LogUnreachable(e.GetType().Name, e.Message),
            stoppingToken);
    }

    [LoggerMessage(EventId = EventIds.TicketKeysFirstFetched, Level = LogLevel.Information, Message = "Session-ticket keys fetched ({Count}): TLS 1.2 clients resume on any edge of the fleet")]
    private partial void LogFirstKeys(int count);

    [LoggerMessage(EventId = EventIds.TicketKeysUnreachable, Level = LogLevel.Warning, Message = "Session-ticket keys could not be fetched ({Error}: {Message}); keeping the keys held")]
    private partial void LogUnreachable(string error, string message);
}
