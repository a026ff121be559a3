using HybridEngine.Configuration;
using Microsoft.Extensions.Configuration;

namespace HybridEngine.Cli;

/// <summary>Builds the configuration once: appsettings.json, then HYBRID_ environment variables, then the command line.</summary>
public static class AppConfiguration
{
    private static readonly Dictionary<string, string> SwitchMappings = new()
    {
        ["--threads"] = "Engine:Threads",
        ["-t"] = "Engine:Threads",
        ["--cpu-only"] = "Engine:CpuOnly",
        ["--kernel-path"] = "Engine:KernelPath",
        ["--ram-budget"] = "Memory:RamBudget",
        ["--vram-budget"] = "Memory:VramBudget",
        ["--disk-gbps"] = "Streaming:DiskGBps",
        ["--no-prefetch"] = "Streaming:NoPrefetch",
    };

    /// <summary>
    /// Binds the settings. <paramref name="settingsDirectory"/> holds appsettings.json (default: beside the executable);
    /// <paramref name="environment"/> overrides the process environment in tests.
    /// </summary>
    public static EngineOptions Load(string[] args, string? settingsDirectory = null, IDictionary<string, string?>? environment = null)
    {
        string folder = settingsDirectory ?? AppContext.BaseDirectory;
        var builder = new ConfigurationBuilder()
            .SetBasePath(folder)
            .AddJsonFile("appsettings.json", optional: true, reloadOnChange: false);
        if (environment is null) builder.AddEnvironmentVariables("HYBRID_");
        else builder.AddInMemoryCollection(environment
            .Where(kv => kv.Key.StartsWith("HYBRID_", StringComparison.Ordinal))
            .Select(kv => new KeyValuePair<string, string?>(kv.Key["HYBRID_".Length..].Replace("__", ":"), kv.Value)));
        builder.AddCommandLine(NormalizeFlags(args), SwitchMappings);
        IConfigurationRoot config;
        try { config = builder.Build(); }
        catch (InvalidDataException e) { throw new UsageException($"{Path.Combine(folder, "appsettings.json")} is not valid JSON: {e.InnerException?.Message ?? e.Message}"); }

        var options = new EngineOptions
        {
            Threads = Whole(config["Engine:Threads"], "Engine:Threads (-t)"),
            CpuOnly = Switch(config["Engine:CpuOnly"], "Engine:CpuOnly (--cpu-only)"),
            KernelPath = (config["Engine:KernelPath"] ?? "auto").ToLowerInvariant(),
            RamBudget = ParseSize(config["Memory:RamBudget"], "Memory:RamBudget (--ram-budget)"),
            VramBudget = ParseSize(config["Memory:VramBudget"], "Memory:VramBudget (--vram-budget)"),
            DiskGBps = Gbps(config["Streaming:DiskGBps"], "Streaming:DiskGBps (--disk-gbps)"),
            NoPrefetch = Switch(config["Streaming:NoPrefetch"], "Streaming:NoPrefetch (--no-prefetch)"),
            ModelDirectory = config["Paths:ModelDirectory"] ?? "models",
            ProfileDirectory = config["Paths:ProfileDirectory"] ?? "profiles",
            UserProfileDirectory = string.IsNullOrWhiteSpace(config["Paths:UserProfileDirectory"]) ? null : config["Paths:UserProfileDirectory"],
        };
        string? problem = options.Validate();
        return problem is null ? options : throw new UsageException(problem);
    }

    private static int Whole(string? text, string what) =>
        string.IsNullOrWhiteSpace(text) ? 0
        : int.TryParse(text, System.Globalization.NumberStyles.AllowLeadingSign, System.Globalization.CultureInfo.InvariantCulture, out int value) ? value
        : throw new UsageException($"{what} '{text}' is not a whole number");

    private static bool Switch(string? text, string what) =>
        string.IsNullOrWhiteSpace(text) ? false
        : bool.TryParse(text, out bool value) ? value
        : throw new UsageException($"{what} '{text}' is not true or false");

    /// <summary>A positive bandwidth in 10⁹ B/s (invariant culture), or null when not set.</summary>
    public static double? Gbps(string? text, string what) =>
        string.IsNullOrWhiteSpace(text) ? null
        : double.TryParse(text, System.Globalization.NumberStyles.Float, System.Globalization.CultureInfo.InvariantCulture, out double value) && value > 0 && double.IsFinite(value) ? value
        : throw new UsageException($"{what} '{text}' is not a positive number of GB/s (e.g. 0.5)");

    private static long? ParseSize(string? text, string what)
    {
        if (string.IsNullOrWhiteSpace(text)) return null;
        return ByteSize.TryParse(text, out long bytes) ? bytes : throw new UsageException($"{what} '{text}' is not a size; use e.g. 512M, 4G or 1.5GiB");
    }

    /// <summary>Keeps only the flags configuration knows, so verb arguments do not confuse the command-line provider; bare switches become "true".</summary>
    private static string[] NormalizeFlags(string[] args)
    {
        var result = new List<string>();
        for (int i = 0; i < args.Length; i++)
        {
            string a = args[i];
            string name = a.Split('=', 2)[0];
            if (!SwitchMappings.ContainsKey(name)) continue;
            if (a.Contains('=')) { result.Add(a); continue; }
            bool isSwitch = name is "--cpu-only" or "--no-prefetch";
            if (isSwitch) { result.Add(name); result.Add(i + 1 < args.Length && args[i + 1] is "true" or "false" ? args[++i] : "true"); }
            else if (i + 1 < args.Length) { result.Add(name); result.Add(args[++i]); }
        }
        return result.ToArray();
    }
}
