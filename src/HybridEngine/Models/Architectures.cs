using HybridEngine.Gguf;
using HybridEngine.Runtime;

namespace HybridEngine.Models;

/// <summary>The architectures this engine runs, by <c>general.architecture</c>. Anything else is refused by name.</summary>
public static class Architectures
{
    private static readonly Dictionary<string, Func<ModelMetadata, WeightStore, IModel>> Table = new()
    {
        ["deepseek2"] = Deepseek2.Load,
        ["llama"] = Llama.Load,
        ["qwen3moe"] = Qwen3Moe.Load,
    };

    public static IReadOnlyCollection<string> Supported => Table.Keys;

    public static IModel Create(GgufFile file, WeightStore weights)
    {
        string name = Path.GetFileName(file.Path);
        string arch = file.Architecture ?? throw new ModelLoadException($"{name} has no general.architecture key.");
        if (!Table.TryGetValue(arch, out var create))
            throw new ModelLoadException($"architecture '{arch}' of {name} is not supported; supported: {string.Join(", ", Table.Keys.Order())}.");
        return create(new ModelMetadata(file, arch), weights);
    }
}
