using KeylessOrleans.KeyServer.Access;
using KeylessOrleans.KeyServer.Audit;
using KeylessOrleans.KeyServer.Delegation;
using KeylessOrleans.Keys;
using Microsoft.Extensions.Options;

namespace KeylessOrleans.KeyServer.Hosting;

/// <summary>Settings of a tenant's key server silo (configuration section "Keyless:KeyServer").</summary>
public sealed class KeyServerOptions
{
    /// <summary>The tenant whose keys this silo serves.</summary>
    public string Tenant { get; set; } = "";

    /// <summary>This replica's name; each of a tenant's key servers has its own.</summary>
    public string Replica { get; set; } = "primary";

    /// <summary>
    /// False (the default, federated): this silo is a member of the tenant's own cluster only, edges reach it as
    /// Orleans clients through its gateway and read its chains from its key server grain. True (single organization):
    /// it joins the operator's cluster and registers its chains with the operator's registry; no gateway opens. Only
    /// for edges and key servers of one organization: a cluster member can forge anything in its cluster.
    /// </summary>
    public bool SharedCluster { get; set; }

    /// <summary>Folder of PEM keys and certificate chains.</summary>
    public string KeyDirectory { get; set; } = "";

    /// <summary>
    /// Private keys in PKCS#11 tokens (HSMs), as RFC 7512 URIs with module-path and pin-source; their certificate
    /// chains go in <see cref="KeyDirectory"/>.
    /// </summary>
    public List<string> Pkcs11Keys { get; set; } = [];

    /// <summary>
    /// False (the default): an RSA key in a token without its implicit-rejection key ("&lt;label&gt;.implicit-rejection",
    /// a CKK_GENERIC_SECRET key with the RSA key's CKA_ID, for deterministic answers to bad ciphertexts) signs but
    /// refuses every decryption, with a warning at start; nothing is ever created in the token. True: the key server
    /// generates the missing key in the token at start (sensitive, not extractable, HMAC only) and logs it.
    /// </summary>
    public bool Pkcs11CreateImplicitRejectionKeys { get; set; }

    /// <summary>Sessions per PKCS#11 token: as many as key operations may run at once.</summary>
    public int Pkcs11SessionPoolSize { get; set; } = Math.Max(4, Environment.ProcessorCount * 2);

    /// <summary>
    /// Fault drill: every key operation waits this long first, as behind a slow HSM or an overloaded host, so an
    /// operator can rehearse a slow key server against a live edge fleet. Zero (off) outside drills; a key grain
    /// that starts with it on says so in a warning.
    /// </summary>
    public TimeSpan DrillDelay { get; set; } = TimeSpan.Zero;

    /// <summary>Who may use this tenant's keys, which operations, how often (section "Keyless:KeyServer:Access").</summary>
    public KeyAccessOptions Access { get; set; } = new();

    /// <summary>Hot reload: how long the key folder must be quiet after a change before it is read again.</summary>
    public TimeSpan KeyReloadDelay { get; set; } = TimeSpan.FromMilliseconds(500);

    /// <summary>Hot reload's safety net: the key folder is rescanned this often even without change events.</summary>
    public TimeSpan KeyRescanInterval { get; set; } = TimeSpan.FromSeconds(30);

    /// <summary>How long a key removed from the folder stays usable by operations that had already picked it up.</summary>
    public TimeSpan KeyRetirementDelay { get; set; } = TimeSpan.FromSeconds(30);

    /// <summary>How often the replica re-announces itself to the registry (it also does at start; <see cref="SharedCluster"/> only).</summary>
    public TimeSpan RegistrationInterval { get; set; } = TimeSpan.FromSeconds(30);

    /// <summary>How soon to try again when the registry cannot be reached (e.g. no edge is up yet).</summary>
    public TimeSpan RegistrationRetryDelay { get; set; } = TimeSpan.FromSeconds(1);

    /// <summary>The tenant's record of every key operation (on unless switched off explicitly).</summary>
    public AuditLogOptions AuditLog { get; set; } = new();

    /// <summary>RFC 9345 delegated credentials for edges (section "Keyless:KeyServer:DelegatedCredentials").</summary>
    public DelegatedCredentialOptions DelegatedCredentials { get; set; } = new();
}

/// <summary>Refuses a key server's settings at start, each problem named by its configuration key.</summary>
internal sealed class KeyServerOptionsValidator : IValidateOptions<KeyServerOptions>
{
    public ValidateOptionsResult Validate(string? name, KeyServerOptions options)
    {
        var failures = new List<string>();
        if (!KeyGrainKey.IsValidName(options.Tenant))
            failures.Add($"Keyless:KeyServer:Tenant '{options.Tenant}' must be 1–63 of a-z, 0-9, '-' and '.'");
        if (!KeyGrainKey.IsValidName(options.Replica))
            failures.Add($"Keyless:KeyServer:Replica '{options.Replica}' must be 1–63 of a-z, 0-9, '-' and '.'");
        if (string.IsNullOrWhiteSpace(options.KeyDirectory) || !Directory.Exists(options.KeyDirectory))
            failures.Add($"Keyless:KeyServer:KeyDirectory '{options.KeyDirectory}' is not an existing folder");
        if (options.Pkcs11SessionPoolSize < 1)
            failures.Add("Keyless:KeyServer:Pkcs11SessionPoolSize must be at least 1");
        if (options.DrillDelay < TimeSpan.Zero || options.DrillDelay > TimeSpan.FromMinutes(1))
            failures.Add($"Keyless:KeyServer:DrillDelay {options.DrillDelay} must be between zero and 1 min");
        if (options.RegistrationInterval <= TimeSpan.Zero || options.RegistrationRetryDelay <= TimeSpan.Zero)
            failures.Add("Keyless:KeyServer registration intervals must be positive");
        if (options.KeyReloadDelay < TimeSpan.Zero || options.KeyRescanInterval <= TimeSpan.Zero || options.KeyRetirementDelay < TimeSpan.Zero)
            failures.Add("Keyless:KeyServer:KeyReloadDelay, KeyRescanInterval and KeyRetirementDelay must not be negative (the rescan interval must be positive)");
        // The nested sections are bound with this class, so their validators run as part of this one.
        failures.AddRange(new KeyAccessOptionsValidator().Validate(name, options.Access).Failures ?? []);
        failures.AddRange(new DelegatedCredentialOptionsValidator().Validate(name, options.DelegatedCredentials).Failures ?? []);
        failures.AddRange(new AuditLogOptionsValidator(options.Tenant, options.Replica).Validate(name, options.AuditLog).Failures ?? []);
        return failures.Count == 0 ? ValidateOptionsResult.Success : ValidateOptionsResult.Fail(failures);
    }
}
