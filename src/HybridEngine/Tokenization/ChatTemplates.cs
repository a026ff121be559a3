using System.Text;

namespace HybridEngine.Tokenization;

/// <summary>One turn of a conversation; <see cref="Role"/> is "system", "user" or "assistant".</summary>
public sealed record ChatMessage(string Role, string Content);

/// <summary>The conversation formats this engine renders.</summary>
public enum ChatFormat
{
    /// <summary><c>&lt;|im_start|&gt;role\ncontent&lt;|im_end|&gt;\n</c> per message; <c>&lt;|im_start|&gt;assistant\n</c> to answer.</summary>
    ChatMl,
    /// <summary>ChatML, with the reasoning (up to <c>&lt;/think&gt;</c>) of earlier assistant turns left out, as Qwen3's template does.</summary>
    Qwen3,
    /// <summary>
    /// DeepSeek-V3: the system prompt, then <c>&lt;｜User｜&gt;content</c> and <c>&lt;｜Assistant｜&gt;content&lt;｜end▁of▁sentence｜&gt;</c>;
    /// <c>&lt;｜Assistant｜&gt;</c> to answer. BOS comes from the tokenizer (add_bos), not from the text.
    /// </summary>
    DeepseekV3,
    /// <summary>DeepSeek-R1: DeepSeek-V3's format, with the reasoning of earlier assistant turns left out.</summary>
    DeepseekR1,
}

/// <summary>
/// Chat templates recognised from a GGUF file's <c>tokenizer.chat_template</c> (a Jinja program this engine does not
/// run) by distinctive substrings, as llama.cpp's built-in templates are, or from the architecture when the file
/// has none. An unrecognised template falls back to ChatML with a <see cref="Warning"/>. The rendering of a plain
/// conversation matches llama.cpp's <c>llama_chat_apply_template</c> for the same format.
/// </summary>
public sealed class ChatTemplate
{
    private const string ImStart = "<|im_start|>", ImEnd = "<|im_end|>";
    private const string DsUser = "<｜User｜>", DsAssistant = "<｜Assistant｜>", DsEnd = "<｜end▁of▁sentence｜>";

    public ChatTemplate(ChatFormat format, string? warning = null)
    {
        Format = format;
        Warning = warning;
    }

    public ChatFormat Format { get; }

    /// <summary>Why the format is a guess (unknown or missing template), or null.</summary>
    public string? Warning { get; }

    /// <summary>The format of a model from its <c>tokenizer.chat_template</c> text (or null) and <c>general.architecture</c>.</summary>
    public static ChatTemplate Detect(string? template, string? architecture)
    {
        if (!string.IsNullOrEmpty(template))
        {
            bool reasoning = template.Contains("</think>", StringComparison.Ordinal);
            if (template.Contains(DsUser, StringComparison.Ordinal) && template.Contains(DsAssistant, StringComparison.Ordinal))
                return new ChatTemplate(reasoning ? ChatFormat.DeepseekR1 : ChatFormat.DeepseekV3);
            if (template.Contains(ImStart, StringComparison.Ordinal))
                return new ChatTemplate(reasoning ? ChatFormat.Qwen3 : ChatFormat.ChatMl);
            return new ChatTemplate(ChatFormat.ChatMl, "the model's chat template is not one this engine knows (DeepSeek-V3/R1, Qwen3, ChatML); using ChatML");
        }
        return architecture switch
        {
            "deepseek2" => new ChatTemplate(ChatFormat.DeepseekV3, "the model has no chat template; using DeepSeek-V3's, as its architecture is deepseek2"),
            "qwen3moe" or "qwen3" => new ChatTemplate(ChatFormat.Qwen3, "the model has no chat template; using Qwen3's, as its architecture is " + architecture),
            _ => new ChatTemplate(ChatFormat.ChatMl, "the model has no chat template; using ChatML"),
        };
    }

    /// <summary>The format named in the file's metadata (see <see cref="Detect"/>).</summary>
    public static ChatTemplate FromGguf(Gguf.GgufFile file)
    {
        file.TryGetString("tokenizer.chat_template", out string? template);
        return Detect(template, file.Architecture);
    }

    /// <summary>The prompt text of <paramref name="messages"/>, ending with the assistant's opening when <paramref name="addAssistant"/>.</summary>
    public string Render(IReadOnlyList<ChatMessage> messages, bool addAssistant)
    {
        var text = new StringBuilder();
        bool deepseek = Format is ChatFormat.DeepseekV3 or ChatFormat.DeepseekR1;
        bool dropReasoning = Format is ChatFormat.Qwen3 or ChatFormat.DeepseekR1;
        foreach (var message in messages)
        {
            string content = message.Role == "assistant" && dropReasoning ? WithoutReasoning(message.Content) : message.Content;
            if (!deepseek)
            {
                text.Append(ImStart).Append(message.Role).Append('\n').Append(content).Append(ImEnd).Append('\n');
                continue;
            }
            switch (message.Role)
            {
                case "system": text.Append(content).Append("\n\n"); break;
                case "user": text.Append(DsUser).Append(content); break;
                case "assistant": text.Append(DsAssistant).Append(content).Append(DsEnd); break;
                default: throw new ArgumentException($"the DeepSeek chat format has no role '{message.Role}'", nameof(messages));
            }
        }
        if (addAssistant) text.Append(deepseek ? DsAssistant : ImStart + "assistant\n");
        return text.ToString();
    }

    /// <summary>What follows the last <c>&lt;/think&gt;</c>, without the newlines that open it (the answer without its reasoning).</summary>
    public static string WithoutReasoning(string content)
    {
        int end = content.LastIndexOf("</think>", StringComparison.Ordinal);
        return end < 0 ? content : content[(end + "</think>".Length)..].TrimStart('\n');
    }
}
