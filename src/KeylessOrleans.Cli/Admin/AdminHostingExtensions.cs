using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace KeylessOrleans.Cli.Admin;

public static class AdminHostingExtensions
{
    /// <summary>Whether this silo should collect for the Orleans Dashboard: the admin endpoint is on and the dashboard not switched off.</summary>
    public static bool WantsDashboard(IConfiguration configuration)
    {
        var options = new AdminOptions();
        configuration.GetSection(AdminOptions.Section).Bind(options);
        return options.Port != 0 && options.Dashboard;
    }

    /// <summary>
    /// Serves /metrics (Prometheus), /healthz and /readyz for this silo on <see cref="AdminOptions.Port"/>, or
    /// <paramref name="defaultPort"/> when unset. Call before <c>UseOrleans</c>: hosted services start in order,
    /// so probes answer (not ready) while the silo is still joining the cluster.
    /// </summary>
    public static HostApplicationBuilder AddKeylessAdmin(this HostApplicationBuilder builder, int defaultPort)
    {
        var section = builder.Configuration.GetSection(AdminOptions.Section);
        builder.Services.AddOptions<AdminOptions>().Bind(section).PostConfigure(o => o.Port ??= defaultPort).ValidateOnStart();
        builder.Services.TryAddEnumerable(ServiceDescriptor.Singleton<IValidateOptions<AdminOptions>, AdminOptionsValidator>());
        // Readiness checks come from the roles (AddKeylessEdge / AddKeylessKeyServer); this only makes sure the service exists.
        builder.Services.AddHealthChecks();
        // Probes come every few seconds and the health service logs each unhealthy result: the /readyz body
        // carries the reason, and the parts log their own transitions (registration, registry, listener).
        builder.Logging.AddFilter("Microsoft.Extensions.Diagnostics.HealthChecks", LogLevel.None);
        if ((section.GetValue<int?>(nameof(AdminOptions.Port)) ?? defaultPort) != 0)
            builder.Services.AddHostedService(sp => ActivatorUtilities.CreateInstance<AdminServer>(sp, sp.GetRequiredService<IOptions<AdminOptions>>().Value));
        return builder;
    }
}
