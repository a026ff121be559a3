using System.CommandLine;
using System.Globalization;
using System.Text.Json;
using System.Text.Json.Nodes;
using HybridEngine.Gguf;

namespace HybridEngine.Cli.Commands;

/// <summary><c>hybrid inspect -m MODEL [--json]</c> (CLI.md): reads only the validated header, never the weights.</summary>
public static class InspectCommand
{
    private static readonly JsonSerializerOptions Indented = new() { WriteIndented = true };

    /// <param name="output">Where the report goes; standard output when null (tests pass their own writer).</param>
    public static Command Create(TextWriter? output = null)
    {
        var model = new Option<string>("--model", "-m") { Description = "GGUF model file", Required = true };
        var json = new Option<bool>("--json") { Description = "print one JSON document instead of tables" };
        var command = new Command("inspect", "Architecture, hyper-parameters, tensor counts and bytes per class and per quant type.");
        command.Options.Add(model);
        command.Options.Add(json);
        command.SetAction(parse =>
        {
            string path = parse.GetValue(model)!;
            if (string.IsNullOrWhiteSpace(path)) throw new UsageException("--model needs a GGUF file path");
            using var file = GgufFile.Open(path);
            var report = InspectReport.From(file);
            var writer = output ?? Console.Out;
            if (parse.GetValue(json)) writer.WriteLine(report.ToJson().ToJsonString(Indented));
            else WriteText(report, writer);
            writer.Flush();
            return 0;
        });
        return command;
    }

    private static void WriteText(InspectReport r, TextWriter w)
    {
        var summary = new List<(string, string)>
        {
            ("file", r.File),
            ("GGUF version", r.Version.ToString(CultureInfo.InvariantCulture)),
            ("architecture", r.Architecture ?? "(none)"),
        };
        if (r.Name != null) summary.Add(("name", r.Name));
        summary.Add(("tokenizer", r.TokenizerModel == null ? "(none)" : $"{r.TokenizerModel}, {r.VocabSize?.ToString(CultureInfo.InvariantCulture) ?? "?"} tokens"));
        summary.Add(("tensors", r.TensorCount.ToString(CultureInfo.InvariantCulture)));
        summary.Add(("tensor bytes", Bytes(r.TotalBytes)));
        summary.Add(("file bytes", Bytes(r.FileBytes)));
        WriteAligned(w, summary);

        if (r.HyperParameters.Count > 0)
        {
            w.WriteLine();
            w.WriteLine($"hyper-parameters ({r.Architecture}.*)");
            WriteAligned(w, r.HyperParameters.Select(p => ("  " + p.Key, p.Value?.ToJsonString() ?? "null")).ToList());
        }

        w.WriteLine();
        WriteTally(w, "class", r.Classes.Where(c => c.Tensors > 0), r.TotalBytes);
        w.WriteLine();
        WriteTally(w, "quant type", r.QuantTypes, r.TotalBytes);
    }

    private static void WriteTally(TextWriter w, string label, IEnumerable<TensorTally> tallies, long total)
    {
        w.WriteLine($"{label,-16}{"tensors",8}{"bytes",16}{"size",12}{"share",8}");
        foreach (var t in tallies)
        {
            double share = total > 0 ? 100.0 * t.Bytes / total : 0;
            w.WriteLine(string.Create(CultureInfo.InvariantCulture, $"{t.Name,-16}{t.Tensors,8}{t.Bytes,16}{Human(t.Bytes),12}{share,7:F1}%"));
        }
    }

    private static void WriteAligned(TextWriter w, List<(string Label, string Value)> rows)
    {
        int width = rows.Max(r => r.Label.Length) + 2;
        foreach (var (label, value) in rows) w.WriteLine(label.PadRight(width) + value);
    }

    private static string Bytes(long bytes) => string.Create(CultureInfo.InvariantCulture, $"{bytes} ({Human(bytes)})");

    private static string Human(long bytes)
    {
        string[] units = ["B", "KiB", "MiB", "GiB", "TiB"];
        double value = bytes;
        int unit = 0;
        while (value >= 1024 && unit < units.Length - 1)
        {
            value /= 1024;
            unit++;
        }
        return unit == 0
            ? string.Create(CultureInfo.InvariantCulture, $"{bytes} B")
            : string.Create(CultureInfo.InvariantCulture, $"{value:F2} {units[unit]}");
    }
}
