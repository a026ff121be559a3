using System.CommandLine;
using System.Globalization;
using System.Text.Json;
using HybridEngine.Configuration;
using HybridEngine.Gpu;
using HybridEngine.Runtime;
using HybridEngine.Tuner;

namespace HybridEngine.Cli.Commands;

/// <summary>
/// <c>hybrid bench -m MODEL [--pp 512] [--tg 128] [-r 3] [-t N] [--json] [placement options]</c> (CLI.md): llama-bench's
/// pp and tg tests (see <see cref="Benchmark"/>) on the model placed as <c>run</c> places it (<see cref="RuntimeSetup"/>);
/// prints <c>pp_tok_s=&lt;x&gt; tg_tok_s=&lt;y&gt;</c> (or with --json one document that also holds the placement and the
/// cache's figures) and, on stderr, the placement and expert-cache line of <c>run --stats</c>. Cache figures cover every run, warm-ups included. The same measurement
/// of llama.cpp on the same file runs from the benchmarks project: <c>dotnet run --project
/// tests/HybridEngine.Benchmarks -c Release -- llama-bench -m MODEL ...</c>.
/// </summary>
public static class BenchCommand
{
    /// <param name="options">Bound at start-up (Program); defaults when null.</param>
    /// <param name="adjustTune">Lets tests shrink the quick tune run when no profile matches this machine.</param>
    /// <param name="discoverGpus">Opens the accelerators a plan may use (tests pass ILGPU's CPU accelerator).</param>
    public static Command Create(TextWriter? output = null, TextWriter? error = null, EngineOptions? options = null,
        Func<TuneOptions, TuneOptions>? adjustTune = null, Func<GpuDiscovery>? discoverGpus = null)
    {
        var model = new Option<string>("--model", "-m") { Description = "GGUF model file", Required = true };
        var pp = new Option<int>("--pp", "-p") { Description = "prompt tokens of the pp test (0 = skip)", DefaultValueFactory = _ => 512 };
        var tg = new Option<int>("--tg", "-n") { Description = "generated tokens of the tg test (0 = skip)", DefaultValueFactory = _ => 128 };
        var repetitions = new Option<int>("--repetitions", "-r") { Description = "timed runs of each test", DefaultValueFactory = _ => 3 };
        var threads = new Option<int>("--threads", "-t") { Description = "compute threads (0 = all cores)" };
        var batch = new Option<int>("--batch-size", "-b") { Description = "most tokens per forward step in pp", DefaultValueFactory = _ => 512 };
        var json = new Option<bool>("--json") { Description = "print one JSON document" };
        var command = new Command("bench", "Measures prompt processing (pp) and generation (tg) speed, llama-bench style.");
        foreach (var o in new Option[] { model, pp, tg, repetitions, threads, batch, json }) command.Options.Add(o);
        var setup = RuntimeSetup.For(discoverGpus);
        setup.AddTo(command);
        command.SetAction(parse =>
        {
            var stdout = output ?? Console.Out;
            var stderr = error ?? Console.Error;
            var bench = new BenchOptions(parse.GetValue(pp), parse.GetValue(tg), parse.GetValue(repetitions));
            if (bench.PromptTokens < 0 || bench.GenTokens < 0) throw new UsageException("--pp and --tg must not be negative");
            if (bench.PromptTokens + bench.GenTokens == 0) throw new UsageException("--pp and --tg are both 0: nothing to measure");
            if (bench.Repetitions < 1) throw new UsageException($"-r must be at least 1, not {bench.Repetitions}");
            int batchSize = parse.GetValue(batch);
            if (batchSize < 1) throw new UsageException($"-b must be positive, not {batchSize}");

            int context = Math.Max(Math.Max(bench.PromptTokens, bench.GenTokens), 1);
            bool asJson = parse.GetValue(json);
            using var placed = setup.Load(parse, parse.GetValue(model)!, context, options ?? new EngineOptions(), stderr, adjustTune, quiet: asJson);
            using var executor = placed.Model.CreateExecutor(new ExecutorOptions(Context: context, BatchSize: Math.Min(batchSize, context),
                Threads: placed.Threads(parse.GetValue(threads))));
            stderr.WriteLine($"bench: {Path.GetFileName(parse.GetValue(model))}, {executor.Pool.Threads} threads, {executor.Level}, pp {bench.PromptTokens}, tg {bench.GenTokens}, {bench.Repetitions} runs each");
            var result = Benchmark.Run(executor, bench);

            if (asJson)
            {
                stdout.WriteLine(JsonSerializer.Serialize(new
                {
                    model = Path.GetFileName(parse.GetValue(model)),
                    threads = executor.Pool.Threads,
                    simd = executor.Level.ToString(),
                    pp = Figure(result.Prompt),
                    tg = Figure(result.Generation),
                    pp_tok_s = result.Prompt?.TokensPerSecond,
                    tg_tok_s = result.Generation?.TokensPerSecond,
                    placement = Placement(placed),
                    streaming = Streaming(placed, executor.Counters),
                }));
            }
            else
            {
                var parts = new List<string>();
                if (result.Prompt is { } p) parts.Add(string.Create(CultureInfo.InvariantCulture, $"pp_tok_s={p.TokensPerSecond:F2}"));
                if (result.Generation is { } g) parts.Add(string.Create(CultureInfo.InvariantCulture, $"tg_tok_s={g.TokensPerSecond:F2}"));
                stdout.WriteLine(string.Join(' ', parts));
            }
            if (RuntimeSetup.StatsLine(placed, executor.Counters) is { } line) stderr.WriteLine(line);
            return 0;
        });
        return command;
    }

    /// <summary>Where the weights are: resident, direct (expert cache) or page-cache, and what sits on accelerators.</summary>
    private static object Placement(RuntimeSetup.Placed placed) => new
    {
        mode = placed.Mode,
        accelerators = placed.Placement is { } p ? new
        {
            devices = p.Accelerators.Select(d => d.Name).ToArray(),
            fell_back = p.FellBack,
            matrices = p.Tensors,
            experts = p.Experts,
            bytes = p.DeviceBytes,
        } : null,
        predicted_tg_tok_s = placed.Plan?.Prediction.DecodeTokensPerSecond,
    };

    /// <summary>The expert cache's counters over the whole benchmark (null when nothing streams through it).</summary>
    private static object? Streaming(RuntimeSetup.Placed placed, RuntimeCounters counters)
    {
        if (placed.Cache is not { } cache) return null;
        var c = cache.Counters;
        long tokens = counters.PrefillTokens + counters.DecodeTokens;
        return new
        {
            capacity_bytes = cache.Options.CapacityBytes,
            policy = cache.Options.Policy.ToString(),
            tokens,
            hits = c.Hits,
            prefetch_hits = c.PrefetchHits,
            misses = c.Misses,
            hit_rate = c.HitRate,
            bytes_read = c.BytesRead,
            bytes_per_token = tokens == 0 ? 0 : c.BytesRead / (double)tokens,
            io_wait_s = c.WaitSeconds,
        };
    }

    private static object? Figure(BenchFigure? f) =>
        f == null ? null : new { tokens = f.Tokens, tok_s = f.TokensPerSecond, stddev = f.StandardDeviation, samples = f.Samples };
}
