using System.Diagnostics.CodeAnalysis;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using KeylessOrleans.KeyServer.Audit;
using KeylessOrleans.KeyServer.KeyStore;
using KeylessOrleans.KeyServer.Tls;
using KeylessOrleans.Keys;
using KeylessOrleans.TestSupport;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Primitives;

namespace KeylessOrleans.Cluster.Tests;

/// <summary>
/// Key grains called directly, as an edge's handshake would: the tenant's key server writes one audit record per
/// operation — refusals and failures included, key descriptions not — and nothing a key or a session could be
/// recovered from.
/// </summary>
public sealed class AuditLogTests : IAsyncLifetime
{
    private const string Edge = "edge-fra-1";
    private readonly TestCertificateAuthority _authority = new();
    private readonly TempDirectory _auditFolder = new("keyless-audit");
    private TenantKeyFolder _keys = null!;
    private KeylessTestCluster _cluster = null!;

    private string AuditLogPath => Path.Combine(_auditFolder.Path, "acme.log");

    public async Task InitializeAsync()
    {
        _keys = new TenantKeyFolder(_authority, ["www.acme.test"]);
        _cluster = await KeylessTestCluster.StartAsync(new SiloPlan.Edge(), new SiloPlan.OnPrem("acme", "primary", _keys.Path) { AuditLogPath = AuditLogPath });
    }

    private IKeyGrain Key(string keyId) => _cluster.Grains.GetGrain<IKeyGrain>(new KeyGrainKey("acme", "primary", keyId).ToString());

    private static KeyRequestContext Context(string keyId, string client, string sni) => new("acme", keyId, sni, client, Edge);

    private sealed record Call(string Operation, string KeyId, string Client, string Sni, byte[] Input, KeyOperationResult Result);

    /// <summary>The key operations' records, without the chain's own lines (chain_start, checkpoints).</summary>
    private static List<JsonElement> OperationRecords(string path) =>
        [.. File.ReadAllLines(path).Select(line => JsonDocument.Parse(line).RootElement)
            .Where(r => r.GetProperty("op").GetString() is not (AuditChain.CheckpointOperation or AuditChain.ChainStartOperation))];

    [Fact]
    public async Task Each_key_operation_leaves_one_record_with_its_context_and_no_secret()
    {
        // Fresh content for each call: the key server serves a CertificateVerify content once.
        byte[] Content() => CertificateVerifyContent.Build(RandomNumberGenerator.GetBytes(32));
        using var ecdh = ECDiffieHellman.Create(ECCurve.NamedCurves.nistP256);
        var q = ecdh.ExportParameters(false).Q;
        var ske = ServerKeyExchangeParams.Build(TlsRandoms.Client(), TlsRandoms.Server(),
            ServerKeyExchangeParams.Secp256r1, [0x04, .. q.X!, .. q.Y!]);
        var premaster = (byte[])[0x03, 0x03, .. RandomNumberGenerator.GetBytes(46)];
        var ciphertext = _keys.RsaPublic.Encrypt(premaster, RSAEncryptionPadding.Pkcs1);
        var garbage = RandomNumberGenerator.GetBytes(256);
        var rsa = _keys.RsaKeyId;
        var ec = _keys.EcdsaKeyId;

        var calls = new List<Call>();
        async Task Run(string operation, string keyId, byte[] input, Func<KeyRequestContext, Task<KeyOperationResult>> call, string sni = "www.acme.test")
        {
            var client = $"198.51.100.{calls.Count + 1}";
            calls.Add(new Call(operation, keyId, client, sni, input, await call(Context(keyId, client, sni))));
        }
        var (cv1, cv2, cv3, cv4, cv5) = (Content(), Content(), Content(), Content(), Content());
        await Run("sign_certificate_verify", rsa, cv1, c => Key(rsa).PerformAsync(new SignCertificateVerifyRequest(c, SignatureScheme.RsaPssRsaeSha256, cv1)));
        await Run("sign_certificate_verify", ec, cv2, c => Key(ec).PerformAsync(new SignCertificateVerifyRequest(c, SignatureScheme.EcdsaSecp256r1Sha256, cv2)));
        await Run("sign_server_key_exchange", ec, ske, c => Key(ec).PerformAsync(new SignServerKeyExchangeRequest(c, SignatureScheme.EcdsaSecp256r1Sha256, ske)));
        var (exchange, garbageExchange) = (RsaKeyExchanges.Fresh(ciphertext), RsaKeyExchanges.Fresh(garbage));
        await Run("derive_master_secret", rsa, exchange.Input(), c => Key(rsa).PerformAsync(new DeriveMasterSecretRequest(c, exchange)));
        await Run("derive_master_secret", rsa, garbageExchange.Input(), c => Key(rsa).PerformAsync(new DeriveMasterSecretRequest(c, garbageExchange)));
        // Refused: PKCS#1 v1.5 in TLS 1.3, and a request naming another key than the grain it reached (by the key grain);
        // a host name the key's certificate does not cover (by the access filter, before the grain).
        await Run("sign_certificate_verify", rsa, cv3, c => Key(rsa).PerformAsync(new SignCertificateVerifyRequest(c, SignatureScheme.RsaPkcs1Sha256, cv3)));
        await Run("sign_certificate_verify", ec, cv4, c => Key(rsa).PerformAsync(new SignCertificateVerifyRequest(c, SignatureScheme.EcdsaSecp256r1Sha256, cv4)));
        await Run("sign_certificate_verify", rsa, cv5, c => Key(rsa).PerformAsync(new SignCertificateVerifyRequest(c, SignatureScheme.RsaPssRsaeSha256, cv5)), sni: "www.globex.test");
        await Key(rsa).DescribeAsync(); // public information only: no key operation, no record

        Assert.Equal([KeyOperationStatus.Ok, KeyOperationStatus.Ok, KeyOperationStatus.Ok, KeyOperationStatus.Ok, KeyOperationStatus.Ok,
            KeyOperationStatus.InvalidRequest, KeyOperationStatus.InvalidRequest, KeyOperationStatus.Unauthorized], calls.Select(c => c.Result.Status));
        // Every answer came after its record was fsynced, and Describe leaves none: the file holds exactly these.
        var records = OperationRecords(AuditLogPath);
        Assert.Equal(calls.Count, records.Count);
        foreach (var (call, record) in calls.Zip(records))
        {
            Assert.Equal(call.Operation, record.GetProperty("op").GetString());
            Assert.Equal(call.KeyId, record.GetProperty("k").GetString());
            Assert.Equal(call.Client, record.GetProperty("c").GetString());
            Assert.Equal(call.Result.Status.ToString(), record.GetProperty("r").GetString());
            Assert.Equal(System.Buffers.Text.Base64Url.EncodeToString(SHA256.HashData(call.Input)), record.GetProperty("in").GetString());
            Assert.Equal("acme", record.GetProperty("tn").GetString());
            Assert.False(record.TryGetProperty("replica", out _)); // the chain's own lines name it
            Assert.Equal(Edge, record.GetProperty("e").GetString());
            Assert.Equal(call.Sni, record.GetProperty("sni").GetString());
        }
        Assert.Equal(Enumerable.Range(3, calls.Count).Select(i => (long)i), records.Select(r => r.GetProperty("n").GetInt64())); // after chain_start and its checkpoint
        Assert.True(AuditLogVerifier.VerifyFile(AuditLogPath, AuditKey.Read(AuditLogPath + ".key")).IsIntact);

        var file = File.ReadAllBytes(AuditLogPath);
        var outputs = calls.Select(c => c.Result.Output).OfType<byte[]>().Append(premaster).ToList();
        Assert.Equal(6, outputs.Count);
        foreach (var secret in outputs.Concat(_keys.AllKeys.SelectMany(k => (IEnumerable<byte[]>)[.. k.Secrets, k.Pkcs8, k.PemDer])))
            foreach (var form in Forms(secret))
                Assert.False(file.AsSpan().IndexOf(form) >= 0, "an operation's output or key material is in the audit log");
    }

    [Fact]
    public async Task An_operation_that_throws_is_recorded_as_a_failure_and_the_edge_gets_a_typed_error()
    {
        using var folder = new TempDirectory("keyless-audit-faulty");
        var log = Path.Combine(folder.Path, "faulty.log");
        var plan = new SiloPlan.OnPrem("globex", "primary", _keys.Path)
        {
            AuditLogPath = log,
            Services = services => services.AddSingleton<IKeyStore>(new FaultyKeyStore(new PemKeyStore(_keys.Path, NullLogger<PemKeyStore>.Instance))),
        };
        var cluster = await KeylessTestCluster.StartAsync(new SiloPlan.Edge(), plan);
        KeyOperationResult result;
        var content = CertificateVerifyContent.Build(RandomNumberGenerator.GetBytes(32));
        try
        {
            var key = cluster.Grains.GetGrain<IKeyGrain>(new KeyGrainKey("globex", "primary", _keys.EcdsaKeyId).ToString());
            result = await key.PerformAsync(new SignCertificateVerifyRequest(new KeyRequestContext("globex", _keys.EcdsaKeyId, "www.acme.test", "198.51.100.9", Edge),
                SignatureScheme.EcdsaSecp256r1Sha256, content));
        }
        finally
        {
            await cluster.DisposeAsync();
        }

        Assert.Equal(KeyOperationStatus.CryptoFailed, result.Status);
        Assert.Null(result.Output);
        var record = Assert.Single(OperationRecords(log));
        Assert.Equal("sign_certificate_verify", record.GetProperty("op").GetString());
        Assert.Equal("CryptoFailed", record.GetProperty("r").GetString());
        Assert.Equal("threw System.InvalidOperationException", record.GetProperty("d").GetString());
        Assert.Equal(System.Buffers.Text.Base64Url.EncodeToString(SHA256.HashData(content)), record.GetProperty("in").GetString());
    }

    /// <summary>A key store whose keys throw what no key operation expects (a driver bug, an HSM gone mad).</summary>
    private sealed class FaultyKeyStore(IKeyStore inner) : IKeyStore
    {
        public bool TryGetKey(string keyId, [NotNullWhen(true)] out IPrivateKey? key)
        {
            key = inner.TryGetKey(keyId, out var real) ? new FaultyKey(real) : null;
            return key is not null;
        }

        public IReadOnlyCollection<IPrivateKey> Keys => inner.Keys;

        public IReadOnlyList<CertificateChain> Chains => inner.Chains;

        public IEnumerable<CertificateChain> ChainsOf(string keyId) => inner.ChainsOf(keyId);

        public IChangeToken GetReloadToken() => inner.GetReloadToken();
    }

    private sealed class FaultyKey(IPrivateKey inner) : IPrivateKey
    {
        public string KeyId => inner.KeyId;

        public KeyAlgorithm Algorithm => inner.Algorithm;

        public int KeySizeBits => inner.KeySizeBits;

        public byte[] SubjectPublicKeyInfo => inner.SubjectPublicKeyInfo;

        public byte[] Sign(SignatureScheme scheme, ReadOnlySpan<byte> data) => throw new InvalidOperationException("simulated key store fault");

        public byte[] DecryptPremaster(ReadOnlySpan<byte> ciphertext, ushort clientVersion) => throw new InvalidOperationException("simulated key store fault");

        public void Dispose() { }
    }

    /// <summary>A secret as raw bytes, hex (both cases) and base64, cut to 16 bytes of it so a partial copy counts too.</summary>
    private static IEnumerable<byte[]> Forms(byte[] secret)
    {
        var piece = secret.Length > 16 ? secret[..16] : secret;
        yield return piece;
        yield return Encoding.ASCII.GetBytes(Convert.ToHexStringLower(piece));
        yield return Encoding.ASCII.GetBytes(Convert.ToHexString(piece));
        yield return Encoding.ASCII.GetBytes(Convert.ToBase64String(secret)[..20]);
    }

    public async Task DisposeAsync()
    {
        await _cluster.DisposeAsync();
        _keys.Dispose();
        _authority.Dispose();
        _auditFolder.Dispose();
    }
}
