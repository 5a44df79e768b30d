using System.Diagnostics;

namespace KeylessOrleans.TestSupport;

/// <summary>
/// A real 64 KiB tmpfs (tests run as root; <c>mount</c> needs it), so writes fail with ENOSPC exactly as on a full
/// disk. Unmounted on dispose: close every file in it first.
/// </summary>
public sealed class SmallDisk : IDisposable
{
    private SmallDisk(string path) => Path = path;

    public string Path { get; }

    public static SmallDisk Mount(string path)
    {
        Directory.CreateDirectory(path);
        Run("mount", "-t", "tmpfs", "-o", "size=64k", "tmpfs", path);
        return new SmallDisk(path);
    }

    /// <summary>Fills the disk to the last byte; returns the filler file.</summary>
    public string Fill()
    {
        var filler = System.IO.Path.Combine(Path, "filler");
        using var file = new FileStream(filler, FileMode.Create, FileAccess.Write, FileShare.None, 1);
        var chunk = new byte[512];
        try
        {
            while (true) file.Write(chunk);
        }
        catch (IOException)
        {
            // full
        }
        return filler;
    }

    private static void Run(string program, params string[] args)
    {
        using var process = Process.Start(new ProcessStartInfo(program, args) { RedirectStandardError = true })!;
        var error = process.StandardError.ReadToEnd();
        process.WaitForExit();
        if (process.ExitCode != 0) throw new InvalidOperationException($"{program} {string.Join(' ', args)} failed: {error}");
    }

    /// <summary>Lazily (<c>-l</c>): a file a test left open cannot keep the mount around.</summary>
    public void Dispose() => Run("umount", "-l", Path);
}
