using System.Globalization;
using System.IO.Compression;
using System.Text.RegularExpressions;
using KeylessOrleans.Cluster.Storage;

namespace KeylessOrleans.KeyServer.Audit;

/// <summary>A file the log rotated away from: closed, never written again, compressed once rotation's helper gets to it.</summary>
/// <param name="Rotated">When it was rotated (UTC, to the second): the order of the files and the age retention judges.</param>
/// <param name="LastSequence">Its last record's sequence number (a checkpoint): what must have been shipped before it may go.</param>
internal sealed record AuditRotatedFile(string Path, DateTime Rotated, long LastSequence, bool Compressed, long Length);

/// <summary>
/// The files of one audit log: the live file (<see cref="AuditLogOptions.Path"/>) and the files it rotated to, named
/// <c>&lt;live name&gt;.&lt;yyyyMMddTHHmmssZ&gt;-&lt;last sequence number&gt;</c> and, once compressed,
/// <c>….gz</c>. Their order is rotation time, then last sequence number; the live file comes last.
/// </summary>
internal static partial class AuditLogFiles
{
    private const string StampFormat = "yyyyMMdd'T'HHmmss'Z'";

    public static string RotatedPath(string live, DateTime rotated, long lastSequence) =>
        $"{live}.{rotated.ToString(StampFormat, CultureInfo.InvariantCulture)}-{lastSequence.ToString(CultureInfo.InvariantCulture)}";

    [GeneratedRegex(@"^(?<live>.+)\.(?<stamp>\d{8}T\d{6}Z)-(?<seq>\d{1,19})(?<gz>\.gz)?$")]
    private static partial Regex RotatedName();

    /// <summary>Whether <paramref name="path"/> is a rotated file's name; <paramref name="live"/> is then its live file's path.</summary>
    public static bool TryParseRotated(string path, out string live, out AuditRotatedFile file)
    {
        live = "";
        file = null!;
        var match = RotatedName().Match(System.IO.Path.GetFileName(path));
        if (!match.Success
            || !DateTime.TryParseExact(match.Groups["stamp"].Value, StampFormat, CultureInfo.InvariantCulture,
                DateTimeStyles.AdjustToUniversal | DateTimeStyles.AssumeUniversal, out var stamp)
            || !long.TryParse(match.Groups["seq"].Value, NumberStyles.None, CultureInfo.InvariantCulture, out var sequence))
            return false;
        live = System.IO.Path.Combine(System.IO.Path.GetDirectoryName(System.IO.Path.GetFullPath(path))!, match.Groups["live"].Value);
        var length = File.Exists(path) ? new FileInfo(path).Length : 0;
        file = new AuditRotatedFile(path, stamp, sequence, match.Groups["gz"].Success, length);
        return true;
    }

    /// <summary>
    /// The rotated files of <paramref name="live"/>, oldest first. When a file is there both plain and compressed (a
    /// compression interrupted between its rename and the deletion of the plain file), the plain one counts.
    /// </summary>
    public static List<AuditRotatedFile> Rotated(string live)
    {
        live = System.IO.Path.GetFullPath(live);
        var folder = System.IO.Path.GetDirectoryName(live)!;
        var name = System.IO.Path.GetFileName(live);
        var found = new Dictionary<string, AuditRotatedFile>(StringComparer.Ordinal);
        if (!Directory.Exists(folder)) return [];
        foreach (var path in Directory.EnumerateFiles(folder, name + ".*"))
        {
            if (!TryParseRotated(path, out var of, out var file) || of != live) continue;
            var plain = file.Compressed ? path[..^3] : path;
            if (!found.TryGetValue(plain, out var other) || other.Compressed) found[plain] = file;
        }
        return [.. found.Values.OrderBy(f => f.Rotated).ThenBy(f => f.LastSequence)];
    }

    /// <summary>Every file of the log in chain order: the rotated ones, then the live one when it exists.</summary>
    public static List<string> Chain(string live)
    {
        var files = Rotated(live).Select(f => f.Path).ToList();
        if (File.Exists(live)) files.Add(System.IO.Path.GetFullPath(live));
        return files;
    }

    /// <summary>
    /// The live files a folder's rotated and live logs belong to: every live file with rotated files, and every
    /// <c>*.log</c> file that has its own <c>.key</c> or <c>.state</c> beside it.
    /// </summary>
    public static List<string> LogsIn(string folder)
    {
        var logs = new SortedSet<string>(StringComparer.Ordinal);
        foreach (var path in Directory.EnumerateFiles(folder))
        {
            if (TryParseRotated(path, out var live, out _)) logs.Add(live);
            else if (path.EndsWith(".log", StringComparison.Ordinal) && (File.Exists(path + ".key") || File.Exists(path + ".state"))) logs.Add(path);
        }
        return [.. logs];
    }

    /// <summary>Reads a log file, decompressing it when its name ends in .gz.</summary>
    public static Stream OpenRead(string path)
    {
        var stream = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.ReadWrite | FileShare.Delete, 64 * 1024, FileOptions.SequentialScan);
        return path.EndsWith(".gz", StringComparison.Ordinal) ? new GZipStream(stream, CompressionMode.Decompress) : stream;
    }

    /// <summary>
    /// Compresses a rotated file: written beside as <c>.gz.tmp</c>, fsynced, renamed to <c>.gz</c>, and only then is the
    /// plain file deleted, so a crash at any point leaves at least one complete copy. Returns the compressed file.
    /// </summary>
    public static string Compress(string path)
    {
        var compressed = path + ".gz";
        var temporary = compressed + ".tmp";
        try
        {
            var options = new FileStreamOptions { Mode = FileMode.Create, Access = FileAccess.Write, Share = FileShare.None };
            if (!OperatingSystem.IsWindows()) options.UnixCreateMode = UnixFileMode.UserRead | UnixFileMode.UserWrite;
            using (var output = new FileStream(temporary, options))
            {
                using (var source = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.Read, 64 * 1024, FileOptions.SequentialScan))
                using (var gzip = new GZipStream(output, CompressionLevel.Optimal, leaveOpen: true))
                    source.CopyTo(gzip);
                output.Flush(flushToDisk: true);
            }
            File.Move(temporary, compressed, overwrite: true);
            DirectorySync.Flush(System.IO.Path.GetDirectoryName(System.IO.Path.GetFullPath(path))!); // the .gz is there before the plain file goes
        }
        catch
        {
            File.Delete(temporary);
            throw;
        }
        File.Delete(path);
        return compressed;
    }

    /// <summary>The first line of a log file (decompressed), or null when it has none.</summary>
    public static ParsedLine? FirstLine(string path)
    {
        using var stream = OpenRead(path);
        using var reader = new StreamReader(stream);
        var line = reader.ReadLine();
        return line is null ? null : AuditChain.Parse(System.Text.Encoding.UTF8.GetBytes(line), out _);
    }
}
