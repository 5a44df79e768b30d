namespace KeylessOrleans.KeyServer.Audit;

/// <summary>What a key server does when the audit log it should continue does not verify.</summary>
public enum AuditLogRecovery
{
    /// <summary>Stop the start, naming the broken record: someone has to look before anything is appended.</summary>
    Refuse,

    /// <summary>Rename the file to <c>&lt;path&gt;.broken-&lt;UTC time&gt;</c> (kept as evidence, logged as an error) and start a new chain.</summary>
    MoveAside,
}

/// <summary>The tenant's audit log (configuration section "Keyless:KeyServer:AuditLog").</summary>
public sealed class AuditLogOptions
{
    private const string Section = "Keyless:KeyServer:AuditLog";

    /// <summary>On unless switched off explicitly (a key server without it says so in a warning at every start).</summary>
    public bool Enabled { get; set; } = true;

    /// <summary>
    /// The log file; <c>{tenant}</c> and <c>{replica}</c> are replaced, a relative path starts at the working directory.
    /// The default lands where the operator started the key server (where they will look), named per replica so two
    /// replicas started from one folder never write the same chain. Services set an absolute path (deploy/systemd).
    /// </summary>
    public string Path { get; set; } = "keyless-audit-{tenant}-{replica}.log";

    /// <summary>A file that does not verify at start is refused by default: continuing it would bless the damage.</summary>
    public AuditLogRecovery IfBroken { get; set; } = AuditLogRecovery.Refuse;

    /// <summary>Records waiting for the writer; beyond, an operation waits <see cref="QueueFullWait"/> and then fails.</summary>
    public int QueueCapacity { get; set; } = 8192;

    /// <summary>How long a key operation may wait for room in a full queue before its output is withheld.</summary>
    public TimeSpan QueueFullWait { get; set; } = TimeSpan.FromMilliseconds(100);

    /// <summary>Written records reach the disk (fsync) at most this long after they were written…</summary>
    public TimeSpan SyncInterval { get; set; } = TimeSpan.FromMilliseconds(100);

    /// <summary>…or after this many records, whichever comes first: the most a power loss can take.</summary>
    public int SyncRecords { get; set; } = 1000;

    public string ResolvePath(string tenant, string replica) =>
        System.IO.Path.GetFullPath(Path.Replace("{tenant}", tenant, StringComparison.Ordinal).Replace("{replica}", replica, StringComparison.Ordinal));

    internal IEnumerable<string> Problems(string tenant, string replica)
    {
        if (!Enabled) yield break;
        if (string.IsNullOrWhiteSpace(Path))
        {
            yield return $"{Section}:Path is empty: name the audit log file, or set {Section}:Enabled to false";
            yield break;
        }
        var file = ResolvePath(tenant, replica);
        var folder = System.IO.Path.GetDirectoryName(file)!;
        if (!Directory.Exists(folder)) yield return $"{Section}:Path '{Path}': folder '{folder}' does not exist";
        else if (Directory.Exists(file)) yield return $"{Section}:Path '{Path}' is a folder";
        else if (!CanCreateFilesIn(folder)) yield return $"{Section}:Path '{Path}': folder '{folder}' is not writable by this process";
        if (QueueCapacity is < 16 or > 1_000_000) yield return $"{Section}:QueueCapacity {QueueCapacity} must be between 16 and 1000000";
        if (QueueFullWait < TimeSpan.Zero || QueueFullWait > TimeSpan.FromSeconds(5))
            yield return $"{Section}:QueueFullWait {QueueFullWait} must be between zero and 5 s";
        if (SyncInterval <= TimeSpan.Zero || SyncInterval > TimeSpan.FromSeconds(10))
            yield return $"{Section}:SyncInterval {SyncInterval} must be positive and at most 10 s";
        if (SyncRecords < 1) yield return $"{Section}:SyncRecords must be at least 1";
    }

    /// <summary>The writer also creates a lock file next to the log, so the folder itself must be writable.</summary>
    private static bool CanCreateFilesIn(string folder)
    {
        try
        {
            using var probe = new FileStream(System.IO.Path.Combine(folder, $".keyless-audit-probe-{Guid.NewGuid():N}"),
                FileMode.CreateNew, FileAccess.Write, FileShare.None, 1, FileOptions.DeleteOnClose);
            return true;
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            return false;
        }
    }
}
