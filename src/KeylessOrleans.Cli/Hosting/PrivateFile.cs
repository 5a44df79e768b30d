namespace KeylessOrleans.Cli.Hosting;

/// <summary>Private keys go to disk readable by their owner only (mode 0600), from the moment the file exists.</summary>
internal static class PrivateFile
{
    public static void Write(string path, string pem)
    {
        using var stream = new FileStream(path, new FileStreamOptions
        {
            Mode = FileMode.Create,
            Access = FileAccess.Write,
            UnixCreateMode = UnixFileMode.UserRead | UnixFileMode.UserWrite,
        });
        using var writer = new StreamWriter(stream);
        writer.Write(pem);
        writer.Write('\n');
    }
}
