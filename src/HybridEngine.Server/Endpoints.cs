using System.Text.Json;
using HybridEngine.Runtime;
using Microsoft.AspNetCore.Http;

namespace HybridEngine.Server;

/// <summary>The OpenAI-compatible handlers: models, completions and chat completions (plain JSON or server-sent events).</summary>
public sealed class Endpoints(ModelSession session)
{
    /// <summary>Completions without <c>max_tokens</c> get OpenAI's default of 16; chat runs to the end of the context.</summary>
    public const int DefaultCompletionTokens = 16;

    public Task Models(HttpContext context) => WriteJson(context, 200, json =>
    {
        json.WriteString("object", "list");
        json.WriteStartArray("data");
        json.WriteStartObject();
        json.WriteString("id", session.ModelId);
        json.WriteString("object", "model");
        json.WriteNumber("created", session.Created);
        json.WriteString("owned_by", "hybridengine");
        json.WriteEndObject();
        json.WriteEndArray();
    });

    public Task Health(HttpContext context) => WriteJson(context, 200, json =>
    {
        json.WriteString("status", "ok");
        json.WriteString("model", session.ModelId);
        json.WriteBoolean("busy", session.Busy);
        json.WriteNumber("waiting", session.Waiting);
    });

    /// <summary>Runtime and request counters, and the expert figures of <see cref="ExpertFigures"/>.</summary>
    public Task Metrics(HttpContext context) => WriteJson(context, 200, json =>
    {
        var c = session.Counters;
        var m = session.Metrics;
        json.WriteString("model", session.ModelId);
        json.WriteNumber("context", session.Context);
        json.WriteNumber("requests_started", m.GenerationsStarted);
        json.WriteNumber("requests_completed", m.Completed);
        json.WriteNumber("requests_cancelled", m.Cancelled);
        json.WriteNumber("requests_refused_busy", m.RefusedBusy);
        json.WriteNumber("requests_rejected", m.Rejected);
        json.WriteNumber("queue_waiting", session.Waiting);
        json.WriteNumber("generated_tokens", m.GeneratedTokens);
        json.WriteNumber("prefill_tokens", c.PrefillTokens);
        json.WriteNumber("prefill_seconds", c.PrefillSeconds);
        json.WriteNumber("prefill_tokens_per_second", c.PrefillTokensPerSecond);
        json.WriteNumber("decode_tokens", c.DecodeTokens);
        json.WriteNumber("decode_seconds", c.DecodeSeconds);
        json.WriteNumber("decode_tokens_per_second", c.DecodeTokensPerSecond);
        json.WriteString("placement", session.Placement switch { Placement.Direct => "direct", Placement.PageCache => "page-cache", _ => "resident" });
        var e = ExpertFigures.From(session.Placement, session.Streaming, c.PrefillTokens + c.DecodeTokens);
        Number(json, "cache_hit_rate", e.HitRate);
        Number(json, "disk_bytes_per_token", e.DiskBytesPerToken);
        Number(json, "expert_cache_hits", e.Hits);
        Number(json, "expert_cache_prefetch_hits", e.PrefetchHits);
        Number(json, "expert_cache_misses", e.Misses);
        Number(json, "disk_bytes_read", e.BytesRead);
    });

    private static void Number(Utf8JsonWriter json, string name, double? value)
    {
        if (value is { } v) json.WriteNumber(name, v); else json.WriteNull(name);
    }

    private static void Number(Utf8JsonWriter json, string name, long? value)
    {
        if (value is { } v) json.WriteNumber(name, v); else json.WriteNull(name);
    }

    public Task Completions(HttpContext context) => Generate(context, chat: false);

    public Task ChatCompletions(HttpContext context) => Generate(context, chat: true);

    private async Task Generate(HttpContext context, bool chat)
    {
        var cancel = context.RequestAborted;
        GenerationRequest request;
        int[] prompt;
        int maxTokens;
        try
        {
            request = GenerationRequest.Parse(await ReadBody(context), chat);
            prompt = request.Messages != null ? session.EncodeChat(request.Messages)
                : request.PromptTokens ?? session.Encode(request.Prompt!);
            if (prompt.Length == 0) throw new ApiException(400, "the prompt has no tokens", chat ? "messages" : "prompt");
            int vocab = session.Tokenizer.Vocabulary.Count;
            if (prompt.Any(id => id < 0 || id >= vocab)) throw new ApiException(400, $"token ids must be in 0..{vocab - 1}", "prompt");
            int room = session.Context - prompt.Length;
            if (room < 1)
                throw new ApiException(400, $"the prompt has {prompt.Length} tokens but the context holds {session.Context}", chat ? "messages" : "prompt", "context_length_exceeded");
            maxTokens = request.MaxTokens ?? (chat ? room : Math.Min(DefaultCompletionTokens, room));
            if (maxTokens > room)
                throw new ApiException(400, $"max_tokens {maxTokens} plus the prompt's {prompt.Length} tokens exceed the context of {session.Context}", "max_tokens", "context_length_exceeded");
        }
        catch (ApiException e)
        {
            session.Metrics.Rejected4xx();
            await ApiError.WriteAsync(context, e);
            return;
        }

        using var lease = session.TryEnter();
        if (lease == null)
        {
            context.Response.Headers.RetryAfter = "1";
            await ApiError.WriteAsync(context, 503, "the server is busy and its queue is full; retry later", "server_busy", code: "server_busy");
            return;
        }
        try
        {
            await lease.WaitAsync(cancel);
        }
        catch (OperationCanceledException)
        {
            return;   // the client left while waiting: nothing to answer
        }

        var sampling = new SamplingOptions(request.Temperature, request.TopK, request.TopP, request.MinP, request.Seed);
        string id = (chat ? "chatcmpl-" : "cmpl-") + Guid.NewGuid().ToString("N");
        long created = DateTimeOffset.UtcNow.ToUnixTimeSeconds();
        if (!request.Stream)
        {
            var result = await session.GenerateAsync(lease, prompt, maxTokens, sampling, request.Stop, chat, null, cancel);
            if (result.Finish == FinishReason.Cancelled) return;
            await WriteJson(context, 200, json =>
            {
                Header(json, id, chat ? "chat.completion" : "text_completion", created);
                json.WriteStartArray("choices");
                json.WriteStartObject();
                json.WriteNumber("index", 0);
                if (chat)
                {
                    json.WriteStartObject("message");
                    json.WriteString("role", "assistant");
                    json.WriteString("content", result.Text);
                    json.WriteEndObject();
                }
                else json.WriteString("text", result.Text);
                json.WriteNull("logprobs");
                json.WriteString("finish_reason", Reason(result.Finish));
                json.WriteEndObject();
                json.WriteEndArray();
                Usage(json, result);
            });
            return;
        }

        context.Response.StatusCode = 200;
        context.Response.ContentType = "text/event-stream";
        context.Response.Headers.CacheControl = "no-cache";
        // Headers go out now: the first tokens may decode to no text (special tokens), and the client should not wait.
        await context.Response.StartAsync(cancel);
        if (chat) await Event(context, Chunk(id, created, chat, json => { json.WriteString("role", "assistant"); json.WriteString("content", ""); }, null), cancel);
        var streamed = await session.GenerateAsync(lease, prompt, maxTokens, sampling, request.Stop, chat,
            text => Event(context, Chunk(id, created, chat, json => json.WriteString(chat ? "content" : "text", text), null), cancel), cancel);
        if (streamed.Finish == FinishReason.Cancelled) return;
        await Event(context, Chunk(id, created, chat, chat ? _ => { } : json => json.WriteString("text", ""), Reason(streamed.Finish)), cancel);
        if (request.IncludeUsage)
            await Event(context, Document(json =>
            {
                Header(json, id, chat ? "chat.completion.chunk" : "text_completion", created);
                json.WriteStartArray("choices");
                json.WriteEndArray();
                Usage(json, streamed);
            }), cancel);
        await context.Response.WriteAsync("data: [DONE]\n\n", cancel);
        await context.Response.Body.FlushAsync(cancel);
    }

    private static async Task<JsonElement> ReadBody(HttpContext context)
    {
        long limit = context.Features.Get<Microsoft.AspNetCore.Http.Features.IHttpMaxRequestBodySizeFeature>()?.MaxRequestBodySize ?? long.MaxValue;
        if (context.Request.ContentLength > limit)
            throw new ApiException(413, $"the request body is larger than the limit of {limit} bytes", code: "request_too_large");
        try
        {
            using var document = await JsonDocument.ParseAsync(context.Request.Body, default, context.RequestAborted);
            return document.RootElement.Clone();
        }
        catch (JsonException e)
        {
            throw new ApiException(400, $"the request body is not valid JSON: {e.Message}");
        }
        catch (BadHttpRequestException e) when (e.StatusCode == StatusCodes.Status413PayloadTooLarge)
        {
            throw new ApiException(413, $"the request body is larger than the limit of {limit} bytes", code: "request_too_large");
        }
    }

    private static string Reason(FinishReason finish) => finish == FinishReason.Length ? "length" : "stop";

    private void Header(Utf8JsonWriter json, string id, string kind, long created)
    {
        json.WriteString("id", id);
        json.WriteString("object", kind);
        json.WriteNumber("created", created);
        json.WriteString("model", session.ModelId);
    }

    private static void Usage(Utf8JsonWriter json, GenerationResult result)
    {
        json.WriteStartObject("usage");
        json.WriteNumber("prompt_tokens", result.PromptTokens);
        json.WriteNumber("completion_tokens", result.CompletionTokens);
        json.WriteNumber("total_tokens", result.PromptTokens + result.CompletionTokens);
        json.WriteEndObject();
    }

    private byte[] Chunk(string id, long created, bool chat, Action<Utf8JsonWriter> content, string? finish) => Document(json =>
    {
        Header(json, id, chat ? "chat.completion.chunk" : "text_completion", created);
        json.WriteStartArray("choices");
        json.WriteStartObject();
        json.WriteNumber("index", 0);
        if (chat)
        {
            json.WriteStartObject("delta");
            content(json);
            json.WriteEndObject();
        }
        else content(json);
        json.WriteNull("logprobs");
        if (finish == null) json.WriteNull("finish_reason"); else json.WriteString("finish_reason", finish);
        json.WriteEndObject();
        json.WriteEndArray();
    });

    private static async Task Event(HttpContext context, byte[] data, CancellationToken cancel)
    {
        await context.Response.Body.WriteAsync("data: "u8.ToArray(), cancel);
        await context.Response.Body.WriteAsync(data, cancel);
        await context.Response.Body.WriteAsync("\n\n"u8.ToArray(), cancel);
        await context.Response.Body.FlushAsync(cancel);
    }

    private static byte[] Document(Action<Utf8JsonWriter> body)
    {
        var buffer = new MemoryStream();
        using (var json = new Utf8JsonWriter(buffer))
        {
            json.WriteStartObject();
            body(json);
            json.WriteEndObject();
        }
        return buffer.ToArray();
    }

    private Task WriteJson(HttpContext context, int status, Action<Utf8JsonWriter> body)
    {
        context.Response.StatusCode = status;
        context.Response.ContentType = "application/json";
        return context.Response.Body.WriteAsync(Document(json =>
        {
            body(json);
        })).AsTask();
    }
}
