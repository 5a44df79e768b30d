using System.Net;
using System.Net.Sockets;
using KeylessOrleans.Edge.Diagnostics;
using KeylessOrleans.Edge.Hosting;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace KeylessOrleans.Edge.Tls;

/// <summary>The edge's HTTPS listener: accepts connections and hands each to a <see cref="TlsConnection"/>.</summary>
public sealed partial class EdgeListener(
    TlsServerContext context,
    HandshakeWorkerPool pool,
    IOptions<EdgeOptions> options,
    EdgeMetrics metrics,
    ILoggerFactory loggers) : BackgroundService
{
    private readonly TaskCompletionSource<IPEndPoint> _bound = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private readonly ILogger _logger = loggers.CreateLogger<EdgeListener>();
    private int _open;

    /// <summary>The address the listener is bound to, once it is.</summary>
    public Task<IPEndPoint> BoundEndPoint => _bound.Task;

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        var settings = options.Value;
        if (settings.HttpsPort is not { } port)
        {
            _bound.TrySetException(new InvalidOperationException("this edge's HTTPS listener is off (Keyless:Edge:HttpsPort is unset)"));
            return;
        }
        var endPoint = new IPEndPoint(IPAddress.Parse(settings.ListenAddress), port);
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
        var bound = (IPEndPoint)listener.LocalEndPoint!;
        _bound.TrySetResult(bound);
        LogListening(bound.ToString(), settings.HandshakeThreads);

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

            if (Interlocked.Increment(ref _open) > settings.MaxConnections)
            {
                Interlocked.Decrement(ref _open);
                metrics.ConnectionRefused("max_connections");
                client.Dispose();
                continue;
            }
            client.NoDelay = true;
            metrics.ConnectionOpened();
            _ = ServeAsync(new TlsConnection(client, context, pool, settings, metrics, connectionLogger), stoppingToken);
        }
    }

    private async Task ServeAsync(TlsConnection connection, CancellationToken stoppingToken)
    {
        try
        {
            await Task.Yield(); // off the accept loop
            await connection.RunAsync(stoppingToken);
        }
        catch (Exception e)
        {
            LogConnectionCrashed(e);
        }
        finally
        {
            Interlocked.Decrement(ref _open);
            metrics.ConnectionClosed();
        }
    }

    [LoggerMessage(EventId = 3301, Level = LogLevel.Information, Message = "Edge listening for TLS on {EndPoint} with {Threads} handshake threads")]
    private partial void LogListening(string endPoint, int threads);

    [LoggerMessage(EventId = 3302, Level = LogLevel.Critical, Message = "Edge cannot listen on {EndPoint}: {Error}")]
    private partial void LogCannotListen(string endPoint, string error);

    [LoggerMessage(EventId = 3303, Level = LogLevel.Error, Message = "A client connection failed unexpectedly")]
    private partial void LogConnectionCrashed(Exception exception);
}
