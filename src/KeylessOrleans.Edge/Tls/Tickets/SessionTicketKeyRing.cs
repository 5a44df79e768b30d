using System.Security.Cryptography;
using KeylessOrleans.Edge.Hosting;
using Microsoft.Extensions.Options;

namespace KeylessOrleans.Edge.Tls.Tickets;

/// <summary>
/// This edge's copy of the fleet's ticket keys: seals a ticket's content with the newest key (AES-256-GCM, the key's
/// name as associated data) and opens tickets sealed with any key still held. A ticket is
/// name (16) ‖ nonce (12) ‖ ciphertext ‖ tag (16); anything else, or anything that fails authentication, opens to null.
/// </summary>
/// <remarks>
/// A new key seals only once it is one refresh interval old: by then every edge has fetched it, so a ticket sealed
/// here opens on any edge. Until then the previous key seals.
/// </remarks>
internal sealed class SessionTicketKeyRing(IOptions<EdgeOptions> options, TimeProvider time)
{
    private const int NameLength = 16;
    private const int NonceLength = 12;
    private const int TagLength = 16;

    private volatile SessionTicketKeySet? _keys;

    /// <summary>Whether tickets can be issued: the keys have been fetched at least once.</summary>
    public bool HasKeys => _keys is { Keys.Count: > 0 };

    public void Use(SessionTicketKeySet keys) => _keys = keys;

    /// <summary>How long a ticket may be redeemed, and the lifetime hint sent with it.</summary>
    public TimeSpan Lifetime => options.Value.Resumption.Lifetime;

    /// <summary>A sealed ticket for the session, stamped now; null until the keys are known.</summary>
    public byte[]? Issue(SessionTicketContent session)
    {
        var content = (session with { Issued = time.GetUtcNow() }).Encode();
        try
        {
            return Seal(content);
        }
        finally
        {
            CryptographicOperations.ZeroMemory(content);
        }
    }

    /// <summary>The session in a ticket this fleet sealed and that has not expired; null for anything else.</summary>
    public SessionTicketContent? Redeem(ReadOnlySpan<byte> ticket)
    {
        if (Open(ticket) is not { } content) return null;
        try
        {
            if (SessionTicketContent.Decode(content) is not { } session) return null;
            var age = time.GetUtcNow() - session.Issued;
            if (age < TimeSpan.FromMinutes(-1) || age > Lifetime)
            {
                CryptographicOperations.ZeroMemory(session.MasterSecret);
                return null;
            }
            return session;
        }
        finally
        {
            CryptographicOperations.ZeroMemory(content);
        }
    }

    private byte[]? Seal(ReadOnlySpan<byte> content)
    {
        if (_keys is not { Keys: [.., var oldest] } keys) return null;
        var now = time.GetUtcNow();
        var sealing = keys.Keys.FirstOrDefault(k => now - k.Created >= options.Value.Resumption.TicketKeyRefresh) ?? oldest;
        var ticket = new byte[NameLength + NonceLength + content.Length + TagLength];
        sealing.Name.CopyTo(ticket, 0);
        var nonce = ticket.AsSpan(NameLength, NonceLength);
        RandomNumberGenerator.Fill(nonce);
        using var aes = new AesGcm(sealing.Secret, TagLength);
        aes.Encrypt(nonce, content, ticket.AsSpan(NameLength + NonceLength, content.Length), ticket.AsSpan(ticket.Length - TagLength), sealing.Name);
        return ticket;
    }

    private byte[]? Open(ReadOnlySpan<byte> ticket)
    {
        if (ticket.Length <= NameLength + NonceLength + TagLength || _keys is not { } keys) return null;
        var name = ticket[..NameLength];
        foreach (var key in keys.Keys)
        {
            if (!CryptographicOperations.FixedTimeEquals(key.Name, name)) continue;
            var sealedLength = ticket.Length - NameLength - NonceLength - TagLength;
            var content = new byte[sealedLength];
            using var aes = new AesGcm(key.Secret, TagLength);
            try
            {
                aes.Decrypt(ticket.Slice(NameLength, NonceLength), ticket.Slice(NameLength + NonceLength, sealedLength), ticket[^TagLength..], content, key.Name);
                return content;
            }
            catch (AuthenticationTagMismatchException)
            {
                CryptographicOperations.ZeroMemory(content);
                return null;
            }
        }
        return null; // a key this edge no longer (or never) held: the client gets a full handshake
    }
}
