// Each test class starts its own multi-silo cluster; on a 2-core machine running them side by side
// only measures CPU contention, so classes run one after another.
[assembly: CollectionBehavior(DisableTestParallelization = true)]
