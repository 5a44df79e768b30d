namespace KeylessOrleans.Deploy.Tests;

/// <summary>Finds deploy/ in the source tree (the tests read the real files, not copies in bin/).</summary>
internal static class DeployFiles
{
    public static string Root { get; } = FindRoot();

    public static string Path(params string[] parts) => System.IO.Path.Combine([Root, .. parts]);

    public static string Read(params string[] parts) => File.ReadAllText(Path(parts));

    private static string FindRoot()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
        {
            if (File.Exists(System.IO.Path.Combine(dir.FullName, "Directory.Packages.props"))
                && Directory.Exists(System.IO.Path.Combine(dir.FullName, "deploy")))
            {
                return System.IO.Path.Combine(dir.FullName, "deploy");
            }
        }
        throw new DirectoryNotFoundException($"No deploy/ folder above {AppContext.BaseDirectory}");
    }
}
