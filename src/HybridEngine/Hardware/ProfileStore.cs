using HybridEngine.Configuration;

namespace HybridEngine.Hardware;

/// <summary>A profile file found by <see cref="ProfileStore.List"/>: its profile, or why it cannot be used.</summary>
public sealed record ProfileEntry(string Path, string Location, HardwareProfile? Profile, string? Error)
{
    public bool Matches(string fingerprint) => Profile?.Fingerprint == fingerprint;
}

/// <summary>
/// Where profiles live: the project's folder (Paths:ProfileDirectory, default <c>profiles/</c>, shared through the
/// repository) and the user's folder (Paths:UserProfileDirectory, default <c>~/.config/hybridengine/profiles</c> or the
/// platform's equivalent, for machines of one's own and imports). Files are named <c>&lt;fingerprint&gt;.json</c>.
/// </summary>
public sealed class ProfileStore
{
    public const string ProjectLocation = "project", UserLocation = "user";

    /// <param name="probe">How this machine is probed for its fingerprint (with the GPU runtime's accelerators where the host has one).</param>
    public ProfileStore(string projectDirectory, string userDirectory, string modelDirectory = ".", HardwareProbe? probe = null)
    {
        ProjectDirectory = ResolveProjectDirectory(projectDirectory);
        UserDirectory = Path.GetFullPath(userDirectory);
        ModelDirectory = modelDirectory;
        Probe = probe ?? new HardwareProbe();
    }

    public static ProfileStore FromOptions(EngineOptions options, HardwareProbe? probe = null) =>
        new(options.ProfileDirectory, options.UserProfileDirectory ?? DefaultUserDirectory(), options.ModelDirectory, probe);

    /// <summary>The probe whose snapshot of this machine gives its fingerprint.</summary>
    public HardwareProbe Probe { get; }

    public string ProjectDirectory { get; }
    public string UserDirectory { get; }

    /// <summary>The folder whose disk the fingerprint describes (where models live).</summary>
    public string ModelDirectory { get; }

    /// <summary>~/.config/hybridengine/profiles on Linux (XDG_CONFIG_HOME respected), %APPDATA%\hybridengine\profiles on Windows, ~/Library/Application Support/hybridengine/profiles on macOS.</summary>
    public static string DefaultUserDirectory()
    {
        string root = Environment.GetFolderPath(Environment.SpecialFolder.ApplicationData, Environment.SpecialFolderOption.DoNotVerify);
        if (string.IsNullOrEmpty(root)) root = Path.Combine(Environment.GetFolderPath(Environment.SpecialFolder.UserProfile), ".config");
        return Path.Combine(root, "hybridengine", "profiles");
    }

    /// <summary>
    /// A relative project folder is looked for in the current folder and then in its parents (so commands run from a
    /// sub-folder of the checkout still find <c>profiles/</c>); if none exists it is taken relative to the current folder.
    /// </summary>
    public static string ResolveProjectDirectory(string configured, string? startFolder = null)
    {
        if (Path.IsPathRooted(configured)) return Path.GetFullPath(configured);
        string start = startFolder ?? Environment.CurrentDirectory;
        for (var dir = new DirectoryInfo(start); dir is not null; dir = dir.Parent)
        {
            string candidate = Path.Combine(dir.FullName, configured);
            if (Directory.Exists(candidate)) return candidate;
        }
        return Path.GetFullPath(Path.Combine(start, configured));
    }

    /// <summary>The default file for a fingerprint in one of the two folders.</summary>
    public string PathFor(string fingerprint, string location = ProjectLocation) =>
        Path.Combine(location == UserLocation ? UserDirectory : ProjectDirectory, fingerprint + ".json");

    /// <summary>Every *.json in the user folder, then the project folder, each loaded or with its one-sentence error.</summary>
    public IReadOnlyList<ProfileEntry> List()
    {
        var entries = new List<ProfileEntry>();
        foreach (var (folder, location) in new[] { (UserDirectory, UserLocation), (ProjectDirectory, ProjectLocation) })
        {
            if (!Directory.Exists(folder)) continue;
            foreach (string file in Directory.EnumerateFiles(folder, "*.json").Order(StringComparer.Ordinal))
            {
                try { entries.Add(new ProfileEntry(file, location, ProfileJson.Load(file), null)); }
                catch (ProfileException e) { entries.Add(new ProfileEntry(file, location, null, e.Message)); }
            }
        }
        return entries;
    }

    /// <summary>This machine's fingerprint, probing the disk behind <see cref="ModelDirectory"/>.</summary>
    public string ThisMachineFingerprint() => HardwareFingerprint.Compute(Probe.Probe(ModelDirectory));

    /// <summary>The profile for this machine (see <see cref="FindFor"/>), or null: callers then tune and say so.</summary>
    public ProfileEntry? FindForThisMachine() => FindFor(ThisMachineFingerprint());

    /// <summary>
    /// The usable profile with this fingerprint: full tunes before quick ones, then the newest; a user-folder file
    /// wins a tie with the project's.
    /// </summary>
    public ProfileEntry? FindFor(string fingerprint) =>
        List().Where(e => e.Matches(fingerprint))
            .OrderByDescending(e => !e.Profile!.Quick)
            .ThenByDescending(e => e.Profile!.CreatedUtc)
            .ThenBy(e => e.Location == UserLocation ? 0 : 1)
            .FirstOrDefault();

    /// <summary>
    /// Checks a profile file for use on the machine with <paramref name="fingerprint"/>: throws a
    /// <see cref="ProfileException"/> naming both fingerprints when they differ and <paramref name="force"/> is off.
    /// </summary>
    public static HardwareProfile CheckForMachine(string path, string fingerprint, bool force)
    {
        var profile = ProfileJson.Load(path);
        if (profile.Fingerprint != fingerprint && !force)
            throw new ProfileException(
                $"profile {path} was made for machine {profile.Fingerprint} but this machine is {fingerprint}; pass --force to use it anyway");
        return profile;
    }
}
