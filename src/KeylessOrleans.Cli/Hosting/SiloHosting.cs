using KeylessOrleans.Cluster.Hosting;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;

namespace KeylessOrleans.Cli.Hosting;

/// <summary>What the edge and keyserver commands share: configuration sources, logging, clustering.</summary>
internal static class SiloHosting
{
    /// <summary>
    /// Configuration comes from, last wins: the JSON file given with --config, environment variables
    /// (KEYLESS__EDGE__LISTENER__HTTPSPORT sets Keyless:Edge:Listener:HttpsPort), then the command-line options.
    /// </summary>
    public static HostApplicationBuilder CreateBuilder(string? configFile, IReadOnlyDictionary<string, string?> commandLine)
    {
        var builder = Host.CreateEmptyApplicationBuilder(new HostApplicationBuilderSettings { DisableDefaults = true });
        if (configFile is not null && !File.Exists(configFile)) throw new FileNotFoundException($"Configuration file '{configFile}' does not exist.", configFile);
        AddSources(builder.Configuration, configFile, commandLine);

        AddConsoleLogging(builder);
        builder.Logging.SetMinimumLevel(LogLevel.Information);
        builder.Logging.AddFilter("Orleans", LogLevel.Warning);
        builder.Logging.AddFilter("Microsoft", LogLevel.Warning);
        builder.Logging.AddFilter("Polly", LogLevel.Warning);
        builder.Logging.AddConfiguration(builder.Configuration.GetSection("Logging"));
        // A silo that cannot reach the cluster store any more must still exit in bounded time.
        builder.Services.Configure<HostOptions>(o => o.ShutdownTimeout = TimeSpan.FromSeconds(15));
        builder.Services.AddSingleton<IHostLifetime, Microsoft.Extensions.Hosting.Internal.ConsoleLifetime>(); // SIGINT/SIGTERM stop the silo gracefully
        return builder;
    }

    /// <summary>
    /// The configuration as it is now, read afresh from the same sources (for settings applied while running). Throws
    /// when the file is missing or does not parse — say, half-written by an editor — so the caller keeps what it has.
    /// Not the provider's own reloadOnChange: on a bad file that empties the configuration (and throws on a watcher
    /// thread), which would read as "no policy at all".
    /// </summary>
    public static IConfiguration ReadAgain(string? configFile, IReadOnlyDictionary<string, string?> commandLine)
    {
        var configuration = new ConfigurationBuilder();
        AddSources(configuration, configFile, commandLine);
        return configuration.Build();
    }

    private static void AddSources(IConfigurationBuilder configuration, string? configFile, IReadOnlyDictionary<string, string?> commandLine)
    {
        if (configFile is not null) configuration.AddJsonFile(Path.GetFullPath(configFile), optional: false, reloadOnChange: false);
        configuration.AddEnvironmentVariables();
        configuration.AddInMemoryCollection(commandLine.Where(kv => kv.Value is not null));
    }

    /// <summary>
    /// "Keyless:Logging:Format": text (one readable line per entry, the default) or json (one JSON object per
    /// line, with the message's named values as fields, for log shippers).
    /// </summary>
    private static void AddConsoleLogging(HostApplicationBuilder builder)
    {
        switch (builder.Configuration["Keyless:Logging:Format"]?.ToLowerInvariant() ?? "text")
        {
            case "text":
                builder.Logging.AddSimpleConsole(o =>
                {
                    o.SingleLine = true;
                    o.TimestampFormat = "HH:mm:ss.fff ";
                });
                break;
            case "json":
                builder.Logging.AddJsonConsole(o =>
                {
                    o.UseUtcTimestamp = true;
                    o.TimestampFormat = "yyyy-MM-ddTHH:mm:ss.fffZ";
                });
                break;
            case var other:
                throw new ArgumentException($"Keyless:Logging:Format must be text or json, not '{other}'");
        }
    }

    /// <summary>The "Keyless:Cluster" section, with the role's own gateway default.</summary>
    public static KeylessClusterOptions ClusterOptions(IConfiguration configuration, int defaultGatewayPort)
    {
        var options = new KeylessClusterOptions { GatewayPort = defaultGatewayPort };
        configuration.GetSection("Keyless:Cluster").Bind(options);
        return options;
    }
}
