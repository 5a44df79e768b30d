namespace KeylessOrleans.Keys;

/// <summary>
/// The identity of a key grain: "tenant/replica/keyId". Each replica of a tenant's key server has its own
/// grain per key, so an edge can choose a live replica and fail over without waiting for Orleans to
/// declare a silo dead. The placement filter reads tenant and replica from this key.
/// </summary>
public readonly record struct KeyGrainKey(string Tenant, string Replica, string KeyId)
{
    public override string ToString() => $"{Tenant}/{Replica}/{KeyId}";

    public static bool TryParse(string? value, out KeyGrainKey key)
    {
        key = default;
        var parts = value?.Split('/');
        if (parts is not { Length: 3 } || parts.Any(string.IsNullOrEmpty)) return false;
        key = new KeyGrainKey(parts[0], parts[1], parts[2]);
        return true;
    }

    /// <summary>Tenant and replica names: lowercase letters, digits, '-' and '.', 1–63 characters.</summary>
    public static bool IsValidName(string? name) =>
        name is { Length: > 0 and <= 63 } && name.All(c => c is >= 'a' and <= 'z' or >= '0' and <= '9' or '-' or '.');
}
