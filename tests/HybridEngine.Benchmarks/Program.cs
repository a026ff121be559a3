using BenchmarkDotNet.Running;

namespace HybridEngine.Benchmarks;

public static class Program
{
    /// <summary>
    /// Pick benchmarks with the usual BenchmarkDotNet arguments, e.g. <c>--filter *MatVec* --job short</c>, or
    /// <c>llama-bench -m FILE ...</c> for this engine against llama.cpp on one model (see <see cref="LlamaBench"/>).
    /// </summary>
    public static int Main(string[] args)
    {
        if (args.Length > 0 && args[0] == "llama-bench") return LlamaBench.Run(args[1..]);
        if (args.Length > 0 && args[0] == "dot-bench") return DotThroughput.Run(args[1..]);
        if (args.Length > 0 && args[0] == "pool-bench") return PoolLatency.Run(args[1..]);
        BenchmarkSwitcher.FromAssembly(typeof(Program).Assembly).Run(args);
        return 0;
    }
}
