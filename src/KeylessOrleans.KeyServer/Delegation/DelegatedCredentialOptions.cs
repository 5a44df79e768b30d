using KeylessOrleans.Keys;
using Microsoft.Extensions.Options;

namespace KeylessOrleans.KeyServer.Delegation;

/// <summary>
/// The tenant's policy for RFC 9345 delegated credentials (section "Keyless:KeyServer:DelegatedCredentials"): a
/// credential lets an edge answer TLS 1.3 handshakes for a certificate with a key of its own, without asking this
/// server, until the credential expires. Only certificates that carry DelegationUsage can delegate.
/// </summary>
public sealed class DelegatedCredentialOptions
{
    public bool Enabled { get; set; } = true;

    /// <summary>The longest validity a credential gets: exposure if an edge's key leaks. RFC 9345 allows 7 days at most.</summary>
    public TimeSpan MaxValidity { get; set; } = TimeSpan.FromHours(24);

    /// <summary>
    /// Schemes an edge's delegated key may sign CertificateVerify with (never rsa_pss_rsae_*, RFC 9345 §4); empty:
    /// <see cref="DefaultSchemes"/>. Empty rather than holding the defaults because the configuration binder adds the
    /// configured items to a list's existing ones: a tenant writing ["Ed25519"] would have allowed ECDSA as well.
    /// </summary>
    public List<SignatureScheme> AllowedSchemes { get; set; } = [];

    public static readonly IReadOnlyList<SignatureScheme> DefaultSchemes = [SignatureScheme.EcdsaSecp256r1Sha256, SignatureScheme.Ed25519];

    /// <summary>The schemes in force: <see cref="AllowedSchemes"/>, or the defaults when none are named.</summary>
    public IReadOnlyList<SignatureScheme> Schemes => AllowedSchemes.Count > 0 ? AllowedSchemes : DefaultSchemes;

    /// <summary>
    /// While this file exists, no credential is issued: the tenant's switch to stop delegation at once, without a
    /// restart (credentials already issued stay valid until they expire, at most <see cref="MaxValidity"/>). A
    /// relative path is taken in the key folder.
    /// </summary>
    public string RevocationFile { get; set; } = "delegation-revoked";

    public static readonly IReadOnlyList<SignatureScheme> Supported =
        [SignatureScheme.EcdsaSecp256r1Sha256, SignatureScheme.EcdsaSecp384r1Sha384, SignatureScheme.Ed25519];

    /// <summary>The policy in one line, for the key server's log.</summary>
    public string Describe() => Enabled
        ? $"issuing, at most {MaxValidity} valid, schemes {string.Join(", ", Schemes)}; revoked while {RevocationFile} exists"
        : "not issuing";

    internal bool SameAs(DelegatedCredentialOptions other) =>
        Enabled == other.Enabled && MaxValidity == other.MaxValidity && Schemes.SequenceEqual(other.Schemes)
        && RevocationFile == other.RevocationFile;
}

/// <summary>Refuses a delegation policy, at start or when changed while running, each problem named by its configuration key.</summary>
internal sealed class DelegatedCredentialOptionsValidator : IValidateOptions<DelegatedCredentialOptions>
{
    public ValidateOptionsResult Validate(string? name, DelegatedCredentialOptions o)
    {
        var failures = new List<string>();
        if (o.MaxValidity <= TimeSpan.Zero || o.MaxValidity > DelegatedCredential.MaxValidity)
            failures.Add($"Keyless:KeyServer:DelegatedCredentials:MaxValidity {o.MaxValidity} must be above zero and at most 7 days (RFC 9345)");
        foreach (var scheme in o.AllowedSchemes.Where(s => !DelegatedCredentialOptions.Supported.Contains(s)))
            failures.Add($"Keyless:KeyServer:DelegatedCredentials:AllowedSchemes: {scheme} is not one of {string.Join(", ", DelegatedCredentialOptions.Supported)}");
        if (string.IsNullOrWhiteSpace(o.RevocationFile))
            failures.Add("Keyless:KeyServer:DelegatedCredentials:RevocationFile must name a file");
        return failures.Count == 0 ? ValidateOptionsResult.Success : ValidateOptionsResult.Fail(failures);
    }
}
