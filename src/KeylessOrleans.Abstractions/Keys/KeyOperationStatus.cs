namespace KeylessOrleans.Keys;

/// <summary>
/// The closed set of outcomes of a key operation. They cross the wire as values, never as exceptions,
/// and the edge maps each one to exactly one TLS alert.
/// </summary>
public enum KeyOperationStatus
{
    Ok = 0,
    KeyNotFound = 1,
    Unauthorized = 2,
    InvalidRequest = 3,
    Unavailable = 4,
    RateLimited = 5,
    CryptoFailed = 6,

    /// <summary>
    /// The edge shed the call without sending it: the tenant already had its limit of key calls in flight on
    /// that edge (a bulkhead, so one slow or dead key server cannot hold every handshake thread).
    /// </summary>
    Overloaded = 7,

    /// <summary>
    /// The edge refused a key server's answer: a signature or delegated credential that does not verify under the
    /// certificate's public key (a broken or hostile replica). Set by the edge, never sent by a key server.
    /// </summary>
    BadAnswer = 8,

    /// <summary>
    /// The key server did the operation but could not keep its audit record (the write or fsync failed, or the
    /// writer's queue stayed full), so it withheld the output: no record, no output. Another replica may answer.
    /// </summary>
    AuditFailed = 9,
}
