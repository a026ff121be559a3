using System.CommandLine;
using HybridEngine.Server;

namespace HybridEngine.Cli.Commands;

/// <summary>
/// <c>hybrid serve -m MODEL [--host 127.0.0.1] [--port 8080] [--api-key KEY] [--queue N] [--max-body BYTES] [-c CTX]</c>:
/// an OpenAI-compatible HTTP server for one model, on loopback unless told otherwise. Runs until Ctrl+C.
/// </summary>
public static class ServeCommand
{
    public static Command Create(TextWriter? output = null)
    {
        var model = new Option<string>("--model", "-m") { Description = "GGUF model file", Required = true };
        var host = new Option<string>("--host") { Description = "address to bind (an IP or localhost)", DefaultValueFactory = _ => "127.0.0.1" };
        var port = new Option<int>("--port") { Description = "TCP port (0 = any free port)", DefaultValueFactory = _ => 8080 };
        var apiKey = new Option<string>("--api-key") { Description = "require 'Authorization: Bearer KEY' on every request" };
        var queue = new Option<int>("--queue") { Description = "requests that may wait while one generates; more get 503", DefaultValueFactory = _ => 8 };
        var maxBody = new Option<long>("--max-body") { Description = "largest request body in bytes; larger get 413", DefaultValueFactory = _ => 1 << 20 };
        var context = new Option<int>("--ctx-size", "-c") { Description = $"context length (0 = the trained context, at most {ServerOptions.DefaultContext})" };
        var threads = new Option<int>("--threads", "-t") { Description = "compute threads (0 = all cores)" };
        var command = new Command("serve", "Serves one model over an OpenAI-compatible HTTP API (completions, chat, streaming).");
        foreach (var o in new Option[] { model, host, port, apiKey, queue, maxBody, context, threads }) command.Options.Add(o);
        command.SetAction(parse =>
        {
            var stdout = output ?? Console.Out;
            var options = new ServerOptions(parse.GetValue(model)!, parse.GetValue(host)!, parse.GetValue(port), parse.GetValue(apiKey),
                parse.GetValue(queue), parse.GetValue(maxBody), parse.GetValue(context), parse.GetValue(threads));
            if (options.Validate() is { } problem) throw new UsageException(problem);
            HybridServer server;
            try { server = HybridServer.StartAsync(options).GetAwaiter().GetResult(); }
            catch (ArgumentException e) { throw new UsageException(e.Message); }
            using var stop = new CancellationTokenSource();
            ConsoleCancelEventHandler onCancel = (_, e) => { e.Cancel = true; stop.Cancel(); };
            Console.CancelKeyPress += onCancel;
            using var onTerm = System.Runtime.InteropServices.PosixSignalRegistration.Create(
                System.Runtime.InteropServices.PosixSignal.SIGTERM, c => { c.Cancel = true; stop.Cancel(); });
            try
            {
                stdout.WriteLine($"serving {server.Session.ModelId} on {server.Address} (context {server.Session.Context}); Ctrl+C stops");
                stdout.Flush();
                server.WaitAsync(stop.Token).GetAwaiter().GetResult();
            }
            finally
            {
                Console.CancelKeyPress -= onCancel;
                server.DisposeAsync().AsTask().GetAwaiter().GetResult();
            }
            return 0;
        });
        return command;
    }
}
