using System.Text;

namespace HybridEngine.Tokenization;

/// <summary>
/// Byte-level BPE (<c>tokenizer.ggml.model = "gpt2"</c>) as llama.cpp runs it. The <see cref="PreTokenizer"/> splits
/// the text into words; each word's UTF-8 bytes are written as GPT-2 characters (<see cref="ByteLevel"/>); then,
/// repeatedly, the adjacent pair with the lowest merge rank (its index in <c>tokenizer.ggml.merges</c>; ties: the
/// leftmost) is merged. With <see cref="Vocabulary.IgnoreMerges"/> a word that is already a token is taken whole.
/// </summary>
public sealed class BpeTokenizer : Tokenizer
{
    private readonly Dictionary<string, int> _ranks;
    private readonly Dictionary<string, int>.AlternateLookup<ReadOnlySpan<char>> _ranksBySpan;

    /// <param name="merges">"left right" pairs, highest priority first.</param>
    public BpeTokenizer(Vocabulary vocabulary, IReadOnlyList<string> merges) : base(vocabulary, NormalPieceOf)
    {
        PreTokenizer = PreTokenizer.ForName(vocabulary.PreTokenizer);
        _ranks = new Dictionary<string, int>(merges.Count, StringComparer.Ordinal);
        for (int rank = 0; rank < merges.Count; rank++)
        {
            string merge = merges[rank];
            int space = merge.Length > 1 ? merge.IndexOf(' ', 1) : -1;
            if (space > 0) _ranks.TryAdd(merge, rank); // the first listing of a pair wins, as in llama.cpp
        }
        _ranksBySpan = _ranks.GetAlternateLookup<ReadOnlySpan<char>>();
    }

    public PreTokenizer PreTokenizer { get; }

    public int MergeCount => _ranks.Count;

    /// <summary>Decodes GPT-2 characters back to bytes; a character outside the map shows as "[UNK_BYTE_0x…]" like llama.cpp.</summary>
    private static byte[] NormalPieceOf(string tokenText)
    {
        var bytes = new List<byte>(tokenText.Length);
        foreach (var rune in tokenText.EnumerateRunes())
        {
            if (rune.IsBmp && ByteLevel.TryDecode((char)rune.Value, out byte b))
            {
                bytes.Add(b);
                continue;
            }
            var utf8 = Encoding.UTF8.GetBytes(rune.ToString());
            bytes.AddRange(Encoding.UTF8.GetBytes("[UNK_BYTE_0x" + Convert.ToHexStringLower(utf8) + tokenText + "]"));
        }
        return bytes.ToArray();
    }

    protected override void EncodeText(string text, bool afterSpecial, List<int> output)
    {
        var key = new char[256]; // scratch for "left right" merge keys, grown on demand
        foreach (string word in PreTokenizer.Split(text))
        {
            string mapped = ByteLevel.EncodeUtf8(word);
            if (Vocabulary.IgnoreMerges && Vocabulary.TryGetId(mapped, out int whole))
            {
                output.Add(whole);
                continue;
            }
            MergeWord(mapped, output, ref key);
        }
    }

    private readonly record struct Bigram(int Left, int Right, int Rank, int Size);

    /// <summary>Lowest rank first; among equal ranks the leftmost pair.</summary>
    private sealed class BigramOrder : IComparer<Bigram>
    {
        public static readonly BigramOrder Instance = new();

        public int Compare(Bigram a, Bigram b) => a.Rank != b.Rank ? a.Rank.CompareTo(b.Rank) : a.Left.CompareTo(b.Left);
    }

    /// <summary>Runs the merges over one word; symbols are a linked list of runs of the word, one character each at first.</summary>
    private void MergeWord(string word, List<int> output, ref char[] key)
    {
        int n = word.Length;
        var length = new int[n];
        var prev = new int[n];
        var next = new int[n];
        for (int i = 0; i < n; i++)
        {
            length[i] = 1;
            prev[i] = i - 1;
            next[i] = i + 1 < n ? i + 1 : -1;
        }
        var queue = new PriorityQueue<Bigram, Bigram>(BigramOrder.Instance);
        for (int i = 1; i < n; i++) AddBigram(i - 1, i, ref key);
        while (queue.TryDequeue(out var bigram, out _))
        {
            int left = bigram.Left, right = bigram.Right;
            if (length[left] == 0 || length[right] == 0 || length[left] + length[right] != bigram.Size) continue; // stale
            length[left] += length[right];
            length[right] = 0;
            next[left] = next[right];
            if (next[right] >= 0) prev[next[right]] = left;
            AddBigram(prev[left], left, ref key);
            AddBigram(left, next[left], ref key);
        }
        for (int i = 0; i != -1 && n > 0; i = next[i])
        {
            var piece = word.AsSpan(i, length[i]);
            if (Vocabulary.TryGetId(piece, out int id))
            {
                output.Add(id);
                continue;
            }
            // llama.cpp's fallback looks up each byte of the piece alone; only ASCII characters can succeed.
            foreach (char c in piece)
            {
                if (c < 0x80 && Vocabulary.TryGetId(c.ToString(), out int single)) output.Add(single);
            }
        }

        void AddBigram(int left, int right, ref char[] key)
        {
            if (left < 0 || right < 0) return;
            int size = length[left] + length[right];
            if (size + 1 > key.Length) key = new char[Math.Max(size + 1, key.Length * 2)];
            // Symbols are contiguous in the word: the pair is word[left .. left + size), with a space between the halves.
            word.AsSpan(left, length[left]).CopyTo(key);
            key[length[left]] = ' ';
            word.AsSpan(right, length[right]).CopyTo(key.AsSpan(length[left] + 1));
            if (!_ranksBySpan.TryGetValue(key.AsSpan(0, size + 1), out int rank)) return;
            var bigram = new Bigram(left, right, rank, size);
            queue.Enqueue(bigram, bigram);
        }
    }
}
