using System.CommandLine;
using System.Globalization;
using System.Text.Json;
using HybridEngine.Runtime;

namespace HybridEngine.Cli.Commands;

/// <summary>
/// <c>hybrid bench -m MODEL [--pp 512] [--tg 128] [-r 3] [-t N] [--json]</c> (CLI.md): llama-bench's pp and tg
/// tests (see <see cref="Benchmark"/>); prints <c>pp_tok_s=&lt;x&gt; tg_tok_s=&lt;y&gt;</c>. The same measurement
/// of llama.cpp on the same file runs from the benchmarks project: <c>dotnet run --project
/// tests/HybridEngine.Benchmarks -c Release -- llama-bench -m MODEL ...</c>.
/// </summary>
public static class BenchCommand
{
    public static Command Create(TextWriter? output = null, TextWriter? error = null)
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
        command.SetAction(parse =>
        {
            var stdout = output ?? Console.Out;
            var stderr = error ?? Console.Error;
            var options = new BenchOptions(parse.GetValue(pp), parse.GetValue(tg), parse.GetValue(repetitions));
            if (options.PromptTokens < 0 || options.GenTokens < 0) throw new UsageException("--pp and --tg must not be negative");
            if (options.PromptTokens + options.GenTokens == 0) throw new UsageException("--pp and --tg are both 0: nothing to measure");
            if (options.Repetitions < 1) throw new UsageException($"-r must be at least 1, not {options.Repetitions}");
            int batchSize = parse.GetValue(batch);
            if (batchSize < 1) throw new UsageException($"-b must be positive, not {batchSize}");

            using var loaded = LoadedModel.Load(parse.GetValue(model)!);
            int context = Math.Max(Math.Max(options.PromptTokens, options.GenTokens), 1);
            using var executor = loaded.CreateExecutor(new ExecutorOptions(Context: context, BatchSize: Math.Min(batchSize, context), Threads: parse.GetValue(threads)));
            stderr.WriteLine($"bench: {Path.GetFileName(parse.GetValue(model))}, {executor.Pool.Threads} threads, {executor.Level}, pp {options.PromptTokens}, tg {options.GenTokens}, {options.Repetitions} runs each");
            var result = Benchmark.Run(executor, options);

            if (parse.GetValue(json))
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
                }));
            }
            else
            {
                var parts = new List<string>();
                if (result.Prompt is { } p) parts.Add(string.Create(CultureInfo.InvariantCulture, $"pp_tok_s={p.TokensPerSecond:F2}"));
                if (result.Generation is { } g) parts.Add(string.Create(CultureInfo.InvariantCulture, $"tg_tok_s={g.TokensPerSecond:F2}"));
                stdout.WriteLine(string.Join(' ', parts));
            }
            return 0;
        });
        return command;
    }

    private static object? Figure(BenchFigure? f) =>
        f == null ? null : new { tokens = f.Tokens, tok_s = f.TokensPerSecond, stddev = f.StandardDeviation, samples = f.Samples };
}
