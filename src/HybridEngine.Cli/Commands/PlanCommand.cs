using System.CommandLine;
using HybridEngine.Configuration;
using HybridEngine.Gguf;
using HybridEngine.Planning;
using HybridEngine.Tuner;

namespace HybridEngine.Cli.Commands;

/// <summary>
/// <c>hybrid plan -m MODEL [--profile P] [--cpu-only] [--ram-budget S] [--vram-budget S] [-c CTX] [--no-prefetch] [--disk-gbps X] [--json]</c>
/// (CLI.md): the placement for this machine, from the GGUF header, the hardware profile and the expert statistics.
/// No weight is loaded (only the router's bias, a few KB, when no stats file exists).
/// </summary>
public static class PlanCommand
{
    /// <param name="options">Bound at start-up (Program); defaults when null (tests pass their own).</param>
    /// <param name="adjustTune">Lets tests shrink the quick tune run when no profile matches this machine.</param>
    public static Command Create(TextWriter? output = null, TextWriter? error = null, EngineOptions? options = null,
        Func<TuneOptions, TuneOptions>? adjustTune = null)
    {
        var model = new Option<string>("--model", "-m") { Description = "GGUF model file", Required = true };
        var profile = new Option<string?>("--profile") { Description = "hardware profile: a JSON file or a fingerprint (default: this machine's)" };
        var cpuOnly = new Option<bool>("--cpu-only") { Description = "place nothing on any GPU" };
        var ramBudget = new Option<string?>("--ram-budget") { Description = "RAM the process may hold (512M, 16G, 1.5GiB)" };
        var vramBudget = new Option<string?>("--vram-budget") { Description = "GPU memory the plan may use" };
        var context = new Option<int>("--ctx-size", "-c") { Description = "context length in tokens", DefaultValueFactory = _ => 4096 };
        var statsPath = new Option<string?>("--expert-stats") { Description = "expert statistics file (default: MODEL.expert-stats.json when present)" };
        var json = new Option<bool>("--json") { Description = "print one JSON document instead of tables" };
        var noPrefetch = new Option<bool>("--no-prefetch") { Description = "predict a run without next-layer guesses read ahead (run's --no-prefetch)" };
        var diskGbps = new Option<string?>("--disk-gbps") { Description = "read the disk at no more than this many GB/s (run's --disk-gbps)" };
        var command = new Command("plan", "The placement of every tensor and expert on this machine, with predicted tokens/s and disk bytes per token; loads nothing.")
        {
            model, profile, cpuOnly, ramBudget, vramBudget, context, statsPath, json, noPrefetch, diskGbps,
        };
        command.SetAction(parse =>
        {
            var engine = options ?? new EngineOptions();
            var err = error ?? Console.Error;
            string path = parse.GetValue(model)!;
            if (string.IsNullOrWhiteSpace(path)) throw new UsageException("--model needs a GGUF file path");
            var planOptions = PlanInputs.Options(parse.GetValue(context), parse.GetValue(ramBudget), parse.GetValue(vramBudget),
                parse.GetValue(cpuOnly), engine, parse.GetValue(noPrefetch), parse.GetValue(diskGbps));

            using var file = GgufFile.Open(path);
            var inventory = ModelInventory.FromGguf(file);
            var profileFound = PlanInputs.Profile(parse.GetValue(profile), engine, Path.GetDirectoryName(Path.GetFullPath(path))!, err, adjustTune);
            var hardware = PlanInputs.Hardware(profileFound, parse.GetValue(profile));
            var stats = PlanInputs.Stats(parse.GetValue(statsPath), path, file, inventory, err);
            var plan = PlanInputs.Create(inventory, hardware, planOptions, stats);

            var w = output ?? Console.Out;
            if (parse.GetValue(json)) w.WriteLine(plan.ToJson());
            else PlanText.Write(plan, w);
            w.Flush();
            return 0;
        });
        return command;
    }
}
