using System.Security.Cryptography;
using KeylessOrleans.Keys;

namespace KeylessOrleans.KeyServer.Tests.Access;

/// <summary>
/// What an edge proof covers is fixed: the same request gives the same signed bytes on every edge and key server
/// version that speaks this proof label. The digests pin those bytes for each request type.
/// </summary>
public sealed class EdgeProofContentTests
{
    private static readonly KeyGrainKey Target = new("acme", "primary", new string('a', 64));
    private static readonly KeyRequestContext Context = new("acme", new string('a', 64), "www.acme.test", "192.0.2.1", "edge-1");
    private static readonly byte[] Nonce = Enumerable.Range(0, 16).Select(i => (byte)i).ToArray();

    private static byte[] Bytes(int length, int seed) => Enumerable.Range(0, length).Select(i => (byte)(i * 7 + seed)).ToArray();

    public static TheoryData<string, string> Requests() => new()
    {
        { "sign_certificate_verify", "b6135d4257e7af9f0f158c52108138b735bdaf4c29a6708f275d72267b991a69" },
        { "sign_server_key_exchange", "81e70bf7ff1eab12c3c008c8fa1d9106e5e397b78d8a7896252df383fb44baf9" },
        { "derive_master_secret", "e168850f7f0856fe7006024dfc39d00a38d576e00f4b0f41d043d18056143f7b" },
        { "derive_master_secret_ems", "d6b37de493871107b51ec40c8258aa96c4325395fa353f723d042d72b56bc445" },
        { "delegate_credential", "bd5e2cfe0895702a9b7082b1a189f028756b88b10d825cdb4dc10e22196b9124" },
        { "prove_possession", "ddd89fb9ca30e7b5612489dbaadab02837ae506ea42b6916c8f9f45f455cc6d6" },
    };

    private static KeyRequest Request(string name) => name switch
    {
        "sign_certificate_verify" => new SignCertificateVerifyRequest(Context, SignatureScheme.EcdsaSecp256r1Sha256, Bytes(130, 1)),
        "sign_server_key_exchange" => new SignServerKeyExchangeRequest(Context, SignatureScheme.RsaPkcs1Sha256, Bytes(133, 2)),
        "derive_master_secret" => new DeriveMasterSecretRequest(Context, new RsaKeyExchange(Bytes(256, 3), 0x0303, Bytes(32, 4), Bytes(32, 5), TlsPrfHash.Sha256)),
        "derive_master_secret_ems" => new DeriveMasterSecretRequest(Context, new RsaKeyExchange(Bytes(256, 3), 0x0303, Bytes(32, 4), Bytes(32, 5), TlsPrfHash.Sha384, Bytes(900, 6))),
        "delegate_credential" => new DelegateCredentialRequest(Context, Bytes(32, 7), SignatureScheme.EcdsaSecp256r1Sha256, SignatureScheme.Ed25519, Bytes(44, 8), 3600,
            PossessionTime: 1_700_000_000_000, PossessionSignature: Bytes(64, 9)),
        "prove_possession" => new ProvePossessionRequest(Context, SignatureScheme.RsaPssRsaeSha256, Bytes(32, 10)),
        _ => throw new ArgumentOutOfRangeException(nameof(name)),
    };

    [Theory]
    [MemberData(nameof(Requests))]
    public void An_edge_proof_covers_the_same_bytes_for_each_request_type(string name, string expectedSha256)
    {
        var content = EdgeProofContent.Build(Target, Request(name), 1_700_000_000_123, Nonce);
        Assert.Equal(expectedSha256, Convert.ToHexStringLower(SHA256.HashData(content)));
    }
}
