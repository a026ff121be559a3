using System.Text.Json;
using Microsoft.AspNetCore.Http;

namespace HybridEngine.Server;

/// <summary>A request the server refuses, with its HTTP status and the OpenAI error fields.</summary>
public sealed class ApiException(int status, string message, string? param = null, string? code = null, string type = "invalid_request_error")
    : Exception(message)
{
    public int Status { get; } = status;
    public string? Param { get; } = param;
    public string? Code { get; } = code;
    public string Type { get; } = type;
}

/// <summary>Writes errors in the OpenAI shape: <c>{"error":{"message","type","param","code"}}</c>.</summary>
public static class ApiError
{
    public static Task WriteAsync(HttpContext context, ApiException error) =>
        WriteAsync(context, error.Status, error.Message, error.Type, error.Param, error.Code);

    public static async Task WriteAsync(HttpContext context, int status, string message, string type, string? param = null, string? code = null)
    {
        if (context.Response.HasStarted) return;
        context.Response.StatusCode = status;
        context.Response.ContentType = "application/json";
        var buffer = new MemoryStream();
        using (var json = new Utf8JsonWriter(buffer))
        {
            json.WriteStartObject();
            json.WriteStartObject("error");
            json.WriteString("message", message);
            json.WriteString("type", type);
            if (param == null) json.WriteNull("param"); else json.WriteString("param", param);
            if (code == null) json.WriteNull("code"); else json.WriteString("code", code);
            json.WriteEndObject();
            json.WriteEndObject();
        }
        await context.Response.Body.WriteAsync(buffer.GetBuffer().AsMemory(0, (int)buffer.Length));
    }
}
