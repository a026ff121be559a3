using HybridEngine.Tokenization;

namespace HybridEngine.Server;

/// <summary>
/// The server's chat prompt when the model's file names no template the engine knows: ChatML (the Qwen family's
/// format, <see cref="ChatTemplate"/>) when the vocabulary holds its two marker tokens, else the same turns laid out
/// as plain <c>role: text</c> lines.
/// </summary>
public static class ChatMl
{
    public const string Start = "<|im_start|>", End = "<|im_end|>";

    private static readonly ChatTemplate Template = new(ChatFormat.ChatMl);

    public static string Render(IReadOnlyList<ChatMessage> messages, bool markers)
    {
        if (markers) return Template.Render(messages, addAssistant: true);
        var text = new System.Text.StringBuilder();
        foreach (var m in messages) text.Append(m.Role).Append(": ").Append(m.Content).Append('\n');
        return text.Append("assistant: ").ToString();
    }
}
