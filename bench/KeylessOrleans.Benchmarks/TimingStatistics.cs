namespace KeylessOrleans.Benchmarks;

/// <summary>
/// Two-sample tests for timing leaks: Welch's t-test (do the means differ?) and the two-sample Kolmogorov–Smirnov
/// test (do the distributions differ anywhere?). Both give two-sided p-values; a small p-value says the two samples
/// are unlikely to come from one distribution.
/// </summary>
internal static class TimingStatistics
{
    public readonly record struct Welch(double T, double DegreesOfFreedom, double P);

    public readonly record struct KolmogorovSmirnov(double D, double P);

    public static Welch WelchTTest(ReadOnlySpan<long> a, ReadOnlySpan<long> b)
    {
        var (meanA, varA) = MeanAndVariance(a);
        var (meanB, varB) = MeanAndVariance(b);
        var sa = varA / a.Length;
        var sb = varB / b.Length;
        var t = (meanA - meanB) / Math.Sqrt(sa + sb);
        var df = (sa + sb) * (sa + sb) / (sa * sa / (a.Length - 1) + sb * sb / (b.Length - 1));
        return new Welch(t, df, StudentTwoSidedP(t, df));
    }

    /// <summary>Exact D from the two empirical distribution functions (ties handled); p from the asymptotic Kolmogorov distribution.</summary>
    public static KolmogorovSmirnov KsTest(long[] a, long[] b)
    {
        var x = (long[])a.Clone();
        var y = (long[])b.Clone();
        Array.Sort(x);
        Array.Sort(y);
        int i = 0, j = 0;
        var d = 0.0;
        while (i < x.Length && j < y.Length)
        {
            var v = Math.Min(x[i], y[j]);
            while (i < x.Length && x[i] == v) i++;
            while (j < y.Length && y[j] == v) j++;
            d = Math.Max(d, Math.Abs((double)i / x.Length - (double)j / y.Length));
        }
        var en = Math.Sqrt((double)x.Length * y.Length / (x.Length + y.Length));
        return new KolmogorovSmirnov(d, KolmogorovQ((en + 0.12 + 0.11 / en) * d));
    }

    public static double Median(long[] values) => Percentile(values, 0.5);

    public static double Percentile(long[] values, double q)
    {
        var sorted = (long[])values.Clone();
        Array.Sort(sorted);
        var position = q * (sorted.Length - 1);
        var low = (int)Math.Floor(position);
        var high = Math.Min(low + 1, sorted.Length - 1);
        return sorted[low] + (position - low) * (sorted[high] - sorted[low]);
    }

    public static double Mean(ReadOnlySpan<long> values) => MeanAndVariance(values).Mean;

    private static (double Mean, double Variance) MeanAndVariance(ReadOnlySpan<long> values)
    {
        // Welford's update: no cancellation with large tick counts.
        double mean = 0, m2 = 0;
        for (var k = 0; k < values.Length; k++)
        {
            var delta = values[k] - mean;
            mean += delta / (k + 1);
            m2 += delta * (values[k] - mean);
        }
        return (mean, values.Length > 1 ? m2 / (values.Length - 1) : 0);
    }

    /// <summary>Kolmogorov's survival function Q(λ) = 2 Σ_{j≥1} (−1)^{j−1} e^{−2j²λ²}.</summary>
    internal static double KolmogorovQ(double lambda)
    {
        // The alternating series converges fast for λ of interest; for tiny λ it does not, and Q is 1 there.
        double sum = 0, sign = 2, previous = 0;
        for (var j = 1; j <= 100; j++)
        {
            var term = sign * Math.Exp(-2 * j * j * lambda * lambda);
            sum += term;
            if (Math.Abs(term) <= 1e-3 * previous || Math.Abs(term) <= 1e-8 * sum) return Math.Clamp(sum, 0, 1);
            sign = -sign;
            previous = Math.Abs(term);
        }
        return 1;
    }

    /// <summary>P(|T| ≥ |t|) for Student's t with <paramref name="df"/> degrees of freedom: I_{df/(df+t²)}(df/2, 1/2).</summary>
    internal static double StudentTwoSidedP(double t, double df)
    {
        if (double.IsNaN(t)) return double.NaN;
        return RegularizedIncompleteBeta(df / 2, 0.5, df / (df + t * t));
    }

    /// <summary>I_x(a, b) by its continued fraction (Lentz's method), using the symmetry that makes it converge fast.</summary>
    internal static double RegularizedIncompleteBeta(double a, double b, double x)
    {
        if (x <= 0) return 0;
        if (x >= 1) return 1;
        var logFront = LogGamma(a + b) - LogGamma(a) - LogGamma(b) + a * Math.Log(x) + b * Math.Log(1 - x);
        return x < (a + 1) / (a + b + 2)
            ? Math.Exp(logFront) * BetaContinuedFraction(a, b, x) / a
            : 1 - Math.Exp(logFront) * BetaContinuedFraction(b, a, 1 - x) / b;
    }

    private static double BetaContinuedFraction(double a, double b, double x)
    {
        const double Tiny = 1e-300, Epsilon = 1e-15;
        double qab = a + b, qap = a + 1, qam = a - 1;
        double c = 1, d = 1 - qab * x / qap;
        if (Math.Abs(d) < Tiny) d = Tiny;
        d = 1 / d;
        var h = d;
        for (var m = 1; m <= 100_000; m++)
        {
            var m2 = 2 * m;
            var aa = m * (b - m) * x / ((qam + m2) * (a + m2));
            d = 1 + aa * d; if (Math.Abs(d) < Tiny) d = Tiny;
            c = 1 + aa / c; if (Math.Abs(c) < Tiny) c = Tiny;
            d = 1 / d;
            h *= d * c;
            aa = -(a + m) * (qab + m) * x / ((a + m2) * (qap + m2));
            d = 1 + aa * d; if (Math.Abs(d) < Tiny) d = Tiny;
            c = 1 + aa / c; if (Math.Abs(c) < Tiny) c = Tiny;
            d = 1 / d;
            var delta = d * c;
            h *= delta;
            if (Math.Abs(delta - 1) < Epsilon) return h;
        }
        return h;
    }

    /// <summary>ln Γ(x) for x &gt; 0 (Lanczos, g = 7, 9 terms; ~15 significant digits).</summary>
    internal static double LogGamma(double x)
    {
        ReadOnlySpan<double> coefficients =
        [
            0.99999999999980993, 676.5203681218851, -1259.1392167224028, 771.32342877765313, -176.61502916214059,
            12.507343278686905, -0.13857109526572012, 9.9843695780195716e-6, 1.5056327351493116e-7,
        ];
        if (x < 0.5) return Math.Log(Math.PI / Math.Abs(Math.Sin(Math.PI * x))) - LogGamma(1 - x);
        x -= 1;
        var sum = coefficients[0];
        for (var i = 1; i < coefficients.Length; i++) sum += coefficients[i] / (x + i);
        var t = x + 7.5;
        return 0.5 * Math.Log(2 * Math.PI) + (x + 0.5) * Math.Log(t) - t + Math.Log(sum);
    }

    /// <summary>Known values, checked before any measurement is reported (a wrong p-value would be worse than none).</summary>
    public static void SelfCheck()
    {
        static void Near(double expected, double actual, double tolerance, string what)
        {
            if (Math.Abs(expected - actual) > tolerance) throw new InvalidOperationException($"statistics self-check failed: {what} = {actual}, expected {expected}");
        }
        Near(Math.Log(24), LogGamma(5), 1e-12, "lnΓ(5)");
        Near(0.5 * Math.Log(Math.PI), LogGamma(0.5), 1e-12, "lnΓ(1/2)");
        Near(0.05, StudentTwoSidedP(2.228138852, 10), 1e-7, "t-test p(t=2.228, df=10)");
        Near(0.05, StudentTwoSidedP(1.959963985, 1e7), 1e-6, "t-test p(t=1.96, df=1e7)");
        Near(0.01, StudentTwoSidedP(2.576, 200_000), 2e-5, "t-test p(t=2.576, df=2e5)");
        Near(0.05, KolmogorovQ(1.3581), 1e-4, "Kolmogorov Q(1.358)");
        Near(0.01, KolmogorovQ(1.6276), 1e-4, "Kolmogorov Q(1.628)");
        var same = KsTest([1, 2, 3, 4], [1, 2, 3, 4]);
        Near(0, same.D, 0, "KS D of equal samples");
        var apart = KsTest([1, 2, 3, 4], [5, 6, 7, 8]);
        Near(1, apart.D, 0, "KS D of disjoint samples");
    }
}
