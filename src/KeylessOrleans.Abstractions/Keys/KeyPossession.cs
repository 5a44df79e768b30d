using System.Security.Cryptography;
using System.Text;

namespace KeylessOrleans.Keys;

/// <summary>
/// Prove to an edge that this replica holds a certificate's private key: sign a fresh challenge of the edge's.
/// The key server builds the signed content itself (<see cref="KeyPossession.SignedContent"/>), so the operation
/// cannot be turned into a signing oracle.
/// </summary>
/// <param name="Challenge">32 random bytes chosen by the edge.</param>
[GenerateSerializer, Immutable, Alias("keyless.ProvePossessionRequest")]
public sealed record ProvePossessionRequest(
    KeyRequestContext Context,
    [property: Id(0)] SignatureScheme Scheme,
    [property: Id(1)] byte[] Challenge,
    EdgeProof? Proof = null) : KeyRequest(Context, Proof)
{
    public const string OperationName = "prove_possession";

    public override string Operation => OperationName;

    public override byte[] Input() => Challenge;

    protected override ushort InputParameter => (ushort)Scheme;
}

/// <summary>What a possession proof signs, in the manner of RFC 8446 §4.4.3 with a context string of its own.</summary>
public static class KeyPossession
{
    public const int ChallengeLength = 32;

    /// <summary>
    /// 64 × 0x20 ‖ "KeylessOrleans, key possession proof" ‖ 0x00 ‖ SHA-256("tenant/replica/keyId") ‖ challenge.
    /// The context string differs from TLS 1.3's CertificateVerify and delegated-credential strings, and byte 64 ('K')
    /// is no valid TLS 1.2 ServerKeyExchange curve type (and, as a ServerDHParams length, longer than the whole
    /// content), so a proof can never pass for a TLS signature.
    /// </summary>
    public static byte[] SignedContent(KeyGrainKey target, ReadOnlySpan<byte> challenge)
    {
        if (challenge.Length != ChallengeLength) throw new ArgumentException($"a challenge is {ChallengeLength} bytes", nameof(challenge));
        var context = Encoding.ASCII.GetBytes("KeylessOrleans, key possession proof");
        var binding = SHA256.HashData(Encoding.UTF8.GetBytes(target.ToString()));
        var content = new byte[64 + context.Length + 1 + binding.Length + challenge.Length];
        content.AsSpan(0, 64).Fill(0x20);
        context.CopyTo(content, 64);
        binding.CopyTo(content, 64 + context.Length + 1);
        challenge.CopyTo(content.AsSpan(64 + context.Length + 1 + binding.Length));
        return content;
    }
}
