using HybridEngine.Runtime;
using Spectre.Console;

namespace HybridEngine.Cli;

/// <summary>
/// Renders <see cref="LoadProgress"/> reports as a Spectre.Console progress bar on stderr, only when stderr is a
/// terminal: pipes, files and tests see no escape codes and no progress text.
/// </summary>
public static class LoadProgressView
{
    /// <summary>Files from 1 GiB up take long enough to page in that a bar is worth showing.</summary>
    public const long DefaultThresholdBytes = 1L << 30;

    /// <summary>Whether <paramref name="error"/> is the process's stderr and that is a terminal.</summary>
    public static bool IsTerminal(TextWriter error) => ReferenceEquals(error, Console.Error) && !Console.IsErrorRedirected;

    /// <summary>
    /// Runs <paramref name="load"/> with a progress sink: a bar on <paramref name="error"/> when <paramref name="show"/>,
    /// and <paramref name="observer"/> (if any) told of every report either way.
    /// </summary>
    public static T Run<T>(TextWriter error, bool show, Func<IProgress<LoadProgress>?, T> load, Action<LoadProgress>? observer = null)
    {
        if (!show) return load(observer is null ? null : new Sink(observer));
        var console = AnsiConsole.Create(new AnsiConsoleSettings
        {
            Out = new AnsiConsoleOutput(error),
            Ansi = AnsiSupport.Detect,
            Interactive = InteractionSupport.Detect,
        });
        T result = default!;
        console.Progress()
            .AutoClear(true)
            .Columns(new TaskDescriptionColumn(), new ProgressBarColumn(), new PercentageColumn(), new DownloadedColumn(), new ElapsedTimeColumn())
            .Start(context =>
            {
                var task = context.AddTask("loading", maxValue: 1);
                result = load(new Sink(p =>
                {
                    observer?.Invoke(p);
                    task.MaxValue = Math.Max(1, p.TotalBytes);
                    task.Description = Markup.Escape(p.Stage);
                    task.Value = p.Bytes;
                }));
                task.StopTask();
            });
        return result;
    }

    /// <summary>Reports synchronously on the loading thread (System.Progress would post them out of order).</summary>
    private sealed class Sink(Action<LoadProgress> report) : IProgress<LoadProgress>
    {
        public void Report(LoadProgress value) => report(value);
    }
}
