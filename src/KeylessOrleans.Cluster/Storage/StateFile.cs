using System.Buffers.Binary;
using System.IO.Hashing;
using System.Security.Cryptography;
using System.Text;

namespace KeylessOrleans.Cluster.Storage;

/// <summary>
/// Where one grain state lives inside a storage folder, and the layout of its file. Pure logic, no I/O.
/// </summary>
/// <remarks>
/// Path: <c>{folder}/{h0h1}/{sha256 hex}.state</c>, the hash taken over "stateName|grainId" in UTF-8: any key becomes a
/// safe file name, and the first byte spreads a million grains over 256 sub-folders of ~4,000 files each.
/// <para>
/// File: a 36-byte header — magic "KLGS", format version, 3 reserved bytes, ETag (16 bytes), identity length,
/// payload length (little-endian uint32 each), CRC-32 of identity and payload — then the identity ("stateName|grainId",
/// UTF-8: the file says whose state it is to anyone listing the folder) and the serialized state. The rename that
/// publishes a file makes it all or nothing; the checksum turns a file damaged on disk into an error instead of a
/// silently empty registry.
/// </para>
/// </remarks>
internal static class StateFile
{
    public const string Extension = ".state";
    public const string TemporaryExtension = ".tmp";
    public const int HeaderLength = 36;

    private const byte FormatVersion = 1;
    private static ReadOnlySpan<byte> Magic => "KLGS"u8;

    /// <summary>The text a file name is hashed from, also stored in the file.</summary>
    public static string Identity(string stateName, GrainId grainId) => $"{stateName}|{grainId}";

    /// <summary>Lower-case hex SHA-256 of <see cref="Identity"/>.</summary>
    public static string Hash(string identity) => Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(identity)));

    /// <summary>The sub-folder of <paramref name="folder"/> that holds the file for <paramref name="hash"/>.</summary>
    public static string ShardFolder(string folder, string hash) => Path.Combine(folder, hash[..2]);

    /// <summary>The file of one grain's state.</summary>
    public static string PathOf(string folder, string stateName, GrainId grainId)
    {
        var hash = Hash(Identity(stateName, grainId));
        return Path.Combine(ShardFolder(folder, hash), hash + Extension);
    }

    /// <summary>A complete file: header, identity, payload.</summary>
    public static byte[] Encode(Guid etag, string identity, ReadOnlySpan<byte> payload)
    {
        var identityLength = Encoding.UTF8.GetByteCount(identity);
        var file = new byte[HeaderLength + identityLength + payload.Length];
        var span = file.AsSpan();
        Magic.CopyTo(span);
        span[4] = FormatVersion;
        etag.TryWriteBytes(span.Slice(8, 16));
        BinaryPrimitives.WriteUInt32LittleEndian(span.Slice(24), (uint)identityLength);
        BinaryPrimitives.WriteUInt32LittleEndian(span.Slice(28), (uint)payload.Length);
        Encoding.UTF8.GetBytes(identity, span.Slice(HeaderLength, identityLength));
        payload.CopyTo(span.Slice(HeaderLength + identityLength));
        BinaryPrimitives.WriteUInt32LittleEndian(span.Slice(32), Crc32.HashToUInt32(span.Slice(HeaderLength)));
        return file;
    }

    /// <summary>The ETag in a file's header (the first <see cref="HeaderLength"/> bytes are enough).</summary>
    /// <exception cref="InvalidDataException">Not a state file of this format.</exception>
    public static Guid ReadETag(ReadOnlySpan<byte> header)
    {
        CheckHeader(header);
        return new Guid(header.Slice(8, 16));
    }

    /// <summary>A whole file's ETag and payload, checked against the identity it must belong to.</summary>
    /// <exception cref="InvalidDataException">Not a state file of this format, damaged, or another grain's state.</exception>
    public static (Guid ETag, ReadOnlyMemory<byte> Payload) Decode(ReadOnlyMemory<byte> file, string expectedIdentity)
    {
        var span = file.Span;
        CheckHeader(span);
        var identityLength = BinaryPrimitives.ReadUInt32LittleEndian(span.Slice(24));
        var payloadLength = BinaryPrimitives.ReadUInt32LittleEndian(span.Slice(28));
        if ((ulong)HeaderLength + identityLength + payloadLength != (ulong)span.Length)
            throw new InvalidDataException($"state file is {span.Length} bytes, its header says {HeaderLength + (ulong)identityLength + payloadLength}");
        if (Crc32.HashToUInt32(span.Slice(HeaderLength)) != BinaryPrimitives.ReadUInt32LittleEndian(span.Slice(32)))
            throw new InvalidDataException("state file checksum does not match its contents");
        var identity = Encoding.UTF8.GetString(span.Slice(HeaderLength, (int)identityLength));
        if (!string.Equals(identity, expectedIdentity, StringComparison.Ordinal))
            throw new InvalidDataException($"state file holds '{identity}', not '{expectedIdentity}'");
        return (new Guid(span.Slice(8, 16)), file.Slice(HeaderLength + (int)identityLength));
    }

    private static void CheckHeader(ReadOnlySpan<byte> header)
    {
        if (header.Length < HeaderLength || !header.StartsWith(Magic))
            throw new InvalidDataException("not a KeylessOrleans state file");
        if (header[4] != FormatVersion)
            throw new InvalidDataException($"state file format {header[4]} is not the supported {FormatVersion}");
    }
}
