using Org.BouncyCastle.Tls;

namespace KeylessOrleans.Edge.Tls;

/// <summary>
/// The key-agreement groups the edge offers TLS 1.3 clients, in preference order, and the per-connection order that
/// prefers a group the client already sent a key share for. Key agreement happens on the edge alone: the key server
/// signs the same CertificateVerify whichever group is used.
/// </summary>
internal static class KeyShareGroups
{
    /// <summary>
    /// The default TLS 1.3 order: the post-quantum hybrids current browsers send a share for (X25519MLKEM768 from
    /// Chromium and Firefox), then the classical curves and RFC 7919 groups, which TLS 1.2 also uses.
    /// </summary>
    public const string DefaultTls13 = "X25519MLKEM768,SecP256r1MLKEM768,x25519,secp256r1,secp384r1,ffdhe2048,ffdhe3072,ffdhe4096";

    /// <summary>Hybrid groups (TLS 1.3 only) with the exact length of a client's key share (RFC draft-ietf-tls-ecdhe-mlkem §4).</summary>
    private static readonly Dictionary<int, int> HybridClientShareLengths = new()
    {
        [NamedGroup.X25519MLKEM768] = 1184 + 32,
        [NamedGroup.SecP256r1MLKEM768] = 65 + 1184,
        [NamedGroup.SecP384r1MLKEM1024] = 97 + 1568,
    };

    /// <summary>Curves for TLS 1.2 ECDHE and TLS 1.3; exactly those the key server signs ServerKeyExchange for.</summary>
    public static readonly int[] Curves = [NamedGroup.x25519, NamedGroup.secp256r1, NamedGroup.secp384r1];

    /// <summary>
    /// RFC 7919 groups, for TLS 1.3 key shares and TLS 1.2 DHE; exactly those the key server signs ServerDHParams
    /// for. ffdhe6144/8192 are not offered: their cost per handshake would make the edge easy to exhaust.
    /// </summary>
    public static readonly int[] FiniteFieldGroups = [NamedGroup.ffdhe2048, NamedGroup.ffdhe3072, NamedGroup.ffdhe4096];

    private static readonly int[] Allowed = [.. HybridClientShareLengths.Keys, .. Curves, .. FiniteFieldGroups];

    public static bool IsHybrid(int group) => HybridClientShareLengths.ContainsKey(group);

    /// <summary>Whether <paramref name="name"/> (as <see cref="Name"/> spells it, e.g. a metric's group label) is a post-quantum hybrid.</summary>
    public static bool IsHybrid(string name) => HybridClientShareLengths.Keys.Any(g => Name(g) == name);

    /// <summary>The group's name as TLS registries and browsers spell it (X25519MLKEM768, x25519, ffdhe2048).</summary>
    public static string Name(int group) => NamedGroup.GetName(group);

    /// <summary>
    /// Parses a comma-separated list of group names (case-insensitive). Errors name each unknown, unsupported or
    /// repeated entry; an empty list is an error too.
    /// </summary>
    public static int[] Parse(string? list, out List<string> errors)
    {
        errors = [];
        var groups = new List<int>();
        foreach (var entry in (list ?? "").Split(',', StringSplitOptions.TrimEntries | StringSplitOptions.RemoveEmptyEntries))
        {
            var group = Allowed.Where(g => string.Equals(Name(g), entry, StringComparison.OrdinalIgnoreCase)).DefaultIfEmpty(-1).First();
            if (group < 0) errors.Add($"'{entry}' is not one of {string.Join(", ", Allowed.Select(Name))}");
            else if (groups.Contains(group)) errors.Add($"'{entry}' is listed twice");
            else groups.Add(group);
        }
        if (groups.Count == 0 && errors.Count == 0) errors.Add("no group is listed");
        return [.. groups];
    }

    /// <summary>
    /// The order for one TLS 1.3 handshake: the configured groups the client sent a key share for, then the others,
    /// each part in configured order. With the server's order applied, a client is never sent a HelloRetryRequest
    /// while it has a share for any group offered here; a client that supports a hybrid but sent only an x25519
    /// share gets x25519 at once, and a hybrid whenever it sent that share.
    /// </summary>
    public static int[] OrderFor(int[] configured, IList<KeyShareEntry>? clientShares)
    {
        if (clientShares is not { Count: > 0 }) return configured;
        bool Shared(int group) => clientShares.Any(s => s.NamedGroup == group);
        return [.. configured.Where(Shared), .. configured.Where(g => !Shared(g))];
    }

    /// <summary>
    /// draft-ietf-tls-ecdhe-mlkem §4: a hybrid key share of the wrong length is refused with illegal_parameter.
    /// Only the share the server will use is checked (like every other group's share).
    /// </summary>
    public static void CheckClientShare(KeyShareEntry share)
    {
        if (HybridClientShareLengths.TryGetValue(share.NamedGroup, out var length) && share.KeyExchange.Length != length)
            throw new TlsFatalAlert(AlertDescription.illegal_parameter,
                $"{Name(share.NamedGroup)} key share is {share.KeyExchange.Length} bytes, not {length}");
    }
}
