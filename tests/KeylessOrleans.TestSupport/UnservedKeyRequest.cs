using KeylessOrleans.Keys;

namespace KeylessOrleans.TestSupport;

/// <summary>
/// A key request of a type no key server serves and no edge checks answers to: what a test sends to see that an
/// operation a key grain does not know is refused as a typed result, not a crash.
/// </summary>
[GenerateSerializer, Immutable, Alias("keyless.test.UnservedKeyRequest")]
public sealed record UnservedKeyRequest(
    KeyRequestContext Context,
    [property: Id(0)] byte[] Payload,
    EdgeProof? Proof = null) : KeyRequest(Context, Proof)
{
    public const string OperationName = "unserved_operation";

    public override string Operation => OperationName;

    public override byte[] Input() => Payload;

    protected override ushort InputParameter => 0;
}
