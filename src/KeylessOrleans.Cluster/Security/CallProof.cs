using System.Buffers.Binary;
using System.Security.Cryptography;
using System.Reflection;
using System.Text;
using System.Text.Json;
using Orleans.Serialization.Invocation;

namespace KeylessOrleans.Cluster.Security;

/// <summary>
/// What a caller in the operator's cluster signs with its cluster certificate's key on every control-plane grain
/// call, so the edge that runs the call can tell who made it (Orleans cannot: a message's sender is whatever the
/// sender wrote). Travels in <see cref="RequestContext"/> under <see cref="ContextKey"/> as one byte array:
/// <code>
/// version (1) = 1 | unix time ms (8, big-endian) | nonce (16) | certificate length (2, big-endian) | certificate (DER) | ECDSA signature (DER)
/// </code>
/// The signature (P-256, SHA-256) covers <see cref="SignedContent"/>: a label, the grain interface, the method,
/// the target grain id, the time, the nonce and the SHA-256 of the call's arguments (<see cref="ArgumentsDigest"/>).
/// </summary>
internal static class CallProof
{
    public const string ContextKey = "keyless.call-proof";
    public const int NonceLength = 16;
    private const byte Version = 1;
    private const int HeaderLength = 1 + 8 + NonceLength + 2;
    private static readonly byte[] Label = "KeylessOrleans operator-cluster call proof v1\0"u8.ToArray();

    /// <summary>The call a proof is bound to; both sides describe it from Orleans' own call context.</summary>
    public readonly record struct Call(string Interface, string Method, string Target, byte[] ArgumentsDigest)
    {
        public static Call Of(IGrainCallContext context) =>
            new(context.InterfaceType.ToString(), context.MethodName, context.TargetId.ToString(), CallProof.ArgumentsDigest(context.InterfaceMethod, context.Request));
    }

    /// <summary>Parts of a proof as read from the wire; null when it is not a well-formed proof.</summary>
    public sealed record Parts(long UnixTimeMilliseconds, byte[] Nonce, byte[] Certificate, byte[] Signature);

    private static readonly JsonSerializerOptions ArgumentJson = new() { WriteIndented = false };

    /// <summary>
    /// SHA-256 over each argument written as JSON by its declared parameter type (length-prefixed): the caller
    /// digests the arguments it sends, the edge the arguments it received, so a proof cannot be moved to a call with
    /// other arguments. JSON by declared type, not Orleans' own encoding: Orleans writes the runtime type of a value
    /// (a list the C# compiler made for <c>IReadOnlyList&lt;string&gt;</c> comes back as another type), so the bytes
    /// of equal values differ between the two sides. A parameter type JSON cannot write fails the call, visibly.
    /// </summary>
    public static byte[] ArgumentsDigest(MethodInfo? method, IInvokable request)
    {
        var parameters = method?.GetParameters() ?? [];
        using var hash = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
        Span<byte> length = stackalloc byte[4];
        for (var i = 0; i < request.GetArgumentCount(); i++)
        {
            var type = i < parameters.Length ? parameters[i].ParameterType : typeof(object);
            var bytes = JsonSerializer.SerializeToUtf8Bytes(request.GetArgument(i), type, ArgumentJson);
            BinaryPrimitives.WriteInt32BigEndian(length, bytes.Length);
            hash.AppendData(length);
            hash.AppendData(bytes);
        }
        return hash.GetHashAndReset();
    }

    public static byte[] SignedContent(Call call, long unixTimeMilliseconds, ReadOnlySpan<byte> nonce)
    {
        using var content = new MemoryStream();
        content.Write(Label);
        Span<byte> length = stackalloc byte[2];
        foreach (var text in new[] { call.Interface, call.Method, call.Target })
        {
            var bytes = Encoding.UTF8.GetBytes(text);
            BinaryPrimitives.WriteUInt16BigEndian(length, checked((ushort)bytes.Length));
            content.Write(length);
            content.Write(bytes);
        }
        Span<byte> time = stackalloc byte[8];
        BinaryPrimitives.WriteInt64BigEndian(time, unixTimeMilliseconds);
        content.Write(time);
        content.Write(nonce);
        content.Write(call.ArgumentsDigest);
        return content.ToArray();
    }

    public static byte[] Encode(long unixTimeMilliseconds, ReadOnlySpan<byte> nonce, byte[] certificate, byte[] signature)
    {
        var proof = new byte[HeaderLength + certificate.Length + signature.Length];
        proof[0] = Version;
        BinaryPrimitives.WriteInt64BigEndian(proof.AsSpan(1), unixTimeMilliseconds);
        nonce.CopyTo(proof.AsSpan(9, NonceLength));
        BinaryPrimitives.WriteUInt16BigEndian(proof.AsSpan(9 + NonceLength), checked((ushort)certificate.Length));
        certificate.CopyTo(proof.AsSpan(HeaderLength));
        signature.CopyTo(proof.AsSpan(HeaderLength + certificate.Length));
        return proof;
    }

    public static Parts? Decode(ReadOnlySpan<byte> proof)
    {
        if (proof.Length < HeaderLength || proof[0] != Version) return null;
        var certificateLength = BinaryPrimitives.ReadUInt16BigEndian(proof[(9 + NonceLength)..]);
        if (certificateLength == 0 || proof.Length <= HeaderLength + certificateLength) return null;
        return new Parts(
            BinaryPrimitives.ReadInt64BigEndian(proof[1..]),
            proof.Slice(9, NonceLength).ToArray(),
            proof.Slice(HeaderLength, certificateLength).ToArray(),
            proof[(HeaderLength + certificateLength)..].ToArray());
    }
}
