using System.Text;

namespace HybridEngine.Tokenization;

/// <summary>
/// SentencePiece-style BPE (<c>tokenizer.ggml.model = "llama"</c>) as llama.cpp runs it. Spaces become "▁" (U+2581),
/// with one "▁" put in front of text that starts the input or follows a special token when
/// <see cref="Vocabulary.AddSpacePrefix"/>. The text is split into characters; then, repeatedly, the adjacent pair
/// whose concatenation is a token with the highest score (ties: the leftmost) is merged. A final piece that is not a
/// token falls back to one "&lt;0xXX&gt;" token per UTF-8 byte.
/// </summary>
public sealed class SpmTokenizer : Tokenizer
{
    private const char Space = '\u2581';

    public SpmTokenizer(Vocabulary vocabulary) : base(vocabulary, NormalPieceOf)
    {
    }

    private static byte[] NormalPieceOf(string tokenText) => Encoding.UTF8.GetBytes(tokenText.Replace(Space, ' '));

    protected override void EncodeText(string text, bool afterSpecial, List<int> output)
    {
        string escaped = (Vocabulary.AddSpacePrefix && afterSpecial ? " " + text : text).Replace(' ', Space);
        new Session(Vocabulary, escaped, output).Run();
    }

    private readonly record struct Bigram(int Left, int Right, float Score, int Size);

    /// <summary>Highest score first; among equal scores the leftmost pair.</summary>
    private sealed class BigramOrder : IComparer<Bigram>
    {
        public static readonly BigramOrder Instance = new();

        public int Compare(Bigram a, Bigram b)
        {
            int byScore = b.Score.CompareTo(a.Score);
            return byScore != 0 ? byScore : a.Left.CompareTo(b.Left);
        }
    }

    /// <summary>One merge run over one piece of text. Symbols are a linked list of character runs of the text.</summary>
    private sealed class Session
    {
        private readonly Vocabulary _vocabulary;
        private readonly string _text;
        private readonly List<int> _output;
        private readonly int[] _start, _length, _prev, _next;
        private readonly PriorityQueue<Bigram, Bigram> _queue = new(BigramOrder.Instance);
        // Pair text -> the latest pair pushed with that text (llama.cpp's rev_merge), for resegmenting a final piece
        // that is not a token. Keyed by span so that a text seen before costs no allocation.
        private readonly Dictionary<string, (int Left, int Right)> _merges = new(StringComparer.Ordinal);
        private readonly Dictionary<string, (int Left, int Right)>.AlternateLookup<ReadOnlySpan<char>> _mergesBySpan;

        public Session(Vocabulary vocabulary, string text, List<int> output)
        {
            _vocabulary = vocabulary;
            _text = text;
            _output = output;
            _mergesBySpan = _merges.GetAlternateLookup<ReadOnlySpan<char>>();
            _start = new int[text.Length];
            _length = new int[text.Length];
            _prev = new int[text.Length];
            _next = new int[text.Length];
            int count = 0;
            for (int pos = 0; pos < text.Length; count++)
            {
                int units = char.IsHighSurrogate(text[pos]) && pos + 1 < text.Length && char.IsLowSurrogate(text[pos + 1]) ? 2 : 1;
                _start[count] = pos;
                _length[count] = units;
                _prev[count] = count - 1;
                pos += units;
                _next[count] = pos == text.Length ? -1 : count + 1;
            }
            SymbolCount = count;
        }

        private int SymbolCount { get; }

        public void Run()
        {
            if (SymbolCount == 0) return;
            for (int i = 1; i < SymbolCount; i++) TryAddBigram(i - 1, i);
            while (_queue.TryDequeue(out var bigram, out _))
            {
                int left = bigram.Left, right = bigram.Right;
                // Skip pairs made stale by an earlier merge of either side.
                if (_length[left] == 0 || _length[right] == 0 || _length[left] + _length[right] != bigram.Size) continue;
                _length[left] += _length[right];
                _length[right] = 0;
                _next[left] = _next[right];
                if (_next[right] >= 0) _prev[_next[right]] = left;
                TryAddBigram(_prev[left], left);
                TryAddBigram(left, _next[left]);
            }
            for (int i = 0; i != -1; i = _next[i]) Resegment(i);
        }

        private void TryAddBigram(int left, int right)
        {
            if (left < 0 || right < 0) return;
            var text = _text.AsSpan(_start[left], _length[left] + _length[right]);
            if (!_vocabulary.TryGetId(text, out int id)) return;
            var bigram = new Bigram(left, right, _vocabulary.GetScore(id), text.Length);
            _queue.Enqueue(bigram, bigram);
            _mergesBySpan[text] = (left, right);
        }

        private void Resegment(int symbol)
        {
            var text = _text.AsSpan(_start[symbol], _length[symbol]);
            if (_vocabulary.TryGetId(text, out int id))
            {
                _output.Add(id);
                return;
            }
            if (_mergesBySpan.TryGetValue(text, out var pair))
            {
                Resegment(pair.Left);
                Resegment(pair.Right);
                return;
            }
            foreach (byte b in Encoding.UTF8.GetBytes(text.ToString())) _output.Add(ByteToken(b));
        }

        private int ByteToken(byte b)
        {
            if (_vocabulary.TryGetId($"<0x{b:X2}>", out int id)) return id;
            if (b < 0x80 && _vocabulary.TryGetId(((char)b).ToString(), out id)) return id;
            return _vocabulary.Unknown ?? throw new InvalidOperationException(
                $"the vocabulary has no token for byte 0x{b:X2} (no <0x{b:X2}> token) and no unknown token");
        }
    }
}
