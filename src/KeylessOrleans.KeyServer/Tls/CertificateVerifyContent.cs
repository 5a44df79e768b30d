namespace KeylessOrleans.KeyServer.Tls;

/// <summary>
/// The content a TLS 1.3 server signs in CertificateVerify (RFC 8446 §4.4.3):
/// 64 × 0x20 ‖ "TLS 1.3, server CertificateVerify" ‖ 0x00 ‖ transcript hash (32 or 48 bytes).
/// Requiring this exact shape is what keeps the key server from being a general signing oracle.
/// </summary>
internal static class CertificateVerifyContent
{
    public const int PaddingLength = 64;
    public static ReadOnlySpan<byte> ServerContext => "TLS 1.3, server CertificateVerify"u8;
    private static int HeaderLength => PaddingLength + ServerContext.Length + 1;

    /// <summary>Returns null when <paramref name="content"/> is a well-formed server CertificateVerify input, else why not.</summary>
    public static string? Validate(ReadOnlySpan<byte> content)
    {
        if (content.Length < HeaderLength) return "CertificateVerify content is truncated";
        if (content[..PaddingLength].ContainsAnyExcept((byte)0x20)) return "CertificateVerify content does not start with 64 spaces";
        var context = content.Slice(PaddingLength, ServerContext.Length);
        if (!context.SequenceEqual(ServerContext)) return "CertificateVerify context string is not the TLS 1.3 server one";
        if (content[HeaderLength - 1] != 0) return "CertificateVerify context string is not followed by 0x00";
        var hashLength = content.Length - HeaderLength;
        if (hashLength is not (32 or 48)) return $"transcript hash is {hashLength} bytes; only 32 (SHA-256) or 48 (SHA-384) are valid";
        return null;
    }

    /// <summary>Builds the content for a transcript hash (edges and tests use this).</summary>
    public static byte[] Build(ReadOnlySpan<byte> transcriptHash)
    {
        var content = new byte[HeaderLength + transcriptHash.Length];
        content.AsSpan(0, PaddingLength).Fill(0x20);
        ServerContext.CopyTo(content.AsSpan(PaddingLength));
        transcriptHash.CopyTo(content.AsSpan(HeaderLength));
        return content;
    }
}
