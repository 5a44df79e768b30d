namespace KeylessOrleans.Wan.Tests;

/// <summary>One WAN deployment for all drills (building it costs more than most drills).</summary>
[CollectionDefinition(nameof(WanClusterCollection))]
public sealed class WanClusterCollection : ICollectionFixture<WanCluster>;
