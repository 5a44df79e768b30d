namespace KeylessOrleans.Keys;

/// <summary>TLS handshake messages as they follow one another on the wire: type (1) ‖ length (3) ‖ body.</summary>
public static class HandshakeMessages
{
    public const int HeaderLength = 4;

    /// <summary>Where the message that starts at <paramref name="start"/> ends, or null when the bytes end inside it.</summary>
    public static int? End(ReadOnlySpan<byte> messages, int start)
    {
        if (messages.Length - start < HeaderLength) return null;
        var end = start + HeaderLength + ((messages[start + 1] << 16) | (messages[start + 2] << 8) | messages[start + 3]);
        return end <= messages.Length ? end : null;
    }
}
