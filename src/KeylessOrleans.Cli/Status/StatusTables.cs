using KeylessOrleans.Status;
using Spectre.Console;

namespace KeylessOrleans.Cli.Status;

/// <summary>Renders a <see cref="StatusView"/> as Spectre.Console tables: silos, tenants, keys, handshakes.</summary>
internal static class StatusTables
{
    /// <summary>Certificates closer to expiry than this are shown in red.</summary>
    private static readonly TimeSpan ExpiryWarning = TimeSpan.FromDays(14);

    public static void Write(IAnsiConsole console, StatusView view)
    {
        console.MarkupLineInterpolated($"[bold]KeylessOrleans cluster[/] at {view.At:yyyy-MM-dd HH:mm:ss} UTC, {view.TenantCount} tenants");
        if (view.Tenants.Count < view.TenantCount)
            console.MarkupLineInterpolated($"showing {view.Tenants.Count} of them (the busiest and those with errors); --tenant NAME or --all for others");
        console.Write(Silos(view));
        console.Write(Tenants(view));
        console.Write(Keys(view));
        console.Write(Handshakes(view));
    }

    private static Table Silos(StatusView view)
    {
        var table = new Table().Title("Silos").AddColumns("Name", "Address", "Role", "Tenant/replica", "Status");
        foreach (var silo in view.Silos)
        {
            table.AddRow(
                Text(silo.Name), Text(silo.Address), Text(silo.Role),
                Text(silo.Tenant is null ? "" : $"{silo.Tenant}/{silo.Replica}"),
                new Markup(silo.Status == "Active" ? "[green]Active[/]" : $"[yellow]{Markup.Escape(silo.Status)}[/]"));
        }
        return table;
    }

    private static Table Tenants(StatusView view)
    {
        var table = new Table().Title("Tenants").AddColumns("Tenant", "Host names", "Origin", "Replicas", "Keys", "Handshakes/min", "Errors/min");
        foreach (var tenant in view.Tenants)
        {
            var replicas = tenant.Replicas.Count == 0
                ? new Markup("[red]none registered[/]")
                : new Markup(string.Join("\n", tenant.Replicas.Select(r =>
                    $"{Markup.Escape(r.Replica)} ({(r.Silo == "Active" ? "[green]Active[/]" : $"[yellow]{Markup.Escape(r.Silo)}[/]")})")));
            table.AddRow(
                Text(tenant.Tenant), Text(string.Join("\n", tenant.HostNames)), Text(tenant.Origin), replicas,
                Text(tenant.Replicas.SelectMany(r => r.Keys).Select(k => k.KeyId).Distinct().Count().ToString()),
                Text(tenant.Succeeded.ToString()),
                new Markup(tenant.Failed == 0 ? "0" : $"[red]{tenant.Failed}[/]"));
        }
        return table;
    }

    private static Table Keys(StatusView view)
    {
        var table = new Table().Title("Keys").AddColumns("Tenant", "Replica", "Key id", "Algorithm", "Host names", "Expires");
        foreach (var tenant in view.Tenants)
        {
            foreach (var replica in tenant.Replicas)
            {
                foreach (var key in replica.Keys)
                {
                    var left = key.NotAfter - view.At;
                    var expires = $"{key.NotAfter:yyyy-MM-dd} ({left.TotalDays:0} d)";
                    table.AddRow(
                        Text(tenant.Tenant), Text(replica.Replica), Text(key.KeyId[..16] + "…"), Text(key.Algorithm),
                        Text(string.Join("\n", key.HostNames)),
                        new Markup(left < ExpiryWarning ? $"[red]{Markup.Escape(expires)}[/]" : Markup.Escape(expires)));
                }
            }
        }
        return table;
    }

    private static Table Handshakes(StatusView view)
    {
        var table = new Table().Title("Handshakes, last minute per edge").AddColumns("Edge", "Open connections", "Tenant", "OK", "Post-quantum", "Failed", "Rate/s", "Failures");
        foreach (var edge in view.Edges)
        {
            var tenants = edge.Handshakes.GroupBy(h => h.Tenant).OrderBy(g => g.Key, StringComparer.Ordinal).ToList();
            if (tenants.Count == 0) table.AddRow(Text(edge.Edge), Text(edge.OpenConnections.ToString()), Text("-"), Text("0"), Text("-"), Text("0"), Text("0"), Text(""));
            foreach (var tenant in tenants)
            {
                var ok = tenant.Where(h => h.Outcome == "ok").Sum(h => h.Count);
                var failed = tenant.Where(h => h.Outcome != "ok").ToList();
                var postQuantum = tenant.Where(h => h.Outcome == "ok").Sum(h => h.PostQuantum);
                table.AddRow(
                    Text(edge.Edge), Text(edge.OpenConnections.ToString()), Text(tenant.Key), Text(ok.ToString()),
                    Text(ok == 0 ? "-" : $"{postQuantum} ({100.0 * postQuantum / ok:0}%)"),
                    new Markup(failed.Count == 0 ? "0" : $"[red]{failed.Sum(h => h.Count)}[/]"),
                    Text(((ok + failed.Sum(h => h.Count)) / edge.Window.TotalSeconds).ToString("0.00", System.Globalization.CultureInfo.InvariantCulture)),
                    Text(string.Join("\n", failed.OrderByDescending(h => h.Count).Select(h => $"{h.Outcome} ×{h.Count}"))));
            }
        }
        if (view.Edges.Count == 0) table.Caption("no edge has reported yet (edges report every 5 s)");
        return table;
    }

    private static Text Text(string value) => new(value);
}
