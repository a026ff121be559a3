using System.Collections.Concurrent;
using HybridEngine.Gguf;
using HybridEngine.Tokenization;

namespace HybridEngine.Tests.Tokenization;

/// <summary>
/// llama.cpp's tokenizer test vocabularies under shared/data/vocab (MANIFEST.md): each <c>.inp</c> holds test strings,
/// each followed by "\n__ggml_vocab_test__\n"; line i of the <c>.out</c> holds the ids expected for string i, without
/// BOS and without parsing special tokens. Tokenizers are loaded once per test run (the larger vocabularies take a
/// moment to read).
/// </summary>
internal static class VocabTestCases
{
    public const string Separator = "\n__ggml_vocab_test__\n";

    /// <summary>Every vocabulary in shared/data/vocab.</summary>
    public static readonly string[] Names =
        ["llama-spm", "phi-3", "gpt-2", "llama-bpe", "qwen2", "deepseek-llm", "deepseek-coder", "falcon", "mpt", "refact", "starcoder"];

    private static readonly ConcurrentDictionary<string, Tokenizer> Cache = new();

    public static string Path(string name) => TestPaths.Data($"vocab/ggml-vocab-{name}.gguf");

    public static Tokenizer Load(string name) => Cache.GetOrAdd(name, n =>
    {
        using var file = GgufFile.Open(Path(n));
        return Tokenizer.FromGguf(file);
    });

    /// <summary>The test strings and their expected ids, in file order.</summary>
    public static IReadOnlyList<(string Text, int[] Ids)> Read(string name)
    {
        string input = File.ReadAllText(Path(name) + ".inp");
        string[] parts = input.Split(Separator);
        // Text after the last separator is not a test string (llama.cpp's reader keeps only separator-terminated parts).
        string[] texts = parts[..^1];
        string[] lines = File.ReadAllLines(Path(name) + ".out");
        if (lines.Length != texts.Length)
        {
            throw new InvalidDataException($"{name}: {texts.Length} test strings but {lines.Length} lines of expected ids");
        }
        return texts.Select((t, i) => (t, lines[i].Split(' ', StringSplitOptions.RemoveEmptyEntries).Select(int.Parse).ToArray())).ToList();
    }

    /// <summary>The string with control characters and non-ASCII spelled out, for failure messages.</summary>
    public static string Escape(string s) =>
        string.Concat(s.EnumerateRunes().Select(r => r.Value is >= 0x20 and < 0x7F ? r.ToString() : $"\\u{{{r.Value:X}}}"));
}
