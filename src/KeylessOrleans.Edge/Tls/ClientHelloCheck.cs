using Org.BouncyCastle.Tls;

namespace KeylessOrleans.Edge.Tls;

/// <summary>A ClientHello refused before BouncyCastle reads it: the alert RFC 8446 §6 / RFC 5246 §7.2 assign and why.</summary>
internal sealed record ClientHelloRefusal(short Alert, string Reason);

/// <summary>
/// Checks a client's first ClientHello the way RFC 8446 and RFC 5246 describe it, before BouncyCastle parses it.
/// BouncyCastle's own parse answers a vector whose length runs past its end with internal_error, reads some
/// extensions leniently, and sends nothing at all before a ClientHello has parsed; this check names the alert the
/// RFCs assign to each class of fault:
/// <list type="bullet">
/// <item>decode_error: a length that disagrees with what follows (every vector of the message and of the extensions
/// whose layout is fixed), a vector shorter than its minimum, bytes after the last field (RFC 8446 §6.2);</item>
/// <item>protocol_version: a legacy_version of SSL 3.0 or below (RFC 8446 Appendix D.5), the version BouncyCastle
/// cannot parse ({0xFE, 0xFE}) anywhere, no version the edge speaks
/// (TLS 1.2, 1.3) in supported_versions (RFC 8446 §4.2.1), or, without that extension, a legacy_version below
/// TLS 1.2 (RFC 5246 Appendix E.1);</item>
/// <item>missing_extension: a TLS 1.3 hello with supported_groups but no key_share or the reverse (RFC 8446 §9.2);</item>
/// <item>illegal_parameter: a key share for a group the client did not list in supported_groups, two shares for one
/// group, or a share whose length the group fixes and that has another (RFC 8446 §4.2.8).</item>
/// </list>
/// Anything else (semantics BouncyCastle checks: cipher suites, compression, repeated extensions) passes here.
/// </summary>
internal static class ClientHelloCheck
{
    private const byte ClientHelloType = 1;
    private const int Ssl3 = 0x0300;

    /// <summary>
    /// BouncyCastle's version parser throws on {0xFE, 0xFE} (reserved), which would end in internal_error. RFC 5246
    /// Appendix E.1 and RFC 8446 §4.2.1 would have the server negotiate past an unknown version; the hello cannot be
    /// rewritten for BouncyCastle (its bytes are the transcript), so it is refused with the version alert instead.
    /// </summary>
    private const int Unrepresentable = 0xfefe;
    private const int Tls12 = 0x0303;
    private const int Tls13 = 0x0304;

    /// <summary>The fixed key_exchange length of groups whose shares have one (RFC 8446 §4.2.8.1–2, RFC 7919, draft-ietf-tls-ecdhe-mlkem).</summary>
    private static readonly Dictionary<int, int> ShareLengths = new()
    {
        [NamedGroup.secp256r1] = 65,
        [NamedGroup.secp384r1] = 97,
        [NamedGroup.secp521r1] = 133,
        [NamedGroup.x25519] = 32,
        [NamedGroup.x448] = 56,
        [NamedGroup.ffdhe2048] = 256,
        [NamedGroup.ffdhe3072] = 384,
        [NamedGroup.ffdhe4096] = 512,
        [NamedGroup.ffdhe6144] = 768,
        [NamedGroup.ffdhe8192] = 1024,
        [NamedGroup.X25519MLKEM768] = 1184 + 32,
        [NamedGroup.SecP256r1MLKEM768] = 65 + 1184,
        [NamedGroup.SecP384r1MLKEM1024] = 97 + 1568,
    };

    /// <param name="message">The whole handshake message: type, 24-bit length, body.</param>
    /// <returns>Null when the hello may go to BouncyCastle.</returns>
    public static ClientHelloRefusal? Check(ReadOnlySpan<byte> message)
    {
        if (message.Length < 4 || message[0] != ClientHelloType) return null; // not a ClientHello: BouncyCastle refuses it
        var body = new Reader(message[4..]);
        if (!body.U16(out var legacyVersion) || !body.Skip(32)) return Decode("ClientHello ends inside legacy_version or random");
        if (!body.Vector(1, out var sessionId) || sessionId.Length > 32) return Decode("session_id is longer than 32 bytes or runs past the message");
        if (!body.Vector(2, out var suites) || suites.Length < 2 || suites.Length % 2 != 0) return Decode("cipher_suites is empty, odd or runs past the message");
        if (!body.Vector(1, out var compression) || compression.Length < 1) return Decode("compression_methods is empty or runs past the message");
        var extensions = new Dictionary<int, byte[]>();
        if (!body.AtEnd)
        {
            if (!body.Vector(2, out var block) || !body.AtEnd) return Decode("the extensions block disagrees with the message length");
            var reader = new Reader(block);
            while (!reader.AtEnd)
            {
                if (!reader.U16(out var type) || !reader.Vector(2, out var data)) return Decode("an extension runs past the extensions block");
                if (CheckExtension(type, data) is { } problem) return Decode(problem);
                extensions.TryAdd(type, data.ToArray()); // BouncyCastle refuses a repeated extension itself
            }
        }

        if (legacyVersion <= Ssl3)
            return new(AlertDescription.protocol_version, $"legacy_version 0x{legacyVersion:x4} is SSL 3.0 or below");
        var versions = extensions.TryGetValue(ExtensionType.supported_versions, out var versionList) ? Pairs(versionList.AsSpan(1)) : null;
        if (legacyVersion == Unrepresentable || versions?.Contains(Unrepresentable) == true)
            return new(AlertDescription.protocol_version, "version 0xfefe, which BouncyCastle cannot read");
        if (versions is not null)
        {
            if (!versions.Contains(Tls13) && !versions.Contains(Tls12))
                return new(AlertDescription.protocol_version, "supported_versions names neither TLS 1.3 nor TLS 1.2");
        }
        else if (legacyVersion < Tls12)
        {
            return new(AlertDescription.protocol_version, $"legacy_version 0x{legacyVersion:x4} is below TLS 1.2 and there is no supported_versions");
        }
        return versions?.Contains(Tls13) == true ? CheckKeyShares(extensions) : null;
    }

    /// <summary>The layout of the extensions this edge reads; their contents' meaning is BouncyCastle's to check.</summary>
    private static string? CheckExtension(int type, ReadOnlySpan<byte> data)
    {
        var reader = new Reader(data);
        switch (type)
        {
            case ExtensionType.server_name:
                if (!reader.Vector(2, out var names) || !reader.AtEnd || names.IsEmpty) return "server_name list disagrees with the extension length or is empty";
                for (var entries = new Reader(names); !entries.AtEnd;)
                    if (!entries.Skip(1) || !entries.Vector(2, out var name) || name.IsEmpty) return "a server_name entry runs past the list or is empty";
                return null;
            case ExtensionType.supported_groups:
            case ExtensionType.signature_algorithms:
            case ExtensionType.signature_algorithms_cert:
                return reader.Vector(2, out var list) && reader.AtEnd && list.Length >= 2 && list.Length % 2 == 0
                    ? null
                    : $"{ExtensionType.GetName(type)} list disagrees with the extension length, is empty or odd";
            case ExtensionType.supported_versions:
                return reader.Vector(1, out var versions) && reader.AtEnd && versions.Length >= 2 && versions.Length % 2 == 0
                    ? null
                    : "supported_versions list disagrees with the extension length, is empty or odd";
            case ExtensionType.ec_point_formats:
            case ExtensionType.psk_key_exchange_modes:
                return reader.Vector(1, out var bytes) && reader.AtEnd && bytes.Length >= 1
                    ? null
                    : $"{ExtensionType.GetName(type)} list disagrees with the extension length or is empty";
            case ExtensionType.renegotiation_info:
                return reader.Vector(1, out _) && reader.AtEnd ? null : "renegotiation_info disagrees with the extension length";
            case ExtensionType.extended_master_secret:
            case ExtensionType.encrypt_then_mac:
                // RFC 7627 §5.1, RFC 7366 §2: the extension_data field is empty.
                return data.IsEmpty ? null : $"{ExtensionType.GetName(type)} carries data";
            case ExtensionType.application_layer_protocol_negotiation:
                if (!reader.Vector(2, out var protocols) || !reader.AtEnd || protocols.Length < 2) return "ALPN list disagrees with the extension length or is empty";
                for (var entries = new Reader(protocols); !entries.AtEnd;)
                    if (!entries.Vector(1, out var protocol) || protocol.IsEmpty) return "an ALPN protocol name runs past the list or is empty";
                return null;
            case ExtensionType.key_share:
                if (!reader.Vector(2, out var shares) || !reader.AtEnd) return "key_share list disagrees with the extension length";
                for (var entries = new Reader(shares); !entries.AtEnd;)
                    if (!entries.Skip(2) || !entries.Vector(2, out var key) || key.IsEmpty) return "a key_share entry runs past the list or is empty";
                return null;
            case ExtensionType.record_size_limit:
                return data.Length == 2 ? null : "record_size_limit is not two bytes";
            default:
                return null;
        }
    }

    private static ClientHelloRefusal? CheckKeyShares(Dictionary<int, byte[]> extensions)
    {
        var hasGroups = extensions.TryGetValue(ExtensionType.supported_groups, out var groupList);
        var hasShares = extensions.TryGetValue(ExtensionType.key_share, out var shareList);
        if (hasGroups != hasShares)
            return new(AlertDescription.missing_extension, hasGroups ? "supported_groups without key_share" : "key_share without supported_groups");
        if (!hasGroups) return null; // a pre-shared key alone; BouncyCastle offers no PSK, so it refuses that
        var groups = Pairs(groupList.AsSpan(2));
        var seen = new List<int>();
        for (var entries = new Reader(shareList.AsSpan(2)); !entries.AtEnd;)
        {
            entries.U16(out var group);
            entries.Vector(2, out var key);
            if (!groups.Contains(group))
                return new(AlertDescription.illegal_parameter, $"key share for group 0x{group:x4}, which supported_groups does not list");
            if (seen.Contains(group)) return new(AlertDescription.illegal_parameter, $"two key shares for group 0x{group:x4}");
            seen.Add(group);
            if (ShareLengths.TryGetValue(group, out var length) && key.Length != length)
                return new(AlertDescription.illegal_parameter, $"{NamedGroup.GetName(group)} key share is {key.Length} bytes, not {length}");
        }
        return null;
    }

    private static List<int> Pairs(ReadOnlySpan<byte> bytes)
    {
        var values = new List<int>(bytes.Length / 2);
        for (var i = 0; i + 1 < bytes.Length; i += 2) values.Add(bytes[i] << 8 | bytes[i + 1]);
        return values;
    }

    private static ClientHelloRefusal Decode(string reason) => new(AlertDescription.decode_error, reason);

    /// <summary>Big-endian fields and length-prefixed vectors; every read fails, rather than throws, at the end.</summary>
    private ref struct Reader(ReadOnlySpan<byte> bytes)
    {
        private ReadOnlySpan<byte> _rest = bytes;

        public readonly bool AtEnd => _rest.IsEmpty;

        public bool Skip(int count)
        {
            if (_rest.Length < count) return false;
            _rest = _rest[count..];
            return true;
        }

        public bool U16(out int value)
        {
            value = _rest.Length >= 2 ? _rest[0] << 8 | _rest[1] : 0;
            return Skip(2);
        }

        public bool Vector(int width, out ReadOnlySpan<byte> content)
        {
            content = default;
            if (_rest.Length < width) return false;
            var length = 0;
            for (var i = 0; i < width; i++) length = length << 8 | _rest[i];
            if (_rest.Length - width < length) return false;
            content = _rest.Slice(width, length);
            _rest = _rest[(width + length)..];
            return true;
        }
    }
}
