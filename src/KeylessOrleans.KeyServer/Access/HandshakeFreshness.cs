using System.Buffers.Binary;
using KeylessOrleans.Cluster.Security;
using KeylessOrleans.Keys;

namespace KeylessOrleans.KeyServer.Access;

/// <summary>
/// Is this request for a handshake happening now, and the first of its kind? TLS 1.2 requests carry the
/// server_random, which the edge starts with the time (gmt_unix_time) and ends with the TLS 1.2 downgrade marker
/// (the edge also speaks TLS 1.3, RFC 8446 §4.1.3); each server_random is served once. A TLS 1.3 CertificateVerify
/// is served once per transcript hash.
/// </summary>
internal sealed class HandshakeFreshness(KeyAccessOptions options, TimeProvider time)
{
    private static readonly byte[] DowngradeMarkerTls12 = [0x44, 0x4F, 0x57, 0x4E, 0x47, 0x52, 0x44, 0x01];

    /// <summary>gmt_unix_time has whole seconds: a server_random is accepted one second beyond the window.</summary>
    private static readonly TimeSpan WholeSeconds = TimeSpan.FromSeconds(1);

    /// <summary>
    /// How long the replay cache must remember a request: a server_random is accepted from (window + 1 s) before its
    /// time to (window + 1 s) after it, so a replay may come that long after the first use.
    /// </summary>
    public static TimeSpan Retention(TimeSpan window) => 2 * (window + WholeSeconds);

    private readonly ReplayCache _seen = new(Retention(options.FreshnessWindow), options.ReplayCacheSize, time);

    /// <summary>Null when fresh and new; else the refusal.</summary>
    public KeyOperationResult? Check(KeyRequest request) => request switch
    {
        SignServerKeyExchangeRequest r when r.SignedParams.Length >= 64 => Check(r.Operation, r.SignedParams.AsSpan(32, 32), r.SignedParams.AsSpan(32, 32)),
        DeriveMasterSecretRequest { Exchange: { ServerRandom.Length: 32, ClientRandom.Length: 32 } exchange } r => Check(r.Operation, exchange.ServerRandom, exchange.ServerRandom),
        DeriveMasterSecretRequest => KeyOperationResult.Failure(KeyOperationStatus.InvalidRequest, "master secret request without 32-byte client and server randoms"),
        SignCertificateVerifyRequest r => Once(r.Operation, r.SignedContent, "CertificateVerify content"),
        _ => null, // malformed content is refused by the operation's own validation
    };

    private KeyOperationResult? Check(string operation, ReadOnlySpan<byte> serverRandom, ReadOnlySpan<byte> uniqueness)
    {
        if (!serverRandom[^8..].SequenceEqual(DowngradeMarkerTls12))
            return KeyOperationResult.Failure(KeyOperationStatus.InvalidRequest, "server_random lacks the TLS 1.2 downgrade marker");
        var sent = DateTimeOffset.FromUnixTimeSeconds(BinaryPrimitives.ReadUInt32BigEndian(serverRandom));
        var skew = time.GetUtcNow() - sent;
        if (skew.Duration() > options.FreshnessWindow + WholeSeconds)
            return KeyOperationResult.Failure(KeyOperationStatus.InvalidRequest, $"server_random time is {skew.TotalSeconds:0} s off (window {options.FreshnessWindow.TotalSeconds:0} s): stale or replayed handshake");
        return Once(operation, uniqueness, "server_random");
    }

    private KeyOperationResult? Once(string operation, ReadOnlySpan<byte> uniqueness, string what)
    {
        var digest = KeyRequestDigest.Of(operation, 0, uniqueness);
        return _seen.TryAdd(digest) switch
        {
            ReplayCache.Outcome.New => null,
            ReplayCache.Outcome.Replayed => KeyOperationResult.Failure(KeyOperationStatus.InvalidRequest, $"replayed request: this {what} was already served"),
            _ => KeyOperationResult.Failure(KeyOperationStatus.RateLimited, "replay cache full: too many requests in the freshness window"),
        };
    }
}
