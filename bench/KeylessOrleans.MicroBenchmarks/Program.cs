using BenchmarkDotNet.Configs;
using BenchmarkDotNet.Diagnosers;
using BenchmarkDotNet.Jobs;
using BenchmarkDotNet.Running;

// Micro-benchmarks behind the choices in the edge's hot path (bench/README.md):
//   dotnet run -c Release --project bench/KeylessOrleans.MicroBenchmarks -- --filter '*'
// Each class has a baseline per category, so the "Ratio" column compares within one run.
var config = DefaultConfig.Instance
    .AddJob(Job.ShortRun.WithId("short"))
    .AddDiagnoser(MemoryDiagnoser.Default)
    .WithOptions(ConfigOptions.JoinSummary);
BenchmarkSwitcher.FromAssembly(typeof(Program).Assembly).Run(args, config);
