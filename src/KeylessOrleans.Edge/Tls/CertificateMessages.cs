using KeylessOrleans.Edge.Routing;
using KeylessOrleans.Edge.Stapling;
using KeylessOrleans.Keys;
using Org.BouncyCastle.Tls;

namespace KeylessOrleans.Edge.Tls;

/// <summary>
/// What goes with the served chain: in TLS 1.3 the end-entity entry of the Certificate message carries the OCSP
/// staple when the client asked (RFC 8446 §4.4.2.1) and the delegated credential being served (RFC 9345 §4.1.1);
/// in TLS 1.2 the staple is a CertificateStatus message of its own.
/// </summary>
internal static class CertificateMessages
{
    /// <summary>The TLS 1.3 Certificate message; the chain's shared one when nothing goes with it.</summary>
    public static Certificate Tls13(ServerChain chain, CertificateStatus? staple, byte[]? delegatedCredential)
    {
        if (staple is null && delegatedCredential is null) return chain.Tls13;
        var extensions = new Dictionary<int, byte[]>();
        if (staple is not null)
        {
            var encoded = new MemoryStream();
            staple.Encode(encoded);
            extensions[ExtensionType.status_request] = encoded.ToArray();
        }
        if (delegatedCredential is not null) extensions[DelegatedCredential.ExtensionType] = delegatedCredential;
        return chain.Tls13With(extensions);
    }

    /// <summary>The staple for the chain, if the client asked for OCSP and a current one is at hand.</summary>
    public static CertificateStatus? Staple(ServerChain chain, CertificateStatusRequest? clientRequest, OcspStapler? staples) =>
        clientRequest?.StatusType == CertificateStatusType.ocsp && staples?.Current(chain.ChainDer) is { } staple
            ? new CertificateStatus(CertificateStatusType.ocsp, staple.Response)
            : null;

    /// <summary>
    /// Whether a staple is at hand for any key of the name: TLS 1.2 acknowledges status_request only when one can
    /// follow (RFC 6066 §8), and the key is not chosen yet when it answers.
    /// </summary>
    public static bool CanStaple(EdgeRoute? route, OcspStapler? staples)
    {
        if (route is null || staples is null) return false;
        var keys = route.Keys.Keys;
        for (var i = 0; i < keys.Count; i++)
        {
            if (staples.Current(keys[i].ChainDer) is not null) return true;
        }
        return false;
    }
}
