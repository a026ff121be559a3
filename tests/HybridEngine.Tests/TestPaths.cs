namespace HybridEngine.Tests;

/// <summary>Where the repository and the shared test data are, found from the test assembly's folder.</summary>
internal static class TestPaths
{
    public static string RepositoryRoot { get; } = FindRoot();

    /// <summary><c>../shared/data</c> beside the repository (see its MANIFEST.md).</summary>
    public static string SharedData => Path.GetFullPath(Path.Combine(RepositoryRoot, "..", "shared", "data"));

    public static string Data(string relative) => Path.Combine(SharedData, relative);

    /// <summary>A fresh scratch folder under the system temp directory, removed by the caller.</summary>
    public static string NewScratchDirectory()
    {
        string dir = Path.Combine(Path.GetTempPath(), "hybridengine-tests", Guid.NewGuid().ToString("N"));
        Directory.CreateDirectory(dir);
        return dir;
    }

    private static string FindRoot()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir != null; dir = dir.Parent)
        {
            if (File.Exists(Path.Combine(dir.FullName, "HybridEngine.sln"))) return dir.FullName;
        }
        throw new DirectoryNotFoundException("HybridEngine.sln was not found above the test assembly");
    }
}
