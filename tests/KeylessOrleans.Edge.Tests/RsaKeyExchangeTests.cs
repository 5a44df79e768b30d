using System.Net;
using System.Net.Sockets;
using System.Security.Cryptography;
using KeylessOrleans.Edge.KeyAccess;
using KeylessOrleans.Keys;
using KeylessOrleans.TestSupport;
using Microsoft.Extensions.DependencyInjection;

namespace KeylessOrleans.Edge.Tests;

/// <summary>
/// TLS 1.2 RSA key exchange with the premaster kept on the key server: real clients complete it with and without
/// extended master secret, and an authorized edge that replays a real client's recorded key exchange learns nothing
/// that opens the recorded session.
/// </summary>
public sealed class RsaKeyExchangeTests(EdgeFixture edge) : IClassFixture<EdgeFixture>
{
    private const string Tls12Rsa = "NORMAL:-VERS-ALL:+VERS-TLS1.2:-KX-ALL:+RSA";

    [Theory]
    [InlineData("AES128-GCM-SHA256")]
    [InlineData("AES256-GCM-SHA384")] // the SHA-384 PRF
    public async Task Openssl_completes_an_rsa_key_exchange_with_extended_master_secret(string suite)
    {
        var result = await edge.SClientAsync(EdgeFixture.Host, "-tls1_2", "-cipher", suite);

        Assert.True(result.ExitCode == 0, result.All);
        Assert.Contains($"New, TLSv1.2, Cipher is {suite}", result.Output);
        Assert.Contains("Extended master secret: yes", result.Output);
        Assert.Contains(TestOrigin.Body, result.Output);
    }

    [Theory]
    [InlineData(Tls12Rsa)]
    [InlineData(Tls12Rsa + ":%NO_SESSION_HASH")] // no extended master secret: the randoms seed the master secret
    public async Task Gnutls_completes_an_rsa_key_exchange_with_and_without_extended_master_secret(string priority)
    {
        var result = await ExternalTool.RunAsync("gnutls-cli",
            ["--x509cafile", edge.CaFile, "-p", edge.EdgeEndPoint.Port.ToString(), "--sni-hostname", EdgeFixture.Host,
             "--verify-hostname", EdgeFixture.Host, "--priority", priority, "-V", "127.0.0.1"],
            standardInput: $"GET / HTTP/1.1\r\nHost: {EdgeFixture.Host}\r\nConnection: close\r\n\r\n");

        Assert.Contains("Handshake was completed", result.All);
        Assert.Contains("(RSA)-(AES-", result.All);
        Assert.Equal(!priority.Contains("NO_SESSION_HASH"), result.All.Contains("Extended Master Secret", StringComparison.OrdinalIgnoreCase));
        Assert.Contains(TestOrigin.Body, result.Output);
    }

    [Fact]
    public async Task Curl_completes_an_rsa_key_exchange()
    {
        var result = await ExternalTool.RunAsync("curl",
            ["-sS", "--max-time", "10", "--cacert", edge.CaFile, "--tls-max", "1.2", "--ciphers", "AES128-GCM-SHA256", "-w", "%{http_code}",
             "--resolve", $"{EdgeFixture.Host}:{edge.EdgeEndPoint.Port}:127.0.0.1", $"https://{EdgeFixture.Host}:{edge.EdgeEndPoint.Port}/"]);

        Assert.True(result.ExitCode == 0, result.All);
        Assert.Contains(TestOrigin.Body, result.Output);
    }

    [Fact]
    public async Task An_edge_replaying_a_real_clients_recorded_key_exchange_learns_nothing_that_opens_it()
    {
        using var files = new TempDirectory("keyless-rsa-replay");
        var keyLog = Path.Combine(files.Path, "keys.log");
        await using var relay = new RecordingRelay(edge.EdgeEndPoint);
        var client = await ExternalTool.RunAsync("openssl",
            ["s_client", "-connect", relay.EndPoint.ToString(), "-servername", EdgeFixture.Host, "-CAfile", edge.CaFile, "-verify_return_error",
             "-ign_eof", "-tls1_2", "-cipher", "AES128-GCM-SHA256", "-keylogfile", keyLog],
            standardInput: $"GET / HTTP/1.1\r\nHost: {EdgeFixture.Host}\r\nConnection: close\r\n\r\n");
        Assert.True(client.ExitCode == 0, client.All);
        Assert.Contains("Extended master secret: yes", client.Output);
        var recorded = relay.Recorded();
        var masterSecret = RecordedMasterSecret(keyLog, recorded.ClientRandom);

        var keys = edge.EdgeServices.GetRequiredService<KeyServerClient>(); // an edge the tenant authorized, turned hostile
        Task<KeyOperationResult> Ask(RsaKeyExchange exchange) => keys.PerformAsync(edge.Acme.Replica,
            new DeriveMasterSecretRequest(keys.Context("acme", edge.AcmeKeys.RsaKeyId, EdgeFixture.Host, "192.0.2.66"), exchange));

        // The recorded ciphertext under fresh randoms: a master secret, but not the recorded session's.
        var fresh = await Ask(RsaKeyExchanges.Fresh(recorded.Ciphertext, recorded.ClientVersion));
        Assert.True(fresh.IsOk, fresh.Detail);
        Assert.NotEqual(masterSecret, fresh.Output);

        // The recorded randoms: the server_random was served already (and its time runs out with the window).
        var sameRandoms = await Ask(new RsaKeyExchange(recorded.Ciphertext, recorded.ClientVersion, recorded.ClientRandom, recorded.ServerRandom, TlsPrfHash.Sha256));
        Assert.Equal(KeyOperationStatus.InvalidRequest, sameRandoms.Status);
        Assert.Contains("replayed", sameRandoms.Detail);

        // The recorded transcript, as the real handshake sent it: refused for the same reason.
        var sameTranscript = await Ask(new RsaKeyExchange(recorded.Ciphertext, recorded.ClientVersion, recorded.ClientRandom, recorded.ServerRandom,
            TlsPrfHash.Sha256, recorded.Transcript));
        Assert.Equal(KeyOperationStatus.InvalidRequest, sameTranscript.Status);
        Assert.Contains("replayed", sameTranscript.Detail);

        // The recorded transcript with a fresh ServerHello random: its session hash is another, so is the master secret.
        var freshRandom = TlsRandoms.Server();
        var doctored = (byte[])recorded.Transcript.Clone();
        freshRandom.CopyTo(doctored, recorded.ServerRandomOffset);
        var rewritten = await Ask(new RsaKeyExchange(recorded.Ciphertext, recorded.ClientVersion, recorded.ClientRandom, freshRandom, TlsPrfHash.Sha256, doctored));
        Assert.True(rewritten.IsOk, rewritten.Detail);
        Assert.NotEqual(masterSecret, rewritten.Output);
    }

    /// <summary>The master secret openssl logged for the handshake (NSS key log format: CLIENT_RANDOM hex hex).</summary>
    private static byte[] RecordedMasterSecret(string keyLog, byte[] clientRandom)
    {
        var line = File.ReadAllLines(keyLog).Single(l => l.StartsWith($"CLIENT_RANDOM {Convert.ToHexString(clientRandom)} ", StringComparison.OrdinalIgnoreCase));
        return Convert.FromHexString(line.Split(' ')[2]);
    }

    /// <summary>What a hostile edge would have recorded of one TLS 1.2 RSA key exchange.</summary>
    private sealed record RecordedExchange(byte[] Ciphertext, ushort ClientVersion, byte[] ClientRandom, byte[] ServerRandom, byte[] Transcript, int ServerRandomOffset);

    /// <summary>A loopback TCP relay to the edge that keeps every byte of the first connection, both ways.</summary>
    private sealed class RecordingRelay : IAsyncDisposable
    {
        private readonly TcpListener _listener = new(IPAddress.Loopback, 0);
        private readonly MemoryStream _fromClient = new(), _fromServer = new();
        private readonly Task _relay;

        public RecordingRelay(IPEndPoint target)
        {
            _listener.Start();
            _relay = RelayAsync(target);
        }

        public IPEndPoint EndPoint => (IPEndPoint)_listener.LocalEndpoint;

        private async Task RelayAsync(IPEndPoint target)
        {
            using var client = await _listener.AcceptTcpClientAsync();
            using var server = new TcpClient();
            await server.ConnectAsync(target);
            await Task.WhenAll(PumpAsync(client.GetStream(), server.GetStream(), _fromClient, server), PumpAsync(server.GetStream(), client.GetStream(), _fromServer, client));
        }

        private static async Task PumpAsync(NetworkStream from, NetworkStream to, MemoryStream record, TcpClient toSocket)
        {
            var buffer = new byte[16384];
            try
            {
                int read;
                while ((read = await from.ReadAsync(buffer)) > 0)
                {
                    lock (record) record.Write(buffer, 0, read);
                    await to.WriteAsync(buffer.AsMemory(0, read));
                }
                toSocket.Client.Shutdown(SocketShutdown.Send);
            }
            catch (Exception e) when (e is IOException or SocketException or ObjectDisposedException)
            {
                // The other side closed; what was recorded stays.
            }
        }

        public RecordedExchange Recorded()
        {
            var client = Messages(Snapshot(_fromClient));
            var server = Messages(Snapshot(_fromServer));
            var hello = client.First(m => m.Type == 1);
            var serverHello = server.First(m => m.Type == 2);
            var keyExchange = client.First(m => m.Type == 16);
            var serverFlight = server.TakeWhile(m => m.Type != 14).Append(server.First(m => m.Type == 14)).ToList();
            var clientAfterHello = client.SkipWhile(m => m.Type != 1).Skip(1).TakeWhile(m => m.Type != 16).Append(keyExchange);
            byte[] transcript = [.. hello.Encoded, .. serverFlight.SelectMany(m => m.Encoded), .. clientAfterHello.SelectMany(m => m.Encoded)];
            return new RecordedExchange(keyExchange.Body[2..], (ushort)((hello.Body[0] << 8) | hello.Body[1]), hello.Body[2..34], serverHello.Body[2..34],
                transcript, hello.Encoded.Length + 4 + 2);
        }

        private static byte[] Snapshot(MemoryStream stream)
        {
            lock (stream) return stream.ToArray();
        }

        /// <summary>The handshake messages of the plaintext records, up to the sender's change_cipher_spec.</summary>
        private static List<(byte Type, byte[] Body, byte[] Encoded)> Messages(byte[] records)
        {
            var handshake = new List<byte>();
            for (var at = 0; at + 5 <= records.Length;)
            {
                var length = (records[at + 3] << 8) | records[at + 4];
                if (records[at] == 20) break; // change_cipher_spec: what follows is encrypted
                if (records[at] == 22) handshake.AddRange(records.AsSpan(at + 5, length).ToArray());
                at += 5 + length;
            }
            var bytes = handshake.ToArray();
            var messages = new List<(byte, byte[], byte[])>();
            for (var at = 0; at + 4 <= bytes.Length;)
            {
                var length = (bytes[at + 1] << 16) | (bytes[at + 2] << 8) | bytes[at + 3];
                messages.Add((bytes[at], bytes[(at + 4)..(at + 4 + length)], bytes[at..(at + 4 + length)]));
                at += 4 + length;
            }
            return messages;
        }

        public async ValueTask DisposeAsync()
        {
            _listener.Stop();
            await _relay.WaitAsync(TimeSpan.FromSeconds(10)).ContinueWith(_ => { });
        }
    }
}
