using BenchmarkDotNet.Running;

namespace HybridEngine.Benchmarks;

public static class Program
{
    /// <summary>Pick benchmarks with the usual BenchmarkDotNet arguments, e.g. <c>--filter *MatVec* --job short</c>.</summary>
    public static void Main(string[] args) => BenchmarkSwitcher.FromAssembly(typeof(Program).Assembly).Run(args);
}
