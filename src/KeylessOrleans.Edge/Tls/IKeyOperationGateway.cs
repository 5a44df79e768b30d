using KeylessOrleans.Edge.Handshake;
using KeylessOrleans.Keys;

namespace KeylessOrleans.Edge.Tls;

/// <summary>The edge's door to its tenants' key grains: a request built once by the caller goes through it as it is.</summary>
internal interface IKeyOperationGateway
{
    /// <summary>
    /// For BouncyCastle's key callbacks: called on a handshake thread, which it may block for one key-server round trip;
    /// always returns, within the key-call deadline.
    /// </summary>
    KeyOperationResult Perform(KeyCall call, KeyRequest request);

    /// <summary>Off any handshake's path (no handshake thread waits for it): delegated credentials.</summary>
    Task<KeyOperationResult> PerformAsync(KeyCall call, KeyRequest request);
}
