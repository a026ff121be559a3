using LLama;
using LLama.Common;
using LLama.Native;

namespace HybridEngine.Tests.Tokenization;

/// <summary>llama.cpp's own tokenizer (through LLamaSharp) on a GGUF loaded with vocab_only, with its logging silenced.</summary>
internal static class LlamaCppVocab
{
    private static readonly Lock Gate = new();
    private static bool _configured;

    public static LLamaWeights Load(string path)
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
        }
        return LLamaWeights.LoadFromFile(new ModelParams(path) { VocabOnly = true });
    }
}
