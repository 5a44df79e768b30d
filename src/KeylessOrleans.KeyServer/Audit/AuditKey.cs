using System.Security.Cryptography;
using System.Text;

namespace KeylessOrleans.KeyServer.Audit;

/// <summary>
/// The audit key: 32 random bytes only the key server (and whoever verifies its log) holds, the HMAC key of the
/// checkpoints. Stored as one line of 64 lowercase hex digits in a file created with mode 0600
/// (<see cref="AuditLogOptions.KeyPath"/>, default <c>&lt;log&gt;.key</c>).
/// </summary>
internal static class AuditKey
{
    public const int Size = 32;

    /// <summary>Reads the key; throws <see cref="InvalidDataException"/> naming the file when it is not one.</summary>
    public static byte[] Read(string path)
    {
        var text = File.ReadAllText(path).Trim();
        if (text.Length != 2 * Size || !text.All(char.IsAsciiHexDigit))
            throw new InvalidDataException($"audit key {path} is not {2 * Size} hex digits");
        return Convert.FromHexString(text);
    }

    /// <summary>Creates a new random key at <paramref name="path"/> (mode 0600, fsynced); fails if the file exists.</summary>
    public static byte[] Create(string path)
    {
        var key = RandomNumberGenerator.GetBytes(Size);
        var options = new FileStreamOptions { Mode = FileMode.CreateNew, Access = FileAccess.Write, Share = FileShare.None };
        if (!OperatingSystem.IsWindows()) options.UnixCreateMode = UnixFileMode.UserRead | UnixFileMode.UserWrite;
        using var file = new FileStream(path, options);
        file.Write(Encoding.ASCII.GetBytes(Convert.ToHexStringLower(key) + "\n"));
        file.Flush(flushToDisk: true);
        return key;
    }
}
