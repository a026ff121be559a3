using System.CommandLine;
using System.Globalization;
using HybridEngine.Models.Synthetic;

namespace HybridEngine.Cli.Commands;

/// <summary>
/// <c>hybrid synth --arch A --preset P --out MODEL [--type T] [--seed N] [--skew S] [--groups N] [--attn-layout L]</c>
/// (CLI.md): writes a seeded synthetic model. Prints the path, tensor count and bytes on stdout.
/// </summary>
public static class SynthCommand
{
    public static Command Create()
    {
        var arch = new Option<string>("--arch") { Description = $"Architecture: {string.Join(", ", SyntheticModels.ArchitectureNames)}.", Required = true };
        var preset = new Option<string>("--preset") { Description = $"Size: {string.Join(", ", SyntheticModels.Presets)} (v2lite: deepseek2 only).", Required = true };
        var output = new Option<string>("--out") { Description = "The GGUF file to write.", Required = true };
        var type = new Option<string>("--type") { Description = "Weight type: f32, f16, q8_0, q4_k.", DefaultValueFactory = _ => "f32" };
        var seed = new Option<ulong>("--seed") { Description = "Seed of the weights; the same seed gives the same bytes.", DefaultValueFactory = _ => 0 };
        var skew = new Option<float>("--skew") { Description = "Zipf exponent of expert popularity (0 = even).", DefaultValueFactory = _ => 0f };
        var groups = new Option<int>("--groups") { Description = "Expert groups (deepseek2 expert_group_count); 0 = none.", DefaultValueFactory = _ => 0 };
        var layout = new Option<string>("--attn-layout") { Description = "deepseek2 attention tensors: k_b_v_b (MLA) or kv_b (legacy).", DefaultValueFactory = _ => "k_b_v_b" };

        var command = new Command("synth", "Writes a seeded synthetic model of a real architecture (random weights, a small valid vocab).");
        foreach (var option in new Option[] { arch, preset, output, type, seed, skew, groups, layout }) command.Options.Add(option);
        command.SetAction(parse =>
        {
            var options = new SyntheticOptions(
                Type: Parse(() => SyntheticModels.ParseType(parse.GetValue(type)!)),
                Seed: parse.GetValue(seed),
                Skew: parse.GetValue(skew),
                Groups: parse.GetValue(groups),
                Layout: parse.GetValue(layout) switch
                {
                    "k_b_v_b" => MlaLayout.KbVb,
                    "kv_b" => MlaLayout.KvB,
                    var other => throw new UsageException($"--attn-layout '{other}' is not known; use k_b_v_b or kv_b"),
                });
            if (options.Skew < 0 || !float.IsFinite(options.Skew)) throw new UsageException("--skew must be a finite number ≥ 0");
            if (options.Groups < 0) throw new UsageException("--groups must be ≥ 0");
            var spec = Parse(() => SyntheticModels.Spec(parse.GetValue(arch)!, parse.GetValue(preset)!));
            if (options.Layout == MlaLayout.KvB && spec.Arch != "deepseek2") throw new UsageException("--attn-layout applies to deepseek2 only");
            var plan = Parse(() => SyntheticWriter.Plan(spec, options));
            string path = parse.GetValue(output)!;
            SyntheticWriter.Write(spec, options, path);
            Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"wrote {path}: {spec.Arch} {spec.Preset}, {plan.Count} tensors, {new FileInfo(path).Length} bytes"));
            return 0;
        });
        return command;
    }

    /// <summary>Turns an invalid combination of options into exit code 2 with the message that names it.</summary>
    private static T Parse<T>(Func<T> f)
    {
        try { return f(); }
        catch (ArgumentException e) { throw new UsageException(e.Message); }
    }
}
