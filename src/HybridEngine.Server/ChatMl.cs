namespace HybridEngine.Server;

/// <summary>
/// The ChatML prompt format (<c>&lt;|im_start|&gt;role\ncontent&lt;|im_end|&gt;\n</c> per message, then an open assistant
/// turn). The server's fallback until the runtime renders a model's own Jinja chat template: it is the format of the
/// Qwen family, whose vocabularies hold the two marker tokens. Other vocabularies get the same layout without markers.
/// </summary>
public static class ChatMl
{
    public const string Start = "<|im_start|>", End = "<|im_end|>";

    public static string Render(IEnumerable<ChatMessage> messages, bool markers)
    {
        var text = new System.Text.StringBuilder();
        foreach (var m in messages)
        {
            if (markers) text.Append(Start).Append(m.Role).Append('\n').Append(m.Content).Append(End).Append('\n');
            else text.Append(m.Role).Append(": ").Append(m.Content).Append('\n');
        }
        text.Append(markers ? Start + "assistant\n" : "assistant: ");
        return text.ToString();
    }
}
