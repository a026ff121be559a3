using System.IO.MemoryMappedFiles;
using System.Runtime.InteropServices;

namespace HybridEngine.Gguf;

/// <summary>
/// The bytes of one GGUF file at a fixed address: a read-only memory map of the file, or a pinned copy of an
/// in-memory buffer. Pointers stay valid until <see cref="Dispose"/>.
/// </summary>
internal sealed unsafe class GgufMemory : IDisposable
{
    private MemoryMappedFile? _map;
    private MemoryMappedViewAccessor? _view;
    private GCHandle _pin;
    private byte* _pointer;

    private GgufMemory(byte* pointer, long length, MemoryMappedFile? map, MemoryMappedViewAccessor? view, GCHandle pin)
    {
        _pointer = pointer;
        Length = length;
        _map = map;
        _view = view;
        _pin = pin;
    }

    public long Length { get; }

    public byte* Pointer => _pointer != null ? _pointer : throw new ObjectDisposedException(nameof(GgufFile));

    /// <summary>Maps <paramref name="path"/> read-only. An empty file cannot be mapped and is reported as a format error.</summary>
    public static GgufMemory Map(string path)
    {
        var stream = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.Read, 1, FileOptions.RandomAccess);
        MemoryMappedFile? map = null;
        MemoryMappedViewAccessor? view = null;
        try
        {
            long length = stream.Length;
            if (length == 0) throw new GgufFormatException($"Invalid GGUF file '{path}' at byte offset 0: the file is empty.");
            map = MemoryMappedFile.CreateFromFile(stream, null, 0, MemoryMappedFileAccess.Read, HandleInheritability.None, leaveOpen: false);
            view = map.CreateViewAccessor(0, 0, MemoryMappedFileAccess.Read);
            byte* pointer = null;
            view.SafeMemoryMappedViewHandle.AcquirePointer(ref pointer);
            return new GgufMemory(pointer + view.PointerOffset, length, map, view, default);
        }
        catch
        {
            view?.Dispose();
            if (map != null) map.Dispose();
            else stream.Dispose();
            throw;
        }
    }

    /// <summary>Pins <paramref name="bytes"/> (not copied) for the lifetime of the returned object.</summary>
    public static GgufMemory Pin(byte[] bytes)
    {
        var pin = GCHandle.Alloc(bytes, GCHandleType.Pinned);
        return new GgufMemory((byte*)pin.AddrOfPinnedObject(), bytes.Length, null, null, pin);
    }

    public void Dispose()
    {
        if (_pointer == null) return;
        _pointer = null;
        if (_view != null)
        {
            _view.SafeMemoryMappedViewHandle.ReleasePointer();
            _view.Dispose();
            _view = null;
        }
        _map?.Dispose();
        _map = null;
        if (_pin.IsAllocated) _pin.Free();
    }
}
