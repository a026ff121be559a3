using System.Text;

namespace HybridEngine.Tokenization;

/// <summary>
/// GPT-2's reversible byte ↔ character map used by byte-level BPE vocabularies: the 188 printable bytes
/// (<c>!</c>..<c>~</c>, <c>¡</c>..<c>¬</c>, <c>®</c>..<c>ÿ</c>) map to the character with the same code; the other 68
/// bytes (controls, space, 0x7F..0xA0, 0xAD) map in increasing order to U+0100, U+0101, ... So a space is "Ġ"
/// (U+0120) and "\n" is "Ċ" (U+010A). Every mapped character is a single UTF-16 unit.
/// </summary>
internal static class ByteLevel
{
    private static readonly char[] ByteToChar = BuildByteToChar();
    private static readonly Dictionary<char, byte> CharToByte = BuildCharToByte();

    public static char Encode(byte value) => ByteToChar[value];

    public static bool TryDecode(char mapped, out byte value) => CharToByte.TryGetValue(mapped, out value);

    /// <summary>The UTF-8 bytes of <paramref name="text"/>, each replaced by its mapped character.</summary>
    public static string EncodeUtf8(ReadOnlySpan<char> text)
    {
        int byteCount = Encoding.UTF8.GetByteCount(text);
        Span<byte> bytes = byteCount <= 1024 ? stackalloc byte[byteCount] : new byte[byteCount];
        Encoding.UTF8.GetBytes(text, bytes);
        return string.Create(byteCount, bytes.ToArray(), static (chars, b) =>
        {
            for (int i = 0; i < b.Length; i++) chars[i] = ByteToChar[b[i]];
        });
    }

    private static bool IsPrintable(int b) => b is >= 0x21 and <= 0x7E or >= 0xA1 and <= 0xAC or >= 0xAE and <= 0xFF;

    private static char[] BuildByteToChar()
    {
        var map = new char[256];
        int next = 0;
        for (int b = 0; b < 256; b++)
        {
            map[b] = IsPrintable(b) ? (char)b : (char)(256 + next++);
        }
        return map;
    }

    private static Dictionary<char, byte> BuildCharToByte()
    {
        var map = new Dictionary<char, byte>(256);
        for (int b = 0; b < 256; b++) map[ByteToChar[b]] = (byte)b;
        return map;
    }
}
