using System.CommandLine;
using HybridEngine.Runtime;

namespace HybridEngine.Cli;

/// <summary>
/// The sampling flags <c>run</c> and <c>chat</c> share (<c>--temp --top-k --top-p --min-p --seed</c>), read back as
/// validated <see cref="SamplingOptions"/>. Only the default temperature differs between verbs.
/// </summary>
public sealed class SamplingFlags(float defaultTemperature)
{
    private readonly Option<float> _temp = new("--temp") { Description = "temperature; 0 = greedy", DefaultValueFactory = _ => defaultTemperature };
    private readonly Option<int> _topK = new("--top-k") { Description = "top-k (0 = off)", DefaultValueFactory = _ => 40 };
    private readonly Option<float> _topP = new("--top-p") { Description = "top-p (1 = off)", DefaultValueFactory = _ => 0.95f };
    private readonly Option<float> _minP = new("--min-p") { Description = "min-p (0 = off)", DefaultValueFactory = _ => 0.05f };
    private readonly Option<int?> _seed = new("--seed") { Description = "random seed for sampling" };

    public void AddTo(Command command)
    {
        foreach (var o in new Option[] { _temp, _topK, _topP, _minP, _seed }) command.Options.Add(o);
    }

    /// <summary>The options given, or a <see cref="UsageException"/> naming the flag out of range.</summary>
    public SamplingOptions Read(ParseResult parse)
    {
        var sampling = new SamplingOptions(parse.GetValue(_temp), parse.GetValue(_topK), parse.GetValue(_topP), parse.GetValue(_minP), parse.GetValue(_seed));
        if (sampling.Validate() is { } problem) throw new UsageException(problem);
        return sampling;
    }
}
