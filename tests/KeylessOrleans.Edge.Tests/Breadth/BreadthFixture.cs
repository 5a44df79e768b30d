using System.Security.Cryptography;
using KeylessOrleans.TestSupport;

namespace KeylessOrleans.Edge.Tests.Breadth;

/// <summary>
/// The edge of <see cref="EdgeFixture"/> with more of the key types and protocol features a TLS operator expects:
/// tenant acme also holds ECDSA P-384, Ed25519, RSA-3072 and RSA-4096 keys, each for its own exact host name (an
/// exact certificate wins over the *.acme.test wildcard, so a name reaches exactly one key). The certificates of
/// <see cref="OcspHost"/> and <see cref="RevokedHost"/> name a real OCSP responder (openssl ocsp) that answers
/// "good" for the first and "revoked" for the second. <see cref="DelegationHost"/>'s ECDSA P-256 certificate
/// carries DelegationUsage, so the edge can serve it with delegated credentials (<see cref="SecondDelegationHost"/>'s
/// too, for a test that revokes delegation before its first credential).
/// </summary>
public class BreadthFixture : EdgeFixture
{
    public const string OcspHost = "ocsp.acme.test";
    public const string DelegationHost = "dc.acme.test";
    public const string SecondDelegationHost = "dc2.acme.test";

    /// <summary>Two names of one certificate with DelegationUsage (as many names of a wildcard would be).</summary>
    public static readonly string[] SharedDelegationHosts = ["dc-a.acme.test", "dc-b.acme.test"];
    public const string RevokedHost = "revoked.acme.test";

    /// <summary>A DelegationUsage certificate that also names the OCSP responder: credential and staple in one entry.</summary>
    public const string DelegationOcspHost = "dc-ocsp.acme.test";

    public const string P384Host = "p384.acme.test";
    public const string Ed25519Host = "ed25519.acme.test";
    public const string Rsa3072Host = "rsa3072.acme.test";
    public const string Rsa4096Host = "rsa4096.acme.test";

    protected override async Task PrepareKeysAsync(TenantKeyFolder keys)
    {
        await base.PrepareKeysAsync(keys);
        keys.Add("p384.pem", TestKeys.Ecdsa(ECCurve.NamedCurves.nistP384).Key, Authority, LeafExtras.None, P384Host);
        keys.Add("ed25519-only.pem", TestKeys.Ed25519().Key, Authority, LeafExtras.None, Ed25519Host);
        keys.Add("rsa3072.pem", TestKeys.Rsa(3072).Key, Authority, LeafExtras.None, Rsa3072Host);
        keys.Add("rsa4096.pem", TestKeys.Rsa(4096).Key, Authority, LeafExtras.None, Rsa4096Host);

        DelegationCertificate = keys.Add("dc.pem", DelegationKey, Authority, new LeafExtras(DelegationUsage: true), DelegationHost);
        keys.Add("dc2.pem", TestKeys.Ecdsa(ECCurve.NamedCurves.nistP256).Key, Authority, new LeafExtras(DelegationUsage: true), SecondDelegationHost);
        keys.Add("dc-shared.pem", TestKeys.Ecdsa(ECCurve.NamedCurves.nistP256).Key, Authority, new LeafExtras(DelegationUsage: true), SharedDelegationHosts);

        Ocsp = new OcspResponderProcess(Authority);
        var withResponder = new LeafExtras(OcspResponder: Ocsp.Url);
        Ocsp.Add(keys.Add("ocsp.pem", TestKeys.Ecdsa(ECCurve.NamedCurves.nistP256).Key, Authority, withResponder, OcspHost));
        Ocsp.Add(keys.Add("revoked.pem", TestKeys.Ecdsa(ECCurve.NamedCurves.nistP256).Key, Authority, withResponder, RevokedHost), revoked: true);
        Ocsp.Add(keys.Add("dc-ocsp.pem", TestKeys.Ecdsa(ECCurve.NamedCurves.nistP256).Key, Authority,
            new LeafExtras(DelegationUsage: true, OcspResponder: Ocsp.Url), DelegationOcspHost));
        await Ocsp.StartAsync();
    }

    public OcspResponderProcess Ocsp { get; private set; } = null!;

    public TestKey DelegationKey { get; } = TestKeys.Ecdsa(ECCurve.NamedCurves.nistP256).Key;

    public byte[] DelegationCertificate { get; private set; } = null!;

    public override async Task InitializeAsync()
    {
        await base.InitializeAsync();
        string[] hosts = [P384Host, Ed25519Host, Rsa3072Host, Rsa4096Host, OcspHost, RevokedHost, DelegationOcspHost, DelegationHost, SecondDelegationHost, .. SharedDelegationHosts];
        foreach (var host in hosts) await WaitUntilRoutedAsync(host);
    }

    public override async Task DisposeAsync()
    {
        await base.DisposeAsync();
        if (Ocsp is not null) await Ocsp.DisposeAsync();
    }
}

/// <summary>One <see cref="BreadthFixture"/> (cluster, OCSP responder, RSA-4096 key) for all protocol-breadth tests.</summary>
[CollectionDefinition(Name)]
public sealed class BreadthCollection : ICollectionFixture<BreadthFixture>
{
    public const string Name = "protocol breadth";
}
