namespace HybridEngine.Planning;

/// <summary>
/// Expected hit rate of the RAM expert cache, by Che's approximation for an LRU cache under the independent reference
/// model. Each streamed expert i is requested with probability λᵢ per token (expertsUsed × its share of the layer's
/// routings) and occupies sᵢ bytes. An LRU cache of C bytes behaves as if every item stayed for a common
/// "characteristic time" T after its last request, where T solves Σᵢ sᵢ·(1 − e^(−λᵢT)) = C; item i is then found in
/// the cache with probability hᵢ = 1 − e^(−λᵢT). The model ignores temporal locality (real routing repeats experts in
/// nearby tokens more than independent draws would), so it understates what a frequency-aware policy reaches; the
/// prediction errs on the safe side. With uniform popularity it gives hit ≈ C / Σsᵢ, as it should.
/// </summary>
public static class ExpertCacheModel
{
    /// <summary>Hit probability of every item; all 1 when everything requested fits.</summary>
    /// <param name="rates">λᵢ, requests per token (≥ 0).</param>
    /// <param name="sizes">sᵢ, bytes.</param>
    /// <param name="capacity">C, bytes.</param>
    public static double[] HitProbabilities(ReadOnlySpan<double> rates, ReadOnlySpan<long> sizes, long capacity)
    {
        var hits = new double[rates.Length];
        double requested = 0;
        for (int i = 0; i < rates.Length; i++) if (rates[i] > 0) requested += sizes[i];
        if (requested <= capacity)
        {
            for (int i = 0; i < rates.Length; i++) hits[i] = rates[i] > 0 ? 1 : 0;
            return hits;
        }
        if (capacity <= 0) return hits;

        // Occupancy(T) rises monotonically from 0 to `requested` > C, so bisection finds the one root.
        double lo = 0, hi = 1;
        while (Occupancy(rates, sizes, hi) < capacity && hi < 1e18) hi *= 2;
        for (int iteration = 0; iteration < 200 && hi - lo > 1e-12 * hi; iteration++)
        {
            double mid = 0.5 * (lo + hi);
            if (Occupancy(rates, sizes, mid) < capacity) lo = mid;
            else hi = mid;
        }
        double t = 0.5 * (lo + hi);
        for (int i = 0; i < rates.Length; i++) hits[i] = OneMinusExp(rates[i] * t);
        return hits;
    }

    private static double Occupancy(ReadOnlySpan<double> rates, ReadOnlySpan<long> sizes, double t)
    {
        double bytes = 0;
        for (int i = 0; i < rates.Length; i++) bytes += sizes[i] * OneMinusExp(rates[i] * t);
        return bytes;
    }

    /// <summary>1 − e^(−x) without cancellation for small x (series to x³).</summary>
    private static double OneMinusExp(double x) => x < 1e-4 ? x * (1 - x / 2 * (1 - x / 3)) : 1 - Math.Exp(-x);
}
