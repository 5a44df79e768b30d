using System.Security.Cryptography.X509Certificates;

namespace KeylessOrleans.KeyServer.KeyStore;

/// <summary>
/// What one file of the key folder last looked like on disk. Symbolic links are followed to their final target
/// (Kubernetes secret volumes rotate by swapping a "..data" link, leaving the visible link itself unchanged).
/// </summary>
internal readonly record struct FileStamp(string Target, long Length, DateTime LastWriteUtc, UnixFileMode Mode)
{
    /// <exception cref="IOException">The file vanished or cannot be read.</exception>
    public static FileStamp Of(string path)
    {
        var info = new FileInfo(path);
        if (info.LinkTarget is not null && info.ResolveLinkTarget(returnFinalTarget: true) is FileInfo target) info = target;
        if (!info.Exists) throw new FileNotFoundException("the file is gone", path);
        return new FileStamp(info.FullName, info.Length, info.LastWriteTimeUtc, OperatingSystem.IsWindows() ? default : info.UnixFileMode);
    }
}

/// <summary>
/// One file's contribution to the key store, remembered so that an unchanged file is not parsed again on every
/// rescan and a file that turns unreadable (half-written by a copy) keeps its last good contents.
/// </summary>
/// <param name="Error">Why the file contributes nothing, when it never loaded.</param>
internal sealed record KeyFolderFile(
    string Name,
    FileStamp Stamp,
    IReadOnlyList<IPrivateKey> Keys,
    IReadOnlyList<X509Certificate2> Certificates,
    string? Error = null);
