using System.CommandLine;
using System.Globalization;
using System.Text.Json;
using HybridEngine.Cli;
using HybridEngine.Cli.Commands;
using HybridEngine.Server;
using HybridEngine.Tests.Streaming;
using HybridEngine.Tests.Tuning;
using Xunit;
using Xunit.Abstractions;

namespace HybridEngine.Tests.Server;

/// <summary>
/// <c>hybrid serve</c> through the CLI with <c>run</c>'s placement options on the synthetic deepseek2 tiny model
/// (Q4_K, routed experts) and the fixture's synthetic profile: a RAM budget that streams experts, none, and one too small.
/// </summary>
[Collection(StreamingCollection.Name)]
public sealed class ServePlacementTests(StreamingFixture f, ITestOutputHelper log)
{
    private const int Context = 64;
    private const string Prompt = "the expert model";

    /// <summary>
    /// A budget leaving a quarter of the routed-expert bytes to the cache: the server streams (placement direct), its
    /// greedy text equals <c>hybrid run</c>'s with every expert resident, and /metrics shows a hit rate in [0,1] and
    /// disk bytes per token above 0 that are the expert cache's own counters (hits / all requests, bytes read / tokens run).
    /// </summary>
    [Fact]
    public async Task StreamingServerReportsTheExpertCacheCounters()
    {
        long budget = StreamingFixture.BudgetFor(f.Tiny, Context, 0.25);
        await using var serve = await Serve("--ram-budget", budget.ToString(CultureInfo.InvariantCulture));
        var (status, body) = await serve.Http.PostAsync("v1/completions", """{"prompt":"the expert model","max_tokens":8,"temperature":0}""");
        Assert.Equal(200, status);
        string text = body.GetProperty("choices")[0].GetProperty("text").GetString()!;

        var metrics = await serve.Http.GetJsonAsync("metrics");
        log.WriteLine(metrics.ToString());
        var cache = serve.Server.Session.Streaming;
        Assert.NotNull(cache);
        Assert.Equal("direct", metrics.GetProperty("placement").GetString());
        Assert.True(cache.Misses > 0, "the budget must make experts stream");
        double hitRate = metrics.GetProperty("cache_hit_rate").GetDouble();
        Assert.InRange(hitRate, 0, 1);
        // Computed here from the raw counters, not through StreamingCounters.HitRate; exact: nothing runs between.
        Assert.Equal(cache.Hits / (double)(cache.Hits + cache.PrefetchHits + cache.Misses), hitRate, 12);
        Assert.Equal(cache.Misses, metrics.GetProperty("expert_cache_misses").GetInt64());
        Assert.Equal(cache.BytesRead, metrics.GetProperty("disk_bytes_read").GetInt64());
        var counters = serve.Server.Session.Counters;
        long tokens = counters.PrefillTokens + counters.DecodeTokens;
        Assert.Equal(body.GetProperty("usage").GetProperty("prompt_tokens").GetInt64(), metrics.GetProperty("prefill_tokens").GetInt64());
        double perToken = metrics.GetProperty("disk_bytes_per_token").GetDouble();
        Assert.True(perToken > 0);
        Assert.Equal(cache.BytesRead / (double)tokens, perToken, 6);
        Assert.True(metrics.GetProperty("decode_tokens_per_second").GetDouble() > 0);

        var run = f.Run("run", "-m", f.Tiny, "-p", Prompt, "-n", "8", "--profile", f.ProfilePath, "-t", "1", "-c", Context.ToString(CultureInfo.InvariantCulture));
        Assert.True(run.Code == 0, run.Err);
        Assert.Equal(Prompt + text + Environment.NewLine, run.Out);
    }

    /// <summary>No budget: every expert stays resident, and /metrics says nothing streams (hit rate 1, 0 disk bytes per token).</summary>
    [Fact]
    public async Task ResidentServerReportsThatNothingStreams()
    {
        await using var serve = await Serve();
        var (status, _) = await serve.Http.PostAsync("v1/completions", """{"prompt":"the expert model","max_tokens":4,"temperature":0}""");
        Assert.Equal(200, status);
        var metrics = await serve.Http.GetJsonAsync("metrics");
        log.WriteLine(metrics.ToString());
        Assert.Null(serve.Server.Session.Streaming);
        Assert.Equal("resident", metrics.GetProperty("placement").GetString());
        Assert.Equal(1.0, metrics.GetProperty("cache_hit_rate").GetDouble());
        Assert.Equal(0.0, metrics.GetProperty("disk_bytes_per_token").GetDouble());
        Assert.Equal(0, metrics.GetProperty("disk_bytes_read").GetInt64());
    }

    /// <summary>A budget below what the plan needs: exit code 2, the planner's sentence, and no server started.</summary>
    [Fact]
    public async Task BudgetTooSmallToRunIsExitCode2()
    {
        bool started = false;
        var stderr = new StringWriter();
        int code = await Task.Run(() => CliRunner.Run(Root(stderr, _ => started = true, CancellationToken.None),
            [.. Args(), "--ram-budget", "1M"], stderr)).WaitAsync(TimeSpan.FromSeconds(60));
        log.WriteLine(stderr.ToString());
        Assert.Equal(2, code);
        Assert.False(started);
        Assert.Contains("need a RAM budget of at least", stderr.ToString());
        // One error sentence (a note about the expert ranking may precede it), no stack trace.
        Assert.Single(stderr.ToString().Split('\n'), l => l.StartsWith("error: ", StringComparison.Ordinal));
        Assert.DoesNotContain("   at ", stderr.ToString());
    }

    private string[] Args() =>
        ["serve", "-m", f.Tiny, "--port", "0", "-t", "1", "-c", Context.ToString(CultureInfo.InvariantCulture), "--profile", f.ProfilePath];

    private RootCommand Root(TextWriter stderr, Action<HybridServer> started, CancellationToken stop)
    {
        var root = new RootCommand("test");
        root.Subcommands.Add(ServeCommand.Create(new StringWriter(), stderr, f.Options, TuneScratch.Small, started, stop));
        return root;
    }

    /// <summary>Runs <c>hybrid serve</c> on a background thread until disposed; fails if it exits before serving.</summary>
    private async Task<Served> Serve(params string[] extra)
    {
        var ready = new TaskCompletionSource<HybridServer>(TaskCreationOptions.RunContinuationsAsynchronously);
        var stop = new CancellationTokenSource();
        var stderr = new StringWriter();
        var exit = Task.Factory.StartNew(() => CliRunner.Run(Root(stderr, ready.SetResult, stop.Token), [.. Args(), .. extra], stderr),
            TaskCreationOptions.LongRunning);
        var first = await Task.WhenAny(ready.Task, exit).WaitAsync(TimeSpan.FromSeconds(60));
        Assert.True(first == ready.Task, $"serve exited with {(exit.IsCompleted ? exit.Result : -1)}: {stderr}");
        log.WriteLine(stderr.ToString());
        return new Served(ready.Task.Result, exit, stop);
    }

    private sealed class Served(HybridServer server, Task<int> exit, CancellationTokenSource stop) : IAsyncDisposable
    {
        public HybridServer Server { get; } = server;
        public Client Http { get; } = new(server.Address);

        public async ValueTask DisposeAsync()
        {
            Http.Dispose();
            await stop.CancelAsync();
            Assert.Equal(0, await exit.WaitAsync(TimeSpan.FromSeconds(30)));
            stop.Dispose();
        }
    }

    private sealed class Client(Uri address) : IDisposable
    {
        private readonly HttpClient _http = new() { BaseAddress = address, Timeout = TimeSpan.FromSeconds(60) };

        public async Task<(int Status, JsonElement Body)> PostAsync(string path, string body)
        {
            using var response = await _http.PostAsync(path, TestServer.Json(body));
            return ((int)response.StatusCode, JsonDocument.Parse(await response.Content.ReadAsStringAsync()).RootElement.Clone());
        }

        public async Task<JsonElement> GetJsonAsync(string path)
        {
            using var response = await _http.GetAsync(path);
            Assert.Equal(200, (int)response.StatusCode);
            return JsonDocument.Parse(await response.Content.ReadAsStringAsync()).RootElement.Clone();
        }

        public void Dispose() => _http.Dispose();
    }
}
