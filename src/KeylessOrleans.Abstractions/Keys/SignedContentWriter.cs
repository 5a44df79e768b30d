using System.Buffers.Binary;
using System.Text;

namespace KeylessOrleans.Keys;

/// <summary>
/// Builds the exact bytes a proof signs or MACs: every text length-prefixed (so no two field lists can encode alike),
/// numbers big-endian, raw bytes where their length is fixed or last.
/// </summary>
internal sealed class SignedContentWriter : IDisposable
{
    private readonly MemoryStream _stream = new(256);

    /// <summary>A 4-byte big-endian length (-1 for null), then the UTF-8 bytes.</summary>
    public SignedContentWriter Text(string? value)
    {
        var bytes = Encoding.UTF8.GetBytes(value ?? "");
        Span<byte> length = stackalloc byte[4];
        BinaryPrimitives.WriteInt32BigEndian(length, value is null ? -1 : bytes.Length);
        _stream.Write(length);
        _stream.Write(bytes);
        return this;
    }

    public SignedContentWriter Int64(long value)
    {
        Span<byte> bytes = stackalloc byte[8];
        BinaryPrimitives.WriteInt64BigEndian(bytes, value);
        _stream.Write(bytes);
        return this;
    }

    public SignedContentWriter Bytes(ReadOnlySpan<byte> value)
    {
        _stream.Write(value);
        return this;
    }

    public byte[] ToArray() => _stream.ToArray();

    public void Dispose() => _stream.Dispose();
}
