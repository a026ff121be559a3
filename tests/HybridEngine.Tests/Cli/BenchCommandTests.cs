using System.CommandLine;
using System.Globalization;
using System.Text.Json;
using System.Text.RegularExpressions;
using HybridEngine.Cli;
using HybridEngine.Cli.Commands;
using Xunit;

namespace HybridEngine.Tests.Cli;

/// <summary><c>hybrid bench</c> on the TinyStories model: the llama-bench style line and the JSON document.</summary>
public sealed partial class BenchCommandTests
{
    private static readonly string Model = TestPaths.Data("stories260K.gguf");

    private static (int Code, string Out, string Err) Run(params string[] args)
    {
        var stdout = new StringWriter();
        var stderr = new StringWriter();
        var root = new RootCommand("test");
        root.Subcommands.Add(BenchCommand.Create(stdout, stderr));
        int code = CliRunner.Run(root, args, stderr);
        return (code, stdout.ToString(), stderr.ToString());
    }

    [GeneratedRegex(@"^pp_tok_s=(\d+\.\d+) tg_tok_s=(\d+\.\d+)\r?\n$")]
    private static partial Regex Line();

    [Fact]
    public void PrintsPositiveTokensPerSecond()
    {
        var (code, stdout, stderr) = Run("bench", "-m", Model, "--pp", "64", "--tg", "16", "-r", "2", "-t", "1");
        Assert.True(code == 0, stderr);
        var match = Line().Match(stdout);
        Assert.True(match.Success, stdout);
        Assert.True(double.Parse(match.Groups[1].Value, CultureInfo.InvariantCulture) > 0);
        Assert.True(double.Parse(match.Groups[2].Value, CultureInfo.InvariantCulture) > 0);
    }

    [Fact]
    public void JsonHoldsBothFiguresAndTheirSamples()
    {
        var (code, stdout, stderr) = Run("bench", "-m", Model, "--pp", "32", "--tg", "8", "-r", "3", "-t", "1", "--json");
        Assert.True(code == 0, stderr);
        using var doc = JsonDocument.Parse(stdout);
        var root = doc.RootElement;
        Assert.True(root.GetProperty("pp_tok_s").GetDouble() > 0);
        Assert.True(root.GetProperty("tg_tok_s").GetDouble() > 0);
        Assert.Equal(32, root.GetProperty("pp").GetProperty("tokens").GetInt32());
        Assert.Equal(3, root.GetProperty("tg").GetProperty("samples").GetArrayLength());
        Assert.Equal(1, root.GetProperty("threads").GetInt32());
    }

    [Theory]
    [InlineData("--pp", "0", "--tg", "0")]
    [InlineData("-r", "0")]
    [InlineData("--tg", "-1")]
    public void BadCountsAreUsageErrors(params string[] extra)
    {
        var (code, _, _) = Run(["bench", "-m", Model, .. extra]);
        Assert.Equal(2, code);
    }
}
