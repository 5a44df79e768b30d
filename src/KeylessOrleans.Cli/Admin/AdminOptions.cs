using System.Net;

namespace KeylessOrleans.Cli.Admin;

/// <summary>The "Keyless:Admin" section: where a silo serves /metrics, /healthz and /readyz.</summary>
public sealed class AdminOptions
{
    public const string Section = "Keyless:Admin";

    /// <summary>HTTP port of the admin endpoint; 0 turns it off. Unset: the role's default (edge 9090, key server 9091).</summary>
    public int? Port { get; set; }

    /// <summary>
    /// Loopback by default: metrics name tenants and host names. Bind beyond it (e.g. 0.0.0.0 for Kubernetes
    /// probes) only on a network the operator trusts; nothing on this endpoint asks for credentials.
    /// </summary>
    public string ListenAddress { get; set; } = "127.0.0.1";

    /// <summary>
    /// Edges serve the Orleans Dashboard at /dashboard on this endpoint. Beyond loopback it is served only with a
    /// password (<see cref="DashboardPasswordFile"/>, HTTP Basic, user "operator"); without one it stays off.
    /// </summary>
    public bool Dashboard { get; set; } = true;

    /// <summary>A file holding the dashboard password (first line), required when <see cref="ListenAddress"/> is not loopback.</summary>
    public string? DashboardPasswordFile { get; set; }

    public bool IsLoopback => IPAddress.TryParse(ListenAddress, out var address) && IPAddress.IsLoopback(address);

    /// <summary>Throws a configuration error (exit code 2) naming the bad setting.</summary>
    public void Validate()
    {
        if (Port is < 0 or > 65535) throw new ArgumentException($"{Section}:Port must be 0 (off) to 65535, not {Port}");
        if (!IPAddress.TryParse(ListenAddress, out _)) throw new ArgumentException($"{Section}:ListenAddress must be an IP address, not '{ListenAddress}'");
        if (!string.IsNullOrWhiteSpace(DashboardPasswordFile) && !File.Exists(DashboardPasswordFile))
            throw new ArgumentException($"{Section}:DashboardPasswordFile '{DashboardPasswordFile}' is not an existing file");
    }
}
