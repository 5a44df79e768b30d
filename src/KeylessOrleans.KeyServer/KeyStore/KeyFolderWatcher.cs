using System.Threading.Channels;
using KeylessOrleans.KeyServer.Diagnostics;
using KeylessOrleans.KeyServer.Hosting;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace KeylessOrleans.KeyServer.KeyStore;

/// <summary>
/// Hot reload: reloads the <see cref="PemKeyStore"/> when its folder changes, once the changes have been quiet
/// for <see cref="KeyServerOptions.KeyReloadDelay"/> (a copy of a key and its chain is several events), and
/// every <see cref="KeyServerOptions.KeyRescanInterval"/> regardless, because file watchers miss events
/// (overflowing buffers, network file systems, some symbolic-link swaps).
/// </summary>
internal sealed partial class KeyFolderWatcher(IKeyStore store, IOptions<KeyServerOptions> options, ILogger<KeyFolderWatcher> logger)
    : BackgroundService
{
    private readonly Channel<bool> _events = Channel.CreateBounded<bool>(new BoundedChannelOptions(1) { FullMode = BoundedChannelFullMode.DropWrite });

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        if (store is not PemKeyStore pem) return; // another key store: nothing on disk to follow
        var settings = options.Value;
        using var watcher = new FileSystemWatcher(pem.Folder)
        {
            NotifyFilter = NotifyFilters.FileName | NotifyFilters.DirectoryName | NotifyFilters.LastWrite | NotifyFilters.Size
                | NotifyFilters.Attributes | NotifyFilters.CreationTime,
            IncludeSubdirectories = false,
        };
        FileSystemEventHandler changed = (_, _) => _events.Writer.TryWrite(true);
        watcher.Created += changed;
        watcher.Changed += changed;
        watcher.Deleted += changed;
        watcher.Renamed += (_, _) => _events.Writer.TryWrite(true);
        watcher.Error += (_, e) =>
        {
            LogWatcherError(e.GetException().Message);
            _events.Writer.TryWrite(true);
        };
        try
        {
            watcher.EnableRaisingEvents = true;
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            // E.g. the inotify instance limit reached: a key server must still start and serve, so fall back on
            // the periodic rescan alone.
            LogWatcherUnavailable(pem.Folder, e.Message, settings.KeyRescanInterval.TotalSeconds);
        }

        while (!stoppingToken.IsCancellationRequested)
        {
            try
            {
                if (await NextEventAsync(settings.KeyRescanInterval, stoppingToken))
                {
                    // Until quiet, but not forever: a folder something writes to non-stop is still read now and then.
                    var burst = System.Diagnostics.Stopwatch.StartNew();
                    while (burst.Elapsed < settings.KeyReloadDelay * 10 && await NextEventAsync(settings.KeyReloadDelay, stoppingToken)) { }
                }
                pem.Reload();
            }
            catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
            {
                return;
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException)
            {
                // The folder itself is unreadable (unmounted, permissions): keep serving what is loaded.
                LogRescanFailed(pem.Folder, e.Message);
            }
        }
    }

    /// <summary>True when a change event arrived within <paramref name="within"/>.</summary>
    private async Task<bool> NextEventAsync(TimeSpan within, CancellationToken stoppingToken)
    {
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(stoppingToken);
        timeout.CancelAfter(within);
        try
        {
            await _events.Reader.WaitToReadAsync(timeout.Token);
            return _events.Reader.TryRead(out _);
        }
        catch (OperationCanceledException) when (!stoppingToken.IsCancellationRequested)
        {
            return false;
        }
    }

    [LoggerMessage(EventId = EventIds.KeyFolderWatcherFailed, Level = LogLevel.Warning, Message = "Key folder watcher failed ({Reason}); rescanning")]
    private partial void LogWatcherError(string reason);

    [LoggerMessage(EventId = EventIds.KeyFolderNotWatched, Level = LogLevel.Warning, Message = "Cannot watch key folder {Folder} ({Reason}); changes are picked up by the rescan every {Seconds:0} s")]
    private partial void LogWatcherUnavailable(string folder, string reason, double seconds);

    [LoggerMessage(EventId = EventIds.KeyFolderRescanFailed, Level = LogLevel.Error, Message = "Key folder {Folder} cannot be rescanned ({Reason}); keys already loaded stay in use")]
    private partial void LogRescanFailed(string folder, string reason);
}
