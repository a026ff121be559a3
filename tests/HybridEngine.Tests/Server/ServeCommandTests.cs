using System.CommandLine;
using HybridEngine.Cli;
using HybridEngine.Cli.Commands;
using Xunit;

namespace HybridEngine.Tests.Server;

/// <summary><c>hybrid serve</c> refuses bad settings (its own and run's placement options) with exit code 2 and a sentence naming the option, before binding anything.</summary>
public sealed class ServeCommandTests
{
    [Theory]
    [InlineData("--port", "70000", "--port")]
    [InlineData("--queue", "-1", "--queue")]
    [InlineData("--max-body", "10", "--max-body")]
    [InlineData("--host", "example.com", "--host")]
    [InlineData("--api-key", "", "--api-key")]
    [InlineData("--cache-policy", "fifo", "--cache-policy")]
    [InlineData("--stream-mode", "mmap", "--stream-mode")]
    [InlineData("--ram-budget", "lots", "--ram-budget")]
    public void BadOptionIsExitCode2(string option, string value, string named)
    {
        string dir = TestPaths.NewScratchDirectory();
        try
        {
            string model = Path.Combine(dir, "m.gguf");
            HybridEngine.Models.Synthetic.SyntheticWriter.Write(HybridEngine.Models.Synthetic.SyntheticModels.Spec("qwen3moe", "tiny"),
                new HybridEngine.Models.Synthetic.SyntheticOptions(), model);
            var (code, err) = Run("serve", "-m", model, option, value);
            Assert.Equal(2, code);
            Assert.Contains(named, err);
        }
        finally
        {
            Directory.Delete(dir, recursive: true);
        }
    }

    [Fact]
    public void MissingModelIsExitCode2()
    {
        var (code, err) = Run("serve", "-m", Path.Combine(Path.GetTempPath(), "no-such-model.gguf"), "--port", "0");
        Assert.Equal(2, code);
        Assert.Contains("no-such-model.gguf", err);
    }

    private static (int Code, string Err) Run(params string[] args)
    {
        var stderr = new StringWriter();
        var root = new RootCommand("test");
        root.Subcommands.Add(ServeCommand.Create(new StringWriter()));
        return (CliRunner.Run(root, args, stderr), stderr.ToString());
    }
}
