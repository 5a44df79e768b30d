namespace KeylessOrleans.Cluster;

/// <summary>Who may call a grain method of the operator's cluster, by the role the caller proves on the call.</summary>
[Flags]
public enum Callers
{
    None = 0,

    /// <summary>An edge silo, by a proof signed with its keyless://edge/NAME cluster certificate.</summary>
    Edge = 1,

    /// <summary>An operator tool (the <c>keyless tenant</c> and <c>status</c> commands), by its keyless://operator/NAME certificate.</summary>
    Operator = 2,

    /// <summary>
    /// An on-prem key server (keyless://onprem/TENANT/REPLICA), for its own tenant only — the call's <c>tenant</c>
    /// argument, or the <c>Tenant</c> of its argument — and only in single-organization mode, where key servers are
    /// members of the operator's cluster.
    /// </summary>
    OwnTenantOnPrem = 4,

    /// <summary>Only the silo's own process, by a per-process secret no remote caller knows.</summary>
    LocalProcess = 8,
}

/// <summary>
/// Declares who may call a grain interface (on the interface, for every method) or one method (overrides the
/// interface's). Edge silos refuse calls to a KeylessOrleans grain interface that declares nothing, so a new grain
/// cannot be reachable by accident.
/// </summary>
[AttributeUsage(AttributeTargets.Interface | AttributeTargets.Method, Inherited = false)]
public sealed class AllowedCallersAttribute(Callers callers) : Attribute
{
    public Callers Callers { get; } = callers;
}
