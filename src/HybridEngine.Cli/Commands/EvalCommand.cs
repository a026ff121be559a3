using System.CommandLine;
using System.Globalization;
using System.Runtime.InteropServices;
using HybridEngine.Configuration;
using HybridEngine.Gpu;
using HybridEngine.Runtime;
using HybridEngine.Tuner;

namespace HybridEngine.Cli.Commands;

/// <summary>
/// <c>hybrid eval -m MODEL --tokens 1,2,3 --logits-out F</c> (CLI.md): the logits of every position as float32,
/// row-major [tokens, vocab], little-endian, no header.
/// </summary>
public static class EvalCommand
{
    /// <param name="options">Bound at start-up (Program); defaults when null (tests pass their own).</param>
    /// <param name="adjustTune">Lets tests shrink the quick tune run when no profile matches this machine.</param>
    /// <param name="discoverGpus">Opens the accelerators a plan may use (tests pass ILGPU's CPU accelerator).</param>
    public static Command Create(TextWriter? output = null, EngineOptions? options = null, Func<TuneOptions, TuneOptions>? adjustTune = null,
        Func<GpuDiscovery>? discoverGpus = null)
    {
        var model = new Option<string>("--model", "-m") { Description = "GGUF model file", Required = true };
        var tokens = new Option<string>("--tokens") { Description = "comma-separated token ids, e.g. 1,2,3", Required = true };
        var logitsOut = new Option<string>("--logits-out") { Description = "file for the float32 logits [tokens, vocab]", Required = true };
        var threads = new Option<int>("--threads", "-t") { Description = "compute threads (0 = all cores)" };
        var command = new Command("eval", "Writes the logits of every position of a token sequence to a file.");
        var stats = new Option<bool>("--stats") { Description = "print the expert cache's counters to stderr" };
        foreach (var o in new Option[] { model, tokens, logitsOut, threads, stats }) command.Options.Add(o);
        var setup = RuntimeSetup.For(discoverGpus);
        setup.AddTo(command);
        command.SetAction(parse =>
        {
            int[] ids = ParseTokens(parse.GetValue(tokens)!, "--tokens");
            var err = output ?? Console.Error;
            var engine = options ?? new EngineOptions();
            using var placed = setup.Load(parse, parse.GetValue(model)!, ids.Length, engine, err, adjustTune);
            using var executor = placed.Model.CreateExecutor(new ExecutorOptions(Context: ids.Length, BatchSize: 256, Threads: placed.Threads(parse.GetValue(threads))));
            CheckIds(ids, executor.Vocab, "--tokens");
            float[] logits = executor.Forward(ids, 0);
            if (!BitConverter.IsLittleEndian) throw new PlatformNotSupportedException("eval writes little-endian floats; this machine is big-endian");
            // Written to a temporary name and renamed, so a failure leaves no partial logits file.
            string target = parse.GetValue(logitsOut)!, temporary = target + ".partial";
            try
            {
                using (var file = File.Create(temporary)) file.Write(MemoryMarshal.AsBytes(logits.AsSpan()));
                File.Move(temporary, target, overwrite: true);
            }
            finally
            {
                if (File.Exists(temporary)) File.Delete(temporary);
            }
            if (parse.GetValue(stats) && RuntimeSetup.StatsLine(placed, executor.Counters) is { } line) err.WriteLine(line);
            (output ?? Console.Error).WriteLine($"wrote {ids.Length}×{executor.Vocab} logits to {parse.GetValue(logitsOut)}");
            return 0;
        });
        return command;
    }

    /// <summary>Parses "1,2,3" (spaces allowed); a bad entry is a usage error naming the flag.</summary>
    public static int[] ParseTokens(string text, string flag)
    {
        var parts = text.Split(',', StringSplitOptions.TrimEntries | StringSplitOptions.RemoveEmptyEntries);
        if (parts.Length == 0) throw new UsageException($"{flag} needs at least one token id");
        var ids = new int[parts.Length];
        for (int i = 0; i < parts.Length; i++)
        {
            if (!int.TryParse(parts[i], NumberStyles.None, CultureInfo.InvariantCulture, out ids[i]))
                throw new UsageException($"{flag}: '{parts[i]}' is not a token id");
        }
        return ids;
    }

    public static void CheckIds(int[] ids, int vocab, string flag)
    {
        foreach (int id in ids)
            if (id >= vocab) throw new UsageException($"{flag}: token id {id} is outside the model's vocabulary of {vocab}");
    }
}
