namespace KeylessOrleans.Keys;

/// <summary>
/// An edge's proof that it sent this very request, over <see cref="EdgeProofContent"/>, in one of two forms:
/// its cluster certificate (issued by the operator's CA, naming it keyless://edge/NAME) and its ECDSA signature;
/// or, once the edge has opened an <see cref="EdgeSessionGrant">edge session</see> with this key server by such a
/// signature, the session's id and an HMAC-SHA256 with the session key (<see cref="Certificate"/> then empty). The
/// key server learns who asks from this proof, not from caller-supplied fields, and refuses one whose time is
/// outside its window.
/// </summary>
[GenerateSerializer, Immutable, Alias("keyless.EdgeProof")]
public sealed record EdgeProof(
    [property: Id(0)] byte[] Certificate,
    [property: Id(1)] long UnixTimeMilliseconds,
    [property: Id(2)] byte[] Nonce,
    [property: Id(3)] byte[] Signature,
    [property: Id(4)] byte[]? Session = null);

/// <summary>What an edge signs: everything the key server acts on or records, bound to one key grain.</summary>
public static class EdgeProofContent
{
    private const string Label = "keyless edge proof v1";

    public static byte[] Build(KeyGrainKey target, KeyRequest request, long unixTimeMilliseconds, ReadOnlySpan<byte> nonce)
    {
        var context = request.Context;
        using var content = new SignedContentWriter();
        return content.Text(Label).Text(target.ToString()).Text(request.Operation)
            .Text(context.Tenant).Text(context.KeyId).Text(context.ServerName).Text(context.ClientAddress).Text(context.EdgeId)
            .Int64(unixTimeMilliseconds).Bytes(nonce).Bytes(request.InputDigest())
            .ToArray();
    }
}
