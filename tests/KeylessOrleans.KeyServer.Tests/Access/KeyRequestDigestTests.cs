using System.Buffers.Binary;
using System.Security.Cryptography;
using System.Text;
using KeylessOrleans.Keys;

namespace KeylessOrleans.KeyServer.Tests.Access;

/// <summary>The request digest is SHA-256(operation in ASCII ‖ parameter ‖ payload length ‖ payload) for any payload size.</summary>
public sealed class KeyRequestDigestTests
{
    [Theory]
    [InlineData(0)]
    [InlineData(130)]
    [InlineData(1000)]
    [InlineData(5000)]
    public void Digest_is_sha256_over_operation_parameter_length_and_payload(int length)
    {
        var payload = RandomNumberGenerator.GetBytes(length);
        var prefix = new byte[6];
        BinaryPrimitives.WriteUInt16BigEndian(prefix, 0x0403);
        BinaryPrimitives.WriteInt32BigEndian(prefix.AsSpan(2), length);
        byte[] expected = SHA256.HashData([.. Encoding.ASCII.GetBytes("sign_certificate_verify"), .. prefix, .. payload]);

        Assert.Equal(expected, KeyRequestDigest.Of("sign_certificate_verify", 0x0403, payload));
    }
}
