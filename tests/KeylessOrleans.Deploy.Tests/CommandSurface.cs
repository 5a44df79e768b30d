namespace KeylessOrleans.Deploy.Tests;

/// <summary>
/// The `keyless` command surface the deploy files are written against (subcommands, options, KEYLESS__ variables).
/// Keep in step with src/KeylessOrleans.Cli; this project deliberately does not reference it.
/// </summary>
internal static class CommandSurface
{
    private static readonly string[] SiloOptions =
        ["--config", "--clustering", "--redis", "--cluster-id", "--service-id", "--silo-port", "--advertise",
         "--tls-cert", "--tls-key", "--tls-ca", "--admin-port", "--admin-listen", "--admin-cert", "--admin-key",
         "--admin-token-file", "--admin-client-ca", "--admin-insecure-plain-http", "--log-format"];

    /// <summary>How the tenant commands reach the cluster (an Orleans client: Redis, or an edge's gateway).</summary>
    private static readonly string[] ClientOptions =
        ["--config", "--clustering", "--redis", "--gateway-port", "--cluster-id", "--service-id", "--tls-cert", "--tls-key", "--tls-ca"];

    /// <summary>Command path ("edge", "tenant add") -> the options it takes.</summary>
    public static readonly IReadOnlyDictionary<string, string[]> Commands = new Dictionary<string, string[]>
    {
        ["edge"] = [.. SiloOptions, "--primary", "--gateway-port", "--https-port", "--listen", "--edge-id", "--tenants", "--registry-dir", "--shared-cluster"],
        ["keyserver"] = [.. SiloOptions, "--primary", "--tenant", "--replica", "--keys", "--pkcs11-key", "--audit-log", "--audit-allow-new-chain", "--gateway-port", "--edge-ca", "--shared-cluster"],
        ["audit verify"] = ["--key", "--anchor", "--heads"],
        ["origin"] = ["--listen"],
        ["demo"] = ["--https-port", "--data-dir", "--silo-port", "--gateway-port", "--prepare-only", "--origin-port", "--admin-port", "--key-server-gateway-port"],
        ["tenant add"] = [.. ClientOptions, "--host", "--origin", "--proxy-protocol", "--h2", "--no-rsa-key-exchange", "--key-server", "--key-server-ca"],
        ["tenant list"] = ClientOptions,
        ["tenant show"] = ClientOptions,
        ["tenant remove"] = ClientOptions,
        ["status"] = [.. ClientOptions, "--json"],
        ["ca init"] = ["--dir", "--name"],
        ["cert issue"] = ["--ca-dir", "--role", "--name", "--tenant", "--replica", "--csr", "--out", "--days"],
        ["cert request"] = ["--tenant", "--replica", "--out"],
    };

    /// <summary>Configuration keys settable as KEYLESS__SECTION__KEY (docs/operations.md "Configuration", EdgeOptions, KeyServerOptions).</summary>
    public static readonly IReadOnlySet<string> EnvironmentVariables = new HashSet<string>(StringComparer.Ordinal)
    {
        "KEYLESS__CLUSTER__CLUSTERING", "KEYLESS__CLUSTER__REDIS", "KEYLESS__CLUSTER__CLUSTERID",
        "KEYLESS__CLUSTER__SERVICEID", "KEYLESS__CLUSTER__SILOPORT", "KEYLESS__CLUSTER__GATEWAYPORT",
        "KEYLESS__CLUSTER__PRIMARYSILO", "KEYLESS__CLUSTER__ADVERTISEDADDRESS", "KEYLESS__CLUSTER__TLSCERTIFICATE", "KEYLESS__CLUSTER__TLSKEY",
        "KEYLESS__CLUSTER__TLSCA", "KEYLESS__CLUSTER__ALLOWPLAINTEXTMULTIHOST", "KEYLESS__CLUSTER__REGISTRYDIRECTORY",
        "KEYLESS__EDGE__LISTENER__HTTPSPORT", "KEYLESS__EDGE__LISTENER__LISTENADDRESS", "KEYLESS__EDGE__EDGEID",
        "KEYLESS__EDGE__TLS__DEFAULTHOSTNAME", "KEYLESS__EDGE__KEYCALLS__TIMEOUT", "KEYLESS__EDGE__LIMITS__HANDSHAKETHREADS",
        "KEYLESS__EDGE__LIMITS__HANDSHAKEQUEUELENGTH", "KEYLESS__EDGE__LIMITS__MAXCONNECTIONS",
        "KEYLESS__KEYSERVER__TENANT", "KEYLESS__KEYSERVER__SHAREDCLUSTER", "KEYLESS__KEYSERVER__REPLICA", "KEYLESS__KEYSERVER__KEYDIRECTORY",
        "KEYLESS__KEYSERVER__AUDITLOG__PATH", "KEYLESS__KEYSERVER__ACCESS__EDGECA", "KEYLESS__KEYSERVER__AUDITLOG__ENABLED", "KEYLESS__KEYSERVER__AUDITLOG__IFBROKEN",
        "KEYLESS__KEYSERVER__AUDITLOG__ALLOWNEWCHAIN", "KEYLESS__KEYSERVER__AUDITLOG__KEYPATH", "KEYLESS__KEYSERVER__AUDITLOG__STATEPATH",
        "KEYLESS__KEYSERVER__AUDITLOG__HEADSFILE", "KEYLESS__KEYSERVER__AUDITLOG__HEADSSYSLOG",
        "KEYLESS__KEYSERVER__KEYRELOADDELAY", "KEYLESS__KEYSERVER__KEYRESCANINTERVAL", "KEYLESS__KEYSERVER__KEYRETIREMENTDELAY",
        "KEYLESS__EDGE__CONTROLPLANE__STATUSREPORTINTERVAL", "KEYLESS__EDGE__SHAREDCLUSTER", "KEYLESS__EDGE__CONTROLPLANE__CALLPROOFWINDOW",
        "KEYLESS__ADMIN__PORT", "KEYLESS__ADMIN__LISTENADDRESS", "KEYLESS__LOGGING__FORMAT",
        "KEYLESS__ADMIN__CERTIFICATEFILE", "KEYLESS__ADMIN__KEYFILE", "KEYLESS__ADMIN__TOKENFILE", "KEYLESS__ADMIN__CLIENTCAFILE",
        "KEYLESS__ADMIN__INSECUREPLAINHTTP", "KEYLESS__ADMIN__DASHBOARDPASSWORDFILE",
        "KEYLESS__KEYSERVER__AUDITLOG__ROTATEBYTES", "KEYLESS__KEYSERVER__AUDITLOG__ROTATEINTERVAL", "KEYLESS__KEYSERVER__AUDITLOG__COMPRESS",
        "KEYLESS__KEYSERVER__AUDITLOG__RETAINFOR", "KEYLESS__KEYSERVER__AUDITLOG__RETAINBYTES",
    };

    /// <summary>Problems with one `keyless` argument list (empty when it fits the surface).</summary>
    public static List<string> CheckCommand(IReadOnlyList<string> args)
    {
        if (args.Count == 0) return ["empty command"];
        var path = args[0];
        var rest = 1;
        if (!Commands.ContainsKey(path))
        {
            // Group commands: "tenant add", "ca init", "cert issue", ...
            path = args.Count > 1 ? $"{args[0]} {args[1]}" : args[0];
            rest = 2;
            if (!Commands.ContainsKey(path)) return [$"'{string.Join(' ', args.Take(2))}' is not a keyless subcommand"];
        }
        return args.Skip(rest)
            .Where(a => a.StartsWith("--", StringComparison.Ordinal))
            .Select(a => a.Split('=')[0])
            .Where(option => !Commands[path].Contains(option))
            .Select(option => $"'keyless {path}' has no option {option}")
            .ToList();
    }

    /// <summary>Problems with environment variable names: every KEYLESS__ name must be a known setting; others must be in <paramref name="alsoAllowed"/>.</summary>
    public static List<string> CheckEnvironment(IEnumerable<string> names, IReadOnlyCollection<string>? alsoAllowed = null) =>
        names.Where(n => !EnvironmentVariables.Contains(n) && !(alsoAllowed?.Contains(n) ?? false))
            .Select(n => n.StartsWith("KEYLESS__", StringComparison.Ordinal)
                ? $"{n} is not a keyless setting"
                : $"{n} is not a keyless environment variable")
            .ToList();
}
