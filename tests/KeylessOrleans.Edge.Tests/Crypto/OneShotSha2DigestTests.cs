using System.Security.Cryptography;
using KeylessOrleans.Edge.Tls.Crypto;
using Org.BouncyCastle.Crypto;
using Org.BouncyCastle.Crypto.Digests;
using Org.BouncyCastle.Crypto.Macs;
using Org.BouncyCastle.Crypto.Parameters;
using Org.BouncyCastle.Security;
using Org.BouncyCastle.Tls;
using Org.BouncyCastle.Tls.Crypto;

namespace KeylessOrleans.Edge.Tests.Crypto;

/// <summary>
/// The edge's TLS stack hashes (transcript, HKDF, the TLS 1.2 PRF) through <see cref="OneShotSha2Digest"/>: it must
/// give BouncyCastle's own digests' answers however the input is split, copied and reset, as BouncyCastle's HMAC and
/// transcript hash use it. Real clients complete handshakes through it in the interop tests.
/// </summary>
public sealed class OneShotSha2DigestTests
{
    private readonly EdgeTlsCrypto _crypto = new(new SecureRandom());

    public static TheoryData<int> Algorithms => [CryptoHashAlgorithm.sha256, CryptoHashAlgorithm.sha384];

    private static IDigest BouncyCastles(int algorithm) => algorithm == CryptoHashAlgorithm.sha256 ? new Sha256Digest() : new Sha384Digest();

    [Fact]
    public void The_edge_hashes_sha2_with_dotnet_and_the_rest_with_bouncycastle()
    {
        Assert.IsType<OneShotSha2Digest>(_crypto.CreateDigest(CryptoHashAlgorithm.sha256));
        Assert.IsType<OneShotSha2Digest>(_crypto.CreateDigest(CryptoHashAlgorithm.sha384));
        Assert.IsType<Sha512Digest>(_crypto.CreateDigest(CryptoHashAlgorithm.sha512));
    }

    [Theory, MemberData(nameof(Algorithms))]
    public void Input_in_any_pieces_hashes_as_bouncycastle_does(int algorithm)
    {
        var random = new Random(7);
        for (var round = 0; round < 200; round++)
        {
            var input = new byte[random.Next(0, 5000)];
            random.NextBytes(input);
            var (ours, theirs) = (_crypto.CreateDigest(algorithm), BouncyCastles(algorithm));
            for (var at = 0; at < input.Length;)
            {
                var piece = Math.Min(input.Length - at, random.Next(0, 300));
                if (piece == 1) ours.Update(input[at]);
                else ours.BlockUpdate(input, at, piece);
                theirs.BlockUpdate(input, at, piece);
                at += piece;
            }
            Assert.Equal(Final(theirs), Final(ours));
            Assert.Equal(Final(BouncyCastles(algorithm)), Final(ours)); // DoFinal reset it: now the empty input's hash
        }
    }

    [Theory, MemberData(nameof(Algorithms))]
    public void A_transcript_copied_midway_goes_on_apart_from_the_original(int algorithm)
    {
        var transcript = _crypto.CreateHash(algorithm);
        var reference = BouncyCastles(algorithm);
        var first = RandomNumberGenerator.GetBytes(3000);
        transcript.Update(first, 0, first.Length);
        reference.BlockUpdate(first, 0, first.Length);

        var copy = transcript.CloneHash();
        var atCopy = Final(Clone(reference));
        var second = RandomNumberGenerator.GetBytes(700);
        transcript.Update(second, 0, second.Length);
        reference.BlockUpdate(second, 0, second.Length);

        Assert.Equal(atCopy, copy.CalculateHash());
        Assert.Equal(Final(reference), transcript.CalculateHash());
    }

    [Theory, MemberData(nameof(Algorithms))]
    public void Hmac_over_it_matches_dotnets_for_keys_shorter_and_longer_than_a_block(int algorithm)
    {
        var name = algorithm == CryptoHashAlgorithm.sha256 ? HashAlgorithmName.SHA256 : HashAlgorithmName.SHA384;
        foreach (var keyLength in new[] { 0, 32, 48, 200 })
        {
            var key = RandomNumberGenerator.GetBytes(keyLength);
            var hmac = new HMac(_crypto.CreateDigest(algorithm)); // keeps its padded-key states by IMemoable
            hmac.Init(new KeyParameter(key));
            foreach (var length in new[] { 0, 13, 64, 1000 })
            {
                var message = RandomNumberGenerator.GetBytes(length);
                hmac.BlockUpdate(message, 0, message.Length);
                var mac = new byte[hmac.GetMacSize()];
                hmac.DoFinal(mac, 0); // and resets for the next message under the same key
                Assert.Equal(CryptographicOperations.HmacData(name, key, message), mac);
            }
        }
    }

    [Fact]
    public void Hkdf_expand_of_a_tls_secret_matches_dotnets()
    {
        var prk = RandomNumberGenerator.GetBytes(32);
        var info = RandomNumberGenerator.GetBytes(40);
        var expanded = _crypto.CreateSecret(prk).HkdfExpand(CryptoHashAlgorithm.sha256, info, 80).Extract();
        Assert.Equal(HKDF.Expand(HashAlgorithmName.SHA256, prk, 80, info), expanded);
    }

    [Theory]
    [InlineData(100)]
    [InlineData(OneShotSha2Digest.StreamAbove + 1)] // hashed as it came: the copy is of the hash's state, not of kept input
    public void A_digest_reset_to_a_copy_goes_on_from_the_copy(int length)
    {
        var input = RandomNumberGenerator.GetBytes(length);
        var source = OneShotSha2Digest.Sha256();
        source.BlockUpdate(input);
        var saved = source.Copy();
        source.BlockUpdate(input); // the source moves on; the copy must not

        var target = OneShotSha2Digest.Sha256();
        target.BlockUpdate(RandomNumberGenerator.GetBytes(3000)); // whatever it held before is dropped
        target.Reset(saved);
        target.BlockUpdate(input);
        Assert.Equal(SHA256.HashData([.. input, .. input]), Final(target));
        Assert.Equal(SHA256.HashData([.. input, .. input]), Final(source));

        var fromSaved = OneShotSha2Digest.Sha256();
        fromSaved.Reset(saved); // the saved state did not move with either digest
        Assert.Equal(SHA256.HashData(input), Final(fromSaved));
    }

    [Fact]
    public void Resetting_from_a_copy_of_another_algorithm_is_refused()
    {
        var sha256 = OneShotSha2Digest.Sha256();
        Assert.Throws<ArgumentException>(() => sha256.Reset(OneShotSha2Digest.Sha384().Copy()));
    }

    private static byte[] Final(IDigest digest)
    {
        var output = new byte[digest.GetDigestSize()];
        digest.DoFinal(output, 0);
        return output;
    }

    private static IDigest Clone(IDigest digest) => digest is Sha256Digest s ? new Sha256Digest(s) : new Sha384Digest((Sha384Digest)digest);
}
