using System.Globalization;

namespace HybridEngine.Runtime.Streaming;

/// <summary>
/// The experts the routers chose, in the order the runtime requested them (token by token, layer by layer): the input
/// for comparing eviction policies offline. Saved as text, one token per line, "layer:expert" pairs separated by spaces.
/// </summary>
public sealed class RoutingTrace
{
    private readonly List<(int Layer, int Expert)> _requests = [];
    private readonly List<int> _tokenStarts = [];

    public IReadOnlyList<(int Layer, int Expert)> Requests => _requests;

    public int Tokens => _tokenStarts.Count;

    /// <summary>Starts a new token (called by the executor before each forward step of one token).</summary>
    public void BeginToken() => _tokenStarts.Add(_requests.Count);

    public void Add(int layer, int expert)
    {
        if (_tokenStarts.Count == 0) BeginToken();
        _requests.Add((layer, expert));
    }

    public void Save(string path)
    {
        using var w = new StreamWriter(path);
        for (int t = 0; t < _tokenStarts.Count; t++)
        {
            int end = t + 1 < _tokenStarts.Count ? _tokenStarts[t + 1] : _requests.Count;
            w.WriteLine(string.Join(' ', Enumerable.Range(_tokenStarts[t], end - _tokenStarts[t])
                .Select(i => string.Create(CultureInfo.InvariantCulture, $"{_requests[i].Layer}:{_requests[i].Expert}"))));
        }
    }

    public static RoutingTrace Load(string path)
    {
        var trace = new RoutingTrace();
        foreach (string line in File.ReadLines(path))
        {
            trace.BeginToken();
            foreach (string pair in line.Split(' ', StringSplitOptions.RemoveEmptyEntries))
            {
                int colon = pair.IndexOf(':');
                if (colon < 0) throw new FormatException($"{path}: '{pair}' is not layer:expert");
                trace.Add(int.Parse(pair[..colon], CultureInfo.InvariantCulture), int.Parse(pair[(colon + 1)..], CultureInfo.InvariantCulture));
            }
        }
        return trace;
    }
}
