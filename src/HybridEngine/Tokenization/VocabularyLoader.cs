using System.Text;
using HybridEngine.Gguf;

namespace HybridEngine.Tokenization;

/// <summary>
/// Reads the <c>tokenizer.ggml.*</c> keys of a GGUF file into a <see cref="Vocabulary"/>, with llama.cpp's load rules
/// (SPEC 6.2): per-model defaults for special ids and flags, then the file's keys, then the special tokens that
/// llama.cpp recognises by their text.
/// </summary>
public static class VocabularyLoader
{
    /// <summary>The <c>tokenizer.ggml.model</c> values this engine can tokenize, with what they mean.</summary>
    public static IReadOnlyDictionary<string, string> SupportedModels { get; } = new Dictionary<string, string>
    {
        ["llama"] = "SentencePiece BPE",
        ["gpt2"] = "byte-level BPE",
    };

    // Texts llama.cpp treats as end-of-turn / end-of-message / fill-in-the-middle markers when no id key names them.
    private static readonly string[] EotTexts =
        ["<|eot_id|>", "<|im_end|>", "<|end|>", "<end_of_turn>", "<|endoftext|>", "<|end_of_text|>", "<EOT>", "_<EOT>", "[EOT]", "<｜end▁of▁sentence｜>", "<end_of_utterance>"];
    private static readonly string[] EomTexts = ["<|eom_id|>"];
    private static readonly string[] FimPrefixTexts = ["<|fim_prefix|>", "<fim-prefix>", "<fim_prefix>", "<｜fim▁begin｜>", "<PRE>", "▁<PRE>"];
    private static readonly string[] FimSuffixTexts = ["<|fim_suffix|>", "<fim-suffix>", "<fim_suffix>", "<｜fim▁hole｜>", "<SUF>", "▁<SUF>"];
    private static readonly string[] FimMiddleTexts = ["<|fim_middle|>", "<fim-middle>", "<fim_middle>", "<｜fim▁end｜>", "<MID>", "▁<MID>"];
    private static readonly string[] FimPadTexts = ["<|fim_pad|>", "<fim-pad>", "<fim_pad>", "<PAD>"];
    private static readonly string[] FimRepoTexts = ["<|fim_repo|>", "<|repo_name|>", "<fim-repo>", "<REPO>", "<reponame>"];
    private static readonly string[] FimSeparatorTexts = ["<|file_sep|>"];
    private static readonly string[] EndOfGenerationTexts =
    [
        "<|eot_id|>", "<|im_end|>", "<|end|>", "<|return|>", "<|call|>", "<|flush|>", "<|calls|>", "<end_of_turn>", "<|endoftext|>",
        "</s>", "<|eom_id|>", "<EOT>", "_<EOT>", "[EOT]", "[EOS]", "<|end_of_text|>", "<end_of_utterance>", "<eos>", "<turn|>",
        "<|tool_response>", "<｜end▁of▁sentence｜>", "[e~[",
    ];

    public static Vocabulary Load(GgufFile file)
    {
        string model = file.TryGetString("tokenizer.ggml.model", out string? m) ? m! :
            throw new GgufFormatException($"'{file.Path}' has no tokenizer: the metadata key 'tokenizer.ggml.model' is missing.");
        if (!SupportedModels.ContainsKey(model))
        {
            throw new NotSupportedException(
                $"'{file.Path}': tokenizer.ggml.model '{model}' is not supported; supported tokenizer models: " +
                string.Join(", ", SupportedModels.Select(kv => $"{kv.Key} ({kv.Value})")) + ".");
        }
        bool isSpm = model == "llama";
        var warnings = new List<string>();

        string[] tokens = file.GetArray<string>("tokenizer.ggml.tokens").ToArray();
        int n = tokens.Length;
        float[] scores = ReadScores(file, n);
        var attributes = new TokenAttributes[n];
        int[] types = file.TryGetArray<int>("tokenizer.ggml.token_type", out var t) ? t : [];
        if (types.Length != 0 && types.Length < n) throw Malformed(file, $"tokenizer.ggml.token_type has {types.Length} entries for {n} tokens");
        var ids = new Dictionary<string, int>(n, StringComparer.Ordinal);
        for (int i = 0; i < n; i++)
        {
            if (tokens[i].Length == 0) tokens[i] = $"[EMPTY_{i}]";
            if (!ids.TryAdd(tokens[i], i)) warnings.Add($"token {i} repeats the text of token {ids[tokens[i]]}; lookups use the first");
            attributes[i] = types.Length == 0 ? TokenAttributes.Normal : TokenAttributesExtensions.FromType(types[i]);
        }

        PreTokenizerSettings? pre = null;
        string? preName = null;
        if (!isSpm)
        {
            if (!file.ContainsKey("tokenizer.ggml.merges")) throw Malformed(file, "a gpt2 tokenizer needs tokenizer.ggml.merges, which is missing");
            file.TryGetString("tokenizer.ggml.pre", out preName);
            if (string.IsNullOrEmpty(preName)) warnings.Add("tokenizer.ggml.pre is missing: using the 'default' pre-tokenizer; tokenization may differ from the model's training");
            preName = string.IsNullOrEmpty(preName) ? "default" : preName;
            pre = Tokenization.PreTokenizer.SettingsFor(preName);
        }

        var v = new Vocabulary(model, tokens, scores, attributes, ids)
        {
            PreTokenizer = preName,
            AddSpacePrefix = isSpm,
            CleanSpaces = pre?.CleanSpaces ?? false,
            IgnoreMerges = pre?.IgnoreMerges ?? false,
            AddBos = isSpm || (pre?.AddBos ?? false),
            AddEos = false,
        };
        if (file.TryGetBool("tokenizer.ggml.add_space_prefix", out bool addSpace)) v.AddSpacePrefix = addSpace;

        // Defaults (disabled when outside the vocabulary), then the file's ids (ignored when outside it).
        int? Default(int? id, string key)
        {
            if (id is int d && d >= n) { warnings.Add($"default {key} {d} is outside the vocabulary of {n} tokens; disabled"); return null; }
            return id;
        }
        int? Id(string key, int? current)
        {
            if (!file.TryGetInteger("tokenizer.ggml." + key, out long value)) return current;
            if (value == uint.MaxValue) return current; // (u32)-1 is how converters write "no such token"
            if (value < 0 || value >= n) { warnings.Add($"tokenizer.ggml.{key} = {value} is outside the vocabulary of {n} tokens; ignored"); return current; }
            return (int)value;
        }
        v.Bos = Id("bos_token_id", Default(isSpm ? 1 : pre!.NoDefaultBos ? null : 11, "bos_token_id"));
        v.Eos = Id("eos_token_id", Default(isSpm ? 2 : 11, "eos_token_id"));
        v.Unknown = Id("unknown_token_id", Default(isSpm ? 0 : null, "unknown_token_id"));
        v.Eot = Id("eot_token_id", null);
        v.Eom = Id("eom_token_id", null);
        v.Separator = Id("seperator_token_id", null);
        v.Padding = Id("padding_token_id", null);
        v.Mask = Id("mask_token_id", null);
        v.FimPrefix = Id("fim_pre_token_id", Id("prefix_token_id", null));
        v.FimSuffix = Id("fim_suf_token_id", Id("suffix_token_id", null));
        v.FimMiddle = Id("fim_mid_token_id", Id("middle_token_id", null));
        v.FimPad = Id("fim_pad_token_id", null);
        v.FimRepo = Id("fim_rep_token_id", null);
        v.FimSeparator = Id("fim_sep_token_id", null);

        if (file.TryGetBool("tokenizer.ggml.add_bos_token", out bool addBos)) v.AddBos = addBos;
        if (file.TryGetBool("tokenizer.ggml.add_eos_token", out bool addEos)) v.AddEos = addEos;
        if (v.AddBos && v.Bos == null) throw Malformed(file, "tokenizer.ggml.add_bos_token is true, but there is no BOS token");
        if (v.AddEos && v.Eos == null) throw Malformed(file, "tokenizer.ggml.add_eos_token is true, but there is no EOS token");

        // Recognise special tokens by text when no key names them; such tokens are always Control.
        int? ByText(int? current, string[] texts)
        {
            if (current != null) return current;
            foreach (string text in texts)
            {
                if (ids.TryGetValue(text, out int id)) { MarkControl(v, id); return id; }
            }
            return null;
        }
        v.Eot = ByText(v.Eot, EotTexts);
        v.Eom = ByText(v.Eom, EomTexts);
        v.FimPrefix = ByText(v.FimPrefix, FimPrefixTexts);
        v.FimSuffix = ByText(v.FimSuffix, FimSuffixTexts);
        v.FimMiddle = ByText(v.FimMiddle, FimMiddleTexts);
        v.FimPad = ByText(v.FimPad, FimPadTexts);
        v.FimRepo = ByText(v.FimRepo, FimRepoTexts);
        v.FimSeparator = ByText(v.FimSeparator, FimSeparatorTexts);

        var endOfGeneration = new HashSet<int>();
        foreach (int? id in new[] { v.FimPad, v.FimRepo, v.FimSeparator, v.Eos, v.Eot, v.Eom }) if (id is int e) endOfGeneration.Add(e);
        foreach (string text in EndOfGenerationTexts)
        {
            if (ids.TryGetValue(text, out int id)) { endOfGeneration.Add(id); MarkControl(v, id); }
        }
        // Vocabularies where a listed text is an ordinary token: tool-call formats ("<|return|>" with "<|call|>", or
        // "<|calls|>" with "<|flush|>") keep "<|end|>" as text; Gemma 4 (with "<|tool_response>") keeps "</s>" as text.
        bool Has(string text) => ids.TryGetValue(text, out int id) && endOfGeneration.Contains(id);
        if (Has("<|end|>") && (Has("<|call|>") || Has("<|calls|>")) && (Has("<|return|>") || Has("<|flush|>")))
        {
            endOfGeneration.Remove(ids["<|end|>"]);
            v.SetAttributes(ids["<|end|>"], TokenAttributes.UserDefined);
        }
        if (Has("<|tool_response>") && Has("</s>"))
        {
            endOfGeneration.Remove(ids["</s>"]);
            v.SetAttributes(ids["</s>"], TokenAttributes.Normal);
        }
        v.EndOfGeneration = endOfGeneration;

        v.SpecialTokens = Enumerable.Range(0, n)
            .Where(id => v.GetAttributes(id).IsSpecial())
            .OrderByDescending(id => Encoding.UTF8.GetByteCount(tokens[id]))
            .ThenBy(id => id)
            .ToArray();
        ApplyModelQuirks(file, v, ids);
        v.Warnings = warnings;
        return v;
    }

    private static float[] ReadScores(GgufFile file, int n)
    {
        if (!file.Metadata.TryGetValue("tokenizer.ggml.scores", out var value)) return new float[n];
        float[] scores = value.Value switch
        {
            float[] f => f,
            int[] i => i.Select(x => (float)x).ToArray(),
            _ => throw Malformed(file, "tokenizer.ggml.scores must be an array of FLOAT32 or INT32"),
        };
        if (scores.Length < n) throw Malformed(file, $"tokenizer.ggml.scores has {scores.Length} entries for {n} tokens");
        return scores;
    }

    /// <summary>Phi-3's special tokens drop the whitespace that follows them, as its original tokenizer does.</summary>
    private static void ApplyModelQuirks(GgufFile file, Vocabulary v, Dictionary<string, int> ids)
    {
        file.TryGetString("general.name", out string? name);
        string lower = (name ?? "").ToLowerInvariant();
        if (!lower.Contains("phi-3", StringComparison.Ordinal) && !lower.Contains("phi3", StringComparison.Ordinal)) return;
        foreach (int id in v.SpecialTokens) v.SetAttributes(id, v.GetAttributes(id) | TokenAttributes.RStrip);
        if (ids.TryGetValue("</s>", out int eos)) v.SetAttributes(eos, v.GetAttributes(eos) | TokenAttributes.RStrip);
        foreach (string text in new[] { "<unk>", "<s>", "<|endoftext|>" })
        {
            if (ids.TryGetValue(text, out int id)) v.SetAttributes(id, v.GetAttributes(id) & ~TokenAttributes.RStrip);
        }
    }

    private static void MarkControl(Vocabulary v, int id) => v.SetAttributes(id, v.GetAttributes(id) | TokenAttributes.Control);

    private static GgufFormatException Malformed(GgufFile file, string what) => new($"Invalid tokenizer in '{file.Path}': {what}.");
}
