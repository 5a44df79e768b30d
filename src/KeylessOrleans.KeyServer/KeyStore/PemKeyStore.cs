using System.Diagnostics.CodeAnalysis;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using KeylessOrleans.Keys;
using Microsoft.Extensions.Logging;

namespace KeylessOrleans.KeyServer.KeyStore;

/// <summary>
/// Keys and certificate chains from a directory of PEM files (*.pem, *.key, *.crt, *.cer), plus any keys held in
/// an HSM. A file may hold a key, a chain (end-entity first), or both. Chains are matched to keys by public key. A bad file is logged
/// with its name and reason and skipped; it never stops the others from loading.
/// </summary>
public sealed partial class PemKeyStore : IKeyStore, IDisposable
{
    private static readonly string[] Extensions = [".pem", ".key", ".crt", ".cer"];

    private readonly Dictionary<string, IPrivateKey> _keys = new(StringComparer.Ordinal);
    private readonly List<CertificateChain> _chains = [];
    private readonly ILogger _logger;

    /// <param name="externalKeys">Keys held elsewhere (a PKCS#11 token) whose certificate chains live in <paramref name="directory"/>.</param>
    public PemKeyStore(string directory, ILogger<PemKeyStore> logger, IEnumerable<IPrivateKey>? externalKeys = null)
    {
        _logger = logger;
        foreach (var key in externalKeys ?? []) _keys.TryAdd(key.KeyId, key);
        if (!Directory.Exists(directory))
            throw new DirectoryNotFoundException($"Key directory '{directory}' does not exist.");

        var certificateFiles = new List<(string File, List<X509Certificate2> Certificates)>();
        foreach (var file in Directory.EnumerateFiles(directory).Where(IsKeyOrCertificateFile).Order(StringComparer.Ordinal))
        {
            try
            {
                var certificates = LoadFile(file);
                if (certificates.Count > 0) certificateFiles.Add((file, certificates));
            }
            catch (Exception e) when (e is InvalidDataException or IOException or UnauthorizedAccessException)
            {
                LogSkippedFile(Path.GetFileName(file), e.Message);
            }
        }

        foreach (var (file, certificates) in certificateFiles) MatchChains(file, certificates);
        foreach (var key in _keys.Values.Where(k => _chains.All(c => c.KeyId != k.KeyId)))
            LogKeyWithoutCertificate(key.KeyId, key.Algorithm);
        LogLoaded(directory, _keys.Count, _chains.Count);
    }

    public IReadOnlyCollection<IPrivateKey> Keys => _keys.Values;

    public IReadOnlyList<CertificateChain> Chains => _chains;

    public bool TryGetKey(string keyId, [NotNullWhen(true)] out IPrivateKey? key) => _keys.TryGetValue(keyId, out key);

    private static bool IsKeyOrCertificateFile(string path) =>
        Extensions.Contains(Path.GetExtension(path), StringComparer.OrdinalIgnoreCase);

    /// <summary>Loads the keys of one file into the store and returns its certificates. All or nothing per file.</summary>
    private List<X509Certificate2> LoadFile(string file)
    {
        var text = File.ReadAllText(file);
        var keys = new List<IPrivateKey>();
        var certificates = new List<X509Certificate2>();
        try
        {
            var remaining = text.AsSpan();
            var blocks = 0;
            while (PemEncoding.TryFind(remaining, out var fields))
            {
                blocks++;
                var label = remaining[fields.Label].ToString();
                var der = Convert.FromBase64String(remaining[fields.Base64Data].ToString());
                if (label == "CERTIFICATE")
                    certificates.Add(ReadCertificate(der));
                else if (PemKeyReader.IsPrivateKeyLabel(label))
                    keys.Add(PemKeyReader.Read(label, der));
                remaining = remaining[fields.Location.End..];
            }
            // PemEncoding skips blocks it cannot parse; a key file with a broken block must not load half-way.
            if (blocks < CountOccurrences(text, "-----BEGIN "))
                throw new InvalidDataException("a PEM block is malformed (bad base64 or no matching END line)");
            if (keys.Count == 0 && certificates.Count == 0)
                throw new InvalidDataException("no PEM private key or certificate found");
        }
        catch
        {
            keys.ForEach(k => k.Dispose());
            throw;
        }

        if (keys.Count > 0) WarnIfReadableByOthers(file);
        foreach (var key in keys)
        {
            if (!_keys.TryAdd(key.KeyId, key))
            {
                LogDuplicateKey(Path.GetFileName(file), key.KeyId);
                key.Dispose();
            }
        }
        return certificates;
    }

    private static int CountOccurrences(string text, string value)
    {
        var count = 0;
        for (var i = text.IndexOf(value, StringComparison.Ordinal); i >= 0; i = text.IndexOf(value, i + value.Length, StringComparison.Ordinal)) count++;
        return count;
    }

    private static X509Certificate2 ReadCertificate(byte[] der)
    {
        try
        {
            return X509CertificateLoader.LoadCertificate(der);
        }
        catch (CryptographicException e)
        {
            throw new InvalidDataException($"a CERTIFICATE block is malformed ({e.Message})", e);
        }
    }

    /// <summary>Each certificate of a file whose public key is a loaded key starts a chain; the file's other certificates follow it.</summary>
    private void MatchChains(string file, List<X509Certificate2> certificates)
    {
        var matched = false;
        foreach (var leaf in certificates)
        {
            var keyId = KeyIds.FromSubjectPublicKeyInfo(leaf.PublicKey.ExportSubjectPublicKeyInfo());
            if (!_keys.ContainsKey(keyId)) continue;
            _chains.Add(new CertificateChain(keyId, [leaf, .. certificates.Where(c => !ReferenceEquals(c, leaf))], Path.GetFileName(file)));
            matched = true;
        }
        if (!matched) LogChainWithoutKey(Path.GetFileName(file));
    }

    private void WarnIfReadableByOthers(string file)
    {
        if (OperatingSystem.IsWindows()) return;
        var mode = File.GetUnixFileMode(file);
        if ((mode & (UnixFileMode.GroupRead | UnixFileMode.OtherRead)) != 0)
            LogKeyFileReadable(Path.GetFileName(file));
    }

    public void Dispose()
    {
        foreach (var key in _keys.Values) key.Dispose();
        foreach (var chain in _chains) foreach (var certificate in chain.Certificates) certificate.Dispose();
    }

    [LoggerMessage(EventId = 1001, Level = LogLevel.Error, Message = "Skipped key file {File}: {Reason}")]
    private partial void LogSkippedFile(string file, string reason);

    [LoggerMessage(EventId = 1002, Level = LogLevel.Warning, Message = "Key file {File} holds key {KeyId}, which another file already loaded; ignored")]
    private partial void LogDuplicateKey(string file, string keyId);

    [LoggerMessage(EventId = 1003, Level = LogLevel.Warning, Message = "Certificate file {File} matches no loaded private key; ignored")]
    private partial void LogChainWithoutKey(string file);

    [LoggerMessage(EventId = 1004, Level = LogLevel.Warning, Message = "Key {KeyId} ({Algorithm}) has no certificate; no host name will be routed to it")]
    private partial void LogKeyWithoutCertificate(string keyId, KeyAlgorithm algorithm);

    [LoggerMessage(EventId = 1005, Level = LogLevel.Warning, Message = "Key file {File} is readable by group or others; restrict it to mode 0600")]
    private partial void LogKeyFileReadable(string file);

    [LoggerMessage(EventId = 1006, Level = LogLevel.Information, Message = "Loaded {KeyCount} keys and {ChainCount} certificate chains from {Directory}")]
    private partial void LogLoaded(string directory, int keyCount, int chainCount);
}
