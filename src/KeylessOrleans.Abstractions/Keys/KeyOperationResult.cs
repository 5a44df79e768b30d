namespace KeylessOrleans.Keys;

/// <summary>The result of a key operation: a status and, when <see cref="KeyOperationStatus.Ok"/>, the output.</summary>
/// <param name="Output">A signature, a 48-byte TLS 1.2 master secret, or an encoded delegated credential; null unless the status is Ok.</param>
/// <param name="Detail">A short, secret-free reason for a failure, fit for logs.</param>
[GenerateSerializer, Immutable, Alias("keyless.KeyOperationResult")]
public sealed record KeyOperationResult(
    [property: Id(0)] KeyOperationStatus Status,
    [property: Id(1)] byte[]? Output = null,
    [property: Id(2)] string? Detail = null)
{
    public bool IsOk => Status == KeyOperationStatus.Ok;

    public static KeyOperationResult Success(byte[] output) => new(KeyOperationStatus.Ok, output);

    public static KeyOperationResult Failure(KeyOperationStatus status, string detail) =>
        status == KeyOperationStatus.Ok
            ? throw new ArgumentException("A failure needs a failing status.", nameof(status))
            : new(status, null, detail);
}
