using KeylessOrleans.Keys;

namespace KeylessOrleans.Registry;

/// <summary>A public certificate chain whose private key a replica holds. Never carries key material.</summary>
/// <param name="ChainDer">DER certificates, end-entity first.</param>
/// <param name="HostNames">DNS names from the end-entity certificate's SANs (may contain "*.example.com").</param>
[GenerateSerializer, Immutable, Alias("keyless.CertificateChainRegistration")]
public sealed record CertificateChainRegistration(
    [property: Id(0)] string KeyId,
    [property: Id(1)] KeyAlgorithm Algorithm,
    [property: Id(2)] IReadOnlyList<byte[]> ChainDer,
    [property: Id(3)] IReadOnlyList<string> HostNames,
    [property: Id(4)] DateTimeOffset NotAfter);

/// <summary>What one on-prem replica announces at start: who it is and which chains it can sign for.</summary>
[GenerateSerializer, Immutable, Alias("keyless.ReplicaRegistration")]
public sealed record ReplicaRegistration(
    [property: Id(0)] string Tenant,
    [property: Id(1)] string Replica,
    [property: Id(2)] IReadOnlyList<CertificateChainRegistration> Chains);
