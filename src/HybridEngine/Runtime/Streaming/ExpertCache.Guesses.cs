namespace HybridEngine.Runtime.Streaming;

// The next-layer guesses of the expert cache: scored against the router's choice (recall) and settled when it comes,
// a right guess moved up to the demand queue, a wrong one dropped before its unread pieces are read.
public sealed partial class ExpertCache
{
    // Recall of the guess made for this layer: the share of the chosen experts it named (duplicates count once).
    private void ScoreGuess(int layer, ReadOnlySpan<int> chosen)
    {
        if (!_guesses.TryGetValue(layer, out var guess) || guess.Length == 0) return;
        for (int i = 0; i < chosen.Length; i++)
        {
            if (chosen[..i].Contains(chosen[i])) continue;
            Counters.GuessedLayerExperts++;
            if (Array.IndexOf(guess, chosen[i]) >= 0) Counters.GuessedCorrectly++;
        }
        _guesses[layer] = [];
    }

    // The router chose the experts of the layer the pending guesses were made for: a right guess's pieces not yet read
    // move up to the demand queue; a wrong one's are dropped, and an expert not fully read leaves the cache (its
    // buffer is freed once the pieces in flight end).
    private void SettleGuesses(int layer, ReadOnlySpan<int> chosen)
    {
        foreach (var entry in _pendingGuesses)
        {
            _guessBytes -= entry.Bytes;
            if (entry.Key.Item1 == layer && chosen.Contains(entry.Key.Item2))
            {
                _queue.Promote(entry);
                continue;
            }
            if (entry.Pins > 0) continue;
            int dropped = _queue.Drop(entry);
            if (dropped == 0) continue;
            Counters.DroppedGuesses++;
            entry.Dropped = true;
            _entries.Remove(entry.Key);
            _policy.OnEvict(EvictionPolicy.Key(entry.Key.Item1, entry.Key.Item2));
            if (Interlocked.Add(ref entry.Remaining, -dropped) == 0) Free(entry);
        }
        _pendingGuesses.Clear();
    }
}
