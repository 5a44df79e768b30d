using System.Numerics;
using System.Text;

namespace KeylessOrleans.TestSupport;

/// <summary>
/// Hunts for known secrets in collected bytes (logs, Redis values, files) in every form code tends to print them:
/// raw, hex (lower, upper, and "AB-CD" as BitConverter writes it), decimal (how a BigInteger prints) and base64 at
/// any of the three byte alignments, so a secret inside a longer base64 blob is found too.
/// </summary>
public sealed class SecretScanner
{
    /// <summary>Shorter secrets would match random bytes by chance in megabytes of logs.</summary>
    public const int MinimumSecretLength = 16;

    private readonly List<(string Secret, string Form, byte[] Needle)> _needles = [];

    public sealed record Hit(string Secret, string Form, string Source, int Offset)
    {
        public override string ToString() => $"{Secret} ({Form}) in {Source} at byte {Offset}";
    }

    /// <summary>Named secrets added so far (each searched in several forms).</summary>
    public int SecretCount { get; private set; }

    public int NeedleCount => _needles.Count;

    public void AddSecret(string name, ReadOnlySpan<byte> secret)
    {
        if (secret.Length < MinimumSecretLength) throw new ArgumentException($"{name} is {secret.Length} bytes; too short to hunt for", nameof(secret));
        SecretCount++;
        Add(name, "raw", secret.ToArray());
        Add(name, "hex", Encoding.ASCII.GetBytes(Convert.ToHexStringLower(secret)));
        Add(name, "HEX", Encoding.ASCII.GetBytes(Convert.ToHexString(secret)));
        Add(name, "HEX-dashed", Encoding.ASCII.GetBytes(BitConverter.ToString(secret.ToArray())));
        Add(name, "decimal", Encoding.ASCII.GetBytes(new BigInteger(secret, isUnsigned: true, isBigEndian: true).ToString()));
        for (var skew = 0; skew < 3; skew++)
            Add(name, $"base64+{skew}", Encoding.ASCII.GetBytes(Base64Core(secret, skew)));
    }

    /// <summary>A literal text (e.g. one line of a PEM body, which line breaks keep out of the base64 forms).</summary>
    public void AddText(string name, string text)
    {
        if (text.Length < MinimumSecretLength) throw new ArgumentException($"{name} is too short to hunt for", nameof(text));
        SecretCount++;
        Add(name, "text", Encoding.UTF8.GetBytes(text));
    }

    public IReadOnlyList<Hit> Scan(string source, ReadOnlySpan<byte> content)
    {
        var hits = new List<Hit>();
        foreach (var (secret, form, needle) in _needles)
        {
            var at = content.IndexOf(needle);
            if (at >= 0) hits.Add(new Hit(secret, form, source, at));
        }
        return hits;
    }

    public IReadOnlyList<Hit> Scan(string source, string content) => Scan(source, Encoding.UTF8.GetBytes(content));

    private void Add(string secret, string form, byte[] needle)
    {
        if (_needles.Any(n => n.Secret == secret && n.Needle.AsSpan().SequenceEqual(needle))) return; // e.g. hex of all-digit nibbles
        _needles.Add((secret, form, needle));
    }

    /// <summary>
    /// The base64 characters that depend only on <paramref name="secret"/> when it starts <paramref name="skew"/>
    /// bytes into a 3-byte group: the first group (shared with preceding bytes) and the last, partial one
    /// (shared with following bytes, or padded) are dropped.
    /// </summary>
    private static string Base64Core(ReadOnlySpan<byte> secret, int skew)
    {
        var shifted = new byte[skew + secret.Length];
        secret.CopyTo(shifted.AsSpan(skew));
        var encoded = Convert.ToBase64String(shifted);
        var start = skew == 0 ? 0 : 4;
        var end = shifted.Length % 3 == 0 ? encoded.Length : encoded.Length - 4;
        return encoded[start..end];
    }
}
