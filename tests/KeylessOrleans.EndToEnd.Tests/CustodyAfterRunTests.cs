using System.Diagnostics;
using System.Net.Sockets;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using KeylessOrleans.TestSupport;
using Xunit.Abstractions;

namespace KeylessOrleans.EndToEnd.Tests;

/// <summary>
/// Key custody after a whole run of real processes clustered through Redis: `keyless edge`, `keyless keyserver`,
/// an origin, good handshakes of every kind the edge does (TLS 1.2 RSA key exchange, TLS 1.2 ECDHE with the RSA
/// and the ECDSA key, resumption, TLS 1.3) and bad ones (unknown name, garbage, plaintext, refused suite and
/// version, a crashed key server). Afterwards no process output, Redis key or value, or file the processes wrote
/// holds a private key or any premaster, master or traffic secret of the run.
/// (The in-memory <c>KeyCustodyTests</c> cover grain messages; this covers what is left behind on disk and in Redis.)
/// </summary>
public sealed class CustodyAfterRunTests : IDisposable
{
    private const string Host = "shop.custody.test";
    private readonly TempDirectory _state = new("keyless-custody");         // where the processes may write: Redis, TMPDIR
    private readonly TempDirectory _client = new("keyless-custody-client"); // the client's side: key log, sessions, CA
    private readonly TestCertificateAuthority _ca = new();
    private readonly TenantKeyFolder _keys;
    private readonly ITestOutputHelper _output;

    public CustodyAfterRunTests(ITestOutputHelper output)
    {
        _output = output;
        _keys = new TenantKeyFolder(_ca, [Host]);
    }

    [Fact]
    public async Task After_a_run_no_output_redis_value_or_written_file_holds_a_private_key_or_tls_secret()
    {
        var clock = Stopwatch.StartNew();
        void Step(string what) => _output.WriteLine($"[{clock.Elapsed.TotalSeconds,5:0.0} s] {what}");
        var started = DateTime.UtcNow;
        int redisPort = KeylessProcess.FreePort(), originPort = KeylessProcess.FreePort(), httpsPort = KeylessProcess.FreePort();
        var redisEndpoint = $"127.0.0.1:{redisPort}";
        var redisDir = Directory.CreateDirectory(Path.Combine(_state.Path, "redis")).FullName;
        var environment = new Dictionary<string, string>
        {
            ["TMPDIR"] = Directory.CreateDirectory(Path.Combine(_state.Path, "tmp")).FullName,
            // As verbose as an operator chasing a handshake problem would make it.
            ["Logging__LogLevel__KeylessOrleans"] = "Trace",
            ["Logging__LogLevel__Orleans"] = "Information",
            // Silos on one machine over Redis, without cluster TLS (this test is about custody, not the links).
            ["KEYLESS__CLUSTER__ALLOWPLAINTEXTMULTIHOST"] = "true",
        };
        var tenants = _state.Write("tenants.json", JsonSerializer.Serialize(new
        {
            tenants = new[] { new { tenant = "shop", hostNames = new[] { Host }, origin = new { host = "127.0.0.1", port = originPort }, allowRsaKeyExchange = true } },
        }));
        var caFile = _client.Write("ca.pem", PemEncoding.WriteString("CERTIFICATE", _ca.Certificate.RawData));
        var keyLog = Path.Combine(_client.Path, "keys.log");
        var session = Path.Combine(_client.Path, "session.pem");
        string[] cluster = ["--clustering", "redis", "--redis", redisEndpoint, "--advertise", "127.0.0.1"];

        // Appendonly, as deploy/ runs it: the AOF files are among what is scanned.
        await using var redis = KeylessProcess.StartProgram("redis-server",
            ["--port", $"{redisPort}", "--bind", "127.0.0.1", "--dir", redisDir, "--save", "", "--appendonly", "yes"], null);
        await redis.WaitForLineAsync("Ready to accept connections", TimeSpan.FromSeconds(30));
        await using var origin = KeylessProcess.Start(environment, "origin", "--listen", $"127.0.0.1:{originPort}");
        await using var edge = KeylessProcess.Start(environment, ["edge", "--shared-cluster", .. cluster, "--silo-port", $"{KeylessProcess.FreePort()}",
            "--gateway-port", $"{KeylessProcess.FreePort()}", "--https-port", $"{httpsPort}", "--tenants", tenants, "--edge-id", "custody-edge"]);
        await using var keyServer = KeylessProcess.Start(environment, ["keyserver", "--shared-cluster", .. cluster, "--tenant", "shop", "--keys", _keys.Path,
            "--silo-port", $"{KeylessProcess.FreePort()}"]);
        var processes = new (string Name, KeylessProcess Process)[] { ("redis", redis), ("origin", origin), ("edge", edge), ("keyserver", keyServer) };

        Task<ExternalTool.Result> SClient(params string[] options) => ExternalTool.RunAsync("openssl",
            ["s_client", "-connect", $"127.0.0.1:{httpsPort}", "-CAfile", caFile, "-keylogfile", keyLog, "-ign_eof", .. options],
            standardInput: $"GET / HTTP/1.1\r\nHost: {Host}\r\nConnection: close\r\n\r\n");

        try
        {
            await edge.WaitForLineAsync("Edge listening for TLS", TimeSpan.FromSeconds(60));
            await keyServer.WaitForLineAsync("Loaded 2 keys", TimeSpan.FromSeconds(60));
            Assert.True(await Poll.UntilAsync(async () => (await SClient("-servername", Host, "-tls1_3")).Output.Contains("HTTP/1.1 200 OK")
                && processes.All(p => !p.Process.HasExited), TimeSpan.FromSeconds(60)), "the edge never served the tenant");
            Step("cluster on Redis serves");

            // Every kind of handshake the edge completes, each with a request so application data flows.
            var rsaKeyExchange = await SClient("-servername", Host, "-tls1_2", "-cipher", "AES128-GCM-SHA256");
            var handshakes = new[]
            {
                rsaKeyExchange,
                await SClient("-servername", Host, "-tls1_2", "-cipher", "AES256-GCM-SHA384"),
                await SClient("-servername", Host, "-tls1_2", "-cipher", "ECDHE-RSA-AES128-GCM-SHA256"),
                await SClient("-servername", Host, "-tls1_2", "-cipher", "ECDHE-ECDSA-AES256-GCM-SHA384", "-sess_out", session),
                await SClient("-servername", Host, "-tls1_2", "-cipher", "ECDHE-ECDSA-AES256-GCM-SHA384", "-sess_in", session),
                await SClient("-servername", Host, "-tls1_3"),
                await SClient("-servername", Host, "-tls1_3", "-sigalgs", "rsa_pss_rsae_sha256"),
            };
            foreach (var handshake in handshakes)
            {
                Assert.True(handshake.Output.Contains("HTTP/1.1 200 OK") && handshake.Output.Contains("Verify return code: 0 (ok)"), handshake.All);
            }
            Assert.Contains("New, TLSv1.2, Cipher is AES128-GCM-SHA256", rsaKeyExchange.Output);
            Assert.Contains("Reused, TLSv1.2", handshakes[4].Output);
            Step($"{handshakes.Length} good handshakes");

            // Error paths, which is where secrets tend to slip into exception text.
            Assert.Contains("alert number 112", (await SClient("-servername", "nobody.custody.test", "-tls1_3")).All);
            Assert.Contains("alert number 40", (await SClient("-servername", Host, "-tls1_2", "-cipher", "ECDHE-RSA-AES128-SHA256")).All);
            Assert.NotEqual(0, (await SClient("-servername", Host, "-tls1_1", "-cipher", "DEFAULT@SECLEVEL=0")).ExitCode);
            await SendRawAsync(httpsPort, RandomNumberGenerator.GetBytes(1024));
            await SendRawAsync(httpsPort, Encoding.ASCII.GetBytes($"GET / HTTP/1.1\r\nHost: {Host}\r\n\r\n"));
            keyServer.Crash();
            await keyServer.WaitForExitAsync(TimeSpan.FromSeconds(10));
            Assert.Contains("alert number 80", (await SClient("-servername", Host, "-tls1_3")).All);
            Assert.Contains("alert number 80", (await SClient("-servername", Host, "-tls1_2", "-cipher", "AES128-GCM-SHA256")).All);
            await edge.WaitForLineAsync("key_Unavailable", TimeSpan.FromSeconds(10));
            Step("bad handshakes, key server crashed");

            // The edge leaves the cluster (membership written to Redis), then everything Redis holds is read.
            await edge.DisposeAsync();
            await origin.DisposeAsync();
            var redisEntries = await RedisContents.ReadAllAsync(redisEndpoint);
            await redis.DisposeAsync(); // flushes the AOF
            Step($"stopped; {redisEntries.Count} Redis keys read");

            // What the run left behind.
            var sources = new List<(string Name, byte[] Bytes)>();
            sources.AddRange(processes.Select(p => ($"{p.Name} output", Encoding.UTF8.GetBytes(p.Process.Output))));
            sources.AddRange(redisEntries.Select(e => (e.Key, e.Bytes)));
            var files = WrittenFiles(_state.Path, DateTime.MinValue).Concat(WrittenFiles(AppContext.BaseDirectory, started)).ToList();
            sources.AddRange(files);

            // What must not be in it: the tenant's private keys in every encoding, and every secret of the run.
            var scanner = new SecretScanner();
            foreach (var key in _keys.AllKeys)
            {
                for (var i = 0; i < key.Secrets.Count; i++) scanner.AddSecret($"{key.Kind} private value {i}", key.Secrets[i]);
                scanner.AddSecret($"{key.Kind} PKCS#8", key.Pkcs8);
                scanner.AddSecret($"{key.Kind} PEM DER ({key.PemLabel})", key.PemDer);
                foreach (var line in key.Pem.Split('\n').Where(l => l.Length >= SecretScanner.MinimumSecretLength && !l.StartsWith("-----", StringComparison.Ordinal)))
                    scanner.AddText($"{key.Kind} PEM line", line);
            }
            var secrets = TlsKeyLog.Read(keyLog);
            foreach (var (secret, i) in secrets.Select((s, i) => (s, i))) scanner.AddSecret($"{secret.Label} #{i}", secret.Value);

            // The hunt is real: the key log has the secrets the handshakes above must have made (RSA premasters are
            // 48 bytes starting with the TLS 1.2 version), the scanner finds a master secret where openssl printed it
            // and a key planted in a fake log line, and Redis held the tenant's registry state.
            var premasters = secrets.Where(s => s.IsPremaster).ToList();
            Assert.True(premasters.Count >= 2 && premasters.All(p => p.Value.Length == 48 && p.Value[0] == 3 && p.Value[1] == 3), $"{premasters.Count} RSA premasters in the key log");
            Assert.True(secrets.Count(s => s.IsTls12MasterSecret) >= 5, "TLS 1.2 master secrets missing from the key log");
            Assert.True(secrets.Count(s => s.Label.Contains("TRAFFIC_SECRET")) >= 8, "TLS 1.3 traffic secrets missing from the key log");
            Assert.Contains(scanner.Scan("openssl output", rsaKeyExchange.Output), hit => hit.Secret.StartsWith("CLIENT_RANDOM") && hit.Form == "HEX");
            Assert.Contains(scanner.Scan("planted", "audit: blob=" + Convert.ToBase64String([7, .. _keys.Rsa.Pkcs8]) + " end"), hit => hit.Form == "base64+1");
            Assert.Contains(redisEntries, e => e.Bytes.AsSpan().IndexOf(Encoding.UTF8.GetBytes(Host)) >= 0);
            Assert.Contains("unrecognized_name", edge.Output);
            Assert.Contains("done for shop", keyServer.Output); // the key server's Debug-level per-operation line: verbose logging was on
            // The registry grain state holds the certificates, base64 inside JSON at whatever alignment: the same hunt
            // finds their public keys, in Redis and in its append-only file, as it would find a private key stored so.
            var publicKeys = new SecretScanner();
            foreach (var key in _keys.AllKeys) publicKeys.AddSecret($"{key.Kind} public key", key.SubjectPublicKeyInfo);
            var publicHits = redisEntries.SelectMany(e => publicKeys.Scan(e.Key, e.Bytes)).Concat(files.SelectMany(f => publicKeys.Scan(f.Name, f.Bytes))).ToList();
            foreach (var hit in publicHits) _output.WriteLine($"control: {hit}");
            foreach (var key in _keys.AllKeys)
            {
                Assert.Contains(publicHits, h => h.Secret.StartsWith(key.Kind) && h.Source.StartsWith("redis"));
                Assert.Contains(publicHits, h => h.Secret.StartsWith(key.Kind) && h.Source.EndsWith(".aof"));
            }

            var hits = sources.SelectMany(s => scanner.Scan(s.Name, s.Bytes)).ToList();
            _output.WriteLine($"scanned {sources.Count} sources ({sources.Sum(s => s.Bytes.Length):N0} bytes: {processes.Length} process outputs, " +
                $"{redisEntries.Count} Redis keys, {files.Count} written files) for {scanner.SecretCount} secrets ({_keys.AllKeys.Count()} private keys; " +
                $"{secrets.Count} TLS secrets: {premasters.Count} premasters, {secrets.Count(s => s.IsTls12MasterSecret)} master secrets, " +
                $"{secrets.Count(s => !s.IsPremaster && !s.IsTls12MasterSecret)} TLS 1.3 secrets) in {scanner.NeedleCount} forms");
            foreach (var file in files) _output.WriteLine($"  {file.Name} ({file.Bytes.Length} bytes)");
            Assert.True(hits.Count == 0, "secrets found:\n" + string.Join('\n', hits));
            Step("scan done");
        }
        catch
        {
            foreach (var (name, process) in processes) _output.WriteLine($"--- {name} output ---\n{process.Output}");
            throw;
        }
    }

    /// <summary>Non-empty files under <paramref name="root"/> written since <paramref name="since"/>.</summary>
    private static IEnumerable<(string Name, byte[] Bytes)> WrittenFiles(string root, DateTime since) =>
        new DirectoryInfo(root).EnumerateFiles("*", SearchOption.AllDirectories)
            // Size 0 also rules out the runtime's debugger FIFOs and diagnostics socket in TMPDIR (a crashed process
            // leaves them): opening a FIFO would block for ever.
            .Where(file => file.LastWriteTimeUtc >= since && file.LinkTarget is null && file.Length > 0)
            .Select(file => ($"file {file.FullName}", File.ReadAllBytes(file.FullName)));

    /// <summary>Bytes that are no TLS client's, straight to the TLS port; waits until the edge hangs up.</summary>
    private static async Task SendRawAsync(int port, byte[] bytes)
    {
        using var socket = new Socket(SocketType.Stream, ProtocolType.Tcp);
        await socket.ConnectAsync("127.0.0.1", port);
        await socket.SendAsync(bytes);
        using var limit = new CancellationTokenSource(TimeSpan.FromSeconds(10));
        var buffer = new byte[4096];
        try
        {
            while (await socket.ReceiveAsync(buffer, limit.Token) > 0) { }
        }
        catch (SocketException)
        {
            // reset by the edge: hung up all the same
        }
    }

    public void Dispose()
    {
        _keys.Dispose();
        _ca.Dispose();
        _client.Dispose();
        _state.Dispose();
    }
}
