using HybridEngine.Gguf;
using HybridEngine.Models;

namespace HybridEngine.Runtime;

/// <summary>An opened GGUF file, its weight store and the architecture built over it. Dispose closes the mapping.</summary>
public sealed class LoadedModel : IDisposable
{
    private LoadedModel(GgufFile file, WeightStore weights, IModel model)
    {
        File = file;
        Weights = weights;
        Model = model;
    }

    public GgufFile File { get; }
    public WeightStore Weights { get; }
    public IModel Model { get; }

    /// <summary>What a plan put on accelerators (set by the host after loading); executors compute with it.</summary>
    public DevicePlacement? Placement { get; set; }

    /// <summary>Opens <paramref name="path"/> and checks every tensor the architecture needs (names, shapes, types).</summary>
    public static LoadedModel Load(string path)
    {
        var file = GgufFile.Open(path);
        try
        {
            var weights = new WeightStore(file);
            var model = Architectures.Create(file, weights);
            // A tensor the architecture does not read means a variant this engine would run wrongly (as llama.cpp,
            // which refuses "wrong number of tensors"): refuse it by name rather than ignore it.
            var unused = file.Tensors.Select(t => t.Name).Where(n => !weights.UsedTensors.Contains(n)).ToList();
            if (unused.Count > 0)
                throw new ModelLoadException(
                    $"{Path.GetFileName(path)} holds {unused.Count} tensor(s) the {file.Architecture} architecture does not use: " +
                    $"{string.Join(", ", unused.Take(5))}{(unused.Count > 5 ? ", ..." : "")}.");
            return new LoadedModel(file, weights, model);
        }
        catch
        {
            file.Dispose();
            throw;
        }
    }

    /// <summary>A context for this model: preallocated state and KV cache.</summary>
    public Executor CreateExecutor(ExecutorOptions? options = null) => new(Model, Weights.MaxActivationRowBytes, options, Placement);

    public void Dispose() => File.Dispose();
}
