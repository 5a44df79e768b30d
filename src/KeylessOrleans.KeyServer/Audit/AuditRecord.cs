namespace KeylessOrleans.KeyServer.Audit;

/// <summary>
/// One key operation as the tenant's audit log keeps it. The request's input appears only as a SHA-256 digest and
/// the output (signature, master secret, credential) never, so the log holds nothing an attacker could use against the key.
/// </summary>
/// <param name="Sequence">1 for the first record of a file, then +1 per record; assigned by the writer.</param>
/// <param name="Time">When the operation ended, UTC.</param>
/// <param name="Edge">The edge that forwarded the request (as the request names it, until edges are authenticated).</param>
/// <param name="ServerName">The TLS client's SNI, as the edge reports it.</param>
/// <param name="ClientAddress">The TLS client's IP address, as the edge reports it.</param>
/// <param name="RequestDigest">SHA-256 of the input bytes (signed content, signed params or ciphertext); written as the line format says (<see cref="AuditChain.Digest"/>).</param>
/// <param name="Outcome">The typed status (<see cref="Keys.KeyOperationStatus"/>): a decryption with bad padding is Ok, as on the wire.</param>
/// <param name="Detail">What else the record needs (a policy change's new policy, the exception type of an operation that threw); omitted when null.</param>
internal sealed record AuditRecord(
    long Sequence,
    DateTime Time,
    string Tenant,
    string Replica,
    string Edge,
    string KeyId,
    string Operation,
    string? ServerName,
    string? ClientAddress,
    byte[] RequestDigest,
    string Outcome,
    string? Detail = null);
