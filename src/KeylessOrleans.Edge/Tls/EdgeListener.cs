using System.Net;
using System.Net.Sockets;
using KeylessOrleans.Cluster.Diagnostics;
using KeylessOrleans.Edge.Diagnostics;
using KeylessOrleans.Edge.Hosting;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace KeylessOrleans.Edge.Tls;

/// <summary>The edge's HTTPS listener: accepts connections and hands each to a <see cref="TlsConnection"/>.</summary>
internal sealed partial class EdgeListener(
    TlsServerContext context,
    HandshakeWorkerPool pool,
    IOptions<EdgeOptions> options,
    EdgeMetrics metrics,
    FailedHandshakeLog failures,
    TimeProvider time,
    ILoggerFactory loggers) : BackgroundService
{
    private readonly TaskCompletionSource<IPEndPoint> _bound = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private readonly ILogger _logger = loggers.CreateLogger<EdgeListener>();
    private readonly ClientAddressLimiter _perAddress = new(options.Value.Limits.MaxConnectionsPerClientAddress);
    // Per reason, the first refusal a minute in full and then one line with the count: a flood of refusals must not
    // become a flood of log lines.
    private readonly LogThrottle<string> _refusalLog = RefusalLog(loggers.CreateLogger<EdgeListener>(), time);
    private int _open;

    /// <summary>The address the listener is bound to, once it is.</summary>
    public Task<IPEndPoint> BoundEndPoint => _bound.Task;

    /// <summary>Client connections accepted and not yet closed.</summary>
    public int OpenConnections => Volatile.Read(ref _open);

    /// <summary>Client addresses with at least one open connection.</summary>
    public int OpenClientAddresses => _perAddress.Addresses;

    /// <summary>
    /// Open connections allowed: <see cref="EdgeLimitsOptions.MaxConnections"/>, or fewer when the process's file limit
    /// could not hold that many (<see cref="ConnectionBudget"/>). Known once the listener has started.
    /// </summary>
    public int MaxConnections { get; private set; } = options.Value.Limits.MaxConnections;

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        var settings = options.Value;
        if (settings.Listener.HttpsPort is not { } port)
        {
            _bound.TrySetException(new InvalidOperationException("this edge's HTTPS listener is off (Keyless:Edge:Listener:HttpsPort is unset)"));
            return;
        }
        var endPoint = new IPEndPoint(IPAddress.Parse(settings.Listener.ListenAddress), port);
        using var listener = new Socket(endPoint.AddressFamily, SocketType.Stream, ProtocolType.Tcp);
        try
        {
            listener.Bind(endPoint);
            listener.Listen(1024);
        }
        catch (SocketException e)
        {
            LogCannotListen(endPoint.ToString(), e.SocketErrorCode.ToString());
            _bound.TrySetException(e);
            throw new InvalidOperationException($"Keyless:Edge cannot listen on {endPoint}: {e.SocketErrorCode}", e);
        }
        if (ConnectionBudget.ForThisProcess() is { } budget && budget < settings.Limits.MaxConnections)
        {
            LogConnectionsLimitedByFiles(settings.Limits.MaxConnections, budget);
            MaxConnections = budget;
        }
        var bound = (IPEndPoint)listener.LocalEndPoint!;
        _bound.TrySetResult(bound);
        LogListening(bound.ToString(), settings.Limits.HandshakeThreads);

        var connectionLogger = loggers.CreateLogger<TlsConnection>();
        while (!stoppingToken.IsCancellationRequested)
        {
            Socket client;
            try
            {
                client = await listener.AcceptAsync(stoppingToken);
            }
            catch (OperationCanceledException)
            {
                break;
            }
            catch (SocketException)
            {
                continue; // a client that reset before we accepted it
            }

            var address = ((IPEndPoint)client.RemoteEndPoint!).Address;
            if (!_perAddress.TryAcquire(address))
            {
                Refuse(client, "per_client_address", address, settings.Limits.MaxConnectionsPerClientAddress);
                continue;
            }
            if (Interlocked.Increment(ref _open) > MaxConnections)
            {
                Interlocked.Decrement(ref _open);
                _perAddress.Release(address);
                Refuse(client, "max_connections", address, MaxConnections);
                continue;
            }
            metrics.ConnectionOpened();
            _ = ServeAsync(client, address, settings, connectionLogger, stoppingToken);
        }
    }

    /// <summary>Closes a connection at once; the metric counts every refusal, the log only the first of each minute.</summary>
    private void Refuse(Socket client, string reason, IPAddress address, int limit)
    {
        metrics.ConnectionRefused(reason);
        client.Dispose();
        if (_refusalLog.ShouldLog(reason)) LogConnectionsRefused(address.ToString(), reason, limit);
    }

    private static LogThrottle<string> RefusalLog(ILogger logger, TimeProvider time) =>
        new(TimeSpan.FromMinutes(1), firstInFull: 1, maxKeys: 8, overflowKey: "other", (reason, count) => LogConnectionsRefusedSummary(logger, count, reason), time);

    /// <summary>Once the listener is closed no connection comes: the summaries of failures so far are written now.</summary>
    public override async Task StopAsync(CancellationToken cancellationToken)
    {
        await base.StopAsync(cancellationToken);
        _refusalLog.Flush();
        failures.Flush();
    }

    public override void Dispose()
    {
        _refusalLog.Dispose();
        base.Dispose();
    }

    private async Task ServeAsync(Socket client, IPAddress address, EdgeOptions settings, ILogger connectionLogger, CancellationToken stoppingToken)
    {
        try
        {
            await Task.Yield(); // off the accept loop
            client.NoDelay = true;
            await new TlsConnection(client, context, pool, settings, metrics, failures, connectionLogger).RunAsync(stoppingToken);
        }
        catch (Exception e)
        {
            client.Dispose();
            LogConnectionCrashed(e);
        }
        finally
        {
            Interlocked.Decrement(ref _open);
            _perAddress.Release(address);
            metrics.ConnectionClosed();
        }
    }

    [LoggerMessage(EventId = EventIds.Listening, Level = LogLevel.Information, Message = "Edge listening for TLS on {EndPoint} with {Threads} handshake threads")]
    private partial void LogListening(string endPoint, int threads);

    [LoggerMessage(EventId = EventIds.CannotListen, Level = LogLevel.Critical, Message = "Edge cannot listen on {EndPoint}: {Error}")]
    private partial void LogCannotListen(string endPoint, string error);

    [LoggerMessage(EventId = EventIds.ConnectionCrashed, Level = LogLevel.Error, Message = "A client connection failed unexpectedly")]
    private partial void LogConnectionCrashed(Exception exception);

    [LoggerMessage(EventId = EventIds.ConnectionsLimitedByFiles, Level = LogLevel.Warning, Message = "Keyless:Edge:Limits:MaxConnections {Configured} lowered to {Budget}: the process's open-file limit (ulimit -n) cannot hold more (raise LimitNOFILE to allow more)")]
    private partial void LogConnectionsLimitedByFiles(int configured, int budget);

    [LoggerMessage(EventId = EventIds.ConnectionsRefused, Level = LogLevel.Warning, Message = "Refused a connection from {Client}: {Reason} (limit {Limit}); more such refusals are counted in one line a minute")]
    private partial void LogConnectionsRefused(string client, string reason, int limit);

    [LoggerMessage(EventId = EventIds.ConnectionsRefusedSummary, Level = LogLevel.Warning, Message = "... and {Count} more connections refused ({Reason}) in the last minute")]
    private static partial void LogConnectionsRefusedSummary(ILogger logger, long count, string reason);
}
