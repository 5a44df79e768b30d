namespace KeylessOrleans.Edge.Tls;

/// <summary>
/// Rules for the server name a client sends (SNI), which is attacker-chosen text of up to 64 KiB: names beyond
/// DNS's length and names with control characters are refused, and no SNI reaches a log line unfiltered.
/// </summary>
internal static class ServerNames
{
    /// <summary>RFC 1035 §2.3.4: a host name is at most 253 characters in text (255 octets on the wire).</summary>
    public const int MaxLength = 253;

    /// <summary>The most of a refused name a log line shows.</summary>
    private const int MaxLogged = 64;

    public static bool HasControlCharacters(string name) => name.AsSpan().ContainsAnyInRange('\0', '\x1f') || name.Contains('\x7f');

    /// <summary>
    /// The name as a log line may show it: control characters removed (no forged lines, no terminal escapes) and
    /// cut to <see cref="MaxLogged"/> characters.
    /// </summary>
    public static string ForLog(string name)
    {
        var clean = string.Concat(name.Where(c => !char.IsControl(c)));
        return clean.Length > MaxLogged ? $"{clean[..MaxLogged]}… ({name.Length} characters)" : clean;
    }
}
