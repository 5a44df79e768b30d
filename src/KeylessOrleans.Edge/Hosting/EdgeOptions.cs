using Microsoft.Extensions.Options;

namespace KeylessOrleans.Edge.Hosting;

/// <summary>Settings of an edge silo (configuration section "Keyless:Edge").</summary>
public sealed class EdgeOptions
{
    /// <summary>This edge's id, sent with every key request for the tenant's audit trail.</summary>
    public string EdgeId { get; set; } = Environment.MachineName.ToLowerInvariant();

    /// <summary>
    /// How long a key call may take before the handshake gives up with "unavailable". Far below Orleans'
    /// 30 s response timeout: a client should get an alert, not a hang, when a tenant's key server is down.
    /// </summary>
    public TimeSpan KeyCallTimeout { get; set; } = TimeSpan.FromSeconds(2);
}

internal sealed class EdgeOptionsValidator : IValidateOptions<EdgeOptions>
{
    public ValidateOptionsResult Validate(string? name, EdgeOptions options)
    {
        var failures = new List<string>();
        if (string.IsNullOrWhiteSpace(options.EdgeId)) failures.Add("Keyless:Edge:EdgeId must not be empty");
        if (options.KeyCallTimeout <= TimeSpan.Zero || options.KeyCallTimeout > TimeSpan.FromSeconds(30))
            failures.Add($"Keyless:Edge:KeyCallTimeout {options.KeyCallTimeout} must be above zero and at most 30 s");
        return failures.Count == 0 ? ValidateOptionsResult.Success : ValidateOptionsResult.Fail(failures);
    }
}
