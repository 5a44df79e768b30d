using System.Runtime.InteropServices;

namespace KeylessOrleans.Cluster.Storage;

/// <summary>
/// Flushes a folder's entries to disk (fsync on the folder), so a rename or delete that returned survives a power
/// loss, not only a process crash. .NET has no API for it (a folder cannot be opened as a file stream), hence libc.
/// Best effort: where libc cannot be loaded (Windows, an unusual C library) it does nothing, and a power loss may then
/// undo the last change of a file — never leave a half-written one.
/// </summary>
internal static class DirectorySync
{
    private static volatile bool s_unavailable = OperatingSystem.IsWindows();

    /// <exception cref="IOException">The folder could not be opened or flushed.</exception>
    public static void Flush(string folder)
    {
        if (s_unavailable) return;
        int fd;
        try
        {
            fd = Native.open(folder, 0 /* O_RDONLY: a folder may be opened read-only and fsync'ed */);
        }
        catch (Exception e) when (e is DllNotFoundException or EntryPointNotFoundException)
        {
            s_unavailable = true;
            return;
        }
        if (fd < 0) throw new IOException($"cannot open folder '{folder}' to flush it (errno {Marshal.GetLastPInvokeError()})");
        try
        {
            if (Native.fsync(fd) != 0) throw new IOException($"cannot flush folder '{folder}' (errno {Marshal.GetLastPInvokeError()})");
        }
        finally
        {
            _ = Native.close(fd);
        }
    }

    private static class Native
    {
        [DllImport("libc", SetLastError = true)]
        public static extern int open([MarshalAs(UnmanagedType.LPUTF8Str)] string path, int flags);

        [DllImport("libc", SetLastError = true)]
        public static extern int fsync(int fd);

        [DllImport("libc", SetLastError = true)]
        public static extern int close(int fd);
    }
}
