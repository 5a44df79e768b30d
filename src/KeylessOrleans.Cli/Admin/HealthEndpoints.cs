using System.Text.Json;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Diagnostics.HealthChecks;
using KeylessOrleans.Cluster.Hosting;

namespace KeylessOrleans.Cli.Admin;

/// <summary>
/// /healthz: the process answers (restart it if not). /readyz: 200 while every readiness check is Healthy or
/// Degraded, 503 otherwise and from the moment the host starts stopping, so a load balancer drains it first.
/// </summary>
internal static class HealthEndpoints
{
    private static readonly JsonSerializerOptions Json = new() { WriteIndented = true };

    public static Task Alive(HttpContext context)
    {
        context.Response.ContentType = "text/plain";
        return context.Response.WriteAsync("alive\n");
    }

    public static async Task ReadyAsync(HttpContext context, HealthCheckService health, CancellationToken stopping)
    {
        object body;
        bool ready;
        if (stopping.IsCancellationRequested)
        {
            (ready, body) = (false, new { status = "Stopping", checks = new Dictionary<string, object>() });
        }
        else
        {
            var report = await health.CheckHealthAsync(r => r.Tags.Contains(HealthTags.Ready), context.RequestAborted);
            ready = report.Status != HealthStatus.Unhealthy;
            body = new
            {
                status = report.Status.ToString(),
                checks = report.Entries.ToDictionary(e => e.Key, e => new
                {
                    status = e.Value.Status.ToString(),
                    description = e.Value.Description,
                    data = e.Value.Data,
                }),
            };
        }
        context.Response.StatusCode = ready ? StatusCodes.Status200OK : StatusCodes.Status503ServiceUnavailable;
        context.Response.ContentType = "application/json";
        await context.Response.WriteAsync(JsonSerializer.Serialize(body, Json) + "\n");
    }
}
