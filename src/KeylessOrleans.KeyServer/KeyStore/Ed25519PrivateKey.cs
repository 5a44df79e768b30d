using KeylessOrleans.Keys;
using Org.BouncyCastle.Crypto.Parameters;
using Org.BouncyCastle.Crypto.Signers;
using Org.BouncyCastle.X509;

namespace KeylessOrleans.KeyServer.KeyStore;

/// <summary>An Ed25519 key. .NET has no Ed25519, so BouncyCastle holds and uses it.</summary>
internal sealed class Ed25519PrivateKey : IPrivateKey
{
    private readonly Ed25519PrivateKeyParameters _key;

    public Ed25519PrivateKey(Ed25519PrivateKeyParameters key)
    {
        _key = key;
        SubjectPublicKeyInfo = SubjectPublicKeyInfoFactory.CreateSubjectPublicKeyInfo(key.GeneratePublicKey()).GetDerEncoded();
        KeyId = KeyIds.FromSubjectPublicKeyInfo(SubjectPublicKeyInfo);
    }

    public string KeyId { get; }
    public KeyAlgorithm Algorithm => KeyAlgorithm.Ed25519;
    public int KeySizeBits => 256;
    public byte[] SubjectPublicKeyInfo { get; }

    public byte[] Sign(SignatureScheme scheme, ReadOnlySpan<byte> data)
    {
        var signer = new Ed25519Signer();
        signer.Init(true, _key);
        signer.BlockUpdate(data);
        return signer.GenerateSignature();
    }

    public byte[] DecryptPremaster(ReadOnlySpan<byte> ciphertext, ushort clientVersion) =>
        throw new NotSupportedException("Ed25519 keys cannot decrypt.");

    public void Dispose() { }
}
