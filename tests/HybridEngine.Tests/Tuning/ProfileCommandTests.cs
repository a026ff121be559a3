using System.Text.Json;
using System.Text.Json.Nodes;
using HybridEngine.Cli;
using HybridEngine.Hardware;
using Xunit;

namespace HybridEngine.Tests.Tuning;

/// <summary><c>hybrid profile</c> verbs in-process: import checks schema and fingerprint, list marks this machine's, export round-trips.</summary>
public class ProfileCommandTests
{
    private static HardwareSnapshot ThisMachine(TuneScratch s) => MachineProbe.Create().Probe(s.Options.ModelDirectory);

    private static string WriteProfile(TuneScratch s, HardwareProfile p, string name)
    {
        string path = Path.Combine(s.Root, "incoming", name);
        ProfileJson.Save(p, path);
        return path;
    }

    [Fact]
    public void ImportOfAnotherMachineFailsWithBothFingerprintsUnlessForced()
    {
        using var s = new TuneScratch();
        var here = ThisMachine(s);
        var other = here with { Cpu = here.Cpu with { Model = here.Cpu.Model + " (other)" } };
        var profile = TuneScratch.Synthetic(other);
        string path = WriteProfile(s, profile, "other.json");
        string mine = HardwareFingerprint.Compute(here);

        var (code, _, stderr) = s.Run("profile", "import", path);
        Assert.Equal(2, code);
        Assert.Contains(profile.Fingerprint, stderr);
        Assert.Contains(mine, stderr);
        Assert.Contains("--force", stderr);
        Assert.Single(stderr.Trim().Split('\n'));
        Assert.False(Directory.Exists(s.Options.UserProfileDirectory) && Directory.EnumerateFiles(s.Options.UserProfileDirectory!).Any());

        var (forced, stdout, warning) = s.Run("profile", "import", path, "--force");
        Assert.Equal(0, forced);
        Assert.Contains("warning", warning);
        Assert.Contains(profile.Fingerprint, warning);
        string imported = Path.Combine(s.Options.UserProfileDirectory!, profile.Fingerprint + ".json");
        Assert.Equal(ProfileJson.Serialize(profile), ProfileJson.Serialize(ProfileJson.Load(imported)));
        Assert.Contains(imported, stdout);
    }

    [Fact]
    public void ImportOfThisMachineNeedsNoForceAndListMarksIt()
    {
        using var s = new TuneScratch();
        var profile = TuneScratch.Synthetic(ThisMachine(s));
        var (code, _, stderr) = s.Run("profile", "import", WriteProfile(s, profile, "mine.json"));
        Assert.True(code == 0, stderr);
        Assert.DoesNotContain("warning", stderr);

        // Another machine's profile in the project folder is listed but not selected.
        var elsewhere = ThisMachine(s) with { Memory = ThisMachine(s).Memory with { InstalledBytes = 1L << 40 } };
        ProfileJson.Save(TuneScratch.Synthetic(elsewhere), Path.Combine(s.Options.ProfileDirectory, "x.json"));
        File.WriteAllText(Path.Combine(s.Options.ProfileDirectory, "broken.json"), "{");

        var (listCode, listed, _) = s.Run("profile", "list", "--json");
        Assert.Equal(0, listCode);
        var root = JsonDocument.Parse(listed).RootElement;
        Assert.Equal(profile.Fingerprint, root.GetProperty("thisMachine").GetString());
        var entries = root.GetProperty("profiles").EnumerateArray().ToList();
        Assert.Equal(3, entries.Count);
        var selected = Assert.Single(entries, e => e.GetProperty("selected").GetBoolean());
        Assert.Equal(profile.Fingerprint, selected.GetProperty("fingerprint").GetString());
        Assert.Equal("user", selected.GetProperty("location").GetString());
        Assert.Contains("not valid JSON", Assert.Single(entries, e => e.GetProperty("error").ValueKind == JsonValueKind.String).GetProperty("error").GetString());

        var (textCode, text, _) = s.Run("profile", "list");
        Assert.Equal(0, textCode);
        Assert.Contains("* " + profile.Fingerprint, text);

        var (fpCode, fp, _) = s.Run("profile", "fingerprint");
        Assert.Equal(0, fpCode);
        Assert.Equal(profile.Fingerprint, fp.Trim());

        string exported = Path.Combine(s.Root, "shared", "export.json");
        var (exportCode, _, exportErr) = s.Run("profile", "export", "--out", exported);
        Assert.True(exportCode == 0, exportErr);
        Assert.Equal(ProfileJson.Serialize(profile), ProfileJson.Serialize(ProfileJson.Load(exported)));

        var (showCode, shown, _) = s.Run("profile", "show", "--json");
        Assert.Equal(0, showCode);
        Assert.Equal(profile.Fingerprint, JsonDocument.Parse(shown).RootElement.GetProperty("fingerprint").GetString());
    }

    [Fact]
    public void ImportOfAnOldSchemaOrCorruptFileIsExit2()
    {
        using var s = new TuneScratch();
        var node = JsonNode.Parse(ProfileJson.Serialize(TuneScratch.Synthetic(ThisMachine(s))))!;
        node["schemaVersion"] = 0;
        string old = Path.Combine(s.Root, "old.json");
        File.WriteAllText(old, node.ToJsonString());
        var (code, _, stderr) = s.Run("profile", "import", old, "--force");
        Assert.Equal(2, code);
        Assert.Contains("schema version 0", stderr);

        string truncated = Path.Combine(s.Root, "cut.json");
        File.WriteAllText(truncated, node.ToJsonString()[..100]);
        (code, _, stderr) = s.Run("profile", "show", truncated);
        Assert.Equal(2, code);
        Assert.Contains("not valid JSON", stderr);
    }

    [Fact]
    public void ShowWithNoProfileForThisMachineSaysToTune()
    {
        using var s = new TuneScratch();
        var (code, _, stderr) = s.Run("profile", "show");
        Assert.Equal(2, code);
        Assert.Contains("hybrid tune", stderr);
    }

    [Fact]
    public void FindOrTuneTunesOnceThenReuses()
    {
        using var s = new TuneScratch();
        var first = new StringWriter();
        var tuned = ProfileResolver.FindOrTune(s.Options, first, TuneScratch.Small);
        Assert.Contains("running a quick tune once", first.ToString());
        Assert.True(File.Exists(Path.Combine(s.Options.UserProfileDirectory!, tuned.Fingerprint + ".json")));

        var second = new StringWriter();
        var reused = ProfileResolver.FindOrTune(s.Options, second, TuneScratch.Small);
        Assert.DoesNotContain("tune", second.ToString());
        Assert.Equal(tuned.CreatedUtc, reused.CreatedUtc);
        Assert.Equal(ProfileJson.Serialize(tuned), ProfileJson.Serialize(reused));
    }
}
