using System.CommandLine;
using HybridEngine.Cli;
using HybridEngine.Cli.Commands;

var root = new RootCommand("HybridEngine: runs large Mixture-of-Experts models on ordinary machines.");
root.Subcommands.Add(InspectCommand.Create());
root.Subcommands.Add(SynthCommand.Create());
root.Subcommands.Add(TokenizeCommand.Create());
root.Subcommands.Add(TuneCommand.Create());
root.Subcommands.Add(ProfileCommand.Create());
root.Subcommands.Add(EvalCommand.Create());
root.Subcommands.Add(RunCommand.Create());
root.Subcommands.Add(PlanCommand.Create());
root.Subcommands.Add(PerplexityCommand.Create());
root.Subcommands.Add(ChatCommand.Create());
root.Subcommands.Add(BenchCommand.Create());
root.Subcommands.Add(CalibrateCommand.Create());
root.Subcommands.Add(ServeCommand.Create());
return CliRunner.Run(root, args);
