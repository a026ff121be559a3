using System.Globalization;
using System.Text;

namespace HybridEngine.Runtime.Streaming;

/// <summary>
/// The experts the routers chose, in the order the runtime requested them (token by token, layer by layer), and the
/// next-layer guesses made along the way: the input for comparing eviction policies offline. Saved as text, one token
/// per line, "layer:expert" pairs separated by spaces; a guess is written "?layer:expert" where it was made (after the
/// requests of the layer whose input it was computed from).
/// </summary>
public sealed class RoutingTrace
{
    private readonly List<(int Layer, int Expert)> _requests = [];
    private readonly List<int> _tokenStarts = [];
    private readonly List<(int At, int Layer, int Expert)> _guesses = [];

    public IReadOnlyList<(int Layer, int Expert)> Requests => _requests;

    /// <summary>Guessed experts; <c>At</c> is the index of the first request made after the guess.</summary>
    public IReadOnlyList<(int At, int Layer, int Expert)> Guesses => _guesses;

    public int Tokens => _tokenStarts.Count;

    /// <summary>Starts a new token (called by the executor before each forward step of one token).</summary>
    public void BeginToken() => _tokenStarts.Add(_requests.Count);

    public void Add(int layer, int expert)
    {
        if (_tokenStarts.Count == 0) BeginToken();
        _requests.Add((layer, expert));
    }

    /// <summary>A guess of the experts <paramref name="layer"/> will choose, made now.</summary>
    public void AddGuess(int layer, ReadOnlySpan<int> experts)
    {
        foreach (int e in experts) _guesses.Add((_requests.Count, layer, e));
    }

    public void Save(string path)
    {
        using var w = new StreamWriter(path);
        var line = new StringBuilder();
        int g = 0;
        for (int t = 0; t < _tokenStarts.Count; t++)
        {
            int end = t + 1 < _tokenStarts.Count ? _tokenStarts[t + 1] : _requests.Count;
            line.Clear();
            for (int i = _tokenStarts[t]; i <= end; i++)
            {
                // Guesses made before request i (those after the last request of the trace go on the last line).
                for (; g < _guesses.Count && _guesses[g].At == i && (i < end || t == _tokenStarts.Count - 1); g++)
                    Append(line, "?", _guesses[g].Layer, _guesses[g].Expert);
                if (i < end) Append(line, "", _requests[i].Layer, _requests[i].Expert);
            }
            w.WriteLine(line.ToString());
        }
    }

    private static void Append(StringBuilder line, string prefix, int layer, int expert)
    {
        if (line.Length > 0) line.Append(' ');
        line.Append(CultureInfo.InvariantCulture, $"{prefix}{layer}:{expert}");
    }

    public static RoutingTrace Load(string path)
    {
        var trace = new RoutingTrace();
        Span<int> one = stackalloc int[1];
        foreach (string line in File.ReadLines(path))
        {
            trace.BeginToken();
            foreach (string text in line.Split(' ', StringSplitOptions.RemoveEmptyEntries))
            {
                bool guess = text.StartsWith('?');
                string pair = guess ? text[1..] : text;
                int colon = pair.IndexOf(':');
                if (colon < 0) throw new FormatException($"{path}: '{text}' is not layer:expert");
                int layer = int.Parse(pair[..colon], CultureInfo.InvariantCulture), expert = int.Parse(pair[(colon + 1)..], CultureInfo.InvariantCulture);
                if (guess) { one[0] = expert; trace.AddGuess(layer, one); }
                else trace.Add(layer, expert);
            }
        }
        return trace;
    }
}
