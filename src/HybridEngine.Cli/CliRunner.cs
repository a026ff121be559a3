using System.CommandLine;
using HybridEngine.Configuration;
using HybridEngine.Gguf;

namespace HybridEngine.Cli;

/// <summary>Bad input or usage: exit code 2 with one sentence naming the culprit.</summary>
public sealed class UsageException(string message) : Exception(message);

/// <summary>Runs the command line and turns failures into one clear sentence and the CLI.md exit codes.</summary>
public static class CliRunner
{
    /// <summary>
    /// Start-up: binds the configuration once (appsettings.json, then HYBRID_ environment variables, then the command
    /// line) for the verbs to share. A bad value is printed as one sentence and null returned: the caller exits with 2.
    /// <paramref name="settingsDirectory"/> and <paramref name="environment"/> stand in for the executable's folder
    /// and the process environment in tests.
    /// </summary>
    public static EngineOptions? Configure(string[] args, TextWriter? error = null, string? settingsDirectory = null,
        IDictionary<string, string?>? environment = null)
    {
        try { return AppConfiguration.Load(args, settingsDirectory, environment); }
        catch (UsageException e)
        {
            (error ?? Console.Error).WriteLine($"error: {e.Message}");
            return null;
        }
    }

    public static int Run(RootCommand root, string[] args, TextWriter? error = null)
    {
        error ??= Console.Error;
        try
        {
            var parse = root.Parse(args);
            if (parse.Errors.Count > 0)
            {
                foreach (var e in parse.Errors) error.WriteLine($"error: {e.Message}");
                return 2;
            }
            return parse.Invoke(new InvocationConfiguration { EnableDefaultExceptionHandler = false });
        }
        catch (Exception ex)
        {
            var (code, message) = Describe(ex);
            error.WriteLine($"error: {message}");
            return code;
        }
    }

    /// <summary>Maps an exception to (exit code, message): 2 for bad input, 1 for runtime failures.</summary>
    public static (int Code, string Message) Describe(Exception ex) => ex switch
    {
        UsageException u => (2, u.Message),
        GgufFormatException g => (2, g.Message),
        HybridEngine.Hardware.ProfileException p => (2, p.Message),
        HybridEngine.Runtime.ModelLoadException m => (2, m.Message),
        HybridEngine.Runtime.ContextOverflowException o => (2, o.Message),
        FileNotFoundException f => (2, $"file not found: {f.FileName ?? f.Message}"),
        DirectoryNotFoundException d => (2, d.Message),
        NotSupportedException n => (2, n.Message),
        UnauthorizedAccessException a => (2, a.Message),
        IOException io => (1, $"I/O error: {io.Message}"),
        _ => (1, $"{ex.GetType().Name}: {ex.Message}"),
    };
}
