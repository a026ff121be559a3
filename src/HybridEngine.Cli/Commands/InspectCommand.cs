using System.CommandLine;

namespace HybridEngine.Cli.Commands;

/// <summary><c>hybrid inspect -m MODEL [--json]</c> (CLI.md).</summary>
public static class InspectCommand
{
    public static Command Create()
    {
        var command = new Command("inspect", "Architecture, hyper-parameters, tensor counts and bytes per class and per quant type.");
        command.SetAction(new Func<ParseResult, int>(_ => throw new UsageException("inspect is not available yet")));
        return command;
    }
}
