using System.Formats.Asn1;
using System.Security.Cryptography.X509Certificates;

namespace KeylessOrleans.Cluster.Security;

/// <summary>
/// Who a cluster certificate says its holder is, carried as a URI in the subject alternative name:
/// <c>keyless://edge/NAME</c>, <c>keyless://onprem/TENANT/REPLICA</c> or <c>keyless://operator/NAME</c>.
/// The operator's CA puts it there; a CSR cannot choose it.
/// </summary>
public sealed record SiloIdentity(string Role, string Name, string? Tenant)
{
    public const string EdgeRole = "edge";
    public const string OnPremRole = "onprem";
    public const string OperatorRole = "operator";

    public Uri ToUri() => Role == OnPremRole ? new Uri($"keyless://onprem/{Tenant}/{Name}") : new Uri($"keyless://{Role}/{Name}");

    public override string ToString() => ToUri().ToString();

    public static SiloIdentity Edge(string name) => new(EdgeRole, name, null);
    public static SiloIdentity OnPrem(string tenant, string replica) => new(OnPremRole, replica, tenant);
    public static SiloIdentity Operator(string name) => new(OperatorRole, name, null);

    public static SiloIdentity? FromUri(string uri)
    {
        if (!Uri.TryCreate(uri, UriKind.Absolute, out var parsed) || parsed.Scheme != "keyless") return null;
        var path = parsed.AbsolutePath.Trim('/').Split('/');
        return (parsed.Host, path) switch
        {
            (EdgeRole, [var name]) when name.Length > 0 => Edge(name),
            (OperatorRole, [var name]) when name.Length > 0 => Operator(name),
            (OnPremRole, [var tenant, var replica]) when tenant.Length > 0 && replica.Length > 0 => OnPrem(tenant, replica),
            _ => null,
        };
    }

    /// <summary>The identity in a certificate's subject alternative names, or null when it has none (or several).</summary>
    public static SiloIdentity? FromCertificate(X509Certificate2 certificate)
    {
        var san = certificate.Extensions.FirstOrDefault(e => e.Oid?.Value == "2.5.29.17");
        if (san is null) return null;
        var identities = new List<SiloIdentity>();
        try
        {
            var names = new AsnReader(san.RawData, AsnEncodingRules.DER).ReadSequence();
            var uriTag = new Asn1Tag(TagClass.ContextSpecific, 6);
            while (names.HasData)
            {
                if (names.PeekTag() == uriTag)
                {
                    if (FromUri(names.ReadCharacterString(UniversalTagNumber.IA5String, uriTag)) is { } identity) identities.Add(identity);
                }
                else
                {
                    names.ReadEncodedValue();
                }
            }
        }
        catch (AsnContentException)
        {
            return null;
        }
        return identities.Count == 1 ? identities[0] : null;
    }
}
