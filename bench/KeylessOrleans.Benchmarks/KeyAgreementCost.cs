using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using System.Text;
using KeylessOrleans.TestSupport;
using Org.BouncyCastle.Security;
using Org.BouncyCastle.Tls;
using Org.BouncyCastle.Tls.Crypto;
using Org.BouncyCastle.Tls.Crypto.Impl.BC;

namespace KeylessOrleans.Benchmarks;

/// <summary>
/// What a post-quantum hybrid TLS 1.3 handshake costs the edge against x25519 (docs/key-agreement.md). Full TLS 1.3
/// handshakes (ECDSA P-256 certificate, keyless) from BouncyCastle clients in a child process (OpenSSL 3.0's s_time
/// has no ML-KEM), each client offering and sending a share for exactly one group. CPU is this process's (the edge,
/// the key server, the idle in-process edge) per handshake: the key server's and the origin's part is the same for
/// every group, so the differences between rows are the edge's. Bytes are the client's, counted on its socket.
/// </summary>
internal static class KeyAgreementCost
{
    private static readonly int[] Groups = [NamedGroup.x25519, NamedGroup.X25519MLKEM768, NamedGroup.SecP256r1MLKEM768, NamedGroup.secp256r1];

    public static async Task RunAsync(int seconds, int clients)
    {
        using var ca = new TestCertificateAuthority("KeylessOrleans Bench CA");
        using var keys = new TenantKeyFolder(ca, [BenchCluster.Host]);
        await using var origin = new TestOrigin();
        using var identities = new ClusterIdentities("KeylessOrleans Bench cluster CA"); // edge proofs on, as in production
        await using var cluster = await BenchCluster.StartAsync(keys, origin.Port, handshakeThreads: 64, identities: identities);

        Console.WriteLine($"# Key agreement — {DateTime.UtcNow:yyyy-MM-dd HH:mm} UTC, {Environment.ProcessorCount} cores, {clients} BouncyCastle clients in a child process, {Math.Max(1, seconds / 2) * 2} s per row");
        Console.WriteLine();
        Console.WriteLine("| group | handshakes/s | bench-process CPU per handshake | ÷ x25519 | client → edge bytes | edge → client bytes |");
        Console.WriteLine("|---|---|---|---|---|---|");
        for (var i = 0; i < 2; i++)
            foreach (var group in Groups) await MeasureAsync(cluster.KeylessPort, group, 2, clients); // warm-up: JIT, tiering, pools, key server
        // Two-second slices, every group once per round in a rotating order, so drift on a shared machine falls on all alike.
        var totals = Groups.ToDictionary(g => g, _ => (Count: 0L, Cpu: TimeSpan.Zero, Sent: 0L, Received: 0L));
        var rounds = Math.Max(1, seconds / 2);
        for (var round = 0; round < rounds; round++)
        {
            foreach (var group in Groups.Skip(round % Groups.Length).Concat(Groups.Take(round % Groups.Length)))
            {
                var (count, cpu, sent, received) = await MeasureAsync(cluster.KeylessPort, group, 2, clients);
                var t = totals[group];
                totals[group] = (t.Count + count, t.Cpu + cpu, t.Sent + sent, t.Received + received);
            }
        }
        var baseline = totals[Groups[0]].Cpu.TotalMicroseconds / totals[Groups[0]].Count;
        foreach (var group in Groups)
        {
            var (count, cpu, sent, received) = totals[group];
            var perHandshake = cpu.TotalMicroseconds / count;
            Console.WriteLine($"| {NamedGroup.GetName(group)} | {count / (rounds * 2.0):0} | {perHandshake:0} µs | {perHandshake / baseline:0.00} | {sent / count:0} | {received / count:0} |");
        }
        Console.WriteLine();
        Console.WriteLine($"CPU: all of this process (edge, key server, Orleans, the cluster's background work) over the slices. Bytes: the whole handshake as the client's socket saw it (ClientHello to client Finished, no application data).");
    }

    private static async Task<(long Count, TimeSpan Cpu, long Sent, long Received)> MeasureAsync(int port, int group, int seconds, int clients)
    {
        var (file, prefix) = Environment.ProcessPath is { } path && !Path.GetFileNameWithoutExtension(path).Equals("dotnet", StringComparison.OrdinalIgnoreCase)
            ? (path, Array.Empty<string>())
            : ("dotnet", [typeof(KeyAgreementCost).Assembly.Location]);
        var cpuBefore = Process.GetCurrentProcess().TotalProcessorTime;
        var result = await ExternalTool.RunAsync(file, [.. prefix, "--key-agreement-client", $"{port}", $"{group}", $"{seconds}", $"{clients}"],
            timeout: TimeSpan.FromSeconds(seconds + 60));
        var cpu = Process.GetCurrentProcess().TotalProcessorTime - cpuBefore;
        var numbers = result.Output.Split(' ', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
        if (result.ExitCode != 0 || numbers.Length != 3 || long.Parse(numbers[0]) == 0)
            throw new InvalidOperationException($"client for {NamedGroup.GetName(group)} failed:\n{result.All}");
        return (long.Parse(numbers[0]), cpu, long.Parse(numbers[1]), long.Parse(numbers[2]));
    }

    /// <summary>The child process: full handshakes for <paramref name="seconds"/>; prints "handshakes sent received".</summary>
    public static int RunClient(int port, int group, int seconds, int clients)
    {
        long count = 0, sent = 0, received = 0;
        var until = Stopwatch.GetTimestamp() + (long)(seconds * (double)Stopwatch.Frequency);
        var crypto = new BcTlsCrypto(new SecureRandom());
        var threads = Enumerable.Range(0, clients).Select(_ => new Thread(() =>
        {
            while (Stopwatch.GetTimestamp() < until)
            {
                using var socket = new Socket(SocketType.Stream, ProtocolType.Tcp) { NoDelay = true };
                socket.Connect(IPAddress.Loopback, port);
                var counted = new CountingStream(new NetworkStream(socket, ownsSocket: false));
                var protocol = new TlsClientProtocol(counted);
                protocol.Connect(new OneGroupClient(crypto, group));
                protocol.Close();
                Interlocked.Increment(ref count);
                Interlocked.Add(ref sent, counted.BytesWritten);
                Interlocked.Add(ref received, counted.BytesRead);
            }
        })).ToList();
        threads.ForEach(t => t.Start());
        threads.ForEach(t => t.Join());
        Console.WriteLine($"{count} {sent} {received}");
        return 0;
    }

    private sealed class OneGroupClient(TlsCrypto crypto, int group) : DefaultTlsClient(crypto)
    {
        protected override ProtocolVersion[] GetSupportedVersions() => ProtocolVersion.TLSv13.Only();

        protected override IList<int> GetSupportedGroups(IList<int> namedGroupRoles) => [group];

        public override IList<int> GetEarlyKeyShareGroups() => [group];

        protected override IList<ServerName> GetSniServerNames() => [new(NameType.host_name, Encoding.ASCII.GetBytes(BenchCluster.Host))];

        public override TlsAuthentication GetAuthentication() => new AnyServer();
    }

    /// <summary>A benchmark of key agreement: the certificate is checked by the tests, not here.</summary>
    private sealed class AnyServer : TlsAuthentication
    {
        public void NotifyServerCertificate(TlsServerCertificate serverCertificate)
        {
        }

        public TlsCredentials? GetClientCredentials(CertificateRequest certificateRequest) => null;
    }

    private sealed class CountingStream(Stream inner) : Stream
    {
        public long BytesRead { get; private set; }
        public long BytesWritten { get; private set; }

        public override int Read(byte[] buffer, int offset, int count)
        {
            var n = inner.Read(buffer, offset, count);
            BytesRead += n;
            return n;
        }

        public override void Write(byte[] buffer, int offset, int count)
        {
            inner.Write(buffer, offset, count);
            BytesWritten += count;
        }

        public override void Flush() => inner.Flush();
        public override bool CanRead => true;
        public override bool CanSeek => false;
        public override bool CanWrite => true;
        public override long Length => throw new NotSupportedException();
        public override long Position { get => throw new NotSupportedException(); set => throw new NotSupportedException(); }
        public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();
        public override void SetLength(long value) => throw new NotSupportedException();

        protected override void Dispose(bool disposing)
        {
            if (disposing) inner.Dispose();
            base.Dispose(disposing);
        }
    }
}
