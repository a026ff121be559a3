using System.Diagnostics;
using HybridEngine.Gpu;
using HybridEngine.Gpu.Kernels;
using HybridEngine.Kernels;
using HybridEngine.Quantization;
using ILGPU.Runtime;

// Quantized matrix-vector throughput of the GPU kernels: GB/s of weight bytes read per product, against the card's
// theoretical bandwidth; then prefill (one product of many tokens), the tiled matrix-matrix kernel against the
// per-token one; then one-token attention over a full device KV cache.
// Usage: GpuBench [--cpu] [--mib N] [--seconds S] [--tokens T] [--prefill-mib P]
//   --cpu      ILGPU's CPU accelerator instead of the first CUDA device (a smoke run without a GPU)
//   --mib N    weight bytes per matrix (default 256 MiB: far larger than any GPU's L2, so reads come from DRAM)
//   --seconds  timing budget per type (default 1)
//   --tokens T         prefill tokens per product (default 128)
//   --prefill-mib P    weight bytes of the prefill matrix (default 64 MiB, larger than an H200's 50 MiB L2)
// Each timed call includes copying the 4096-float activation in and the result out (as IComputeDevice.MatVec does),
// so the figure is what the engine sees, slightly below the kernel's own rate.

bool cpu = args.Contains("--cpu");
long mib = Arg("--mib", cpu ? 2 : 256);
double seconds = Arg("--seconds", 1);
int prefillTokens = (int)Arg("--tokens", cpu ? 9 : 128);
long prefillMib = Arg("--prefill-mib", cpu ? 1 : 64);

using GpuDevice device = cpu ? GpuDevices.CreateCpuPretend() : GpuDevices.OpenFirstCuda(out string? reason)
    ?? throw new InvalidOperationException($"GpuBench needs a CUDA device: {reason}");
double? peak = device.PeakBandwidthBytesPerSecond;
if (Environment.GetEnvironmentVariable("CARD_GBPS") is { } stated && double.TryParse(stated, out double gbps)) peak = gbps * 1e9;
Console.WriteLine($"device: {device.Name}, {device.MemoryBytes / (1 << 20)} MiB, peak bandwidth: " +
                  (peak is { } p0 ? $"{p0 / 1e9:F0} GB/s" : "unknown (set CARD_GBPS)"));
Console.WriteLine($"{"type",-8} {"rows",8} {"cols",6} {"MiB",6} {"us/call",9} {"GB/s",8} {"% peak",7}");

const int rowLength = 4096;
var random = new Random(42);
float[] x = new float[rowLength];
for (int i = 0; i < x.Length; i++) x[i] = (float)(random.NextDouble() * 2 - 1);
foreach (var type in GpuDevice.SupportedTypes)
{
    var info = QuantTypes.Get(type);
    long rowBytes = info.RowBytes(rowLength);
    int rows = (int)Math.Max(1, mib * (1L << 20) / rowBytes);
    byte[] raw = Weights(info, rows, rowLength, random);
    float[] y = new float[rows];
    unsafe
    {
        fixed (byte* ptr = raw)
        {
            using var weights = device.Upload(new WeightMatrix(ptr, type, rows, rowLength));
            device.MatMul(weights, x, 1, y);   // compile and warm up
            int calls = 0;
            var clock = Stopwatch.StartNew();
            while (clock.Elapsed.TotalSeconds < seconds || calls < 3)
            {
                device.MatMul(weights, x, 1, y);
                calls++;
            }
            double perCall = clock.Elapsed.TotalSeconds / calls;
            double rate = raw.Length / perCall;
            string share = peak is { } p ? $"{100 * rate / p,6:F1}%" : "     -";
            Console.WriteLine($"{info.Name,-8} {rows,8} {rowLength,6} {raw.Length / 1048576.0,6:F1} {perCall * 1e6,9:F1} {rate / 1e9,8:F1} {share}");
        }
    }
}

Prefill(prefillTokens, prefillMib);

// Decode attention over a device-resident cache filled to the context: GB/s of cache rows read per call (each kv
// head's rows are read once per query head that shares it, so GQA shows re-reads served from L2 as extra rate).
int context = cpu ? 256 : 4096;
Console.WriteLine($"{"attention",-26} {"context",8} {"KV MiB",7} {"us/call",9} {"GB/s",8}");
Attention("gqa 32/8 x128", new CausalAttention.Layout(32, 8, 128, 128, 8 * 128, 8 * 128), 8 * 128, 8 * 128);
Attention("mla absorbed 16 x 512+64", new CausalAttention.Layout(16, 1, 576, 512, 576, 576), 576, 0);

void Attention(string name, CausalAttention.Layout layout, int keyWidth, int valueWidth)
{
    using var cache = device.AllocateKvCache(1, context, keyWidth, valueWidth);
    float[] rows = new float[context * Math.Max(keyWidth, valueWidth)];
    for (int i = 0; i < rows.Length; i++) rows[i] = (float)(random.NextDouble() * 2 - 1);
    int[] all = Enumerable.Range(0, context).ToArray();
    device.WriteKv(cache, 0, rows.AsSpan(0, context * keyWidth), rows.AsSpan(0, context * valueWidth), all);
    float[] query = new float[layout.Heads * layout.KeyDim], output = new float[layout.Heads * layout.ValueDim];
    for (int i = 0; i < query.Length; i++) query[i] = (float)(random.NextDouble() * 2 - 1);
    int[] last = [context - 1];
    float scale = 1 / MathF.Sqrt(layout.KeyDim);
    device.Attention(cache, 0, query, 1, last, layout, scale, output);   // compile and warm up
    int calls = 0;
    var clock = Stopwatch.StartNew();
    while (clock.Elapsed.TotalSeconds < seconds || calls < 3)
    {
        device.Attention(cache, 0, query, 1, last, layout, scale, output);
        calls++;
    }
    double perCall = clock.Elapsed.TotalSeconds / calls;
    long bytes = cache.DeviceBytes;
    Console.WriteLine($"{name,-26} {context,8} {bytes / 1048576.0,7:F1} {perCall * 1e6,9:F1} {bytes / perCall / 1e9,8:F1}");
}

// Prefill: y = W·X for `tokens` tokens in one product, timed on the device alone (buffers stay there; each call waits
// for the kernel). "GB/s" is the effective weight rate, the matrix's bytes over the time of the whole product: the
// tiled kernel reads each weight once per tile of 8 tokens, the per-token kernel once per token (L2 may serve repeats).
void Prefill(int tokens, long megabytes)
{
    Console.WriteLine($"prefill, {tokens} tokens per product: effective weight GB/s (matrix bytes / product time)");
    Console.WriteLine($"{"type",-8} {"rows",8} {"cols",6} {"MiB",6} {"per-token us",13} {"GB/s",8} {"tiled us",10} {"GB/s",8} {"speed-up",9}");
    using var kernels = new GpuMatMulKernels(device.Accelerator);
    float[] input = new float[tokens * rowLength];
    for (int i = 0; i < input.Length; i++) input[i] = (float)(random.NextDouble() * 2 - 1);
    using var gx = device.Accelerator.Allocate1D(input);
    foreach (var type in GpuDevice.SupportedTypes)
    {
        var info = QuantTypes.Get(type);
        int rows = (int)Math.Max(1, megabytes * (1L << 20) / info.RowBytes(rowLength));
        byte[] raw = Weights(info, rows, rowLength, random);
        using var gw = device.Accelerator.Allocate1D(raw);
        using var gy = device.Accelerator.Allocate1D<float>((long)tokens * rows);
        var shape = new MatShape
        {
            Rows = rows, RowLength = rowLength, BlocksPerRow = rowLength / info.BlockSize, BlockSize = info.BlockSize,
            Tokens = tokens, XStride = rowLength, YStride = rows,
        };
        double perToken = Time(kernels.PerTokenFor(type)), tiled = Time(kernels.TiledFor(type));
        Console.WriteLine($"{info.Name,-8} {rows,8} {rowLength,6} {raw.Length / 1048576.0,6:F1} {perToken * 1e6,13:F1} {raw.Length / perToken / 1e9,8:F1} " +
                          $"{tiled * 1e6,10:F1} {raw.Length / tiled / 1e9,8:F1} {perToken / tiled,8:F2}x");

        double Time(GpuMatMulKernels.Launch launch)
        {
            launch(gw.View, gx.View, gy.View, shape);   // compile and warm up
            device.Accelerator.Synchronize();
            int calls = 0;
            var clock = Stopwatch.StartNew();
            while (clock.Elapsed.TotalSeconds < seconds || calls < 3)
            {
                launch(gw.View, gx.View, gy.View, shape);
                device.Accelerator.Synchronize();
                calls++;
            }
            return clock.Elapsed.TotalSeconds / calls;
        }
    }
}

long Arg(string name, long fallback)
{
    int at = Array.IndexOf(args, name);
    return at >= 0 && at + 1 < args.Length && long.TryParse(args[at + 1], out long v) ? v : fallback;
}

// 64 distinct quantized rows tiled over the matrix: realistic blocks without quantizing hundreds of MiB on the host.
static byte[] Weights(QuantTypeInfo info, int rows, int rowLength, Random random)
{
    int rowBytes = (int)info.RowBytes(rowLength);
    int distinct = Math.Min(rows, 64);
    byte[] raw = new byte[(long)rows * rowBytes];
    float[] values = new float[rowLength];
    for (int r = 0; r < distinct; r++)
    {
        var row = raw.AsSpan(r * rowBytes, rowBytes);
        if (info.Quantize is { } quantize)
        {
            for (int i = 0; i < rowLength; i++) values[i] = (float)(random.NextDouble() * 2 - 1);
            quantize(values, row);
        }
        else
        {
            random.NextBytes(row);   // IQ grids accept any index; give every block a modest f16 scale
            for (int b = 0; b < rowBytes; b += info.BytesPerBlock) BitConverter.TryWriteBytes(row[b..], (Half)0.02);
        }
    }
    for (int r = distinct; r < rows; r++) raw.AsSpan((r % distinct) * rowBytes, rowBytes).CopyTo(raw.AsSpan(r * rowBytes, rowBytes));
    return raw;
}
