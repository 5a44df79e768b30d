using Microsoft.Extensions.Options;

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
    internal const string Section = "Keyless:KeyServer:AuditLog";

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

    /// <summary>
    /// The checkpoints' HMAC key (<see cref="AuditKey"/>); empty: <c>&lt;log&gt;.key</c>. Created (mode 0600) with a new
    /// chain; give it to `keyless audit verify --key`. Keep it off the log's backups if they go to someone who should
    /// not be able to forge checkpoints.
    /// </summary>
    public string KeyPath { get; set; } = "";

    /// <summary>
    /// The last checkpointed sequence number and head (<see cref="AuditState"/>); empty: <c>&lt;log&gt;.state</c>. A
    /// folder other than the log's (e.g. /var/lib/keyless) makes a deleted log folder visible too.
    /// </summary>
    public string StatePath { get; set; } = "";

    /// <summary>
    /// Lets a start begin a new chain although the state says one existed that the file no longer holds (deleted,
    /// cut back or replaced). The new chain's first record names the one it replaces. Set it for one start, then remove it.
    /// </summary>
    public bool AllowNewChain { get; set; }

    /// <summary>A checkpoint after this many records…</summary>
    public int CheckpointRecords { get; set; } = 1000;

    /// <summary>…or once the oldest record not yet checkpointed is this old, whichever comes first.</summary>
    public TimeSpan CheckpointInterval { get; set; } = TimeSpan.FromSeconds(10);

    /// <summary>A file that gets one line per checkpoint (time, tenant/replica, seq, head, hmac) for a shipper to take off the host; empty: none.</summary>
    public string HeadsFile { get; set; } = "";

    /// <summary>
    /// A syslog receiver that gets each checkpoint as an RFC 5424 message: <c>udp://HOST:PORT</c> or <c>unix:/dev/log</c>
    /// (datagram socket); empty: none.
    /// </summary>
    public string HeadsSyslog { get; set; } = "";

    /// <summary>
    /// The live file is rotated once it holds this many bytes (checked before each batch, so a file may pass it by one
    /// batch); 0: never by size. The chain continues in the new file (see <see cref="AuditLogFiles"/>).
    /// </summary>
    public long RotateBytes { get; set; } = 256L * 1024 * 1024;

    /// <summary>…or once its first record is this old (at the next batch or checkpoint after that); zero: never by age.</summary>
    public TimeSpan RotateInterval { get; set; } = TimeSpan.FromDays(1);

    /// <summary>Rotated files are gzip-compressed in the background (`keyless audit verify` reads them as they are).</summary>
    public bool Compress { get; set; } = true;

    /// <summary>
    /// Rotated files older than this (by rotation time) are deleted — only once a checkpoint at or after their last
    /// record has been shipped (<see cref="HeadsFile"/>, <see cref="HeadsSyslog"/>); zero: kept by age.
    /// </summary>
    public TimeSpan RetainFor { get; set; } = TimeSpan.Zero;

    /// <summary>
    /// The oldest rotated files are deleted while all of the log's files together hold more than this many bytes — under
    /// the same shipping condition; 0: no limit. The live file is never deleted.
    /// </summary>
    public long RetainBytes { get; set; }

    /// <summary>Whether retention may delete anything.</summary>
    public bool Retains => RetainFor > TimeSpan.Zero || RetainBytes > 0;

    public string ResolvePath(string tenant, string replica) => Resolve(Path, tenant, replica);

    public string ResolveKeyPath(string tenant, string replica) =>
        string.IsNullOrWhiteSpace(KeyPath) ? ResolvePath(tenant, replica) + ".key" : Resolve(KeyPath, tenant, replica);

    public string ResolveStatePath(string tenant, string replica) =>
        string.IsNullOrWhiteSpace(StatePath) ? ResolvePath(tenant, replica) + ".state" : Resolve(StatePath, tenant, replica);

    public string? ResolveHeadsFile(string tenant, string replica) => string.IsNullOrWhiteSpace(HeadsFile) ? null : Resolve(HeadsFile, tenant, replica);

    internal static string Resolve(string path, string tenant, string replica) =>
        System.IO.Path.GetFullPath(path.Replace("{tenant}", tenant, StringComparison.Ordinal).Replace("{replica}", replica, StringComparison.Ordinal));
}

/// <summary>
/// Refuses audit log settings at start, each problem named by its configuration key. The paths depend on the tenant and
/// replica they are resolved for, so the key server's validator makes one per silo.
/// </summary>
internal sealed class AuditLogOptionsValidator(string tenant, string replica) : IValidateOptions<AuditLogOptions>
{
    private const string Section = AuditLogOptions.Section;

    public ValidateOptionsResult Validate(string? name, AuditLogOptions options)
    {
        var failures = Problems(options, tenant, replica).ToList();
        return failures.Count == 0 ? ValidateOptionsResult.Success : ValidateOptionsResult.Fail(failures);
    }

    private static IEnumerable<string> Problems(AuditLogOptions o, string tenant, string replica)
    {
        if (!o.Enabled) yield break;
        if (string.IsNullOrWhiteSpace(o.Path))
        {
            yield return $"{Section}:Path is empty: name the audit log file, or set {Section}:Enabled to false";
            yield break;
        }
        var file = o.ResolvePath(tenant, replica);
        var folder = System.IO.Path.GetDirectoryName(file)!;
        if (!Directory.Exists(folder)) yield return $"{Section}:Path '{o.Path}': folder '{folder}' does not exist";
        else if (Directory.Exists(file)) yield return $"{Section}:Path '{o.Path}' is a folder";
        else if (!CanCreateFilesIn(folder)) yield return $"{Section}:Path '{o.Path}': folder '{folder}' is not writable by this process";
        if (o.QueueCapacity is < 16 or > 1_000_000) yield return $"{Section}:QueueCapacity {o.QueueCapacity} must be between 16 and 1000000";
        if (o.QueueFullWait < TimeSpan.Zero || o.QueueFullWait > TimeSpan.FromSeconds(5))
            yield return $"{Section}:QueueFullWait {o.QueueFullWait} must be between zero and 5 s";
        if (o.CheckpointRecords is < 1 or > 1_000_000) yield return $"{Section}:CheckpointRecords {o.CheckpointRecords} must be between 1 and 1000000";
        if (o.CheckpointInterval <= TimeSpan.Zero || o.CheckpointInterval > TimeSpan.FromHours(1))
            yield return $"{Section}:CheckpointInterval {o.CheckpointInterval} must be positive and at most 1 h";
        foreach (var (name, value) in new[] { ("KeyPath", o.KeyPath), ("StatePath", o.StatePath), ("HeadsFile", o.HeadsFile) })
        {
            if (string.IsNullOrWhiteSpace(value)) continue;
            var folderOf = System.IO.Path.GetDirectoryName(AuditLogOptions.Resolve(value, tenant, replica))!;
            if (!Directory.Exists(folderOf)) yield return $"{Section}:{name} '{value}': folder '{folderOf}' does not exist";
        }
        if (o.RotateBytes != 0 && o.RotateBytes is < 1024 or > 1L << 40) yield return $"{Section}:RotateBytes {o.RotateBytes} must be 0 (never) or between 1024 and 2^40";
        if (o.RotateInterval < TimeSpan.Zero || (o.RotateInterval > TimeSpan.Zero && o.RotateInterval < TimeSpan.FromMinutes(1)) || o.RotateInterval > TimeSpan.FromDays(366))
            yield return $"{Section}:RotateInterval {o.RotateInterval} must be zero (never) or between 1 min and 366 days";
        if (o.RetainFor < TimeSpan.Zero || (o.RetainFor > TimeSpan.Zero && o.RetainFor < TimeSpan.FromMinutes(1)))
            yield return $"{Section}:RetainFor {o.RetainFor} must be zero (keep) or at least 1 min";
        if (o.RetainBytes != 0 && o.RetainBytes < 1024) yield return $"{Section}:RetainBytes {o.RetainBytes} must be 0 (no limit) or at least 1024";
        if (o.Retains && o.RotateBytes == 0 && o.RotateInterval == TimeSpan.Zero)
            yield return $"{Section}:RetainFor/RetainBytes delete rotated files, but RotateBytes and RotateInterval are both off: nothing is ever rotated";
        if (o.Retains && string.IsNullOrWhiteSpace(o.HeadsFile) && string.IsNullOrWhiteSpace(o.HeadsSyslog))
            yield return $"{Section}:RetainFor/RetainBytes delete only files whose heads were shipped off the host: set {Section}:HeadsFile or {Section}:HeadsSyslog, or keep every file";
        if (!string.IsNullOrWhiteSpace(o.HeadsSyslog) && !AuditHeadShipper.TryParseSyslog(o.HeadsSyslog, out _))
            yield return $"{Section}:HeadsSyslog '{o.HeadsSyslog}' is not udp://HOST:PORT or unix:PATH";
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
