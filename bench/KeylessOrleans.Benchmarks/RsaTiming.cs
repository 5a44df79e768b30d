using System.Diagnostics;
using System.Security.Cryptography;
using KeylessOrleans.KeyServer.KeyStore;
using KeylessOrleans.KeyServer.KeyStore.Pkcs11;
using KeylessOrleans.TestSupport;
using Microsoft.Extensions.Logging.Abstractions;

namespace KeylessOrleans.Benchmarks;

/// <summary>
/// Timing evidence for RSA premaster decryption (a Bleichenbacher attacker's view from the key store): the time of
/// <see cref="IPrivateKey.DecryptPremaster"/> for good padding and for each kind of bad padding, all kinds
/// interleaved in one random order on one thread, then Welch's t-test and the two-sample Kolmogorov–Smirnov test of
/// each kind against good padding. A control row compares two random halves of the good samples (no difference by
/// construction), to show what p-values look like on this machine when there is nothing to find.
/// </summary>
[System.Runtime.Versioning.SupportedOSPlatform("linux")]
internal static class RsaTiming
{
    private const ushort Tls12 = 0x0303;
    private const int CiphertextsPerKind = 512;

    /// <summary>
    /// Kinds whose difference from good padding would be a leak: only the plaintext's padding differs. Each is a
    /// table label and the <see cref="PremasterCiphertexts"/> kind it measures.
    /// </summary>
    private static readonly (string Label, string Kind)[] SecretKinds =
    [
        ("good padding", PremasterCiphertexts.Good),
        ("first byte 0x01", "first byte 0x01"),
        ("block type 0x01", "block type 0x01"),
        ("no zero separator", "no zero separator"),
        ("separator early (49-byte premaster)", "separator one byte early (premaster of 49 bytes)"),
        ("zero in padding (premaster > 48 bytes)", "zero inside the padding (premaster longer than 48)"),
        ("wrong client version", "wrong client version"),
    ];

    /// <summary>Kinds decided by public facts (length, c ≥ n): they skip the RSA operation, so they are expected to be faster.</summary>
    private static readonly (string Label, string Kind)[] PublicKinds = [("c ≥ n (public)", "c above n"), ("wrong length (public)", "one byte short")];

    public static void Run(int count, string stores, int seed)
    {
        TimingStatistics.SelfCheck();
        Console.WriteLine($"# RSA premaster decryption timing — {DateTime.UtcNow:yyyy-MM-dd HH:mm} UTC, {Environment.ProcessorCount} cores, {count} operations per kind, seed {seed}");
        Console.WriteLine();
        Console.WriteLine($"CPU: {CpuModel()}; .NET {Environment.Version}; {System.Runtime.InteropServices.RuntimeInformation.OSDescription}");
        Console.WriteLine();
        if (stores is "pem" or "both")
        {
            using var key = new RsaPrivateKey(new RSAOpenSsl(2048));
            Measure("PEM key store (RSA-2048 in OpenSSL)", key, count, seed);
        }
        if (stores is "hsm" or "both")
        {
            var token = SoftHsm.Instance.CreateToken($"timing-{Guid.NewGuid():n}"[..16]);
            token.GenerateRsa("timing-rsa");
            using var keys = new Pkcs11KeySet([token.Uri("timing-rsa")], 2, NullLogger<Pkcs11KeySet>.Instance);
            Measure("SoftHSM2 key store (RSA-2048 in the token, CKM_RSA_X_509 + CKM_SHA256_HMAC)", keys.Keys[0], count, seed);
        }
    }

    private static void Measure(string title, IPrivateKey key, int count, int seed)
    {
        var kinds = SecretKinds.Concat(PublicKinds).ToArray();
        var random = new Random(seed);
        var ciphertexts = kinds.Select(kind => Enumerable.Range(0, CiphertextsPerKind).Select(_ => PremasterCiphertexts.Make(key.SubjectPublicKeyInfo, kind.Kind).Ciphertext).ToArray()).ToArray();

        // One schedule of count × kinds operations in random order: drift (other processes, frequency changes)
        // then falls on every kind alike.
        var schedule = new byte[count * kinds.Length];
        for (var i = 0; i < schedule.Length; i++) schedule[i] = (byte)(i % kinds.Length);
        random.Shuffle(schedule);

        var warmUp = Math.Min(2_000, count);
        for (var i = 0; i < warmUp * kinds.Length; i++) key.DecryptPremaster(ciphertexts[i % kinds.Length][i % CiphertextsPerKind], Tls12);

        var samples = kinds.Select(_ => new long[count]).ToArray();
        var filled = new int[kinds.Length];
        var wall = Stopwatch.StartNew();
        for (var i = 0; i < schedule.Length; i++)
        {
            var kind = schedule[i];
            var ciphertext = ciphertexts[kind][random.Next(CiphertextsPerKind)];
            var start = Stopwatch.GetTimestamp();
            key.DecryptPremaster(ciphertext, Tls12);
            samples[kind][filled[kind]++] = Stopwatch.GetTimestamp() - start;
        }
        wall.Stop();

        var nanosPerTick = 1e9 / Stopwatch.Frequency;
        Console.WriteLine($"## {title}");
        Console.WriteLine();
        Console.WriteLine($"{schedule.Length} operations in {wall.Elapsed.TotalSeconds:F0} s; times in µs; Welch p on all samples and on samples at or below the pooled 99th percentile (outliers from other processes cut); KS p on all samples.");
        Console.WriteLine();
        Console.WriteLine("| kind vs good padding | n | median µs | mean µs | p99 µs | Welch t | Welch p | Welch p (≤ p99) | KS D | KS p |");
        Console.WriteLine("|---|---|---|---|---|---|---|---|---|---|");
        var good = samples[0];
        string Micros(double ticks) => (ticks * nanosPerTick / 1000).ToString("F1");
        void Row(string name, long[] a, long[] b, bool first = false)
        {
            var welch = TimingStatistics.WelchTTest(a, b);
            var cut = TimingStatistics.Percentile([.. a, .. b], 0.99);
            var trimmed = TimingStatistics.WelchTTest(a.Where(v => v <= cut).ToArray(), b.Where(v => v <= cut).ToArray());
            var ks = TimingStatistics.KsTest(a, b);
            var stats = first ? "— | — | — | — | —" : $"{welch.T:F2} | {welch.P:G3} | {trimmed.P:G3} | {ks.D:F4} | {ks.P:G3}";
            Console.WriteLine($"| {name} | {a.Length} | {Micros(TimingStatistics.Median(a))} | {Micros(TimingStatistics.Mean(a))} | {Micros(TimingStatistics.Percentile(a, 0.99))} | {stats} |");
        }
        Row("good padding (baseline)", good, good, first: true);
        var shuffled = (long[])good.Clone();
        new Random(seed + 1).Shuffle(shuffled);
        Row("control: good, random half vs other half", shuffled[..(count / 2)], shuffled[(count / 2)..]);
        for (var k = 1; k < kinds.Length; k++) Row(kinds[k].Label, samples[k], good);
        Console.WriteLine();
    }

    private static string CpuModel()
    {
        try
        {
            return File.ReadLines("/proc/cpuinfo").FirstOrDefault(l => l.StartsWith("model name", StringComparison.Ordinal))?.Split(':', 2)[1].Trim() ?? "unknown";
        }
        catch (IOException)
        {
            return "unknown";
        }
    }
}
