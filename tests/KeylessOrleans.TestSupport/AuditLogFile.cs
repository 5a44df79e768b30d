using System.Buffers;
using System.Text;
using KeylessOrleans.KeyServer.Audit;

namespace KeylessOrleans.TestSupport;

/// <summary>Audit logs written the way the key server writes them, and the edits an attacker (or a crash) would make.</summary>
public static class AuditLogFile
{
    internal static AuditRecord Record(long sequence, DateTime time) => new(sequence, time, "acme", "primary", "edge-1",
        new string('a', 64), "sign_certificate_verify", "www.acme.test", "198.51.100.7", new byte[32], "Ok");

    /// <summary>Lines of an intact chain of <paramref name="count"/> records, one second apart, with newlines, in line format <paramref name="format"/>.</summary>
    public static List<string> Chain(int count, DateTime? start = null, int format = AuditChain.CurrentFormat)
    {
        var lines = new List<string>();
        var prev = AuditChain.Genesis;
        for (var i = 1; i <= count; i++)
        {
            var record = new ArrayBufferWriter<byte>();
            AuditChain.WriteRecord(Record(i, (start ?? new DateTime(2026, 1, 2, 3, 4, 5, DateTimeKind.Utc)).AddSeconds(i - 1)), record, format);
            var line = new ArrayBufferWriter<byte>();
            prev = AuditChain.WriteLine(record.WrittenSpan, prev, line, format);
            lines.Add(Encoding.UTF8.GetString(line.WrittenSpan));
        }
        return lines;
    }

    public static string Write(string path, IEnumerable<string> lines)
    {
        File.WriteAllText(path, string.Concat(lines));
        return path;
    }

    /// <summary>Changes one field of record <paramref name="k"/> (1-based), leaving its hash as it was.</summary>
    public static List<string> EditField(List<string> lines, int k) =>
        [.. lines.Select((line, i) => i == k - 1 ? line.Replace("\"198.51.100.7\"", "\"203.0.113.9\"") : line)];

    public static List<string> Delete(List<string> lines, int k) => [.. lines.Where((_, i) => i != k - 1)];

    public static List<string> Swap(List<string> lines, int k)
    {
        var copy = lines.ToList();
        (copy[k - 1], copy[k]) = (copy[k], copy[k - 1]);
        return copy;
    }

    /// <summary>The last line cut in the middle, as by a crash halfway through a write.</summary>
    public static List<string> TruncateLast(List<string> lines) => [.. lines.SkipLast(1), lines[^1][..(lines[^1].Length / 2)]];
}
