namespace HybridEngine.Runtime;

/// <summary>
/// A device could not run an op (initialisation, out of memory, a kernel failure, a lost device). The one exception
/// type a caller catches to warn once and continue on the CPU; the original error is the inner exception.
/// </summary>
public sealed class ComputeDeviceException(string device, string operation, Exception? inner)
    : Exception($"{device}: {operation} failed: {inner?.Message ?? "unknown error"}", inner)
{
    public string Device { get; } = device;
    public string Operation { get; } = operation;
}
