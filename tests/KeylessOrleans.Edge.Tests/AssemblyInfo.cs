// Each fixture runs a multi-silo cluster with a TLS listener; side by side on 2 cores they only measure contention.
[assembly: CollectionBehavior(DisableTestParallelization = true)]
[assembly: System.Runtime.Versioning.SupportedOSPlatform("linux")]
