using System.Net;
using KeylessOrleans.Cli.Diagnostics;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.AspNetCore.Server.Kestrel.Https;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Diagnostics.HealthChecks;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using OpenTelemetry.Metrics;

namespace KeylessOrleans.Cli.Admin;

/// <summary>
/// A small Kestrel app beside the silo, in the same process. It has its own container so nothing of ASP.NET
/// leaks into the silo's; it reads the silo's health checks and, through OpenTelemetry's process-wide meter
/// listener, every meter named in <see cref="Meters"/>.
/// </summary>
internal sealed partial class AdminServer(
    AdminOptions options,
    HealthCheckService health,
    IHostApplicationLifetime lifetime,
    IServiceProvider silo,
    ILoggerFactory loggers) : IHostedService, IAsyncDisposable
{
    /// <summary>Ours, Orleans' own, and the runtime's built-in one (GC, thread pool, exceptions).</summary>
    public static readonly string[] Meters = ["KeylessOrleans.Edge", "KeylessOrleans.KeyServer", "Microsoft.Orleans", "System.Runtime"];

    private readonly ILogger _logger = loggers.CreateLogger<AdminServer>();
    private WebApplication? _app;

    public async Task StartAsync(CancellationToken cancellationToken)
    {
        // The empty builder reads no appsettings.json or ASPNETCORE_* variables: Keyless:Admin is the only input.
        var builder = WebApplication.CreateEmptyBuilder(new WebApplicationOptions());
        var (dashboard, password) = DashboardSettings();
        var guard = new AdminGuard(options, password);
        var https = options.UsesTls ? Https(guard) : null;
        builder.WebHost.UseKestrelCore().ConfigureKestrel(k => k.Listen(IPAddress.Parse(options.ListenAddress), options.Port!.Value, listen =>
        {
            if (https is not null) listen.UseHttps(https);
        }));
        if (https is not null) builder.WebHost.UseKestrelHttpsConfiguration();
        builder.Services.AddSingleton(loggers); // the silo's logging (text or JSON), not a second configuration
        builder.Services.AddOpenTelemetry().WithMetrics(metrics => metrics.AddMeter(Meters).AddPrometheusExporter());
        if (dashboard)
        {
            builder.Services.AddRouting();
            DashboardEndpoint.ForwardServices(builder.Services, silo);
        }

        var app = builder.Build();
        app.Use(guard.InvokeAsync);
        if (dashboard) DashboardEndpoint.Map(app, password: null); // the guard checks its credentials
        if (options.GuardsMetrics && !guard.HasCredentials) LogMetricsWithheld(options.ListenAddress);
        if (!options.IsLoopback && !options.UsesTls) LogPlainHttp(options.ListenAddress);
        app.UseOpenTelemetryPrometheusScrapingEndpoint(); // GET /metrics
        app.Map("/healthz", branch => branch.Run(HealthEndpoints.Alive));
        app.Map("/readyz", branch => branch.Run(context => HealthEndpoints.ReadyAsync(context, health, lifetime.ApplicationStopping)));
        try
        {
            await app.StartAsync(cancellationToken);
        }
        catch (IOException e)
        {
            LogCannotListen(options.ListenAddress, options.Port!.Value, e.Message);
            await app.DisposeAsync();
            throw new InvalidOperationException($"{AdminOptions.Section} cannot listen on {options.ListenAddress}:{options.Port}: {e.Message}", e);
        }
        _app = app;
        var address = app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()?.Addresses.FirstOrDefault();
        LogListening(address ?? $"http://{options.ListenAddress}:{options.Port}");
    }

    private HttpsConnectionAdapterOptions Https(AdminGuard guard)
    {
        var certificate = options.LoadCertificate(out var chain);
        var https = new HttpsConnectionAdapterOptions
        {
            ServerCertificate = certificate,
            ServerCertificateChain = chain,
            ClientCertificateMode = string.IsNullOrWhiteSpace(options.ClientCaFile) ? ClientCertificateMode.NoCertificate : ClientCertificateMode.AllowCertificate,
        };
        if (!string.IsNullOrWhiteSpace(options.ClientCaFile))
            https.ClientCertificateValidation = (client, _, _) => guard.ValidateClientCertificate(client);
        return https;
    }

    /// <summary>Edges serve the dashboard; when guarded only with a password, token or client certificate, else not at all.</summary>
    private (bool Serve, string? Password) DashboardSettings()
    {
        if (!options.Dashboard || !DashboardEndpoint.IsRegistered(silo)) return (false, null);
        var password = options.DashboardPasswordFile is { } file && File.ReadLines(file).FirstOrDefault()?.Trim() is { Length: > 0 } given ? given : null;
        if (options.IsLoopback || password is not null || !string.IsNullOrWhiteSpace(options.TokenFile) || !string.IsNullOrWhiteSpace(options.ClientCaFile))
            return (true, password);
        LogDashboardWithheld(options.ListenAddress);
        return (false, null);
    }

    public async Task StopAsync(CancellationToken cancellationToken)
    {
        if (_app is not null) await _app.StopAsync(cancellationToken);
    }

    public async ValueTask DisposeAsync()
    {
        if (_app is not null) await _app.DisposeAsync();
    }

    [LoggerMessage(EventId = EventIds.AdminListening, Level = LogLevel.Information, Message = "Admin endpoint on {Address} (/metrics, /healthz, /readyz, and /dashboard on edges)")]
    private partial void LogListening(string address);

    [LoggerMessage(EventId = EventIds.AdminDashboardWithheld, Level = LogLevel.Warning, Message = "Orleans Dashboard not served: the admin endpoint listens on {Address}, beyond loopback, and none of Keyless:Admin:DashboardPasswordFile, TokenFile or ClientCaFile is set")]
    private partial void LogDashboardWithheld(string address);

    [LoggerMessage(EventId = EventIds.AdminMetricsWithheld, Level = LogLevel.Warning, Message = "/metrics is not served: the admin endpoint listens on {Address}, beyond loopback, and has neither Keyless:Admin:TokenFile nor Keyless:Admin:ClientCaFile: it answers 403; /healthz and /readyz stay open")]
    private partial void LogMetricsWithheld(string address);

    [LoggerMessage(EventId = EventIds.AdminPlainHttp, Level = LogLevel.Warning, Message = "Plain HTTP beyond loopback: the admin endpoint on {Address} serves it (Keyless:Admin:InsecurePlainHttp): anyone on that network reads its responses and any token sent")]
    private partial void LogPlainHttp(string address);

    [LoggerMessage(EventId = EventIds.AdminCannotListen, Level = LogLevel.Critical, Message = "Admin endpoint cannot listen on {Address}:{Port}: {Error}")]
    private partial void LogCannotListen(string address, int port, string error);
}
