using System.Collections.Concurrent;
using BenchmarkDotNet.Columns;
using BenchmarkDotNet.Configs;
using BenchmarkDotNet.Reports;
using BenchmarkDotNet.Running;
using HybridEngine.Quantization;
using HybridEngine.Tuner;

namespace HybridEngine.Benchmarks;

/// <summary>Adds the weight-throughput and machine-bandwidth columns to <see cref="MatVecBenchmarks"/>.</summary>
public sealed class BandwidthConfig : ManualConfig
{
    public BandwidthConfig()
    {
        AddColumn(new WeightThroughputColumn(), new MemoryBandwidthColumn());
    }
}

/// <summary>Weight bytes of the case divided by its mean time, in GB/s (10⁹ bytes per second).</summary>
public sealed class WeightThroughputColumn : IColumn
{
    public string Id => nameof(WeightThroughputColumn);
    public string ColumnName => "Weights GB/s";
    public bool AlwaysShow => true;
    public ColumnCategory Category => ColumnCategory.Custom;
    public int PriorityInCategory => 0;
    public bool IsNumeric => true;
    public UnitType UnitType => UnitType.Dimensionless;
    public string Legend => "Weight bytes read per second (10^9 B/s)";
    public bool IsAvailable(Summary summary) => true;
    public bool IsDefault(Summary summary, BenchmarkCase benchmarkCase) => false;
    public string GetValue(Summary summary, BenchmarkCase benchmarkCase, SummaryStyle style) => GetValue(summary, benchmarkCase);

    public string GetValue(Summary summary, BenchmarkCase benchmarkCase)
    {
        var stats = summary[benchmarkCase]?.ResultStatistics;
        if (stats is null || benchmarkCase.Parameters["Type"] is not GgmlType type) return "-";
        return (MatVecBenchmarks.WeightBytes(type) / stats.Mean).ToString("F2");   // bytes per ns = GB/s
    }
}

/// <summary>The machine's read bandwidth at the case's thread count (measured once per count, 256 MiB buffer).</summary>
public sealed class MemoryBandwidthColumn : IColumn
{
    private static readonly ConcurrentDictionary<int, double> Measured = new();

    public string Id => nameof(MemoryBandwidthColumn);
    public string ColumnName => "Memory GB/s";
    public bool AlwaysShow => true;
    public ColumnCategory Category => ColumnCategory.Custom;
    public int PriorityInCategory => 1;
    public bool IsNumeric => true;
    public UnitType UnitType => UnitType.Dimensionless;
    public string Legend => "Measured memory read bandwidth at the same thread count (10^9 B/s)";
    public bool IsAvailable(Summary summary) => true;
    public bool IsDefault(Summary summary, BenchmarkCase benchmarkCase) => false;
    public string GetValue(Summary summary, BenchmarkCase benchmarkCase, SummaryStyle style) => GetValue(summary, benchmarkCase);

    public string GetValue(Summary summary, BenchmarkCase benchmarkCase)
    {
        if (benchmarkCase.Parameters["Threads"] is not int threads) return "-";
        double gbs = Measured.GetOrAdd(threads, t => MemoryBandwidth.MeasureRead(t, 256L << 20, TimeSpan.FromSeconds(2)));
        return gbs.ToString("F2");
    }
}
