using System.Collections.Concurrent;
using System.Reflection;
using Orleans.Serialization.Invocation;

namespace KeylessOrleans.Cluster.Security;

/// <summary>Reads the <see cref="AllowedCallersAttribute"/> declarations of grain interfaces.</summary>
internal static class CallerRules
{
    private static readonly ConcurrentDictionary<MethodInfo, Callers?> Declared = new();

    /// <summary>Who may call <paramref name="method"/>: its own declaration, else its interface's; null when neither declares.</summary>
    public static Callers? For(MethodInfo method) => Declared.GetOrAdd(method, static m =>
        m.GetCustomAttribute<AllowedCallersAttribute>()?.Callers ?? m.DeclaringType?.GetCustomAttribute<AllowedCallersAttribute>()?.Callers);

    /// <summary>Whether calls to <paramref name="method"/> need a proof of who calls (some caller is allowed by role).</summary>
    public static bool NeedsProof(MethodInfo? method) =>
        method is not null && For(method) is { } callers && (callers & (Callers.Edge | Callers.Operator | Callers.OwnTenantOnPrem)) != 0;

    /// <summary>
    /// The tenant a call is about: its string parameter named <c>tenant</c>, or the string <c>Tenant</c> property of
    /// its first argument that has one; null when it names none.
    /// </summary>
    public static string? TenantOf(MethodInfo method, IInvokable request)
    {
        var parameters = method.GetParameters();
        for (var i = 0; i < parameters.Length && i < request.GetArgumentCount(); i++)
            if (parameters[i].ParameterType == typeof(string) && parameters[i].Name == "tenant")
                return request.GetArgument(i) as string;
        for (var i = 0; i < request.GetArgumentCount(); i++)
            if (request.GetArgument(i) is { } argument && argument.GetType().GetProperty("Tenant") is { PropertyType: var type } property && type == typeof(string))
                return property.GetValue(argument) as string;
        return null;
    }
}
