using System.Security.Cryptography;
using System.Text;

namespace KeylessOrleans.Edge.Tls.Tickets;

/// <summary>
/// What a TLS 1.2 session ticket carries (sealed by <see cref="SessionTicketKeyRing"/>): enough to resume the
/// session on any edge, and what the resuming edge checks first — the name it was made for, its age, and the leaf
/// certificate it was served with (a rotated certificate means a full handshake, as with session ids).
/// </summary>
internal sealed record SessionTicketContent(
    DateTimeOffset Issued,
    int CipherSuite,
    bool ExtendedMasterSecret,
    byte[] MasterSecret,
    string ServerName,
    byte[] LeafSha256,
    string? ApplicationProtocol)
{
    private const byte Version = 1;

    /// <summary>The content as bytes, written into an array of exactly its size (the caller wipes it after sealing).</summary>
    public byte[] Encode()
    {
        var name = Encoding.ASCII.GetBytes(ServerName);
        var alpn = ApplicationProtocol is null ? [] : Encoding.ASCII.GetBytes(ApplicationProtocol);
        if (MasterSecret.Length > byte.MaxValue || name.Length > ushort.MaxValue || alpn.Length > byte.MaxValue || LeafSha256.Length != 32)
            throw new ArgumentException("session does not fit a ticket");
        var output = new byte[1 + 8 + 2 + 1 + 1 + MasterSecret.Length + 2 + name.Length + 32 + 1 + alpn.Length];
        using var writer = new BinaryWriter(new MemoryStream(output)); // a fixed stream: no copy of the secret elsewhere
        writer.Write(Version);
        writer.Write(Issued.ToUnixTimeSeconds());
        writer.Write((ushort)CipherSuite);
        writer.Write(ExtendedMasterSecret);
        writer.Write((byte)MasterSecret.Length);
        writer.Write(MasterSecret);
        writer.Write((ushort)name.Length);
        writer.Write(name);
        writer.Write(LeafSha256);
        writer.Write((byte)alpn.Length);
        writer.Write(alpn);
        return output;
    }

    /// <summary>The content of an opened ticket; null when it is not one this version wrote.</summary>
    public static SessionTicketContent? Decode(byte[] input)
    {
        using var reader = new BinaryReader(new MemoryStream(input, writable: false));
        try
        {
            if (reader.ReadByte() != Version) return null;
            var issued = reader.ReadInt64();
            var suite = reader.ReadUInt16();
            var ems = reader.ReadByte();
            var secret = Exactly(reader, reader.ReadByte());
            var name = Exactly(reader, reader.ReadUInt16());
            var leaf = Exactly(reader, 32);
            var alpn = Exactly(reader, reader.ReadByte());
            if (reader.BaseStream.Position != input.Length || ems > 1 || issued < 0 || issued > DateTimeOffset.MaxValue.ToUnixTimeSeconds())
            {
                CryptographicOperations.ZeroMemory(secret);
                return null;
            }
            return new SessionTicketContent(DateTimeOffset.FromUnixTimeSeconds(issued), suite, ems == 1, secret, Encoding.ASCII.GetString(name),
                leaf, alpn.Length == 0 ? null : Encoding.ASCII.GetString(alpn));
        }
        catch (EndOfStreamException)
        {
            return null;
        }
    }

    private static byte[] Exactly(BinaryReader reader, int length) =>
        reader.ReadBytes(length) is var bytes && bytes.Length == length ? bytes : throw new EndOfStreamException();
}
