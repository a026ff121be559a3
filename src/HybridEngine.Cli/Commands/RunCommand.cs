using System.CommandLine;
using System.Globalization;
using System.Text;
using HybridEngine.Configuration;
using HybridEngine.Gpu;
using HybridEngine.Runtime;
using HybridEngine.Tuner;
using HybridEngine.Tokenization;

namespace HybridEngine.Cli.Commands;

/// <summary>
/// <c>hybrid run -m MODEL (-p TEXT | -f FILE | --tokens IDS) [-n N] [sampling] [--stats]</c> (CLI.md): prints the
/// prompt, then streams each new token as it is produced. Greedy unless <c>--temp</c> is above 0.
/// </summary>
public static class RunCommand
{
    /// <param name="options">Bound at start-up (Program); defaults when null (tests pass their own).</param>
    /// <param name="adjustTune">Lets tests shrink the quick tune run when no profile matches this machine.</param>
    /// <param name="discoverGpus">Opens the accelerators a plan may use (tests pass ILGPU's CPU accelerator).</param>
    public static Command Create(TextWriter? output = null, TextWriter? error = null, EngineOptions? options = null,
        Func<TuneOptions, TuneOptions>? adjustTune = null,
        Func<GpuDiscovery>? discoverGpus = null)
    {
        var model = new Option<string>("--model", "-m") { Description = "GGUF model file", Required = true };
        var prompt = new Option<string>("--prompt", "-p") { Description = "prompt text" };
        var promptFile = new Option<string>("--file", "-f") { Description = "file holding the prompt text" };
        var tokens = new Option<string>("--tokens") { Description = "prompt as comma-separated token ids" };
        var count = new Option<int>("--n-predict", "-n") { Description = "tokens to generate", DefaultValueFactory = _ => 128 };
        var context = new Option<int>("--ctx-size", "-c") { Description = "context length (0 = prompt + n, at most the trained context)" };
        var threads = new Option<int>("--threads", "-t") { Description = "compute threads (0 = all cores)" };
        var stats = new Option<bool>("--stats") { Description = "print prefill and decode tokens/s and the expert cache's counters to stderr" };
        var trace = new Option<string?>("--routing-trace") { Description = "write the experts each token routed to (layer:expert per line), for policy studies" };
        var setup = RuntimeSetup.For(discoverGpus);
        var command = new Command("run", "Generates text from a prompt, streaming tokens as they are produced.");
        foreach (var o in new Option[] { model, prompt, promptFile, tokens, count, context, threads, stats })
            command.Options.Add(o);
        var samplingFlags = new SamplingFlags(0f);
        samplingFlags.AddTo(command);
        command.Options.Add(trace);
        setup.AddTo(command);
        command.SetAction(parse =>
        {
            var stdout = output ?? Console.Out;
            var stderr = error ?? Console.Error;
            var sampling = samplingFlags.Read(parse);
            int n = parse.GetValue(count);
            if (n < 0) throw new UsageException($"-n must not be negative, not {n}");
            string? text = parse.GetValue(prompt), path = parse.GetValue(promptFile), ids = parse.GetValue(tokens);
            if ((text != null ? 1 : 0) + (path != null ? 1 : 0) + (ids != null ? 1 : 0) != 1)
                throw new UsageException("give the prompt with exactly one of -p, -f or --tokens");
            if (path != null) text = File.ReadAllText(path);

            string modelPath = parse.GetValue(model)!;
            int ctx = parse.GetValue(context);
            Tokenizer tokenizer;
            int trained;
            using (var header = Gguf.GgufFile.Open(modelPath))
            {
                tokenizer = Tokenizer.FromGguf(header);
                trained = new Models.ModelMetadata(header, header.Architecture ?? "").Int("context_length", 0);
            }
            int[] promptIds = ids != null ? EvalCommand.ParseTokens(ids, "--tokens") : tokenizer.Encode(text!, addSpecial: true, parseSpecial: true);
            if (promptIds.Length == 0) throw new UsageException("the prompt has no tokens");
            if (ctx == 0) ctx = trained > 0 ? Math.Min(trained, promptIds.Length + n) : promptIds.Length + n;
            if (promptIds.Length + n > ctx)
                throw new UsageException($"a prompt of {promptIds.Length} tokens plus -n {n} needs {promptIds.Length + n} positions; the context is {ctx} (-c)");
            var engine = options ?? new EngineOptions();
            using var placed = setup.Load(parse, modelPath, ctx, engine, stderr, adjustTune);
            var loaded = placed.Model;
            using var executor = loaded.CreateExecutor(new ExecutorOptions(Context: ctx, BatchSize: 256, Threads: placed.Threads(parse.GetValue(threads))));
            EvalCommand.CheckIds(promptIds, executor.Vocab, "--tokens");
            if (parse.GetValue(trace) is not null) executor.Counters.Trace = new HybridEngine.Runtime.Streaming.RoutingTrace();

            // Without the leading BOS, so SentencePiece's prefix space is dropped as in the text the user typed.
            stdout.Write(tokenizer.Decode(promptIds[0] == tokenizer.Vocabulary.Bos ? promptIds[1..] : promptIds));
            stdout.Flush();
            var decoder = Encoding.UTF8.GetDecoder();
            var chars = new char[64];
            var sampler = new Sampler(executor.Vocab, sampling);
            HybridEngine.Runtime.Streaming.StreamingSnapshot? afterPrefill = null;
            foreach (int id in Generator.Generate(executor, promptIds, n, sampler, tokenizer.Vocabulary.EndOfGeneration))
            {
                // The first token comes right after prefill: what the cache did from here on is the decode steps'.
                afterPrefill ??= placed.Cache?.Counters.Snapshot();
                var bytes = tokenizer.TokenToPieceBytes(id, renderSpecial: false);
                if (chars.Length < bytes.Length + 8) chars = new char[bytes.Length + 8];
                int written = decoder.GetChars(bytes, chars, flush: false);
                stdout.Write(chars, 0, written);
                stdout.Flush();
            }
            stdout.WriteLine();
            if (parse.GetValue(trace) is { } tracePath) executor.Counters.Trace!.Save(tracePath);
            if (parse.GetValue(stats))
            {
                var c = executor.Counters;
                stderr.WriteLine(string.Create(CultureInfo.InvariantCulture,
                    $"prefill: {c.PrefillTokens} tokens, {c.PrefillTokensPerSecond:F1} tok/s; decode: {c.DecodeTokens} tokens, {c.DecodeTokensPerSecond:F1} tok/s"));
                if (RuntimeSetup.StatsLine(placed, c, afterPrefill) is { } line) stderr.WriteLine(line);
            }
            return 0;
        });
        return command;
    }
}
