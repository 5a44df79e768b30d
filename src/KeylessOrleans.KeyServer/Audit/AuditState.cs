using System.Globalization;
using System.Text.Json;

namespace KeylessOrleans.KeyServer.Audit;

/// <summary>
/// What the key server last knew of its chain, kept apart from the log (<see cref="AuditLogOptions.StatePath"/>,
/// default <c>&lt;log&gt;.state</c>) so that a log deleted or cut back to an older state does not pass for a new one:
/// <c>{"path":"/var/log/keyless/audit.log","seq":1234,"head":"&lt;hex&gt;","time":"…"}</c>: the last checkpoint line
/// and its hash. Replaced atomically (written beside, fsynced, renamed) at every checkpoint.
/// </summary>
/// <param name="Shipped">
/// The sequence number of the last checkpoint line shipped off the host to every destination (0: none yet, or none
/// configured): retention deletes no file whose last record is after it.
/// </param>
internal sealed record AuditState(string Path, AuditAnchor Last, DateTime Time, long Shipped = 0)
{
    /// <summary>The state at <paramref name="path"/>, or null when there is none; throws <see cref="InvalidDataException"/> when it is unreadable.</summary>
    public static AuditState? Read(string path)
    {
        if (!File.Exists(path)) return null;
        try
        {
            using var document = JsonDocument.Parse(File.ReadAllBytes(path));
            var root = document.RootElement;
            var log = root.GetProperty("path").GetString() ?? "";
            var anchor = $"{root.GetProperty("seq").GetInt64()}:{root.GetProperty("head").GetString()}";
            var time = DateTime.Parse(root.GetProperty("time").GetString()!, CultureInfo.InvariantCulture, DateTimeStyles.AdjustToUniversal);
            if (!AuditAnchor.TryParse(anchor, out var last)) throw new InvalidDataException($"audit state {path}: bad seq or head");
            var shipped = root.TryGetProperty("shipped", out var s) && s.TryGetInt64(out var value) ? value : 0;
            return new AuditState(log, last, time, shipped);
        }
        catch (Exception e) when (e is JsonException or KeyNotFoundException or InvalidOperationException or FormatException)
        {
            throw new InvalidDataException($"audit state {path} is not readable ({e.Message}); restore it, or start a new chain with Keyless:KeyServer:AuditLog:AllowNewChain", e);
        }
    }

    public void Write(string path)
    {
        var temporary = path + ".tmp";
        var options = new FileStreamOptions { Mode = FileMode.Create, Access = FileAccess.Write, Share = FileShare.None };
        if (!OperatingSystem.IsWindows()) options.UnixCreateMode = UnixFileMode.UserRead | UnixFileMode.UserWrite;
        using (var file = new FileStream(temporary, options))
        {
            using (var json = new Utf8JsonWriter(file))
            {
                json.WriteStartObject();
                json.WriteString("path", Path);
                json.WriteNumber("seq", Last.Sequence);
                json.WriteString("head", Last.HeadHex);
                json.WriteString("time", Time.ToString(AuditChain.TimeFormat, CultureInfo.InvariantCulture));
                json.WriteNumber("shipped", Shipped);
                json.WriteEndObject();
            }
            file.WriteByte((byte)'\n');
            file.Flush(flushToDisk: true);
        }
        File.Move(temporary, path, overwrite: true);
    }
}
