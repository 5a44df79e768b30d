using System.CommandLine;

namespace KeylessOrleans.Cli.Commands;

/// <summary>Options every silo command takes; each maps onto a configuration key.</summary>
internal sealed class SiloCommandOptions
{
    public Option<string?> Config { get; } = new("--config") { Description = "JSON configuration file (sections Keyless:Cluster, Keyless:Edge, Keyless:KeyServer)" };
    public Option<int?> SiloPort { get; } = new("--silo-port") { Description = "Port for silo-to-silo traffic (default 11111)" };
    public Option<string?> PrimarySilo { get; } = new("--primary") { Description = "host:port of the primary silo to join (localhost clustering); omit on the primary" };
    public Option<string?> ClusterId { get; } = new("--cluster-id") { Description = "Orleans cluster id (default keyless)" };
    public Option<string?> ServiceId { get; } = new("--service-id") { Description = "Orleans service id (default keyless)" };
    public Option<string?> Clustering { get; } = new("--clustering") { Description = "localhost (one machine, default) or redis (multi-host)" };
    public Option<string?> Redis { get; } = new("--redis") { Description = "Redis host:port for --clustering redis (membership and registry storage)" };
    public Option<string?> Advertise { get; } = new("--advertise") { Description = "IP address other silos use to reach this one (redis clustering)" };
    public Option<int?> AdminPort { get; } = new("--admin-port") { Description = "HTTP port for /metrics, /healthz, /readyz (0: off; default edge 9090, keyserver 9091)" };
    public Option<string?> AdminListen { get; } = new("--admin-listen") { Description = "IP address the admin endpoint binds (default 127.0.0.1)" };
    public Option<string?> AdminCert { get; } = new("--admin-cert") { Description = "Certificate (PEM, e.g. cert.pem of `keyless cert issue`) for HTTPS on the admin endpoint" };
    public Option<string?> AdminKey { get; } = new("--admin-key") { Description = "Its private key (PEM)" };
    public Option<string?> AdminTokenFile { get; } = new("--admin-token-file") { Description = "File whose first line is the bearer token /metrics and the dashboard require" };
    public Option<string?> AdminClientCa { get; } = new("--admin-client-ca") { Description = "CA certificates (PEM) whose client certificates may read /metrics and the dashboard (needs --admin-cert)" };
    public Option<bool> AdminInsecurePlainHttp { get; } = new("--admin-insecure-plain-http") { Description = "Serve the admin endpoint as plain HTTP beyond loopback: anyone on that network reads it" };
    public Option<string?> LogFormat { get; } = new("--log-format") { Description = "Console log format: text (default) or json" };
    public ClusterTlsCommandOptions Tls { get; } = new();

    public void AddTo(Command command)
    {
        foreach (var option in new Option[] { Config, SiloPort, PrimarySilo, ClusterId, ServiceId, Clustering, Redis, Advertise, AdminPort, AdminListen,
            AdminCert, AdminKey, AdminTokenFile, AdminClientCa, AdminInsecurePlainHttp, LogFormat }.Concat(Tls.All))
            command.Options.Add(option);
    }

    public Dictionary<string, string?> Overrides(ParseResult result)
    {
        var overrides = new Dictionary<string, string?>
        {
            ["Keyless:Cluster:SiloPort"] = result.GetValue(SiloPort)?.ToString(),
            ["Keyless:Cluster:PrimarySilo"] = result.GetValue(PrimarySilo),
            ["Keyless:Cluster:ClusterId"] = result.GetValue(ClusterId),
            ["Keyless:Cluster:ServiceId"] = result.GetValue(ServiceId),
            ["Keyless:Cluster:Clustering"] = result.GetValue(Clustering),
            ["Keyless:Cluster:Redis"] = result.GetValue(Redis),
            ["Keyless:Cluster:AdvertisedAddress"] = result.GetValue(Advertise),
            ["Keyless:Admin:Port"] = result.GetValue(AdminPort)?.ToString(),
            ["Keyless:Admin:ListenAddress"] = result.GetValue(AdminListen),
            ["Keyless:Admin:CertificateFile"] = result.GetValue(AdminCert),
            ["Keyless:Admin:KeyFile"] = result.GetValue(AdminKey),
            ["Keyless:Admin:TokenFile"] = result.GetValue(AdminTokenFile),
            ["Keyless:Admin:ClientCaFile"] = result.GetValue(AdminClientCa),
            ["Keyless:Admin:InsecurePlainHttp"] = result.GetValue(AdminInsecurePlainHttp) ? "true" : null,
            ["Keyless:Logging:Format"] = result.GetValue(LogFormat),
        };
        Tls.AddOverrides(result, overrides);
        return overrides;
    }
}
