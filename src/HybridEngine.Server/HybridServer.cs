using System.Net;
using System.Security.Cryptography;
using System.Text;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace HybridEngine.Server;

/// <summary>
/// An OpenAI-compatible HTTP server for one model on Kestrel (minimal APIs): <c>GET /v1/models</c>,
/// <c>POST /v1/completions</c>, <c>POST /v1/chat/completions</c>, <c>GET /health</c>, <c>GET /metrics</c>.
/// Start with <see cref="StartAsync"/>, read <see cref="Address"/>, stop with <see cref="DisposeAsync"/>.
/// </summary>
public sealed class HybridServer : IAsyncDisposable
{
    private readonly WebApplication _app;

    private HybridServer(WebApplication app, ModelSession session, Uri address)
    {
        _app = app;
        Session = session;
        Address = address;
    }

    /// <summary>The bound address, e.g. <c>http://127.0.0.1:8080/</c> (the real port when 0 was asked for).</summary>
    public Uri Address { get; }

    public ModelSession Session { get; }

    /// <summary>
    /// Binds the address and starts serving <paramref name="model"/> (default: the whole file loaded resident). The
    /// server owns the model from here on, also when this throws. Throws <see cref="ArgumentException"/> for bad settings.
    /// </summary>
    public static async Task<HybridServer> StartAsync(ServerOptions options, ServedModel? model = null, CancellationToken cancel = default)
    {
        IPAddress address;
        try
        {
            if (options.Validate() is { } problem) throw new ArgumentException(problem);
            address = ParseHost(options.Host);
        }
        catch (ArgumentException)
        {
            model?.Owner.Dispose();
            throw;
        }
        var session = new ModelSession(options, model ?? ServedModel.Resident(options.ModelPath));
        try
        {
            // The empty builder reads no appsettings or environment: the command line is the only configuration.
            var builder = WebApplication.CreateEmptyBuilder(new WebApplicationOptions());
            builder.Logging.ClearProviders();
            builder.Services.AddRoutingCore();
            builder.WebHost.UseKestrelCore().ConfigureKestrel(k =>
            {
                k.Limits.MaxRequestBodySize = options.MaxBodyBytes;
                k.AddServerHeader = false;
                k.Listen(address, options.Port);
            });
            var app = builder.Build();
            var endpoints = new Endpoints(session);
            app.Use(Guard(options, session));
            app.UseRouting();
            app.MapGet("/v1/models", endpoints.Models);
            app.MapPost("/v1/completions", endpoints.Completions);
            app.MapPost("/v1/chat/completions", endpoints.ChatCompletions);
            app.MapGet("/health", endpoints.Health);
            app.MapGet("/metrics", endpoints.Metrics);
            await app.StartAsync(cancel);
            var bound = app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.First();
            return new HybridServer(app, session, new Uri(bound.EndsWith('/') ? bound : bound + "/"));
        }
        catch
        {
            session.Dispose();
            throw;
        }
    }

    /// <summary>Serves until <paramref name="cancel"/> fires.</summary>
    public async Task WaitAsync(CancellationToken cancel)
    {
        try { await Task.Delay(Timeout.Infinite, cancel); }
        catch (OperationCanceledException) { }
    }

    public async ValueTask DisposeAsync()
    {
        await _app.StopAsync(CancellationToken.None);
        await _app.DisposeAsync();
        Session.Dispose();
    }

    /// <summary>"localhost" and IP literals; host names other than localhost are not resolved (no surprises in binding).</summary>
    public static IPAddress ParseHost(string host) =>
        host.Equals("localhost", StringComparison.OrdinalIgnoreCase) ? IPAddress.Loopback
        : IPAddress.TryParse(host.Trim('[', ']'), out var ip) ? ip
        : throw new ArgumentException($"--host must be an IP address or localhost, not '{host}'");

    /// <summary>API key check, unknown routes, and errors in the OpenAI shape.</summary>
    private static Func<HttpContext, RequestDelegate, Task> Guard(ServerOptions options, ModelSession session)
    {
        byte[]? expected = options.ApiKey == null ? null : Encoding.UTF8.GetBytes("Bearer " + options.ApiKey);
        return async (context, next) =>
        {
            if (expected != null)
            {
                byte[] given = Encoding.UTF8.GetBytes(context.Request.Headers.Authorization.ToString());
                if (!CryptographicOperations.FixedTimeEquals(given, expected))
                {
                    session.Metrics.Rejected4xx();
                    context.Response.Headers.WWWAuthenticate = "Bearer";
                    await ApiError.WriteAsync(context, 401, "a valid API key is required: Authorization: Bearer KEY", "invalid_request_error", code: "invalid_api_key");
                    return;
                }
            }
            try
            {
                await next(context);
                if (context.Response.StatusCode == 404 && !context.Response.HasStarted)
                    await ApiError.WriteAsync(context, 404, $"no such endpoint: {context.Request.Method} {context.Request.Path}", "invalid_request_error");
                else if (context.Response.StatusCode == 405 && !context.Response.HasStarted)
                    await ApiError.WriteAsync(context, 405, $"{context.Request.Method} is not allowed on {context.Request.Path}", "invalid_request_error");
            }
            catch (BadHttpRequestException e)
            {
                session.Metrics.Rejected4xx();
                await ApiError.WriteAsync(context, e.StatusCode, e.Message, "invalid_request_error");
            }
            catch (OperationCanceledException) when (context.RequestAborted.IsCancellationRequested)
            {
                // The client went away; there is no one to answer.
            }
        };
    }
}
