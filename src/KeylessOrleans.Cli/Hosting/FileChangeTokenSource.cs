using KeylessOrleans.KeyServer.Hosting;
using Microsoft.Extensions.FileProviders;
using Microsoft.Extensions.Options;
using Microsoft.Extensions.Primitives;

namespace KeylessOrleans.Cli.Hosting;

/// <summary>Signals a change of the key server's settings whenever its --config file is written, created or replaced.</summary>
internal sealed class FileChangeTokenSource(string path) : IOptionsChangeTokenSource<KeyServerOptions>, IDisposable
{
    private readonly PhysicalFileProvider _folder = new(Path.GetDirectoryName(path)!);

    public string Name => Options.DefaultName;

    public IChangeToken GetChangeToken() => _folder.Watch(Path.GetFileName(path));

    public void Dispose() => _folder.Dispose();
}
