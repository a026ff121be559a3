using System.CommandLine;
using System.Globalization;
using System.Runtime.InteropServices;
using HybridEngine.Runtime;

namespace HybridEngine.Cli.Commands;

/// <summary>
/// <c>hybrid eval -m MODEL --tokens 1,2,3 --logits-out F</c> (CLI.md): the logits of every position as float32,
/// row-major [tokens, vocab], little-endian, no header.
/// </summary>
public static class EvalCommand
{
    public static Command Create(TextWriter? output = null)
    {
        var model = new Option<string>("--model", "-m") { Description = "GGUF model file", Required = true };
        var tokens = new Option<string>("--tokens") { Description = "comma-separated token ids, e.g. 1,2,3", Required = true };
        var logitsOut = new Option<string>("--logits-out") { Description = "file for the float32 logits [tokens, vocab]", Required = true };
        var threads = new Option<int>("--threads", "-t") { Description = "compute threads (0 = all cores)" };
        var command = new Command("eval", "Writes the logits of every position of a token sequence to a file.");
        foreach (var o in new Option[] { model, tokens, logitsOut, threads }) command.Options.Add(o);
        command.SetAction(parse =>
        {
            int[] ids = ParseTokens(parse.GetValue(tokens)!, "--tokens");
            using var loaded = LoadedModel.Load(parse.GetValue(model)!);
            using var executor = loaded.CreateExecutor(new ExecutorOptions(Context: ids.Length, BatchSize: 256, Threads: parse.GetValue(threads)));
            CheckIds(ids, executor.Vocab, "--tokens");
            float[] logits = executor.Forward(ids, 0);
            using (var file = File.Create(parse.GetValue(logitsOut)!))
            {
                if (!BitConverter.IsLittleEndian) throw new PlatformNotSupportedException("eval writes little-endian floats; this machine is big-endian");
                file.Write(MemoryMarshal.AsBytes(logits.AsSpan()));
            }
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
