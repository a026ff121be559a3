using System.Runtime.InteropServices;
using HybridEngine.Configuration;
using HybridEngine.Gguf;
using HybridEngine.Hardware;
using HybridEngine.Planning;
using HybridEngine.Quantization;
using HybridEngine.Tuner;

namespace HybridEngine.Cli;

/// <summary>
/// The planner's inputs as the plan, run and eval verbs gather them: the hardware profile (named, else this machine's,
/// else one quick tune saved for next time), the expert statistics and the budgets.
/// </summary>
public static class PlanInputs
{
    /// <summary>The named profile, else this machine's from the profile folders, else a quick tune (once, announced on stderr).</summary>
    public static HardwareProfile Profile(string? profile, EngineOptions engine, string modelFolder, TextWriter err,
        Func<TuneOptions, TuneOptions>? adjustTune = null)
    {
        var scoped = engine with { ModelDirectory = modelFolder };
        var store = ProfileStore.FromOptions(scoped);
        if (profile is null) return ProfileResolver.FindOrTune(scoped, err, adjustTune);
        if (File.Exists(profile)) return ProfileJson.Load(profile);
        if (store.FindFor(profile) is { Profile: { } named }) return named;
        throw new UsageException($"--profile '{profile}' is neither a profile file nor the fingerprint of a profile in {store.UserDirectory} or {store.ProjectDirectory}");
    }

    /// <summary>The planner's figures of <paramref name="profile"/>, or defaults when profile resolution failed.</summary>
    public static PlannerHardware Hardware(HardwareProfile profile, string? source = null) =>
        PlannerHardware.FromProfile(profile, source ?? $"profile {profile.Fingerprint}");

    /// <summary>Budgets, prefetch and disk-speed cap from the flags, falling back to configuration.</summary>
    public static PlanOptions Options(int context, string? ramBudget, string? vramBudget, bool cpuOnly, EngineOptions engine,
        bool noPrefetch = false, string? diskGBps = null)
    {
        var options = new PlanOptions(context, SizeOr(ramBudget, "--ram-budget") ?? engine.RamBudget,
            SizeOr(vramBudget, "--vram-budget") ?? engine.VramBudget, cpuOnly || engine.CpuOnly,
            Prefetch: !(noPrefetch || engine.NoPrefetch), DiskGBps: AppConfiguration.Gbps(diskGBps, "--disk-gbps") ?? engine.DiskGBps);
        if (options.Validate() is { } bad) throw new UsageException(bad);
        return options;
    }

    public static long? SizeOr(string? text, string flag) =>
        text is null ? null : ByteSize.TryParse(text, out long bytes) && bytes > 0 ? bytes
            : throw new UsageException($"{flag} '{text}' is not a size; use e.g. 512M, 4G or 1.5GiB");

    /// <summary>The stats file (given or next to the model), else the router-bias prior when every MoE layer has one, else null (uniform).</summary>
    public static ExpertStats? Stats(string? given, string modelPath, GgufFile file, ModelInventory inventory, TextWriter err)
    {
        string candidate = given ?? ExpertStats.DefaultPath(modelPath);
        if (given is not null || File.Exists(candidate))
        {
            try { return ExpertStats.LoadFor(candidate, inventory); }
            catch (FormatException ex) { throw new UsageException(ex.Message); }
            catch (FileNotFoundException) { throw new UsageException($"--expert-stats: {candidate} does not exist"); }
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

    /// <summary>The plan, or a usage error saying why it cannot run.</summary>
    public static Plan Create(ModelInventory inventory, PlannerHardware hardware, PlanOptions options, ExpertStats? stats)
    {
        try { return Planner.Create(inventory, hardware, options, stats); }
        catch (PlanRefusedException refused) { throw new UsageException(refused.Message); }
    }

}
