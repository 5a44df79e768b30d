using Org.BouncyCastle.Asn1.Ocsp;
using Org.BouncyCastle.Asn1.X509;
using Org.BouncyCastle.Ocsp;
using Org.BouncyCastle.X509;

namespace KeylessOrleans.Edge.Stapling;

/// <summary>An OCSP response fit to staple: "good" for the certificate, signed for its issuer, current.</summary>
internal sealed record OcspStaple(OcspResponse Response, DateTimeOffset ThisUpdate, DateTimeOffset? NextUpdate);

/// <summary>
/// What an OCSP request for a certificate is, and whether an answer may be stapled. A client that asked for a
/// staple trusts what it gets only after its own checks, but an edge that staples a wrong, stale or "revoked"
/// answer breaks the tenant's site for every such client; so only a good, current, properly signed answer for
/// exactly this certificate is served (as nginx does).
/// </summary>
internal static class OcspResponseCheck
{
    /// <summary>Clock difference tolerated between the responder and this edge.</summary>
    public static readonly TimeSpan ClockSkew = TimeSpan.FromMinutes(5);

    /// <summary>The CertID of <paramref name="leaf"/> (SHA-1 over the issuer's name and key, as RFC 6960 responders expect).</summary>
    public static CertificateID IdOf(X509Certificate leaf, X509Certificate issuer) =>
        new(CertificateID.DigestSha1, issuer, leaf.SerialNumber);

    /// <summary>A DER OCSPRequest for one certificate, unsigned and without a nonce (so responders may answer from cache).</summary>
    public static byte[] Request(X509Certificate leaf, X509Certificate issuer)
    {
        var generator = new OcspReqGenerator();
        generator.AddRequest(IdOf(leaf, issuer));
        return generator.Generate().GetEncoded();
    }

    /// <returns>The staple, or null and why not.</returns>
    public static (OcspStaple? Staple, string? Problem) Check(byte[] der, X509Certificate leaf, X509Certificate issuer, DateTimeOffset now)
    {
        OcspResp response;
        BasicOcspResp basic;
        try
        {
            response = new OcspResp(der);
            if (response.Status != OcspRespStatus.Successful) return (null, $"the responder answered status {response.Status}, not successful");
            if (response.GetResponseObject() is not BasicOcspResp b) return (null, "the response is not a basic OCSP response");
            basic = b;
        }
        catch (Exception e) when (e is OcspException or IOException or ArgumentException or InvalidCastException or Org.BouncyCastle.Asn1.Asn1Exception)
        {
            return (null, $"the response does not parse ({e.GetType().Name})");
        }

        if (!SignedForIssuer(basic, issuer, now)) return (null, "the response is not signed by the certificate's issuer or a responder it authorized");
        var id = IdOf(leaf, issuer);
        var single = basic.Responses.FirstOrDefault(r => r.GetCertID().Equals(id));
        if (single is null) return (null, "the response does not cover this certificate");
        switch (single.GetCertStatus())
        {
            case RevokedStatus: return (null, "the certificate is revoked");
            case UnknownStatus: return (null, "the responder does not know the certificate");
        }
        var thisUpdate = new DateTimeOffset(DateTime.SpecifyKind(single.ThisUpdate, DateTimeKind.Utc));
        DateTimeOffset? nextUpdate = single.NextUpdate is { } next ? new DateTimeOffset(DateTime.SpecifyKind(next, DateTimeKind.Utc)) : null;
        if (thisUpdate > now + ClockSkew) return (null, $"the response's thisUpdate {thisUpdate:O} is in the future");
        if (nextUpdate <= now) return (null, $"the response expired at {nextUpdate:O}");
        return (new OcspStaple(response.ToAsn1Structure(), thisUpdate, nextUpdate), null);
    }

    /// <summary>RFC 6960 §4.2.2.2: signed by the issuer itself, or by a certificate the issuer gave id-kp-OCSPSigning.</summary>
    private static bool SignedForIssuer(BasicOcspResp basic, X509Certificate issuer, DateTimeOffset now)
    {
        if (Verifies(basic, issuer)) return true;
        foreach (var responder in basic.GetCerts())
        {
            if (!IssuedBy(responder, issuer) || !responder.IsValid(now.UtcDateTime)) continue;
            if (responder.GetExtendedKeyUsage()?.Contains(KeyPurposeID.id_kp_OCSPSigning) != true) continue;
            if (Verifies(basic, responder)) return true;
        }
        return false;
    }

    private static bool Verifies(BasicOcspResp basic, X509Certificate signer)
    {
        try
        {
            return basic.Verify(signer.GetPublicKey());
        }
        catch (Exception e) when (e is OcspException or InvalidOperationException or ArgumentException)
        {
            return false;
        }
    }

    private static bool IssuedBy(X509Certificate certificate, X509Certificate issuer)
    {
        try
        {
            return certificate.IssuerDN.Equivalent(issuer.SubjectDN) && certificate.IsSignatureValid(issuer.GetPublicKey());
        }
        catch (Exception e) when (e is InvalidOperationException or ArgumentException or Org.BouncyCastle.Security.Certificates.CertificateException)
        {
            return false;
        }
    }
}
