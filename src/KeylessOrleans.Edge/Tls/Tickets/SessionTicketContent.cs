using System.Buffers.Binary;
using System.Text;

namespace KeylessOrleans.Edge.Tls.Tickets;

/// <summary>
/// What a TLS 1.2 session ticket carries (sealed by <see cref="SessionTicketKeyRing"/>): enough to resume the
/// session on any edge, and what the resuming edge checks first — the name it was made for, its age, and the leaf
/// certificate it was served with (a rotated certificate means a full handshake, as with session ids).
/// </summary>
public sealed record SessionTicketContent(
    DateTimeOffset Issued,
    int CipherSuite,
    bool ExtendedMasterSecret,
    byte[] MasterSecret,
    string ServerName,
    byte[] LeafSha256,
    string? ApplicationProtocol)
{
    private const byte Version = 1;

    public byte[] Encode()
    {
        var name = Encoding.ASCII.GetBytes(ServerName);
        var alpn = ApplicationProtocol is null ? [] : Encoding.ASCII.GetBytes(ApplicationProtocol);
        if (MasterSecret.Length > byte.MaxValue || name.Length > ushort.MaxValue || alpn.Length > byte.MaxValue || LeafSha256.Length != 32)
            throw new ArgumentException("session does not fit a ticket");
        var output = new byte[1 + 8 + 2 + 1 + 1 + MasterSecret.Length + 2 + name.Length + 32 + 1 + alpn.Length];
        var writer = new SpanWriter(output);
        writer.Byte(Version);
        writer.UInt64((ulong)Issued.ToUnixTimeSeconds());
        writer.UInt16((ushort)CipherSuite);
        writer.Byte(ExtendedMasterSecret ? (byte)1 : (byte)0);
        writer.Byte((byte)MasterSecret.Length);
        writer.Bytes(MasterSecret);
        writer.UInt16((ushort)name.Length);
        writer.Bytes(name);
        writer.Bytes(LeafSha256);
        writer.Byte((byte)alpn.Length);
        writer.Bytes(alpn);
        return output;
    }

    /// <summary>The content of an opened ticket; null when it is not one this version wrote.</summary>
    public static SessionTicketContent? Decode(ReadOnlySpan<byte> input)
    {
        var reader = new SpanReader(input);
        if (!reader.Byte(out var version) || version != Version) return null;
        if (!reader.UInt64(out var issued) || issued > (ulong)DateTimeOffset.MaxValue.ToUnixTimeSeconds()) return null;
        if (!reader.UInt16(out var suite) || !reader.Byte(out var ems) || ems > 1) return null;
        if (!reader.Byte(out var secretLength) || !reader.Bytes(secretLength, out var secret)) return null;
        if (!reader.UInt16(out var nameLength) || !reader.Bytes(nameLength, out var name)) return null;
        if (!reader.Bytes(32, out var leaf) || !reader.Byte(out var alpnLength) || !reader.Bytes(alpnLength, out var alpn)) return null;
        if (!reader.AtEnd) return null;
        return new SessionTicketContent(DateTimeOffset.FromUnixTimeSeconds((long)issued), suite, ems == 1, secret.ToArray(),
            Encoding.ASCII.GetString(name), leaf.ToArray(), alpnLength == 0 ? null : Encoding.ASCII.GetString(alpn));
    }

    private ref struct SpanWriter(Span<byte> output)
    {
        private Span<byte> _rest = output;

        public void Byte(byte value)
        {
            _rest[0] = value;
            _rest = _rest[1..];
        }

        public void UInt16(ushort value)
        {
            BinaryPrimitives.WriteUInt16BigEndian(_rest, value);
            _rest = _rest[2..];
        }

        public void UInt64(ulong value)
        {
            BinaryPrimitives.WriteUInt64BigEndian(_rest, value);
            _rest = _rest[8..];
        }

        public void Bytes(ReadOnlySpan<byte> value)
        {
            value.CopyTo(_rest);
            _rest = _rest[value.Length..];
        }
    }

    private ref struct SpanReader(ReadOnlySpan<byte> input)
    {
        private ReadOnlySpan<byte> _rest = input;

        public readonly bool AtEnd => _rest.IsEmpty;

        public bool Byte(out byte value)
        {
            value = _rest.IsEmpty ? (byte)0 : _rest[0];
            return Bytes(1, out _);
        }

        public bool UInt16(out ushort value)
        {
            value = _rest.Length >= 2 ? BinaryPrimitives.ReadUInt16BigEndian(_rest) : (ushort)0;
            return Bytes(2, out _);
        }

        public bool UInt64(out ulong value)
        {
            value = _rest.Length >= 8 ? BinaryPrimitives.ReadUInt64BigEndian(_rest) : 0;
            return Bytes(8, out _);
        }

        public bool Bytes(int length, out ReadOnlySpan<byte> value)
        {
            if (_rest.Length < length)
            {
                value = default;
                return false;
            }
            value = _rest[..length];
            _rest = _rest[length..];
            return true;
        }
    }
}
