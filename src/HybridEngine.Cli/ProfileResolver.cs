using HybridEngine.Configuration;
using HybridEngine.Hardware;
using HybridEngine.Runtime;
using HybridEngine.Tuner;
using Spectre.Console;

namespace HybridEngine.Cli;

/// <summary>
/// How commands get this machine's profile: the matching one from the profile folders, or (once) a quick tune saved
/// to the user's folder, announced on stderr, so later runs reuse it.
/// </summary>
public static class ProfileResolver
{
    /// <param name="adjust">Lets tests shrink the tune's budgets.</param>
    public static HardwareProfile FindOrTune(EngineOptions options, TextWriter error, Func<TuneOptions, TuneOptions>? adjust = null,
        CancellationToken cancel = default)
    {
        var store = ProfileStore.FromOptions(options, MachineProbe.Create());
        var snapshot = store.Probe.Probe(options.ModelDirectory);
        string fingerprint = HardwareFingerprint.Compute(snapshot);
        if (store.FindFor(fingerprint) is { Profile: { } found }) return found;

        error.WriteLine($"no hardware profile for this machine ({fingerprint}); running a quick tune once (about 10 s), saved to {store.UserDirectory}");
        var tune = TuneOptions.QuickFor(snapshot, options.ModelDirectory);
        if (adjust is not null) tune = adjust(tune);
        using var gpus = MachineProbe.OpenGpus(error);
        var profile = RunWithProgress(snapshot, tune, error, cancel, gpus.Devices);
        ProfileJson.Save(profile, store.PathFor(fingerprint, ProfileStore.UserLocation));
        return profile;
    }

    /// <summary>Runs the tuner with a Spectre.Console progress bar on <paramref name="error"/> (never on stdout).</summary>
    /// <param name="gpus">The GPUs to measure (none: CPU, memory and disk only).</param>
    public static HardwareProfile RunWithProgress(HardwareSnapshot snapshot, TuneOptions tune, TextWriter error, CancellationToken cancel,
        IReadOnlyList<IComputeDevice>? gpus = null)
    {
        bool terminal = ReferenceEquals(error, Console.Error) && !Console.IsErrorRedirected;
        var console = AnsiConsole.Create(new AnsiConsoleSettings
        {
            Out = new AnsiConsoleOutput(error),
            Ansi = terminal ? AnsiSupport.Detect : AnsiSupport.No,
            Interactive = terminal ? InteractionSupport.Detect : InteractionSupport.No,
        });
        HardwareProfile? profile = null;
        console.Progress()
            .AutoClear(false)
            .Columns(new TaskDescriptionColumn(), new ProgressBarColumn(), new PercentageColumn(), new ElapsedTimeColumn())
            .Start(context =>
            {
                var task = context.AddTask(tune.Quick ? "quick tune" : "tune", maxValue: 1.0);
                profile = HardwareTuner.Run(snapshot, tune, p =>
                {
                    task.Description = Markup.Escape(p.Step);
                    task.Value = p.Fraction;
                }, cancel, gpus);
                task.Value = 1.0;
            });
        return profile!;
    }
}
