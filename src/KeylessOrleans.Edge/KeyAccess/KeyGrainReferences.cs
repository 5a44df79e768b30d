using System.Runtime.CompilerServices;
using KeylessOrleans.Keys;

namespace KeylessOrleans.Edge.KeyAccess;

/// <summary>
/// Key grain references without <see cref="IGrainFactory.GetGrain{TGrainInterface}(string, string?)"/>'s per-call
/// resolution of the interface and grain type (reflection over the interface's attributes: ~3 % of the edge's CPU in
/// a full-handshake profile). Both are resolved once per grain factory — the operator's cluster, or a tenant's cluster
/// client, whose own type map names the grain type — and every reference after that is built from its id.
/// </summary>
internal static class KeyGrainReferences
{
    private static readonly ConditionalWeakTable<IGrainFactory, Types> Resolved = [];

    public static IKeyGrain Get(IGrainFactory grains, KeyGrainKey key)
    {
        if (Resolved.TryGetValue(grains, out var types))
            return (IKeyGrain)grains.GetGrain(GrainId.Create(types.Grain, key.ToString()), types.Interface);
        var grain = grains.GetGrain<IKeyGrain>(key.ToString());
        // Kept only once the factory knows the implementation: before the client has its cluster's type map Orleans
        // answers with a placeholder type (under its reserved "sys." prefix), resolved again at the next call.
        var resolved = Types.Of(grain);
        if (!resolved.Grain.ToString().StartsWith(GrainTypePrefix.SystemPrefix, StringComparison.Ordinal)) Resolved.TryAdd(grains, resolved);
        return grain;
    }

    private sealed record Types(GrainType Grain, GrainInterfaceType Interface)
    {
        public static Types Of(IKeyGrain sample)
        {
            var reference = (GrainReference)sample;
            return new Types(reference.GrainId.Type, reference.InterfaceType);
        }
    }
}
