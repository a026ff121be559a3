using System.Collections.Immutable;
using System.CommandLine;
using System.Runtime.InteropServices;
using HybridEngine.Configuration;
using HybridEngine.Gguf;
using HybridEngine.Hardware;
using HybridEngine.Planning;
using HybridEngine.Quantization;

namespace HybridEngine.Cli.Commands;

/// <summary>
/// <c>hybrid plan -m MODEL [--profile P] [--cpu-only] [--ram-budget S] [--vram-budget S] [-c CTX] [--json]</c>
/// (CLI.md): the placement for this machine, from the GGUF header, the hardware profile and the expert statistics.
/// No weight is loaded (only the router's bias, a few KB, when no stats file exists).
/// </summary>
public static class PlanCommand
{
    /// <param name="options">Bound configuration; loaded from the command line when null (tests pass their own).</param>
    public static Command Create(TextWriter? output = null, TextWriter? error = null, EngineOptions? options = null)
    {
        var model = new Option<string>("--model", "-m") { Description = "GGUF model file", Required = true };
        var profile = new Option<string?>("--profile") { Description = "hardware profile: a JSON file or a fingerprint (default: this machine's)" };
        var cpuOnly = new Option<bool>("--cpu-only") { Description = "place nothing on any GPU" };
        var ramBudget = new Option<string?>("--ram-budget") { Description = "RAM the process may hold (512M, 16G, 1.5GiB)" };
        var vramBudget = new Option<string?>("--vram-budget") { Description = "GPU memory the plan may use" };
        var context = new Option<int>("--ctx-size", "-c") { Description = "context length in tokens", DefaultValueFactory = _ => 4096 };
        var statsPath = new Option<string?>("--expert-stats") { Description = "expert statistics file (default: MODEL.expert-stats.json when present)" };
        var json = new Option<bool>("--json") { Description = "print one JSON document instead of tables" };
        var command = new Command("plan", "The placement of every tensor and expert on this machine, with predicted tokens/s and disk bytes per token; loads nothing.")
        {
            model, profile, cpuOnly, ramBudget, vramBudget, context, statsPath, json,
        };
        command.SetAction(parse =>
        {
            var engine = options ?? AppConfiguration.Load(parse.Tokens.Select(t => t.Value).ToArray());
            var err = error ?? Console.Error;
            string path = parse.GetValue(model)!;
            if (string.IsNullOrWhiteSpace(path)) throw new UsageException("--model needs a GGUF file path");
            var planOptions = new PlanOptions(
                parse.GetValue(context),
                SizeOr(parse.GetValue(ramBudget), "--ram-budget") ?? engine.RamBudget,
                SizeOr(parse.GetValue(vramBudget), "--vram-budget") ?? engine.VramBudget,
                parse.GetValue(cpuOnly) || engine.CpuOnly);
            if (planOptions.Validate() is { } bad) throw new UsageException(bad);

            using var file = GgufFile.Open(path);
            var inventory = ModelInventory.FromGguf(file);
            var hardware = Hardware(parse.GetValue(profile), engine, Path.GetDirectoryName(Path.GetFullPath(path))!, err);
            var stats = Stats(parse.GetValue(statsPath), path, file, inventory, err);
            Plan plan;
            try { plan = Planner.Create(inventory, hardware, planOptions, stats); }
            catch (PlanRefusedException refused) { throw new UsageException(refused.Message); }

            var w = output ?? Console.Out;
            if (parse.GetValue(json)) w.WriteLine(plan.ToJson());
            else PlanText.Write(plan, w);
            w.Flush();
            return 0;
        });
        return command;
    }

    private static long? SizeOr(string? text, string flag) =>
        text is null ? null : ByteSize.TryParse(text, out long bytes) && bytes > 0 ? bytes
            : throw new UsageException($"{flag} '{text}' is not a size; use e.g. 512M, 4G or 1.5GiB");

    /// <summary>The named profile, else this machine's from the profile folders, else defaults announced on stderr.</summary>
    private static PlannerHardware Hardware(string? profile, EngineOptions engine, string modelFolder, TextWriter err)
    {
        var store = ProfileStore.FromOptions(engine with { ModelDirectory = modelFolder });
        if (profile is not null)
        {
            if (File.Exists(profile)) return PlannerHardware.FromProfile(ProfileJson.Load(profile), profile);
            if (store.FindFor(profile) is { Profile: { } named } entry) return PlannerHardware.FromProfile(named, entry.Path);
            throw new UsageException($"--profile '{profile}' is neither a profile file nor the fingerprint of a profile in {store.UserDirectory} or {store.ProjectDirectory}");
        }
        var snapshot = new HardwareProbe().Probe(modelFolder);
        if (store.FindFor(HardwareFingerprint.Compute(snapshot)) is { Profile: { } mine } found)
            return PlannerHardware.FromProfile(mine, found.Path);
        var assumed = PlannerHardware.Defaults(snapshot.Memory.TotalBytes ?? snapshot.Memory.InstalledBytes, "defaults (no profile for this machine)") with
        {
            Gpus = snapshot.Gpus.Select(g => new PlannerGpu(g.Name, g.Integrated ?? false, g.MemoryBytes ?? 0, null)).ToImmutableArray(),
        };
        err.WriteLine($"warning: no hardware profile for this machine; assuming {PlannerHardware.DefaultMemoryReadGBps} GB/s memory and " +
                      $"{PlannerHardware.DefaultDiskReadGBps} GB/s disk reads. Run `hybrid tune` for a measured plan.");
        return assumed;
    }

    /// <summary>The stats file (given or next to the model), else the router-bias prior when every MoE layer has one, else null (uniform).</summary>
    private static ExpertStats? Stats(string? given, string modelPath, GgufFile file, ModelInventory inventory, TextWriter err)
    {
        string candidate = given ?? ExpertStats.DefaultPath(modelPath);
        if (given is not null || File.Exists(candidate))
        {
            try { return ExpertStats.LoadFor(candidate, inventory); }
            catch (FormatException ex) { throw new UsageException(ex.Message); }
        }
        var biases = new List<(int, float[])>();
        foreach (var layer in inventory.MoeLayers)
        {
            var bias = file.FindTensor($"blk.{layer.Layer}.exp_probs_b.bias");
            if (bias is null || bias.Type != GgmlType.F32 || bias.ElementCount != inventory.HyperParameters.Experts) return null;
            biases.Add((layer.Layer, MemoryMarshal.Cast<byte, float>(file.GetTensorData(bias)).ToArray()));
        }
        if (biases.Count == 0) return null;
        err.WriteLine("note: no expert stats file; ranking experts by the router's selection bias (run `hybrid calibrate` for measured counts)");
        return ExpertStats.FromRouterBias(inventory.Name, biases);
    }
}
