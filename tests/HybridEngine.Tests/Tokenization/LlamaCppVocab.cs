using LLama;
using LLama.Common;
using LLama.Native;

namespace HybridEngine.Tests.Tokenization;

/// <summary>
/// llama.cpp's own tokenizer (through LLamaSharp) on a GGUF loaded with vocab_only, with its logging silenced. Loads are
/// cached for the test run (several test classes compare against the same vocabularies); do not dispose the result.
/// </summary>
internal static class LlamaCppVocab
{
    private static readonly Lock Gate = new();
    private static readonly Dictionary<string, LLamaWeights> Cache = [];
    private static bool _configured;

    public static LLamaWeights Load(string path) => Load(path, cache: true);

    /// <summary>A load of its own, for files made by one test; the caller disposes it.</summary>
    public static LLamaWeights LoadUncached(string path) => Load(path, cache: false);

    private static LLamaWeights Load(string path, bool cache)
    {
        lock (Gate)
        {
            if (!_configured)
            {
                try
                {
                    NativeLibraryConfig.All.WithLogCallback((_, _) => { });
                }
                catch (InvalidOperationException)
                {
                    // The native library is already loaded; its log setting stays.
                }
                _configured = true;
            }
            if (!cache) return LLamaWeights.LoadFromFile(new ModelParams(path) { VocabOnly = true });
            if (!Cache.TryGetValue(path, out var weights))
            {
                weights = LLamaWeights.LoadFromFile(new ModelParams(path) { VocabOnly = true });
                Cache[path] = weights;
            }
            return weights;
        }
    }
}
