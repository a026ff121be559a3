using System.Globalization;
using HybridEngine.Runtime;
using LLama;
using LLama.Common;
using LLama.Native;

namespace HybridEngine.Benchmarks;

/// <summary>
/// <c>llama-bench -m FILE [--pp 512] [--tg 128] [-r 3] [-t N] [--f16-cache] [--engine both|hybrid|llama.cpp]</c>: llama-bench's pp and tg tests on
/// the same file with the same threads, this engine and llama.cpp (through LLamaSharp) in one process, printing
/// both figures and the ratios. llama.cpp runs with an F32 KV cache by default, as this engine does
/// (<c>--f16-cache</c> for llama-bench's default), no flash attention, and the same random tokens.
/// </summary>
public static class LlamaBench
{
    public static int Run(string[] args)
    {
        string? model = null;
        int pp = 512, tg = 128, reps = 3, threads = Environment.ProcessorCount;
        bool f16Cache = false;
        string engine = "both";
        for (int i = 0; i < args.Length; i++)
        {
            string Next() => i + 1 < args.Length ? args[++i] : throw new ArgumentException($"{args[i]} needs a value");
            switch (args[i])
            {
                case "-m": case "--model": model = Next(); break;
                case "-p": case "--pp": pp = int.Parse(Next(), CultureInfo.InvariantCulture); break;
                case "-n": case "--tg": tg = int.Parse(Next(), CultureInfo.InvariantCulture); break;
                case "-r": case "--repetitions": reps = int.Parse(Next(), CultureInfo.InvariantCulture); break;
                case "-t": case "--threads": threads = int.Parse(Next(), CultureInfo.InvariantCulture); break;
                case "--f16-cache": f16Cache = true; break;
                case "--engine": engine = Next(); break;
                default: Console.Error.WriteLine($"unknown argument {args[i]}"); return 2;
            }
        }
        if (model == null) { Console.Error.WriteLine("usage: llama-bench -m FILE [--pp 512] [--tg 128] [-r 3] [-t N] [--f16-cache] [--engine both|hybrid|llama.cpp]"); return 2; }
        var options = new BenchOptions(pp, tg, reps);

        if (engine is not ("both" or "hybrid" or "llama.cpp")) { Console.Error.WriteLine("--engine is both, hybrid or llama.cpp"); return 2; }
        var empty = new BenchResult(null, null);
        var ours = empty;
        if (engine != "llama.cpp")
        {
            using var loaded = LoadedModel.Load(model);
            using var executor = loaded.CreateExecutor(new ExecutorOptions(Context: Math.Max(pp, tg), BatchSize: Math.Max(1, Math.Min(pp, 512)), Threads: threads));
            ours = CpuTimed("hybrid", options, o => Benchmark.Run(executor, o));
        }
        var theirs = engine == "hybrid" ? empty : LlamaCpp(model, options, threads, f16Cache);

        Console.WriteLine($"model={Path.GetFileName(model)} threads={threads} pp={pp} tg={tg} r={reps} llama_cpp_cache={(f16Cache ? "f16" : "f32")}");
        Print("hybrid", ours);
        Print("llama.cpp", theirs);
        string Ratio(BenchFigure? a, BenchFigure? b) =>
            a == null || b == null ? "n/a" : (a.TokensPerSecond / b.TokensPerSecond).ToString("F3", CultureInfo.InvariantCulture);
        Console.WriteLine($"ratio (hybrid / llama.cpp): pp={Ratio(ours.Prompt, theirs.Prompt)} tg={Ratio(ours.Generation, theirs.Generation)}");
        return 0;
    }

    /// <summary>
    /// Runs pp and tg apart and prints the process CPU time each took per token (warm-up included): on a loaded
    /// machine CPU time is steadier than wall time, though spinning worker threads count in it.
    /// </summary>
    internal static BenchResult CpuTimed(string engine, BenchOptions options, Func<BenchOptions, BenchResult> run)
    {
        var process = System.Diagnostics.Process.GetCurrentProcess();
        double CpuSeconds() { process.Refresh(); return process.TotalProcessorTime.TotalSeconds; }
        double start = CpuSeconds();
        var pp = options.PromptTokens > 0 ? run(options with { GenTokens = 0 }).Prompt : null;
        double mid = CpuSeconds();
        var tg = options.GenTokens > 0 ? run(options with { PromptTokens = 0 }).Generation : null;
        double end = CpuSeconds();
        int runs = options.Repetitions + 1;
        Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"{engine,-10} cpu_ms_per_pp_tok={(mid - start) * 1e3 / Math.Max(1, runs * options.PromptTokens):F2} cpu_ms_per_tg_tok={(end - mid) * 1e3 / Math.Max(1, runs * options.GenTokens):F2}"));
        return new BenchResult(pp, tg);
    }

    private static void Print(string engine, BenchResult r) => Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
        $"{engine,-10} pp_tok_s={r.Prompt?.TokensPerSecond:F2} (±{r.Prompt?.StandardDeviation:F2}) tg_tok_s={r.Generation?.TokensPerSecond:F2} (±{r.Generation?.StandardDeviation:F2})"));

    /// <summary>The same two tests through llama.cpp: pp as one decode of the whole prompt, tg as one decode per token.</summary>
    private static BenchResult LlamaCpp(string path, BenchOptions options, int threads, bool f16Cache)
    {
        NativeApi.llama_empty_call();
        int context = Math.Max(options.PromptTokens, options.GenTokens) + 8;
        var parameters = new ModelParams(path)
        {
            ContextSize = (uint)context,
            BatchSize = (uint)Math.Max(options.PromptTokens, 1),
            UBatchSize = (uint)Math.Max(1, Math.Min(options.PromptTokens, 512)),
            Threads = threads,
            BatchThreads = threads,
            TypeK = f16Cache ? GGMLType.GGML_TYPE_F16 : GGMLType.GGML_TYPE_F32,
            TypeV = f16Cache ? GGMLType.GGML_TYPE_F16 : GGMLType.GGML_TYPE_F32,
            FlashAttention = false,
        };
        using var weights = LLamaWeights.LoadFromFile(parameters);
        using var ctx = weights.CreateContext(parameters);
        int vocab = weights.Vocab.Count;
        var batch = new LLamaBatch();

        void Clear() => ctx.NativeHandle.MemoryClear();
        void Decode()
        {
            var result = ctx.NativeHandle.Decode(batch);
            if (result != DecodeResult.Ok) throw new InvalidOperationException($"llama_decode returned {result}");
        }

        return CpuTimed("llama.cpp", options, o => Tests(o));

        BenchResult Tests(BenchOptions options)
        {
            var random = new Random(options.Seed);
            BenchFigure? prompt = null, generation = null;
            if (options.PromptTokens > 0)
            {
                int[] tokens = Enumerable.Range(0, options.PromptTokens).Select(_ => random.Next(vocab)).ToArray();
                prompt = Benchmark.Measure(options.PromptTokens, options.Repetitions, () =>
                {
                    Clear();
                    batch.Clear();
                    for (int i = 0; i < tokens.Length; i++) batch.Add((LLamaToken)tokens[i], i, LLamaSeqId.Zero, i == tokens.Length - 1);
                    Decode();
                    ctx.NativeHandle.Synchronize();
                });
            }
            if (options.GenTokens > 0)
            {
                int[] tokens = Enumerable.Range(0, options.GenTokens).Select(_ => random.Next(vocab)).ToArray();
                generation = Benchmark.Measure(options.GenTokens, options.Repetitions, () =>
                {
                    Clear();
                    for (int i = 0; i < tokens.Length; i++)
                    {
                        batch.Clear();
                        batch.Add((LLamaToken)tokens[i], i, LLamaSeqId.Zero, true);
                        Decode();
                    }
                    ctx.NativeHandle.Synchronize();
                });
            }
            return new BenchResult(prompt, generation);
        }
    }
}
