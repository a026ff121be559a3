using HybridEngine.Cli;
using HybridEngine.Hardware;
using Xunit;

namespace HybridEngine.Tests.Tuning;

/// <summary>Profile folders come from configuration; an empty user folder setting means the platform's folder.</summary>
public class ProfileFolderTests
{
    [Fact]
    public void FoldersAreBoundFromSettingsAndEnvironment()
    {
        using var scratch = new TuneScratch();
        File.WriteAllText(Path.Combine(scratch.Root, "appsettings.json"), """{ "Paths": { "ProfileDirectory": "/p/project", "UserProfileDirectory": "" } }""");
        var fromFile = AppConfiguration.Load([], scratch.Root, new Dictionary<string, string?>());
        var store = ProfileStore.FromOptions(fromFile);
        Assert.Equal("/p/project", store.ProjectDirectory);
        Assert.Equal(ProfileStore.DefaultUserDirectory(), store.UserDirectory);
        Assert.EndsWith(Path.Combine("hybridengine", "profiles"), store.UserDirectory);

        var fromEnv = AppConfiguration.Load([], scratch.Root, new Dictionary<string, string?> { ["HYBRID_Paths__UserProfileDirectory"] = "/p/user" });
        Assert.Equal("/p/user", ProfileStore.FromOptions(fromEnv).UserDirectory);
    }

    [Fact]
    public void RelativeProjectFolderIsFoundInAParentFolder()
    {
        using var scratch = new TuneScratch();
        string deep = Path.Combine(scratch.Root, "a", "b");
        Directory.CreateDirectory(deep);
        Directory.CreateDirectory(Path.Combine(scratch.Root, "shared-profiles"));
        Assert.Equal(Path.Combine(scratch.Root, "shared-profiles"), ProfileStore.ResolveProjectDirectory("shared-profiles", deep));
        Assert.Equal(Path.Combine(deep, "none-such"), ProfileStore.ResolveProjectDirectory("none-such", deep));
    }
}
