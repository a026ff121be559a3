using System.CommandLine;
using System.Globalization;
using HybridEngine.Configuration;
using HybridEngine.Hardware;
using HybridEngine.Runtime;
using HybridEngine.Tuner;

namespace HybridEngine.Cli.Commands;

/// <summary>
/// <c>hybrid tune [--quick] [--out PATH] [--disk-path DIR] [--json]</c> (CLI.md): probes, measures, and writes the profile
/// atomically (default <c>profiles/&lt;fingerprint&gt;.json</c>); progress on stderr, the summary (or with --json the
/// profile) on stdout. Ctrl+C stops it without writing a profile.
/// </summary>
public static class TuneCommand
{
    /// <param name="output">Standard output when null.</param>
    /// <param name="error">Standard error when null (progress bar and notes).</param>
    /// <param name="options">Bound at start-up (Program); defaults when null.</param>
    /// <param name="adjust">Lets tests shrink the budgets.</param>
    /// <param name="interrupt">Stops the tune as Ctrl+C does (tests).</param>
    /// <param name="gpus">The GPUs to measure, owned by the caller (tests pass ILGPU's CPU accelerator); null opens this machine's.</param>
    public static Command Create(TextWriter? output = null, TextWriter? error = null, EngineOptions? options = null,
        Func<TuneOptions, TuneOptions>? adjust = null, CancellationToken interrupt = default, IReadOnlyList<IComputeDevice>? gpus = null)
    {
        var quick = new Option<bool>("--quick") { Description = "fewer, shorter measurements (under 15 s)" };
        var outPath = new Option<string?>("--out") { Description = "profile file to write (default: profiles/<fingerprint>.json)" };
        var diskPath = new Option<string?>("--disk-path") { Description = "folder whose disk is measured (default: Paths:ModelDirectory)" };
        var json = new Option<bool>("--json") { Description = "print the profile as one JSON document" };
        var command = new Command("tune", "Probes CPU, RAM, disk and GPUs, runs the micro-benchmarks and writes a hardware profile.");
        command.Options.Add(quick);
        command.Options.Add(outPath);
        command.Options.Add(diskPath);
        command.Options.Add(json);
        command.SetAction(parse =>
        {
            var engine = options ?? new EngineOptions();
            var stdout = output ?? Console.Out;
            var stderr = error ?? Console.Error;
            string folder = parse.GetValue(diskPath) ?? engine.ModelDirectory;
            if (parse.GetValue(diskPath) is { } given && !Directory.Exists(given))
                throw new UsageException($"--disk-path {given} is not an existing folder");

            var snapshot = MachineProbe.Create().Probe(folder);
            var tune = parse.GetValue(quick) ? TuneOptions.QuickFor(snapshot, folder) : TuneOptions.FullFor(snapshot, folder);
            if (adjust is not null) tune = adjust(tune);

            using var cancel = CancellationTokenSource.CreateLinkedTokenSource(interrupt);
            ConsoleCancelEventHandler? onCancel = null;
            if (output is null)
            {
                onCancel = (_, e) => { e.Cancel = true; cancel.Cancel(); };
                Console.CancelKeyPress += onCancel;
            }
            HardwareProfile profile;
            using var opened = gpus is null ? MachineProbe.OpenGpus(stderr) : null;
            try { profile = ProfileResolver.RunWithProgress(snapshot, tune, stderr, cancel.Token, gpus ?? opened!.Devices); }
            catch (OperationCanceledException) { stderr.WriteLine("tune interrupted: no profile written"); return 130; }
            finally { if (onCancel is not null) Console.CancelKeyPress -= onCancel; }

            var store = ProfileStore.FromOptions(engine);
            string path = Path.GetFullPath(parse.GetValue(outPath) ?? store.PathFor(profile.Fingerprint));
            ProfileJson.Save(profile, path);
            stderr.WriteLine($"profile written to {path}");
            if (parse.GetValue(json))
            {
                foreach (string note in profile.Notes) stderr.WriteLine("note: " + note);
                stdout.WriteLine(ProfileJson.Serialize(profile));
            }
            else ProfileText.Write(profile, path, stdout);
            stdout.Flush();
            return 0;
        });
        return command;
    }
}
