namespace KeylessOrleans.KeyServer.Hosting;

/// <summary>
/// Reads the key server's settings afresh with the delegate given to <c>AddKeylessKeyServer</c> (for the parts that
/// apply while running, see <see cref="Access.KeyAccessPolicy"/>). Unlike IOptionsMonitor it never throws an invalid
/// change at the reader: the caller validates and decides.
/// </summary>
internal sealed class KeyServerSettings(Action<KeyServerOptions> configure)
{
    public KeyServerOptions Read()
    {
        var options = new KeyServerOptions();
        configure(options);
        return options;
    }
}
