using System.CommandLine;

namespace HybridEngine.Cli.Commands;

/// <summary><c>hybrid synth --arch A --preset P --out MODEL</c> (CLI.md).</summary>
public static class SynthCommand
{
    public static Command Create()
    {
        var command = new Command("synth", "Writes a seeded synthetic model of a real architecture.");
        command.SetAction(new Func<ParseResult, int>(_ => throw new UsageException("synth is not available yet")));
        return command;
    }
}
