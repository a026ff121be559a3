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

    /// <summary>Opens <paramref name="path"/> and checks every tensor the architecture needs (names, shapes, types).</summary>
    public static LoadedModel Load(string path)
    {
        var file = GgufFile.Open(path);
        try
        {
            var weights = new WeightStore(file);
            var model = Architectures.Create(file, weights);
            return new LoadedModel(file, weights, model);
        }
        catch
        {
            file.Dispose();
            throw;
        }
    }

    /// <summary>A context for this model: preallocated state and KV cache.</summary>
    public Executor CreateExecutor(ExecutorOptions? options = null) => new(Model, Weights.MaxActivationRowBytes, options);

    public void Dispose() => File.Dispose();
}
