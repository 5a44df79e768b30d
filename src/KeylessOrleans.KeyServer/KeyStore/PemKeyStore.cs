using System.Diagnostics.CodeAnalysis;
using System.Security.Cryptography.X509Certificates;
using KeylessOrleans.KeyServer.Diagnostics;
using KeylessOrleans.Keys;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Primitives;

namespace KeylessOrleans.KeyServer.KeyStore;

/// <summary>
/// Keys and certificate chains from a directory of PEM files (*.pem, *.key, *.crt, *.cer), plus any keys held in
/// an HSM. A file may hold a key, a chain (end-entity first), or both. Chains are matched to keys by public key. A bad file is logged
/// with its name and reason and skipped; it never stops the others from loading.
/// </summary>
/// <remarks>
/// <see cref="Reload"/> rescans the folder and swaps in a new <see cref="KeySet"/> when anything changed; readers
/// always see one whole set. A file that was good and now fails to parse (e.g. caught half-written) keeps its last
/// good contents, so a botched copy never takes a key in use away. A removed key keeps answering (but is no
/// longer listed or registered) for <c>retirementDelay</c>: operations that picked it up before the swap may still
/// be running, and edges serve from the previous registry snapshot until they fetch the next. Then it is disposed.
/// </remarks>
internal sealed partial class PemKeyStore : IKeyStore, IDisposable
{
    private readonly string _directory;
    private readonly ILogger _logger;
    private readonly IReadOnlyList<IPrivateKey> _external;
    private readonly TimeSpan _retirementDelay;
    private readonly TimeProvider _time;
    // Pending disposals by the keys they retire; held here so that their timers stay rooted until they fire.
    private readonly Dictionary<IReadOnlyCollection<RetiringKey>, ITimer> _retirements = new(ReferenceEqualityComparer.Instance);
    private readonly Lock _reloading = new();
    private volatile KeySet _current = KeySet.Empty;
    private CancellationTokenSource _changed = new();

    /// <param name="externalKeys">Keys held elsewhere (a PKCS#11 token) whose certificate chains live in <paramref name="directory"/>.</param>
    /// <param name="retirementDelay">How long a removed key stays usable by operations already holding it (default 30 s).</param>
    /// <param name="time">The clock that times retirement (default <see cref="TimeProvider.System"/>).</param>
    public PemKeyStore(string directory, ILogger<PemKeyStore> logger, IEnumerable<IPrivateKey>? externalKeys = null, TimeSpan? retirementDelay = null,
        TimeProvider? time = null)
    {
        _logger = logger;
        _external = [.. externalKeys ?? []];
        _retirementDelay = retirementDelay ?? TimeSpan.FromSeconds(30);
        _time = time ?? TimeProvider.System;
        if (!Directory.Exists(directory))
            throw new DirectoryNotFoundException($"Key directory '{directory}' does not exist.");
        _directory = directory;
        Reload();
        LogLoaded(directory, _current.Keys.Count, _current.Chains.Count);
    }

    public string Folder => _directory;

    public IReadOnlyCollection<IPrivateKey> Keys => (IReadOnlyCollection<IPrivateKey>)_current.Keys.Values;

    public IReadOnlyList<CertificateChain> Chains => _current.Chains;

    public bool TryGetKey(string keyId, [NotNullWhen(true)] out IPrivateKey? key) => _current.TryGetKey(keyId, out key);

    public IEnumerable<CertificateChain> ChainsOf(string keyId) => _current.ChainsOf(keyId);

    public IChangeToken GetReloadToken() => new CancellationChangeToken(Volatile.Read(ref _changed).Token);

    /// <summary>Rescans the folder; true when keys or chains changed (and the reload token fired).</summary>
    public bool Reload()
    {
        lock (_reloading)
        {
            var previous = _current;
            var files = new Dictionary<string, KeyFolderFile>(StringComparer.Ordinal);
            var parsed = new HashSet<string>(StringComparer.Ordinal);
            foreach (var path in System.IO.Directory.EnumerateFiles(_directory).Where(PemFile.IsKeyOrCertificateFile).Order(StringComparer.Ordinal))
            {
                var name = Path.GetFileName(path);
                FileStamp stamp;
                try
                {
                    stamp = FileStamp.Of(path);
                }
                catch (Exception e) when (e is IOException or UnauthorizedAccessException)
                {
                    continue; // gone between listing and looking: it is removed
                }
                previous.Files.TryGetValue(name, out var before);
                if (before is not null && before.Stamp == stamp)
                {
                    files[name] = before;
                    continue;
                }
                parsed.Add(name);
                files[name] = ReadFile(path, name, stamp, before, previous);
            }

            var changed = parsed.Count > 0 || previous.Files.Keys.Any(name => !files.ContainsKey(name));
            if (!changed) return false;

            var next = Retire(previous, Build(files, parsed, previous));
            _current = next;
            if (!ReferenceEquals(previous, KeySet.Empty))
            {
                LogReloaded(next.Keys.Count, next.Keys.Keys.Count(id => !previous.Keys.ContainsKey(id)),
                    previous.Keys.Keys.Count(id => !next.Keys.ContainsKey(id)), next.Chains.Count);
            }
            Interlocked.Exchange(ref _changed, new CancellationTokenSource()).Cancel();
            return true;
        }
    }

    private KeyFolderFile ReadFile(string path, string name, FileStamp stamp, KeyFolderFile? before, KeySet previous)
    {
        try
        {
            var (keys, certificates) = PemFile.Read(path);
            if (keys.Count > 0 && (stamp.Mode & (UnixFileMode.GroupRead | UnixFileMode.OtherRead)) != 0)
                LogKeyFileReadable(name);
            // A key already held stays the same object: operations in flight and the key grains keep using it.
            var held = keys.Select(k => previous.TryGetKey(k.KeyId, out var same) ? Swap(k, same) : k).ToList();
            return new KeyFolderFile(name, stamp, held, certificates);
        }
        catch (Exception e) when (e is InvalidDataException or IOException or UnauthorizedAccessException)
        {
            if (before is { Error: null })
            {
                LogKeptPrevious(name, e.Message);
                return before with { Stamp = stamp };
            }
            LogSkippedFile(name, e.Message);
            return new KeyFolderFile(name, stamp, [], [], e.Message);
        }
    }

    private static IPrivateKey Swap(IPrivateKey fresh, IPrivateKey held)
    {
        fresh.Dispose();
        return held;
    }

    private KeySet Build(Dictionary<string, KeyFolderFile> files, HashSet<string> parsed, KeySet previous)
    {
        var keys = new Dictionary<string, IPrivateKey>(StringComparer.Ordinal);
        foreach (var key in _external) keys.TryAdd(key.KeyId, key);
        foreach (var file in files.Values.ToList())
        {
            var kept = new List<IPrivateKey>();
            foreach (var key in file.Keys)
            {
                if (keys.TryAdd(key.KeyId, key) || ReferenceEquals(keys[key.KeyId], key))
                {
                    kept.Add(key);
                    continue;
                }
                if (parsed.Contains(file.Name)) LogDuplicateKey(file.Name, key.KeyId);
                if (!previous.TryGetKey(key.KeyId, out var held) || !ReferenceEquals(held, key)) key.Dispose();
            }
            // A file that lost a key to another file is read again next time, in case that file goes.
            if (kept.Count != file.Keys.Count) files[file.Name] = file with { Keys = kept, Stamp = default };
        }

        var chains = new List<CertificateChain>();
        foreach (var file in files.Values.Where(f => f.Certificates.Count > 0))
        {
            var matched = false;
            foreach (var leaf in file.Certificates)
            {
                var keyId = KeyIds.FromSubjectPublicKeyInfo(leaf.PublicKey.ExportSubjectPublicKeyInfo());
                if (!keys.ContainsKey(keyId)) continue;
                chains.Add(new CertificateChain(keyId, [leaf, .. file.Certificates.Where(c => !ReferenceEquals(c, leaf))], file.Name));
                matched = true;
            }
            if (!matched && parsed.Contains(file.Name)) LogChainWithoutKey(file.Name);
        }
        foreach (var key in keys.Values.Where(k => !previous.Keys.ContainsKey(k.KeyId) && chains.All(c => c.KeyId != k.KeyId)))
            LogKeyWithoutCertificate(key.KeyId, key.Algorithm);
        return new KeySet(keys, chains, files, previous.Retiring);
    }

    /// <summary>
    /// Moves the keys the folder no longer has into the retiring set and schedules their disposal; a retiring key
    /// that came back is simply active again. Certificates are public data and are left to the garbage collector.
    /// </summary>
    private KeySet Retire(KeySet previous, KeySet next)
    {
        var retiring = next.Retiring.Where(r => !next.Keys.ContainsKey(r.Key)).ToDictionary(StringComparer.Ordinal);
        var removed = previous.Keys.Values.Where(k => !_external.Contains(k) && !next.Keys.ContainsKey(k.KeyId))
            .Select(k => new RetiringKey(k, previous.Chains.Where(c => c.KeyId == k.KeyId).ToList())).ToList();
        if (_retirementDelay <= TimeSpan.Zero)
        {
            removed.ForEach(r => r.Key.Dispose());
        }
        else if (removed.Count > 0)
        {
            foreach (var r in removed) retiring[r.Key.KeyId] = r;
            // Added under the reload lock, which Expire takes first: a timer that fires at once still finds its entry.
            _retirements.Add(removed, _time.CreateTimer(_ => Expire(removed), null, _retirementDelay, Timeout.InfiniteTimeSpan));
        }
        return new KeySet(next.Keys, next.Chains, next.Files, retiring);
    }

    private void Expire(IReadOnlyCollection<RetiringKey> removed)
    {
        lock (_reloading)
        {
            if (!_retirements.Remove(removed, out var timer)) return; // the store was disposed
            timer.Dispose();
            var current = _current;
            var expired = removed.Where(r => current.Retiring.TryGetValue(r.Key.KeyId, out var still) && ReferenceEquals(still, r)).ToList();
            _current = current.WithoutRetiring(expired);
            expired.ForEach(r => r.Key.Dispose());
        }
    }

    public void Dispose()
    {
        KeySet current;
        lock (_reloading)
        {
            foreach (var timer in _retirements.Values) timer.Dispose();
            _retirements.Clear();
            current = _current;
            _current = KeySet.Empty;
        }
        foreach (var key in current.Keys.Values.Concat(current.Retiring.Values.Select(r => r.Key)).Concat(_external).Distinct()) key.Dispose();
        foreach (var certificate in current.Files.Values.SelectMany(f => f.Certificates)) certificate.Dispose();
    }

    [LoggerMessage(EventId = EventIds.KeyFileSkipped, Level = LogLevel.Error, Message = "Skipped key file {File}: {Reason}")]
    private partial void LogSkippedFile(string file, string reason);

    [LoggerMessage(EventId = EventIds.KeyFileDuplicate, Level = LogLevel.Warning, Message = "Key file {File} holds key {KeyId}, which another file already loaded; ignored")]
    private partial void LogDuplicateKey(string file, string keyId);

    [LoggerMessage(EventId = EventIds.ChainWithoutKey, Level = LogLevel.Warning, Message = "Certificate file {File} matches no loaded private key; ignored")]
    private partial void LogChainWithoutKey(string file);

    [LoggerMessage(EventId = EventIds.KeyWithoutCertificate, Level = LogLevel.Warning, Message = "Key {KeyId} ({Algorithm}) has no certificate; no host name will be routed to it")]
    private partial void LogKeyWithoutCertificate(string keyId, KeyAlgorithm algorithm);

    [LoggerMessage(EventId = EventIds.KeyFileReadableByOthers, Level = LogLevel.Warning, Message = "Key file {File} is readable by group or others; restrict it to mode 0600")]
    private partial void LogKeyFileReadable(string file);

    [LoggerMessage(EventId = EventIds.KeysLoaded, Level = LogLevel.Information, Message = "Loaded {KeyCount} keys and {ChainCount} certificate chains from {Directory}")]
    private partial void LogLoaded(string directory, int keyCount, int chainCount);

    [LoggerMessage(EventId = EventIds.KeysReloaded, Level = LogLevel.Information, Message = "Key folder changed: now {KeyCount} keys ({Added} added, {Removed} removed) and {ChainCount} certificate chains")]
    private partial void LogReloaded(int keyCount, int added, int removed, int chainCount);

    [LoggerMessage(EventId = EventIds.KeyFileKeptPrevious, Level = LogLevel.Error, Message = "Key file {File} changed but cannot be read ({Reason}); still serving its previous contents")]
    private partial void LogKeptPrevious(string file, string reason);
}
