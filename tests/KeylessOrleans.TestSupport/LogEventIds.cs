using System.Reflection;
using Microsoft.Extensions.Logging;

namespace KeylessOrleans.TestSupport;

/// <summary>The event ids an assembly's source-generated log methods declare.</summary>
public static class LogEventIds
{
    /// <summary>Every <see cref="LoggerMessageAttribute"/> method of <paramref name="assembly"/>, as (event id, "Type.Method").</summary>
    public static IReadOnlyList<(int EventId, string Method)> Declared(Assembly assembly) =>
        [.. from type in assembly.GetTypes()
            from method in type.GetMethods(BindingFlags.Public | BindingFlags.NonPublic | BindingFlags.Instance | BindingFlags.Static | BindingFlags.DeclaredOnly)
            let attribute = method.GetCustomAttribute<LoggerMessageAttribute>()
            where attribute is not null
            select (attribute.EventId, $"{type.FullName}.{method.Name}")];

    /// <summary>Event ids declared by more than one log method, each with the methods that share it; empty when all are unique.</summary>
    public static IReadOnlyList<string> Shared(Assembly assembly) =>
        [.. Declared(assembly)
            .GroupBy(declared => declared.EventId)
            .Where(group => group.Count() > 1)
            .Select(group => $"{group.Key}: {string.Join(", ", group.Select(declared => declared.Method).Order())}")];
}
