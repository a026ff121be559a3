using System.Runtime.InteropServices;
using Microsoft.Win32.SafeHandles;

namespace HybridEngine.IO;

/// <summary>
/// Read handles that bypass the page cache (Linux O_DIRECT). .NET's FileOptions have no O_DIRECT on Unix, so the
/// handle is opened normally and the flag is added with fcntl(F_SETFL), then read back to confirm it stuck. File
/// systems that refuse it (tmpfs, some FUSE and network file systems) leave an ordinary buffered handle, and
/// <see cref="IsDirect"/> says so. Direct reads need offsets, lengths and buffer addresses aligned to the device's
/// logical block size; <see cref="Alignment"/> (4096) satisfies every common device.
/// </summary>
public static partial class DirectFile
{
    public const int Alignment = 4096;

    private const int F_GETFL = 3, F_SETFL = 4;
    private const int POSIX_FADV_DONTNEED = 4;

    /// <summary>Opens <paramref name="path"/> for reading, direct when the OS and file system allow it.</summary>
    public static SafeFileHandle OpenRead(string path, out bool isDirect)
    {
        var handle = File.OpenHandle(path, FileMode.Open, FileAccess.Read, FileShare.ReadWrite);
        isDirect = OperatingSystem.IsLinux() && TryEnableDirect(handle);
        return handle;
    }

    /// <summary>Whether O_DIRECT is set on the handle.</summary>
    public static bool IsDirect(SafeFileHandle handle)
    {
        if (!OperatingSystem.IsLinux() || ODirect == 0) return false;
        int flags = Fcntl((int)handle.DangerousGetHandle(), F_GETFL, 0);
        return flags >= 0 && (flags & ODirect) != 0;
    }

    /// <summary>
    /// Asks the kernel to drop the file's clean cached pages (posix_fadvise DONTNEED), so the next buffered read comes
    /// from the device. Works without privileges on one's own file; returns false where unsupported.
    /// </summary>
    public static bool EvictFromPageCache(SafeFileHandle handle)
    {
        if (!OperatingSystem.IsLinux()) return false;
        try { return PosixFadvise((int)handle.DangerousGetHandle(), 0, 0, POSIX_FADV_DONTNEED) == 0; }
        catch (EntryPointNotFoundException) { return false; }
    }

    /// <summary>O_DIRECT's value differs by architecture (generic 040000; arm and arm64 0200000).</summary>
    private static int ODirect => RuntimeInformation.ProcessArchitecture switch
    {
        Architecture.X64 or Architecture.X86 or Architecture.RiscV64 or Architecture.LoongArch64 or Architecture.S390x => 0x4000,
        Architecture.Arm64 or Architecture.Arm => 0x10000,
        _ => 0,
    };

    private static bool TryEnableDirect(SafeFileHandle handle)
    {
        if (ODirect == 0) return false;
        try
        {
            int fd = (int)handle.DangerousGetHandle();
            int flags = Fcntl(fd, F_GETFL, 0);
            if (flags < 0 || Fcntl(fd, F_SETFL, flags | ODirect) < 0) return false;
            return IsDirect(handle);
        }
        catch (EntryPointNotFoundException) { return false; }
        catch (DllNotFoundException) { return false; }
    }

    // fcntl is variadic in C; with only integer arguments the System V and AAPCS64 conventions pass them like a fixed
    // three-argument call, which is how this declaration calls it.
    [LibraryImport("libc", EntryPoint = "fcntl", SetLastError = true)]
    private static partial int Fcntl(int fd, int command, int argument);

    [LibraryImport("libc", EntryPoint = "posix_fadvise")]
    private static partial int PosixFadvise(int fd, long offset, long length, int advice);
}

/// <summary>Native memory aligned for direct I/O, freed on dispose.</summary>
public sealed unsafe class AlignedBuffer : IDisposable
{
    public AlignedBuffer(int length, int alignment = DirectFile.Alignment)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(length);
        Pointer = (byte*)NativeMemory.AlignedAlloc((nuint)length, (nuint)alignment);
        Length = length;
    }

    public byte* Pointer { get; private set; }
    public int Length { get; }

    public Span<byte> Span
    {
        get
        {
            ObjectDisposedException.ThrowIf(Pointer == null, this);
            return new Span<byte>(Pointer, Length);
        }
    }

    public void Dispose()
    {
        if (Pointer == null) return;
        NativeMemory.AlignedFree(Pointer);
        Pointer = null;
    }
}
