using System.Security.Cryptography;
using KeylessOrleans.Edge.Stapling;
using KeylessOrleans.TestSupport;
using Org.BouncyCastle.Ocsp;
using Org.BouncyCastle.Security;
using Org.BouncyCastle.X509;
using OcspStatus = Org.BouncyCastle.Ocsp.CertificateStatus;

namespace KeylessOrleans.Edge.Tests.Breadth;

/// <summary>Only a good, current answer for exactly the served certificate, signed for its issuer, is stapled.</summary>
public sealed class OcspResponseCheckTests : IDisposable
{
    private readonly TestCertificateAuthority _ca = new();
    private readonly TestCertificateAuthority _otherCa = new("Another CA");
    private readonly X509Certificate _leaf;
    private readonly X509Certificate _issuer;
    private readonly DateTime _now = DateTime.UtcNow;

    public OcspResponseCheckTests()
    {
        var parser = new X509CertificateParser();
        using var leaf = _ca.Issue(TestKeys.Ecdsa(ECCurve.NamedCurves.nistP256).Key, "www.acme.test");
        _leaf = parser.ReadCertificate(leaf.RawData);
        _issuer = parser.ReadCertificate(_ca.Certificate.RawData);
    }

    private byte[] Response(TestCertificateAuthority signer, OcspStatus? status, DateTime? nextUpdate, X509Certificate? about = null)
    {
        var key = PrivateKeyFactory.CreateKey(signer.KeyPkcs8);
        var signerCertificate = new X509CertificateParser().ReadCertificate(signer.Certificate.RawData);
        var generator = new BasicOcspRespGenerator(new RespID(signerCertificate.SubjectDN));
        generator.AddResponse(OcspResponseCheck.IdOf(about ?? _leaf, _issuer), status, _now.AddMinutes(-1), nextUpdate, null);
        var basic = generator.Generate("SHA256withECDSA", key, null, _now);
        return new OCSPRespGenerator().Generate(OCSPRespGenerator.Successful, basic).GetEncoded();
    }

    [Fact]
    public void A_good_current_response_signed_by_the_issuer_is_stapled()
    {
        var (staple, problem) = OcspResponseCheck.Check(Response(_ca, OcspStatus.Good, _now.AddMinutes(5)), _leaf, _issuer, DateTimeOffset.UtcNow);
        Assert.Null(problem);
        Assert.NotNull(staple);
    }

    [Fact]
    public void Responses_that_are_revoked_expired_foreign_or_about_another_certificate_are_not()
    {
        var otherLeaf = new X509CertificateParser().ReadCertificate(_ca.Issue(TestKeys.Ecdsa(ECCurve.NamedCurves.nistP256).Key, "x.acme.test").RawData);
        var cases = new Dictionary<string, byte[]>
        {
            ["revoked"] = Response(_ca, new RevokedStatus(_now.AddDays(-1)), _now.AddMinutes(5)),
            ["unknown"] = Response(_ca, new UnknownStatus(), _now.AddMinutes(5)),
            ["expired"] = Response(_ca, OcspStatus.Good, _now.AddMinutes(-1)),
            ["signed by another CA"] = Response(_otherCa, OcspStatus.Good, _now.AddMinutes(5)),
            ["about another certificate"] = Response(_ca, OcspStatus.Good, _now.AddMinutes(5), otherLeaf),
            ["not OCSP"] = RandomNumberGenerator.GetBytes(64),
            ["try later"] = new OCSPRespGenerator().Generate(OCSPRespGenerator.TryLater, null).GetEncoded(),
        };
        foreach (var (why, der) in cases)
        {
            var (staple, problem) = OcspResponseCheck.Check(der, _leaf, _issuer, DateTimeOffset.UtcNow);
            Assert.True(staple is null && problem is not null, why);
        }
    }

    public void Dispose()
    {
        _ca.Dispose();
        _otherCa.Dispose();
    }
}
