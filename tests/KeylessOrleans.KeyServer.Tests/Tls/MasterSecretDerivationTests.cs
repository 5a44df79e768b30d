using System.Buffers.Binary;
using System.Security.Cryptography;
using KeylessOrleans.Keys;
using KeylessOrleans.TestSupport;

namespace KeylessOrleans.KeyServer.Tests.Tls;

/// <summary>
/// The key server answers a TLS 1.2 RSA key exchange with the master secret (RFC 5246 §8.1; RFC 7627 with a
/// transcript) and never with the premaster; the reference is BouncyCastle's own PRF.
/// </summary>
public sealed class MasterSecretDerivationTests(KeyOperationsFixture fixture) : IClassFixture<KeyOperationsFixture>
{
    private const ushort Tls12 = 0x0303;
    private string RsaKeyId => fixture.Folder.RsaKeyId;

    private (byte[] Premaster, byte[] Ciphertext) NewPremaster()
    {
        byte[] premaster = [0x03, 0x03, .. RandomNumberGenerator.GetBytes(46)];
        return (premaster, fixture.Folder.RsaPublic.Encrypt(premaster, RSAEncryptionPadding.Pkcs1));
    }

    [Theory]
    [InlineData(TlsPrfHash.Sha256)]
    [InlineData(TlsPrfHash.Sha384)]
    public void Without_a_transcript_the_answer_is_the_master_secret_of_the_two_randoms(TlsPrfHash prf)
    {
        var (premaster, ciphertext) = NewPremaster();
        var exchange = RsaKeyExchanges.Fresh(ciphertext) with { Prf = prf };

        var result = fixture.Operations.DeriveMasterSecret(RsaKeyId, exchange);

        Assert.True(result.IsOk, result.Detail);
        Assert.Equal(IndependentPrf.MasterSecret(premaster, exchange.ClientRandom, exchange.ServerRandom, prf), result.Output);
        Assert.DoesNotContain(Convert.ToHexString(premaster[2..]), Convert.ToHexString(result.Output!));
    }

    [Theory]
    [InlineData(TlsPrfHash.Sha256)]
    [InlineData(TlsPrfHash.Sha384)]
    public void With_a_transcript_the_answer_is_the_extended_master_secret_of_its_session_hash(TlsPrfHash prf)
    {
        var (premaster, ciphertext) = NewPremaster();
        var exchange = Transcripts.Exchange(ciphertext) with { Prf = prf };

        var result = fixture.Operations.DeriveMasterSecret(RsaKeyId, exchange);

        Assert.True(result.IsOk, result.Detail);
        var sessionHash = prf == TlsPrfHash.Sha384 ? SHA384.HashData(exchange.Transcript!) : SHA256.HashData(exchange.Transcript!);
        Assert.Equal(IndependentPrf.ExtendedMasterSecret(premaster, sessionHash, prf), result.Output);
    }

    [Fact]
    public void The_same_ciphertext_under_other_randoms_gives_an_unrelated_master_secret()
    {
        var (_, ciphertext) = NewPremaster();
        var recorded = fixture.Operations.DeriveMasterSecret(RsaKeyId, RsaKeyExchanges.Fresh(ciphertext)).Output!;
        var replayed = fixture.Operations.DeriveMasterSecret(RsaKeyId, RsaKeyExchanges.Fresh(ciphertext)).Output!;
        var viaTranscript = fixture.Operations.DeriveMasterSecret(RsaKeyId, Transcripts.Exchange(ciphertext)).Output!;
        Assert.NotEqual(recorded, replayed);
        Assert.NotEqual(recorded, viaTranscript);
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void The_same_exchange_twice_gets_the_same_answer_whether_its_padding_is_good_or_bad(bool badPadding)
    {
        // Only the key holder can answer the same request twice (the access filter refuses the replay first); if it
        // did, equal answers must not tell good padding from bad (deterministic implicit rejection).
        // A random value below the modulus (leading zero byte) decrypts to garbage: bad padding.
        byte[] garbage = [0, .. RandomNumberGenerator.GetBytes(fixture.Folder.RsaPublic.KeySize / 8 - 1)];
        var ciphertext = badPadding ? garbage : NewPremaster().Ciphertext;
        var exchange = Transcripts.Exchange(ciphertext);

        var first = fixture.Operations.DeriveMasterSecret(RsaKeyId, exchange);
        var second = fixture.Operations.DeriveMasterSecret(RsaKeyId, exchange);

        Assert.True(first.IsOk, first.Detail);
        Assert.Equal(first.Output, second.Output);
    }

    public static TheoryData<string> ForgedTranscripts() =>
    [
        "server random not the request's", "client random not the request's", "client version not the request's",
        "another ciphertext in the ClientKeyExchange", "no ServerHelloDone", "truncated", "trailing message after the ClientKeyExchange",
        "ServerHello of TLS 1.1", "starts with the ServerHello", "finished inside",
    ];

    [Theory]
    [MemberData(nameof(ForgedTranscripts))]
    public void A_transcript_that_is_not_this_exchanges_is_refused_before_the_key_is_used(string forgery)
    {
        var (_, ciphertext) = NewPremaster();
        var honest = Transcripts.Exchange(ciphertext);
        var forged = forgery switch
        {
            "server random not the request's" => honest with { ServerRandom = TlsRandoms.Server() },
            "client random not the request's" => honest with { ClientRandom = TlsRandoms.Client() },
            "client version not the request's" => honest with { ClientVersion = 0x0302 },
            "another ciphertext in the ClientKeyExchange" => honest with { EncryptedPremaster = NewPremaster().Ciphertext },
            "no ServerHelloDone" => honest with { Transcript = Transcripts.Build(honest, serverHelloDone: false) },
            "truncated" => honest with { Transcript = honest.Transcript![..^1] },
            "trailing message after the ClientKeyExchange" => honest with { Transcript = [.. honest.Transcript!, .. Transcripts.Message(20, new byte[12])] },
            "ServerHello of TLS 1.1" => honest with { Transcript = Transcripts.Build(honest, serverVersion: 0x0302) },
            "starts with the ServerHello" => honest with { Transcript = honest.Transcript![Transcripts.Message(1, Transcripts.Hello(honest.ClientVersion, honest.ClientRandom)).Length..] },
            "finished inside" => honest with { Transcript = Transcripts.Build(honest, extra: Transcripts.Message(20, new byte[12])) },
            _ => throw new ArgumentOutOfRangeException(nameof(forgery)),
        };

        var result = fixture.Operations.DeriveMasterSecret(RsaKeyId, forged);

        Assert.Equal(KeyOperationStatus.InvalidRequest, result.Status);
        Assert.StartsWith("transcript refused", result.Detail);
        Assert.Null(result.Output);
    }

    [Fact]
    public void Randoms_that_are_not_32_bytes_and_unknown_prfs_are_refused()
    {
        var (_, ciphertext) = NewPremaster();
        Assert.Equal(KeyOperationStatus.InvalidRequest, fixture.Operations.DeriveMasterSecret(RsaKeyId, RsaKeyExchanges.Fresh(ciphertext) with { ClientRandom = new byte[31] }).Status);
        Assert.Equal(KeyOperationStatus.InvalidRequest, fixture.Operations.DeriveMasterSecret(RsaKeyId, RsaKeyExchanges.Fresh(ciphertext) with { Prf = (TlsPrfHash)7 }).Status);
    }
}

/// <summary>Handshake transcripts of an RSA key exchange, as an edge records them.</summary>
internal static class Transcripts
{
    public static RsaKeyExchange Exchange(byte[] ciphertext)
    {
        var exchange = RsaKeyExchanges.Fresh(ciphertext);
        return exchange with { Transcript = Build(exchange) };
    }

    public static byte[] Build(RsaKeyExchange exchange, bool serverHelloDone = true, ushort serverVersion = 0x0303, byte[]? extra = null)
    {
        var keyExchange = new byte[2 + exchange.EncryptedPremaster.Length];
        BinaryPrimitives.WriteUInt16BigEndian(keyExchange, (ushort)exchange.EncryptedPremaster.Length);
        exchange.EncryptedPremaster.CopyTo(keyExchange, 2);
        return
        [
            .. Message(1, Hello(exchange.ClientVersion, exchange.ClientRandom)),
            .. Message(2, Hello(serverVersion, exchange.ServerRandom)),
            .. Message(11, RandomNumberGenerator.GetBytes(900)),
            .. extra ?? [],
            .. serverHelloDone ? Message(14, []) : [],
            .. Message(16, keyExchange),
        ];
    }

    /// <summary>version ‖ random ‖ an empty session id ‖ TLS_RSA_WITH_AES_128_GCM_SHA256 ‖ null compression.</summary>
    public static byte[] Hello(ushort version, byte[] random) => [(byte)(version >> 8), (byte)version, .. random, 0, 0x00, 0x9C, 0];

    public static byte[] Message(byte type, byte[] body) => [type, (byte)(body.Length >> 16), (byte)(body.Length >> 8), (byte)body.Length, .. body];
}
