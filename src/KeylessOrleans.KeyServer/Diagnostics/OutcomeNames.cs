using KeylessOrleans.Keys;

namespace KeylessOrleans.KeyServer.Diagnostics;

/// <summary>
/// A status's name as audit records and metric tags carry it (<see cref="Enum.ToString()"/>'s text), looked up rather
/// than formatted: every key operation names its outcome twice.
/// </summary>
internal static class OutcomeNames
{
    private static readonly string[] Names = Build();

    public static string Of(KeyOperationStatus status) =>
        (uint)status < (uint)Names.Length && Names[(int)status] is { } name ? name : status.ToString();

    private static string[] Build()
    {
        var values = Enum.GetValues<KeyOperationStatus>();
        var names = new string[values.Max(v => (int)v) + 1];
        foreach (var value in values) names[(int)value] = value.ToString();
        return names;
    }
}
