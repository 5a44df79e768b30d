namespace KeylessOrleans.Keys;

/// <summary>The kind of private key a key server holds.</summary>
public enum KeyAlgorithm
{
    Rsa = 1,
    EcdsaP256 = 2,
    EcdsaP384 = 3,
    Ed25519 = 4,
}
