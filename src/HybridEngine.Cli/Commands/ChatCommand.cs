using System.CommandLine;
using System.Globalization;
using System.Text;
using HybridEngine.Configuration;
using HybridEngine.Gpu;
using HybridEngine.Runtime;
using HybridEngine.Tokenization;
using HybridEngine.Tuner;

namespace HybridEngine.Cli.Commands;

/// <summary>
/// <c>hybrid chat -m MODEL [--system TEXT] [-n N] [-c CTX] [sampling] [placement options]</c> (CLI.md; placed as
/// <c>run</c> places it, see <see cref="RuntimeSetup"/>): an interactive conversation in
/// the model's chat template. Each line read from stdin is a user turn; the reply streams to stdout and ends with a
/// newline. <c>/exit</c> or end of input quits. The conversation stays in the KV cache between turns.
/// </summary>
public static class ChatCommand
{
    /// <param name="options">Bound at start-up (Program); defaults when null.</param>
    /// <param name="adjustTune">Lets tests shrink the quick tune run when no profile matches this machine.</param>
    /// <param name="discoverGpus">Opens the accelerators a plan may use (tests pass ILGPU's CPU accelerator).</param>
    public static Command Create(TextReader? input = null, TextWriter? output = null, TextWriter? error = null, EngineOptions? options = null,
        Func<TuneOptions, TuneOptions>? adjustTune = null, Func<GpuDiscovery>? discoverGpus = null)
    {
        var model = new Option<string>("--model", "-m") { Description = "GGUF model file", Required = true };
        var system = new Option<string>("--system", "-sys") { Description = "system prompt" };
        var count = new Option<int>("--n-predict", "-n") { Description = "most tokens per reply", DefaultValueFactory = _ => 512 };
        var context = new Option<int>("--ctx-size", "-c") { Description = "context length (0 = the trained context, at most 4096)" };
        var threads = new Option<int>("--threads", "-t") { Description = "compute threads (0 = all cores)" };
        var command = new Command("chat", "Interactive chat using the model's chat template; /exit or end of input quits.");
        foreach (var o in new Option[] { model, system, count, context, threads }) command.Options.Add(o);
        var samplingFlags = new SamplingFlags(0.8f);
        samplingFlags.AddTo(command);
        var setup = RuntimeSetup.For(discoverGpus);
        setup.AddTo(command);
        command.SetAction(parse =>
        {
            var stdin = input ?? Console.In;
            var stdout = output ?? Console.Out;
            var stderr = error ?? Console.Error;
            var sampling = samplingFlags.Read(parse);
            int n = parse.GetValue(count);
            if (n <= 0) throw new UsageException($"-n must be positive, not {n}");
            int ctx = parse.GetValue(context);
            if (ctx < 0) throw new UsageException($"-c must not be negative, not {ctx}");

            string path = parse.GetValue(model)!;
            if (ctx == 0) ctx = Math.Min(RuntimeSetup.TrainedContext(path), 4096);
            if (ctx == 0) throw new UsageException($"{Path.GetFileName(path)} states no trained context; give one with -c");
            using var placed = setup.Load(parse, path, ctx, options ?? new EngineOptions(), stderr, adjustTune);
            var loaded = placed.Model;
            var tokenizer = Tokenizer.FromGguf(loaded.File);
            var template = ChatTemplate.FromGguf(loaded.File);
            if (template.Warning != null) stderr.WriteLine($"warning: {template.Warning}");
            using var executor = loaded.CreateExecutor(new ExecutorOptions(Context: ctx, BatchSize: 256, Threads: placed.Threads(parse.GetValue(threads))));
            var session = new ChatSession(executor, tokenizer, template, new Sampler(executor.Vocab, sampling), parse.GetValue(system));
            stderr.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"chat: {template.Format} template, context {ctx}; type /exit or end the input to quit"));

            var decoder = Encoding.UTF8.GetDecoder();
            var chars = new char[64];
            while (true)
            {
                stderr.Write("> ");
                string? line = stdin.ReadLine();
                if (line == null || line.Trim() == "/exit") break;
                if (line.Trim().Length == 0) continue;
                try
                {
                    foreach (int id in session.Reply(line, n))
                    {
                        var bytes = tokenizer.TokenToPieceBytes(id, renderSpecial: false);
                        if (chars.Length < bytes.Length + 8) chars = new char[bytes.Length + 8];
                        int written = decoder.GetChars(bytes, chars, flush: false);
                        stdout.Write(chars, 0, written);
                        stdout.Flush();
                    }
                }
                catch (ContextOverflowException overflow)
                {
                    stderr.WriteLine($"error: {overflow.Message} The conversation is full; start a new one with a larger -c.");
                    return 1;
                }
                int tail = decoder.GetChars([], chars, flush: true);
                stdout.Write(chars, 0, tail);
                stdout.WriteLine();
                stdout.Flush();
            }
            return 0;
        });
        return command;
    }
}
