namespace HybridEngine.Hardware;

/// <summary>Paths written into shareable profiles: the home folder (which names the user) becomes "~".</summary>
public static class PathPrivacy
{
    public static string Redact(string path)
    {
        string home = Environment.GetFolderPath(Environment.SpecialFolder.UserProfile).TrimEnd('/', '\\');
        if (home.Length <= 1) return path;
        if (path == home) return "~";
        return path.StartsWith(home + "/", StringComparison.Ordinal) || path.StartsWith(home + "\\", StringComparison.Ordinal)
            ? "~" + path[home.Length..]
            : path;
    }
}
