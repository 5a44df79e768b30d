using System.Security.Cryptography;
using System.Text;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;
using Orleans.Dashboard;

namespace KeylessOrleans.Cli.Admin;

/// <summary>
/// The Orleans Dashboard on the admin endpoint of an edge. The dashboard's services live in the silo's container
/// (AddDashboard on the silo builder) while the admin app has its own; the few the dashboard's endpoints ask for
/// are forwarded. Its types are internal to Orleans.Dashboard 10.4.2, hence the names — a version that renames
/// them fails the admin endpoint test, not silently.
/// </summary>
internal static class DashboardEndpoint
{
    public const string Path = "/dashboard";
    public const string User = "operator";

    private static readonly string[] ForwardedTypes =
    [
        "Orleans.Dashboard.EmbeddedAssetProvider",
        "Orleans.Dashboard.Core.IDashboardClient",
        "Orleans.Dashboard.Implementation.DashboardLogger",
    ];

    /// <summary>Whether the silo registered the dashboard (edges do).</summary>
    public static bool IsRegistered(IServiceProvider silo) => silo.GetService<IOptions<DashboardOptions>>() is not null
        && silo.GetService(DashboardType(ForwardedTypes[0])) is not null;

    public static void ForwardServices(IServiceCollection web, IServiceProvider silo)
    {
        foreach (var name in ForwardedTypes)
        {
            var type = DashboardType(name);
            web.AddSingleton(type, _ => silo.GetRequiredService(type));
        }
        web.AddSingleton(_ => silo.GetRequiredService<IOptions<DashboardOptions>>());
    }

    /// <summary>Maps the dashboard; with a password, every request under it must carry it (HTTP Basic).</summary>
    public static void Map(WebApplication app, string? password)
    {
        var group = app.MapOrleansDashboard(Path);
        if (password is null) return;
        var expected = Encoding.UTF8.GetBytes($"{User}:{password}");
        group.AddEndpointFilter(async (context, next) =>
        {
            var header = context.HttpContext.Request.Headers.Authorization.ToString();
            if (header.StartsWith("Basic ", StringComparison.OrdinalIgnoreCase) && Matches(header[6..].Trim(), expected))
                return await next(context);
            context.HttpContext.Response.Headers.WWWAuthenticate = "Basic realm=\"keyless dashboard\"";
            return Results.Unauthorized();
        });
    }

    private static bool Matches(string base64, byte[] expected)
    {
        byte[] given;
        try
        {
            given = Convert.FromBase64String(base64);
        }
        catch (FormatException)
        {
            return false;
        }
        return CryptographicOperations.FixedTimeEquals(given, expected);
    }

    private static Type DashboardType(string name) =>
        typeof(DashboardOptions).Assembly.GetType(name, throwOnError: true)!;
}
