using System.Text.Json.Nodes;
using HybridEngine.Hardware;
using HybridEngine.Tests.Hardware;
using Xunit;

namespace HybridEngine.Tests.Tuning;

/// <summary>Profile files: round trip, atomic writes, and one clear sentence for every kind of bad file.</summary>
public class ProfileJsonTests
{
    private static readonly Lazy<HardwareSnapshot> Hardware = new(() =>
    {
        using var tree = FakeSystemTree.Workstation();
        return new HardwareProbe(tree.Files, _ => false).Probe("/data/models");
    });

    private static HardwareProfile Profile() => TuneScratch.Synthetic(Hardware.Value);

    [Fact]
    public void SaveThenLoadGivesTheSameProfile()
    {
        using var scratch = new TuneScratch();
        string path = Path.Combine(scratch.Root, "p.json");
        var profile = Profile();
        ProfileJson.Save(profile, path);
        var loaded = ProfileJson.Load(path);
        Assert.Equal(ProfileJson.Serialize(profile), ProfileJson.Serialize(loaded));
        Assert.Equal(profile.Hardware.Cpu.InstructionSets.ToArray(), loaded.Hardware.Cpu.InstructionSets.ToArray());
        Assert.Equal(profile.Measurements.Disk!.Direct[0], loaded.Measurements.Disk!.Direct[0]);
    }

    [Fact]
    public void SharedProfileHoldsNoHostUserOrSerial()
    {
        string json = ProfileJson.Serialize(TuneScratch.Synthetic(new HardwareProbe().Probe(Path.GetTempPath())));
        Assert.DoesNotContain(Environment.MachineName, json, StringComparison.OrdinalIgnoreCase);
        Assert.DoesNotContain(Environment.GetFolderPath(Environment.SpecialFolder.UserProfile) + "/", json);
        Assert.DoesNotContain("serial", json, StringComparison.OrdinalIgnoreCase);
        Assert.DoesNotContain("\"mac", json, StringComparison.OrdinalIgnoreCase);
        Assert.DoesNotContain("hostname", json, StringComparison.OrdinalIgnoreCase);
    }

    [Fact]
    public void FailedWriteLeavesTheOldFileAndNoTemporaryFile()
    {
        using var scratch = new TuneScratch();
        string folder = Path.Combine(scratch.Root, "atomic");
        string path = Path.Combine(folder, "p.json");
        ProfileJson.Save(Profile(), path);
        string before = File.ReadAllText(path);

        Assert.Throws<IOException>(() => ProfileJson.WriteAtomically(path, stream =>
        {
            stream.Write("{\"schemaVersion\": 1, \"finger"u8);   // half a document, then the disk "fails"
            throw new IOException("disk full");
        }));
        Assert.Equal(before, File.ReadAllText(path));
        Assert.Equal([path], Directory.GetFiles(folder));

        string fresh = Path.Combine(folder, "new.json");
        Assert.Throws<IOException>(() => ProfileJson.WriteAtomically(fresh, _ => throw new IOException("interrupted")));
        Assert.False(File.Exists(fresh));
        Assert.Equal([path], Directory.GetFiles(folder));
    }

    [Theory]
    [InlineData(0, "schema version 0, an older format")]
    [InlineData(1, "schema version 1, an older format")]   // before CPU matmul and GPU figures
    [InlineData(3, "schema version 3, a newer format")]
    public void OtherSchemaVersionsAreRefusedWithOneSentence(int version, string expected)
    {
        var node = JsonNode.Parse(ProfileJson.Serialize(Profile()))!;
        node["schemaVersion"] = version;
        var e = Assert.Throws<ProfileException>(() => ProfileJson.Parse(node.ToJsonString(), "old.json"));
        Assert.Contains(expected, e.Message);
        Assert.Contains("old.json", e.Message);
        Assert.DoesNotContain("\n", e.Message);
    }

    public static TheoryData<string, string> Damaged => new()
    {
        { "truncated", "not valid JSON" },
        { "no schema", "no integer schemaVersion" },
        { "missing settings", "does not match schema version 2" },
        { "null cpu model", "does not match schema version 2" },
        { "edited fingerprint", "does not match its own hardware section" },
        { "edited hardware", "does not match its own hardware section" },
        { "negative bandwidth", "outside (0, 10000)" },
        { "absurd disk", "outside (0, 1000)" },
        { "bad kernel path", "settings.kernelPath" },
        { "odd block size", "settings.ioBlockBytes" },
    };

    [Theory]
    [MemberData(nameof(Damaged))]
    public void DamagedProfilesAreClearErrors(string damage, string expected)
    {
        string json = ProfileJson.Serialize(Profile());
        var node = JsonNode.Parse(json)!;
        switch (damage)
        {
            case "truncated": json = json[..(json.Length / 2)]; break;
            case "no schema": node.AsObject().Remove("schemaVersion"); break;
            case "missing settings": node.AsObject().Remove("settings"); break;
            case "null cpu model": node["hardware"]!["cpu"]!["model"] = null; break;
            case "edited fingerprint": node["fingerprint"] = "0123456789abcdef"; break;
            case "edited hardware": node["hardware"]!["cpu"]!["logicalCores"] = 64; break;
            case "negative bandwidth": node["measurements"]!["memoryRead"]![0]!["gbps"] = -3; break;
            case "absurd disk": node["measurements"]!["disk"]!["direct"]![0]!["gbps"] = 5000; break;
            case "bad kernel path": node["settings"]!["kernelPath"] = "avx9000"; break;
            case "odd block size": node["settings"]!["ioBlockBytes"] = 5000; break;
        }
        if (damage != "truncated") json = node.ToJsonString();
        var e = Assert.Throws<ProfileException>(() => ProfileJson.Parse(json, "bad.json"));
        Assert.Contains(expected, e.Message);
        Assert.StartsWith("profile bad.json", e.Message);
    }

    [Fact]
    public void CommittedProfilesValidateAndAreNamedByTheirFingerprint()
    {
        var files = Directory.GetFiles(Path.Combine(TestPaths.RepositoryRoot, "profiles"), "*.json");
        Assert.NotEmpty(files);
        foreach (string file in files)
        {
            var profile = ProfileJson.Load(file);
            Assert.Equal(Path.GetFileNameWithoutExtension(file), profile.Fingerprint);
            Assert.False(profile.Quick, $"{file} should come from a full tune");
        }
    }

    [Fact]
    public void SaveRefusesAnInvalidProfile()
    {
        using var scratch = new TuneScratch();
        var bad = Profile() with { Settings = Profile().Settings with { Threads = 0 } };
        string path = Path.Combine(scratch.Root, "bad.json");
        Assert.Throws<ProfileException>(() => ProfileJson.Save(bad, path));
        Assert.False(File.Exists(path));
    }
}
