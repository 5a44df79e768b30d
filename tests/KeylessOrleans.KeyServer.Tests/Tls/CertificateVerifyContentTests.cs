using System.Security.Cryptography;
using System.Text;
using KeylessOrleans.KeyServer.Tls;

namespace KeylessOrleans.KeyServer.Tests.Tls;

public sealed class CertificateVerifyContentTests
{
    [Theory]
    [InlineData(32)]
    [InlineData(48)]
    public void Well_formed_server_certificate_verify_content_passes(int hashLength)
    {
        Assert.Null(CertificateVerifyContent.Validate(CertificateVerifyContent.Build(RandomNumberGenerator.GetBytes(hashLength))));
    }

    public static TheoryData<string, byte[]> Malformed()
    {
        var good = CertificateVerifyContent.Build(RandomNumberGenerator.GetBytes(32));
        byte[] With(Action<byte[]> change) { var copy = (byte[])good.Clone(); change(copy); return copy; }
        var clientContext = Encoding.ASCII.GetBytes("TLS 1.3, client CertificateVerify");
        return new TheoryData<string, byte[]>
        {
            { "a prefix byte is not a space", With(b => b[7] = 0x21) },
            { "prefix is 63 spaces", good[1..] },
            { "client context string", With(b => clientContext.CopyTo(b, 64)) },
            { "context string with a changed letter", With(b => b[64 + 4] = (byte)'2') },
            { "no 0x00 after the context", With(b => b[64 + 33] = 0x01) },
            { "SHA-1 sized hash (20 bytes)", CertificateVerifyContent.Build(new byte[20]) },
            { "31-byte hash", CertificateVerifyContent.Build(new byte[31]) },
            { "33-byte hash", CertificateVerifyContent.Build(new byte[33]) },
            { "SHA-512 sized hash (64 bytes)", CertificateVerifyContent.Build(new byte[64]) },
            { "empty hash", CertificateVerifyContent.Build([]) },
            { "truncated inside the context", good[..80] },
            { "empty input", [] },
            { "a bare 32-byte digest", RandomNumberGenerator.GetBytes(32) },
        };
    }

    [Theory]
    [MemberData(nameof(Malformed))]
    public void Malformed_certificate_verify_content_is_rejected_with_a_reason(string variant, byte[] content)
    {
        var problem = CertificateVerifyContent.Validate(content);
        Assert.False(string.IsNullOrEmpty(problem), variant);
    }
}
