using System.CommandLine;
using System.Globalization;
using System.Text.Json;
using System.Text.Json.Nodes;
using HybridEngine.Configuration;
using HybridEngine.Hardware;

namespace HybridEngine.Cli.Commands;

/// <summary><c>hybrid profile fingerprint|list|show|export|import</c> (CLI.md); every verb takes --json.</summary>
public static class ProfileCommand
{
    private static readonly JsonSerializerOptions Indented = new() { WriteIndented = true };

    /// <param name="options">Bound configuration (profile folders, model folder), bound at start-up (Program); defaults when null.</param>
    public static Command Create(TextWriter? output = null, TextWriter? error = null, EngineOptions? options = null)
    {
        var command = new Command("profile", "Hardware profiles: this machine's fingerprint, the profiles found, and sharing them.");
        command.Subcommands.Add(Fingerprint(output, options));
        command.Subcommands.Add(List(output, options));
        command.Subcommands.Add(Show(output, options));
        command.Subcommands.Add(Export(output, error, options));
        command.Subcommands.Add(Import(output, error, options));
        return command;
    }

    private static Option<bool> JsonOption() => new("--json") { Description = "print one JSON document" };

    private static (ProfileStore Store, TextWriter Out) Context(ParseResult parse, TextWriter? output, EngineOptions? options) =>
        (ProfileStore.FromOptions(options ?? new EngineOptions(), MachineProbe.Create()), output ?? Console.Out);

    private static Command Fingerprint(TextWriter? output, EngineOptions? options)
    {
        var json = JsonOption();
        var command = new Command("fingerprint", "Prints this machine's hardware fingerprint.") { json };
        command.SetAction(parse =>
        {
            var (store, w) = Context(parse, output, options);
            var snapshot = store.Probe.Probe(store.ModelDirectory);
            string fingerprint = HardwareFingerprint.Compute(snapshot);
            if (parse.GetValue(json))
                w.WriteLine(new JsonObject { ["fingerprint"] = fingerprint, ["identity"] = HardwareFingerprint.CanonicalText(snapshot) }.ToJsonString(Indented));
            else w.WriteLine(fingerprint);
            return 0;
        });
        return command;
    }

    private static Command List(TextWriter? output, EngineOptions? options)
    {
        var json = JsonOption();
        var command = new Command("list", "The profiles found in the project and user folders; * marks the one this machine uses.") { json };
        command.SetAction(parse =>
        {
            var (store, w) = Context(parse, output, options);
            string fingerprint = store.ThisMachineFingerprint();
            var entries = store.List();
            string? chosen = store.FindFor(fingerprint)?.Path;
            if (parse.GetValue(json))
            {
                var array = new JsonArray();
                foreach (var e in entries)
                {
                    array.Add(new JsonObject
                    {
                        ["path"] = e.Path, ["location"] = e.Location, ["fingerprint"] = e.Profile?.Fingerprint,
                        ["matchesThisMachine"] = e.Matches(fingerprint), ["selected"] = e.Path == chosen,
                        ["quick"] = e.Profile?.Quick, ["createdUtc"] = e.Profile?.CreatedUtc, ["cpu"] = e.Profile?.Hardware.Cpu.Model, ["error"] = e.Error,
                    });
                }
                w.WriteLine(new JsonObject
                {
                    ["thisMachine"] = fingerprint, ["projectDirectory"] = store.ProjectDirectory, ["userDirectory"] = store.UserDirectory, ["profiles"] = array,
                }.ToJsonString(Indented));
                return 0;
            }
            w.WriteLine($"this machine: {fingerprint}");
            w.WriteLine($"folders: {store.UserDirectory} (user), {store.ProjectDirectory} (project)");
            if (entries.Count == 0) { w.WriteLine("no profiles found; run `hybrid tune`"); return 0; }
            w.WriteLine($"  {"fingerprint",-18}{"location",-9}{"tune",-6}{"created (UTC)",-22}path");
            foreach (var e in entries)
            {
                string mark = e.Path == chosen ? "*" : e.Matches(fingerprint) ? "+" : " ";
                if (e.Profile is { } p)
                    w.WriteLine($"{mark} {p.Fingerprint,-18}{e.Location,-9}{(p.Quick ? "quick" : "full"),-6}{p.CreatedUtc.ToString("yyyy-MM-dd HH:mm:ss", CultureInfo.InvariantCulture),-22}{e.Path}");
                else w.WriteLine($"! {"(unusable)",-18}{e.Location,-9}{"",-6}{"",-22}{e.Path}: {e.Error}");
            }
            return 0;
        });
        return command;
    }

    private static Command Show(TextWriter? output, EngineOptions? options)
    {
        var json = JsonOption();
        var path = new Argument<string?>("PATH") { Description = "profile file (default: this machine's)", Arity = ArgumentArity.ZeroOrOne };
        var command = new Command("show", "One profile, human-readable.") { path, json };
        command.SetAction(parse =>
        {
            var (store, w) = Context(parse, output, options);
            var (file, profile) = parse.GetValue(path) is { } given ? (given, ProfileJson.Load(given)) : ThisMachine(store);
            if (parse.GetValue(json)) w.WriteLine(ProfileJson.Serialize(profile));
            else ProfileText.Write(profile, file, w);
            return 0;
        });
        return command;
    }

    private static Command Export(TextWriter? output, TextWriter? error, EngineOptions? options)
    {
        var json = JsonOption();
        var outPath = new Option<string>("--out") { Description = "where to write this machine's profile", Required = true };
        var command = new Command("export", "Writes this machine's profile to a file to share.") { outPath, json };
        command.SetAction(parse =>
        {
            var (store, w) = Context(parse, output, options);
            var (source, profile) = ThisMachine(store);
            string target = Path.GetFullPath(parse.GetValue(outPath)!);
            ProfileJson.Save(profile, target);
            Report(w, parse.GetValue(json), "exported", source, target, profile.Fingerprint);
            return 0;
        });
        return command;
    }

    private static Command Import(TextWriter? output, TextWriter? error, EngineOptions? options)
    {
        var json = JsonOption();
        var path = new Argument<string>("PATH") { Description = "profile file to import" };
        var force = new Option<bool>("--force") { Description = "import even if it was made on a machine with another fingerprint" };
        var command = new Command("import", "Copies a profile into the user's profile folder after checking its schema and fingerprint.") { path, force, json };
        command.SetAction(parse =>
        {
            var (store, w) = Context(parse, output, options);
            string source = parse.GetValue(path)!;
            string fingerprint = store.ThisMachineFingerprint();
            HardwareProfile profile;
            try { profile = ProfileStore.CheckForMachine(source, fingerprint, parse.GetValue(force)); }
            catch (ProfileException e) { throw new UsageException(e.Message); }
            if (profile.Fingerprint != fingerprint)
                (error ?? Console.Error).WriteLine($"warning: importing profile {source} made for machine {profile.Fingerprint} onto this machine {fingerprint} (--force); its figures may not hold here");
            string target = store.PathFor(profile.Fingerprint, ProfileStore.UserLocation);
            ProfileJson.Save(profile, target);
            Report(w, parse.GetValue(json), "imported", source, target, profile.Fingerprint);
            return 0;
        });
        return command;
    }

    private static (string Path, HardwareProfile Profile) ThisMachine(ProfileStore store)
    {
        string fingerprint = store.ThisMachineFingerprint();
        return store.FindFor(fingerprint) is { Profile: { } p } entry
            ? (entry.Path, p)
            : throw new UsageException($"no profile for this machine ({fingerprint}) in {store.UserDirectory} or {store.ProjectDirectory}; run `hybrid tune`");
    }

    private static void Report(TextWriter w, bool json, string verb, string source, string target, string fingerprint)
    {
        if (json) w.WriteLine(new JsonObject { [verb] = true, ["from"] = source, ["to"] = target, ["fingerprint"] = fingerprint }.ToJsonString(Indented));
        else w.WriteLine($"{verb} profile {fingerprint}: {source} -> {target}");
    }
}
