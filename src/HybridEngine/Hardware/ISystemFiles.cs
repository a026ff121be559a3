namespace HybridEngine.Hardware;

/// <summary>
/// The probe's only window onto the operating system's information files (<c>/proc</c>, <c>/sys</c>, <c>/etc</c>).
/// Paths are absolute as on a real system; an implementation may map them under another root, so tests can feed a
/// fake tree. Every member returns null (or empty) when the fact is absent or unreadable; none throws.
/// </summary>
public interface ISystemFiles
{
    /// <summary>The whole text of a small file, or null.</summary>
    string? ReadText(string path);

    /// <summary>Names (not paths) of the entries of a directory, or empty.</summary>
    IReadOnlyList<string> List(string path);

    /// <summary>The fully resolved target of a symbolic link (as an absolute path of this tree), or null.</summary>
    string? ResolveLink(string path);

    /// <summary>Free and total bytes of the file system holding <paramref name="path"/>, or null.</summary>
    (long Free, long Total)? Space(string path);
}

/// <summary>Reads the live system, or a copy of its information files under <see cref="Root"/>.</summary>
public sealed class SystemFiles : ISystemFiles
{
    public SystemFiles(string root = "/") => Root = Path.GetFullPath(root);

    public static SystemFiles Live { get; } = new();

    public string Root { get; }

    private string Map(string path) => Root == "/" ? path : Path.Combine(Root, path.TrimStart('/'));

    public string? ReadText(string path)
    {
        try { return File.ReadAllText(Map(path)); }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or NotSupportedException or ArgumentException) { return null; }
    }

    public IReadOnlyList<string> List(string path)
    {
        try { return Directory.EnumerateFileSystemEntries(Map(path)).Select(p => Path.GetFileName(p)).Order(StringComparer.Ordinal).ToArray(); }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or ArgumentException) { return []; }
    }

    public string? ResolveLink(string path)
    {
        try
        {
            // Component by component, as realpath does: sysfs links are relative and chain through linked directories,
            // so ".." must apply to the resolved parent, not to the path as written.
            string current = "/";
            var pending = new Stack<string>(path.Split('/', StringSplitOptions.RemoveEmptyEntries).Reverse());
            for (int hops = 0; pending.Count > 0; )
            {
                string part = pending.Pop();
                if (part == ".") continue;
                if (part == "..") { current = Path.GetDirectoryName(current) ?? "/"; continue; }
                string next = current == "/" ? "/" + part : current + "/" + part;
                string? target = new FileInfo(Map(next)).LinkTarget;
                if (target is null) { current = next; continue; }
                if (++hops > 64) return null;
                if (target.StartsWith('/')) current = "/";
                foreach (string t in target.Split('/', StringSplitOptions.RemoveEmptyEntries).Reverse()) pending.Push(t);
            }
            return Path.Exists(Map(current)) ? current : null;
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or ArgumentException) { return null; }
    }

    public (long Free, long Total)? Space(string path)
    {
        try
        {
            // statvfs needs a path that exists: the model folder may not have been created yet.
            var dir = new DirectoryInfo(Map(path));
            while (dir is { Exists: false }) dir = dir.Parent;
            if (dir is null) return null;
            var drive = new DriveInfo(dir.FullName);
            return (drive.AvailableFreeSpace, drive.TotalSize);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or ArgumentException) { return null; }
    }
}
