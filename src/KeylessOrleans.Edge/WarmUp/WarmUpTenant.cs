using System.Net;
using System.Net.Sockets;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using KeylessOrleans.Cluster.Registry;
using KeylessOrleans.Edge.Handshake;
using KeylessOrleans.Edge.Tls;
using KeylessOrleans.Keys;
using KeylessOrleans.Registry;
using Org.BouncyCastle.Crypto.Parameters;
using Org.BouncyCastle.Crypto.Tls;
using Org.BouncyCastle.Security;
using Org.BouncyCastle.Tls.Crypto;
using CertificateRequest = System.Security.Cryptography.X509Certificates.CertificateRequest;
using ExporterLabel = Org.BouncyCastle.Tls.ExporterLabel;
using PrfAlgorithm = Org.BouncyCastle.Tls.PrfAlgorithm;

namespace KeylessOrleans.Edge.WarmUp;

/// <summary>
/// The warm-up's own tenant, made in memory and thrown away with it: an ECDSA P-256 and an RSA-2048 key with
/// self-signed certificates, one host name each (so a client picks the key by SNI), a registry that knows only this
/// tenant, and an origin on loopback. Its key operations are done here, in memory: the key never exists outside this
/// object and opens nothing but the warm-up's own connections. No name of it is reachable through the edge's
/// listener: only the warm-up's <see cref="TlsServerContext"/> routes it.
/// </summary>
internal sealed class WarmUpTenant : IAsyncDisposable
{
    public const string Name = "keyless-warm-up";
    public const string EcdsaHost = "ecdsa.warm-up.keyless.invalid";
    public const string RsaHost = "rsa.warm-up.keyless.invalid";

    private readonly ECDsa _ecdsa = ECDsa.Create(ECCurve.NamedCurves.nistP256);
    private readonly RSA _rsa = RSA.Create(2048);
    private readonly Socket _origin = new(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
    private readonly CancellationTokenSource _stop = new();
    private readonly Task _originLoop;

    public WarmUpTenant(TlsCrypto crypto)
    {
        _origin.Bind(new IPEndPoint(IPAddress.Loopback, 0));
        _origin.Listen(64);
        _originLoop = ServeOriginAsync();
        var notAfter = DateTimeOffset.UtcNow.AddDays(1);
        var ecdsaCertificate = SelfSigned(new CertificateRequest($"CN={EcdsaHost}", _ecdsa, HashAlgorithmName.SHA256), EcdsaHost, notAfter);
        var rsaCertificate = SelfSigned(new CertificateRequest($"CN={RsaHost}", _rsa, HashAlgorithmName.SHA256, RSASignaturePadding.Pkcs1), RsaHost, notAfter);
        Certificates = [ecdsaCertificate, rsaCertificate];
        var ecdsaKeyId = KeyIds.FromSubjectPublicKeyInfo(_ecdsa.ExportSubjectPublicKeyInfo());
        var rsaKeyId = KeyIds.FromSubjectPublicKeyInfo(_rsa.ExportSubjectPublicKeyInfo());
        Settings = new TenantSettings(Name, [EcdsaHost, RsaHost], new OriginEndpoint("127.0.0.1", ((IPEndPoint)_origin.LocalEndPoint!).Port));
        Record = new TenantRecord(Settings,
        [
            new ReplicaRegistration(Name, "warm-up",
            [
                new CertificateChainRegistration(ecdsaKeyId, KeyAlgorithm.EcdsaP256, [ecdsaCertificate], [EcdsaHost], notAfter),
                new CertificateChainRegistration(rsaKeyId, KeyAlgorithm.Rsa, [rsaCertificate], [RsaHost], notAfter),
            ]),
        ], Version: 1);
        Keys = new InMemoryKeys(crypto, _ecdsa, ecdsaKeyId, _rsa, rsaKeyId);
    }

    /// <summary>The two certificates (DER): the only ones the warm-up's clients accept.</summary>
    public IReadOnlyList<byte[]> Certificates { get; }

    public TenantSettings Settings { get; }

    public TenantRecord Record { get; }

    /// <summary>The registry of the warm-up's route table: this tenant, its two names, nothing else.</summary>
    public IRegistrySource Registry => new OneTenantRegistry(this);

    /// <summary>Key operations with the warm-up's keys, done in memory.</summary>
    public IKeyOperationGateway Keys { get; }

    private static byte[] SelfSigned(CertificateRequest request, string host, DateTimeOffset notAfter)
    {
        var names = new SubjectAlternativeNameBuilder();
        names.AddDnsName(host);
        request.CertificateExtensions.Add(names.Build());
        using var certificate = request.CreateSelfSigned(DateTimeOffset.UtcNow.AddMinutes(-5), notAfter);
        return certificate.RawData;
    }

    /// <summary>Answers each request with a short response and closes, as a small origin would.</summary>
    private async Task ServeOriginAsync()
    {
        while (!_stop.IsCancellationRequested)
        {
            Socket client;
            try
            {
                client = await _origin.AcceptAsync(_stop.Token);
            }
            catch (Exception e) when (e is OperationCanceledException or SocketException or ObjectDisposedException)
            {
                if (_stop.IsCancellationRequested) return;
                continue;
            }
            _ = AnswerAsync(client);
        }
    }

    private async Task AnswerAsync(Socket client)
    {
        using (client)
        {
            try
            {
                var buffer = new byte[1024];
                if (await client.ReceiveAsync(buffer, SocketFlags.None, _stop.Token) == 0) return;
                await client.SendAsync("HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: close\r\n\r\nok"u8.ToArray(), SocketFlags.None, _stop.Token);
                client.Shutdown(SocketShutdown.Send);
            }
            catch (Exception e) when (e is OperationCanceledException or SocketException or ObjectDisposedException)
            {
                // The connection went first: nothing to answer.
            }
        }
    }

    public async ValueTask DisposeAsync()
    {
        await _stop.CancelAsync();
        _origin.Dispose();
        await _originLoop;
        _stop.Dispose();
        _ecdsa.Dispose();
        _rsa.Dispose();
    }

    private sealed class OneTenantRegistry(WarmUpTenant tenant) : IRegistrySource
    {
        public Task<TenantRecord?> TenantAsync(string name) => Task.FromResult(name == Name ? tenant.Record : null);

        public Task<string?> HostNameHolderAsync(string name) =>
            Task.FromResult(name is EcdsaHost or RsaHost ? Name : null);
    }

    /// <summary>What a key server does for the warm-up's keys (sign, or decrypt a premaster and derive the master secret), in memory.</summary>
    private sealed class InMemoryKeys(TlsCrypto crypto, ECDsa ecdsa, string ecdsaKeyId, RSA rsa, string rsaKeyId) : IKeyOperationGateway
    {
        public KeyOperationResult Perform(KeyCall call, KeyRequest request)
        {
            try
            {
                return request switch
                {
                    SignCertificateVerifyRequest r => Sign(r.Context.KeyId, r.Scheme, r.SignedContent),
                    SignServerKeyExchangeRequest r => Sign(r.Context.KeyId, r.Scheme, r.SignedParams),
                    DeriveMasterSecretRequest r when r.Context.KeyId == rsaKeyId => DeriveMasterSecret(r.Exchange),
                    _ => KeyOperationResult.Failure(KeyOperationStatus.InvalidRequest, $"the warm-up does not perform {request.Operation} with key {request.Context.KeyId}"),
                };
            }
            catch (CryptographicException e)
            {
                return KeyOperationResult.Failure(KeyOperationStatus.CryptoFailed, $"warm-up key: {e.Message}");
            }
        }

        /// <summary>The warm-up serves no delegated credentials.</summary>
        public Task<KeyOperationResult> PerformAsync(KeyCall call, KeyRequest request) =>
            Task.FromResult(KeyOperationResult.Failure(KeyOperationStatus.Unauthorized, "the warm-up does not delegate"));

        private KeyOperationResult Sign(string keyId, SignatureScheme scheme, byte[] content)
        {
            var hash = TlsHashes.Of(scheme);
            if (keyId == ecdsaKeyId && scheme == SignatureScheme.EcdsaSecp256r1Sha256)
                return KeyOperationResult.Success(ecdsa.SignData(content, hash, DSASignatureFormat.Rfc3279DerSequence));
            if (keyId == rsaKeyId && scheme is SignatureScheme.RsaPssRsaeSha256 or SignatureScheme.RsaPssRsaeSha384 or SignatureScheme.RsaPssRsaeSha512
                    or SignatureScheme.RsaPkcs1Sha256 or SignatureScheme.RsaPkcs1Sha384 or SignatureScheme.RsaPkcs1Sha512)
                return KeyOperationResult.Success(rsa.SignData(content, hash, TlsHashes.IsPss(scheme) ? RSASignaturePadding.Pss : RSASignaturePadding.Pkcs1));
            return KeyOperationResult.Failure(KeyOperationStatus.InvalidRequest, $"the warm-up's key {keyId} does not sign with {scheme}");
        }

        private readonly RsaKeyParameters _rsaPrivate = (RsaKeyParameters)DotNetUtilities.GetRsaKeyPair(rsa).Private;

        /// <summary>
        /// RFC 5246 §8.1 (RFC 7627 with the transcript): the PRF is BouncyCastle's, as in the edge's own TLS 1.2. The
        /// premaster comes from BouncyCastle's TLS decryption, which answers a bad ciphertext with a random premaster
        /// in constant time instead of an error (RFC 5246 §7.4.7.1), so even this throwaway key is no padding oracle.
        /// </summary>
        private KeyOperationResult DeriveMasterSecret(RsaKeyExchange exchange)
        {
            var encrypted = exchange.EncryptedPremaster;
            var premaster = TlsRsaKeyExchange.DecryptPreMasterSecret(encrypted, 0, encrypted.Length, _rsaPrivate, exchange.ClientVersion, crypto.SecureRandom);
            try
            {
                var (label, seed) = exchange.Transcript is { } transcript
                    ? (ExporterLabel.extended_master_secret, CryptographicOperations.HashData(TlsHashes.Of(exchange.Prf), transcript))
                    : (ExporterLabel.master_secret, [.. exchange.ClientRandom, .. exchange.ServerRandom]);
                var master = crypto.CreateSecret(premaster)
                    .DeriveUsingPrf(exchange.Prf == TlsPrfHash.Sha384 ? PrfAlgorithm.tls_prf_sha384 : PrfAlgorithm.tls_prf_sha256, label, seed, 48);
                return KeyOperationResult.Success(master.Extract());
            }
            finally
            {
                CryptographicOperations.ZeroMemory(premaster);
            }
        }
    }
}
