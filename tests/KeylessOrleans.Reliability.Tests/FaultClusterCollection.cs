namespace KeylessOrleans.Reliability.Tests;

/// <summary>One fault cluster for all drills (starting six processes costs most of a drill's time).</summary>
[CollectionDefinition(nameof(FaultClusterCollection))]
public sealed class FaultClusterCollection : ICollectionFixture<FaultCluster>;
