using System.CommandLine;
using HybridEngine.Configuration;
using HybridEngine.Server;
using HybridEngine.Tuner;

namespace HybridEngine.Cli.Commands;

/// <summary>
/// <c>hybrid serve -m MODEL [--host 127.0.0.1] [--port 8080] [--api-key KEY] [--queue N] [--max-body BYTES] [-c CTX]
/// [placement options]</c>: an OpenAI-compatible HTTP server for one model, on loopback unless told otherwise, placed as
/// <c>run</c> places it (the same <see cref="RuntimeSetup"/> options: profile, RAM budget, expert cache, streaming).
/// Runs until Ctrl+C or SIGTERM.
/// </summary>
public static class ServeCommand
{
    /// <param name="options">Bound configuration (defaults when null).</param>
    /// <param name="adjustTune">Lets tests shrink the quick tune run when no profile matches this machine.</param>
    /// <param name="started">Called with the running server (tests send their requests then).</param>
    /// <param name="stop">Stops the server as Ctrl+C does (tests).</param>
    public static Command Create(TextWriter? output = null, TextWriter? error = null, EngineOptions? options = null,
        Func<TuneOptions, TuneOptions>? adjustTune = null, Action<HybridServer>? started = null, CancellationToken stop = default)
    {
        var model = new Option<string>("--model", "-m") { Description = "GGUF model file", Required = true };
        var host = new Option<string>("--host") { Description = "address to bind (an IP or localhost)", DefaultValueFactory = _ => "127.0.0.1" };
        var port = new Option<int>("--port") { Description = "TCP port (0 = any free port)", DefaultValueFactory = _ => 8080 };
        var apiKey = new Option<string>("--api-key") { Description = "require 'Authorization: Bearer KEY' on every request" };
        var queue = new Option<int>("--queue") { Description = "requests that may wait while one generates; more get 503", DefaultValueFactory = _ => 8 };
        var maxBody = new Option<long>("--max-body") { Description = "largest request body in bytes; larger get 413", DefaultValueFactory = _ => 1 << 20 };
        var context = new Option<int>("--ctx-size", "-c") { Description = $"context length (0 = the trained context, at most {ServerOptions.DefaultContext})" };
        var threads = new Option<int>("--threads", "-t") { Description = "compute threads (0 = Engine:Threads, else the profile's)" };
        var setup = new RuntimeSetup();
        var command = new Command("serve", "Serves one model over an OpenAI-compatible HTTP API (completions, chat, streaming).");
        foreach (var o in new Option[] { model, host, port, apiKey, queue, maxBody, context, threads }) command.Options.Add(o);
        setup.AddTo(command);
        command.SetAction(parse =>
        {
            var stdout = output ?? Console.Out;
            var stderr = error ?? Console.Error;
            string path = parse.GetValue(model)!;
            var settings = new ServerOptions(path, parse.GetValue(host)!, parse.GetValue(port), parse.GetValue(apiKey),
                parse.GetValue(queue), parse.GetValue(maxBody), parse.GetValue(context), parse.GetValue(threads));
            if (settings.Validate() is { } problem) throw new UsageException(problem);
            try { HybridServer.ParseHost(settings.Host); }
            catch (ArgumentException e) { throw new UsageException(e.Message); }

            // The context is settled before loading: the plan sizes the KV cache for it.
            int trained;
            using (var header = Gguf.GgufFile.Open(path))
                trained = new Models.ModelMetadata(header, header.Architecture ?? "").Int("context_length", 0);
            int ctx = settings.ResolveContext(trained);
            var placed = setup.Load(parse, path, ctx, options ?? new EngineOptions(), stderr, adjustTune);
            var served = new ServedModel(placed.Model, placed.Mode switch { "direct" => Placement.Direct, "page-cache" => Placement.PageCache, _ => Placement.Resident },
                placed.Cache?.Counters, placed);
            HybridServer server;
            try { server = HybridServer.StartAsync(settings with { Context = ctx, Threads = placed.Threads(settings.Threads) }, served).GetAwaiter().GetResult(); }
            catch (ArgumentException e) { throw new UsageException(e.Message); }
            using var cancel = CancellationTokenSource.CreateLinkedTokenSource(stop);
            ConsoleCancelEventHandler onCancel = (_, e) => { e.Cancel = true; cancel.Cancel(); };
            Console.CancelKeyPress += onCancel;
            using var onTerm = System.Runtime.InteropServices.PosixSignalRegistration.Create(
                System.Runtime.InteropServices.PosixSignal.SIGTERM, c => { c.Cancel = true; cancel.Cancel(); });
            try
            {
                string cache = placed.Cache is { } c ? $", expert cache {ByteSize.Format(c.Options.CapacityBytes)} {c.Options.Policy}" : "";
                stdout.WriteLine($"serving {server.Session.ModelId} on {server.Address} (context {server.Session.Context}, placement {placed.Mode}{cache}); Ctrl+C stops");
                stdout.Flush();
                started?.Invoke(server);
                server.WaitAsync(cancel.Token).GetAwaiter().GetResult();
            }
            finally
            {
                Console.CancelKeyPress -= onCancel;
                // What the run cost, as run --stats prints it; read before the server disposes the cache.
                if (RuntimeSetup.StatsLine(placed, server.Session.Counters) is { } line) stderr.WriteLine(line);
                server.DisposeAsync().AsTask().GetAwaiter().GetResult();
            }
            return 0;
        });
        return command;
    }
}
