using HybridEngine.Tokenization;
using System.Text.Json;

namespace HybridEngine.Server;

/// <summary>
/// The fields of a completion or chat completion request that this server acts on. Unknown fields are ignored;
/// a known field of the wrong type or out of range is a 400 naming the field (OpenAI's <c>param</c>).
/// </summary>
public sealed record GenerationRequest
{
    public string? Prompt { get; init; }
    public int[]? PromptTokens { get; init; }
    public IReadOnlyList<ChatMessage>? Messages { get; init; }
    public int? MaxTokens { get; init; }
    public float Temperature { get; init; } = 1f;
    public float TopP { get; init; } = 1f;
    public int TopK { get; init; } = 40;
    public float MinP { get; init; } = 0.05f;
    public int? Seed { get; init; }
    public IReadOnlyList<string> Stop { get; init; } = [];
    public bool Stream { get; init; }
    public bool IncludeUsage { get; init; }

    /// <summary>Reads a request body already parsed as JSON; <paramref name="chat"/> selects the chat fields.</summary>
    public static GenerationRequest Parse(JsonElement root, bool chat)
    {
        if (root.ValueKind != JsonValueKind.Object) throw Bad("the request body must be a JSON object", null);
        var request = new GenerationRequest();
        if (Field(root, "model") is { } model && model.ValueKind != JsonValueKind.String) throw Bad("'model' must be a string", "model");
        if (chat)
        {
            var messages = Field(root, "messages") ?? throw Bad("'messages' is required", "messages");
            request = request with { Messages = ParseMessages(messages) };
        }
        else
        {
            var prompt = Field(root, "prompt") ?? throw Bad("'prompt' is required", "prompt");
            request = prompt.ValueKind switch
            {
                JsonValueKind.String => request with { Prompt = prompt.GetString() },
                JsonValueKind.Array when prompt.GetArrayLength() == 1 && prompt[0].ValueKind == JsonValueKind.String =>
                    request with { Prompt = prompt[0].GetString() },
                JsonValueKind.Array when prompt.GetArrayLength() > 0 && prompt.EnumerateArray().All(e => e.ValueKind == JsonValueKind.Number) =>
                    request with { PromptTokens = prompt.EnumerateArray().Select(e => e.TryGetInt32(out int id) ? id : throw Bad("token ids in 'prompt' must be integers", "prompt")).ToArray() },
                _ => throw Bad("'prompt' must be a string, a one-string array or an array of token ids", "prompt"),
            };
        }

        // Chat clients send max_completion_tokens (the newer name); both mean the same here.
        int? maxTokens = Int(root, "max_completion_tokens") ?? Int(root, "max_tokens");
        if (maxTokens is < 1) throw Bad($"'max_tokens' must be at least 1, not {maxTokens}", "max_tokens");
        request = request with { MaxTokens = maxTokens };

        if (Number(root, "temperature") is { } t)
            request = t is >= 0 and <= 2 ? request with { Temperature = (float)t } : throw Bad($"'temperature' must be in [0, 2], not {t}", "temperature");
        if (Number(root, "top_p") is { } p)
            request = p is > 0 and <= 1 ? request with { TopP = (float)p } : throw Bad($"'top_p' must be in (0, 1], not {p}", "top_p");
        if (Int(root, "top_k") is { } k)
            request = k >= 0 ? request with { TopK = k } : throw Bad($"'top_k' must be 0 (off) or positive, not {k}", "top_k");
        if (Number(root, "min_p") is { } m)
            request = m is >= 0 and < 1 ? request with { MinP = (float)m } : throw Bad($"'min_p' must be in [0, 1), not {m}", "min_p");
        if (Field(root, "seed") is { } seed && seed.ValueKind != JsonValueKind.Null)
        {
            // OpenAI seeds are 64-bit; the sampler takes 32 bits, so larger seeds are folded, not refused.
            if (seed.ValueKind != JsonValueKind.Number || !seed.TryGetInt64(out long s)) throw Bad("'seed' must be an integer", "seed");
            request = request with { Seed = unchecked((int)(s ^ (s >> 32))) };
        }
        if (Int(root, "n") is { } n && n != 1) throw Bad("only 'n' = 1 is supported", "n");
        if (Field(root, "stream") is { } stream && stream.ValueKind != JsonValueKind.Null)
            request = stream.ValueKind is JsonValueKind.True or JsonValueKind.False
                ? request with { Stream = stream.GetBoolean() }
                : throw Bad("'stream' must be a boolean", "stream");
        if (Field(root, "stream_options") is { } options && options.ValueKind != JsonValueKind.Null)
        {
            if (options.ValueKind != JsonValueKind.Object) throw Bad("'stream_options' must be an object", "stream_options");
            if (Field(options, "include_usage") is { } usage && usage.ValueKind != JsonValueKind.Null)
                request = usage.ValueKind is JsonValueKind.True or JsonValueKind.False
                    ? request with { IncludeUsage = usage.GetBoolean() }
                    : throw Bad("'stream_options.include_usage' must be a boolean", "stream_options");
        }
        if (Field(root, "stop") is { } stop && stop.ValueKind != JsonValueKind.Null)
        {
            string[] stops = stop.ValueKind switch
            {
                JsonValueKind.String => [stop.GetString()!],
                JsonValueKind.Array when stop.EnumerateArray().All(e => e.ValueKind == JsonValueKind.String) =>
                    stop.EnumerateArray().Select(e => e.GetString()!).ToArray(),
                _ => throw Bad("'stop' must be a string or an array of strings", "stop"),
            };
            if (stops.Length > 4) throw Bad("'stop' holds at most 4 sequences", "stop");
            if (stops.Any(s => s.Length == 0)) throw Bad("'stop' sequences must not be empty", "stop");
            request = request with { Stop = stops };
        }
        return request;
    }

    private static List<ChatMessage> ParseMessages(JsonElement messages)
    {
        if (messages.ValueKind != JsonValueKind.Array || messages.GetArrayLength() == 0)
            throw Bad("'messages' must be a non-empty array", "messages");
        var list = new List<ChatMessage>();
        foreach (var message in messages.EnumerateArray())
        {
            if (message.ValueKind != JsonValueKind.Object) throw Bad("each message must be an object", "messages");
            if (Field(message, "role") is not { ValueKind: JsonValueKind.String } role) throw Bad("each message needs a string 'role'", "messages");
            var content = Field(message, "content");
            string text = content?.ValueKind switch
            {
                JsonValueKind.String => content.Value.GetString()!,
                null or JsonValueKind.Null => "",
                // Content parts: only text parts can be given to a text model.
                JsonValueKind.Array => string.Concat(content.Value.EnumerateArray().Select(part =>
                    part.ValueKind == JsonValueKind.Object && Field(part, "type") is { ValueKind: JsonValueKind.String } type && type.GetString() == "text"
                        && Field(part, "text") is { ValueKind: JsonValueKind.String } partText
                        ? partText.GetString()
                        : throw Bad("only text content parts are supported", "messages"))),
                _ => throw Bad("message 'content' must be a string or an array of text parts", "messages"),
            };
            list.Add(new ChatMessage(role.GetString()!, text));
        }
        return list;
    }

    private static JsonElement? Field(JsonElement obj, string name) => obj.TryGetProperty(name, out var value) ? value : null;

    private static int? Int(JsonElement obj, string name)
    {
        if (Field(obj, name) is not { } value || value.ValueKind == JsonValueKind.Null) return null;
        return value.ValueKind == JsonValueKind.Number && value.TryGetInt32(out int i) ? i : throw Bad($"'{name}' must be an integer", name);
    }

    private static double? Number(JsonElement obj, string name)
    {
        if (Field(obj, name) is not { } value || value.ValueKind == JsonValueKind.Null) return null;
        return value.ValueKind == JsonValueKind.Number ? value.GetDouble() : throw Bad($"'{name}' must be a number", name);
    }

    private static ApiException Bad(string message, string? param) => new(400, message, param);
}
