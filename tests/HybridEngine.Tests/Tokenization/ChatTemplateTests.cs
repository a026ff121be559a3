using System.Text;
using HybridEngine.Tokenization;
using LLama;
using LLama.Native;
using Xunit;

namespace HybridEngine.Tests.Tokenization;

/// <summary>
/// Chat templates: recognition from template text and architecture, and rendered prompts compared with llama.cpp's
/// <c>llama_chat_apply_template</c> (through LLamaSharp's <see cref="LLamaTemplate"/>) for the same template text,
/// and with hand-written strings from the public Qwen3 / DeepSeek-R1 templates where they go beyond llama.cpp's.
/// </summary>
public sealed class ChatTemplateTests
{
    // Excerpts carrying the substrings that identify each published template (the full Jinja programs are long).
    private const string DeepseekV3Text =
        "{% if not add_generation_prompt is defined %}{% set add_generation_prompt = false %}{% endif %}" +
        "{{'<｜User｜>' + message['content']}}{{'<｜Assistant｜>' + message['content'] + '<｜end▁of▁sentence｜>'}}" +
        "{% if add_generation_prompt %}{{'<｜Assistant｜>'}}{% endif %}";
    private const string DeepseekR1Text =
        "{% if '</think>' in content %}{% set content = content.split('</think>')[-1] %}{% endif %}" + DeepseekV3Text;
    private const string Qwen3Text =
        "{%- for message in messages %}{{- '<|im_start|>' + message.role + '\\n' + message.content + '<|im_end|>' + '\\n' }}" +
        "{%- if '</think>' in content %}{%- set reasoning_content = content.split('</think>')[0] %}{%- endif %}{%- endfor %}" +
        "{%- if add_generation_prompt %}{{- '<|im_start|>assistant\\n' }}{%- endif %}";
    private const string ChatMlText =
        "{% for message in messages %}{{'<|im_start|>' + message['role'] + '\\n' + message['content'] + '<|im_end|>' + '\\n'}}{% endfor %}";

    private static readonly ChatMessage[] Conversation =
    [
        new("system", "You are terse."),
        new("user", "Hello there"),
        new("assistant", "Hi. What do you need?"),
        new("user", "Two plus two?"),
    ];

    [Theory]
    [InlineData(DeepseekV3Text, null, ChatFormat.DeepseekV3)]
    [InlineData(DeepseekR1Text, null, ChatFormat.DeepseekR1)]
    [InlineData(Qwen3Text, null, ChatFormat.Qwen3)]
    [InlineData(ChatMlText, null, ChatFormat.ChatMl)]
    [InlineData(null, "deepseek2", ChatFormat.DeepseekV3)]
    [InlineData(null, "qwen3moe", ChatFormat.Qwen3)]
    [InlineData(ChatMlText, "deepseek2", ChatFormat.ChatMl)]
    public void RecognisesTheTemplate(string? template, string? architecture, ChatFormat expected)
    {
        var detected = ChatTemplate.Detect(template, architecture);
        Assert.Equal(expected, detected.Format);
        Assert.Equal(template == null, detected.Warning != null);
    }

    [Theory]
    [InlineData("{{ bos_token }}{% for m in messages %}[INST] {{ m.content }} [/INST]{% endfor %}", "llama")]
    [InlineData(null, "llama")]
    public void UnknownTemplatesFallBackToChatMlWithAWarning(string? template, string architecture)
    {
        var detected = ChatTemplate.Detect(template, architecture);
        Assert.Equal(ChatFormat.ChatMl, detected.Format);
        Assert.Contains("ChatML", detected.Warning);
    }

    /// <summary>
    /// The template text goes to llama.cpp, which recognises it with its own substring rules and renders with its
    /// built-in format; for a conversation without reasoning every format must give the same bytes as ours.
    /// </summary>
    [Theory]
    [InlineData(DeepseekV3Text, true)]
    [InlineData(DeepseekV3Text, false)]
    [InlineData(DeepseekR1Text, true)]
    [InlineData(Qwen3Text, true)]
    [InlineData(ChatMlText, true)]
    [InlineData(ChatMlText, false)]
    public void RendersAsLlamaCpp(string template, bool addAssistant)
    {
        string ours = ChatTemplate.Detect(template, null).Render(Conversation, addAssistant);
        Assert.Equal(LlamaCppRender(template, Conversation, addAssistant), ours);
    }

    /// <summary>Qwen3's and DeepSeek-R1's templates keep only the answer of earlier assistant turns (the text after &lt;/think&gt;, leading newlines dropped).</summary>
    [Fact]
    public void ReasoningOfEarlierTurnsIsLeftOut()
    {
        ChatMessage[] chat = [new("user", "Hi"), new("assistant", "<think>\nThey greet me.\n</think>\n\nHello!"), new("user", "Bye")];
        Assert.Equal(
            "<|im_start|>user\nHi<|im_end|>\n<|im_start|>assistant\nHello!<|im_end|>\n<|im_start|>user\nBye<|im_end|>\n<|im_start|>assistant\n",
            new ChatTemplate(ChatFormat.Qwen3).Render(chat, addAssistant: true));
        Assert.Equal("<｜User｜>Hi<｜Assistant｜>Hello!<｜end▁of▁sentence｜><｜User｜>Bye<｜Assistant｜>",
            new ChatTemplate(ChatFormat.DeepseekR1).Render(chat, addAssistant: true));
        // ChatML and DeepSeek-V3 keep assistant text as it is.
        Assert.Contains("They greet me.", new ChatTemplate(ChatFormat.ChatMl).Render(chat, addAssistant: true));
        Assert.Contains("They greet me.", new ChatTemplate(ChatFormat.DeepseekV3).Render(chat, addAssistant: true));
    }

    private static string LlamaCppRender(string template, IEnumerable<ChatMessage> messages, bool addAssistant)
    {
        NativeApi.llama_empty_call();
        var native = new LLamaTemplate(template) { AddAssistant = addAssistant };
        foreach (var m in messages) native.Add(m.Role, m.Content);
        return Encoding.UTF8.GetString(native.Apply());
    }
}
