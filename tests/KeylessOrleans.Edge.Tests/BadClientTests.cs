using System.Diagnostics;
using System.Net.Security;
using System.Net.Sockets;
using System.Security.Authentication;
using System.Security.Cryptography;
using KeylessOrleans.Edge.Tls;
using KeylessOrleans.TestSupport;
using KeylessOrleans.TestSupport.Fuzzing;

namespace KeylessOrleans.Edge.Tests;

/// <summary>Garbage and misbehaving clients end in an alert or a close — never a hang — and the edge keeps serving.</summary>
public sealed class BadClientTests(EdgeFixture edge) : IClassFixture<EdgeFixture>
{
    /// <summary>Sends bytes, then waits for the edge to close the connection; returns what it sent back and how long it took.</summary>
    private async Task<(byte[] Reply, TimeSpan Elapsed)> SendAndWaitForCloseAsync(byte[] bytes, bool closeOurSide)
    {
        using var socket = new Socket(SocketType.Stream, ProtocolType.Tcp);
        await socket.ConnectAsync(edge.EdgeEndPoint);
        var clock = Stopwatch.StartNew();
        await socket.SendAsync(bytes, SocketFlags.None);
        if (closeOurSide) socket.Shutdown(SocketShutdown.Send);
        var (reply, closed) = await SocketReads.ReadToCloseAsync(socket, TimeSpan.FromSeconds(15));
        Assert.True(closed, "the edge never closed the connection");
        return (reply, clock.Elapsed);
    }

    private async Task AssertStillServingAsync()
    {
        var (_, response) = await edge.FetchAsync(SslProtocols.Tls13);
        Assert.StartsWith("HTTP/1.1 200 OK", response);
    }

    /// <summary>A TLS alert record: content type 21, any version, length 2, level fatal (2), the description.</summary>
    private static void AssertFatalAlert(byte[] reply, byte description)
    {
        Assert.True(reply.Length >= 7, $"expected an alert, got {reply.Length} bytes");
        Assert.Equal(21, reply[0]);
        Assert.Equal(2, reply[5]);
        Assert.Equal(description, reply[6]);
    }

    [Fact]
    public async Task Random_bytes_are_refused_and_the_edge_keeps_serving()
    {
        var garbage = RandomNumberGenerator.GetBytes(1000);
        garbage[0] = 0x47; // not a TLS content type ('G')
        await SendAndWaitForCloseAsync(garbage, closeOurSide: false);
        await AssertStillServingAsync();
    }

    [Fact]
    public async Task A_malformed_client_hello_gets_a_fatal_alert()
    {
        // A complete ClientHello (its length agrees with the record's) that ends inside its 32-byte random. A
        // ClientHello longer than its record is no error: the rest may follow in the next record.
        byte[] hello = [0x16, 0x03, 0x01, 0x00, 0x08, 0x01, 0x00, 0x00, 0x04, 0x03, 0x03, 0x00, 0x00];
        var (reply, _) = await SendAndWaitForCloseAsync(hello, closeOurSide: false);
        AssertFatalAlert(reply, 50); // decode_error
        await AssertStillServingAsync();
    }

    [Fact]
    public async Task A_truncated_client_hello_followed_by_close_ends_the_connection()
    {
        byte[] partial = [0x16, 0x03, 0x01, 0x02, 0x00, 0x01, 0x00, 0x01, 0xfc, 0x03, 0x03, .. RandomNumberGenerator.GetBytes(40)];
        await SendAndWaitForCloseAsync(partial, closeOurSide: true);
        await AssertStillServingAsync();
    }

    [Fact]
    public async Task An_oversized_record_length_is_refused_at_once()
    {
        byte[] header = [0x16, 0x03, 0x03, 0xff, 0xff, .. RandomNumberGenerator.GetBytes(64)];
        var (reply, elapsed) = await SendAndWaitForCloseAsync(header, closeOurSide: false);
        // The edge does not wait for 64 KiB that can never be a valid record, and says why before it closes.
        Assert.True(elapsed < TimeSpan.FromSeconds(1), $"took {elapsed}");
        AssertFatalAlert(reply, 22); // record_overflow
        await AssertStillServingAsync();
    }

    [Fact]
    public async Task An_oversized_record_after_the_client_hello_gets_record_overflow()
    {
        // A real ClientHello from openssl, then a record header announcing 64 KiB.
        var hello = await CaptureClientHelloAsync();
        byte[] bytes = [.. hello, 0x17, 0x03, 0x03, 0xff, 0xff, .. RandomNumberGenerator.GetBytes(64)];
        var (reply, elapsed) = await SendAndWaitForCloseAsync(bytes, closeOurSide: false);
        Assert.True(elapsed < TimeSpan.FromSeconds(2), $"took {elapsed}");
        Assert.Contains((byte)21, reply); // an alert record follows the server's flight
        await AssertStillServingAsync();
    }

    [Fact]
    public async Task A_large_post_quantum_client_hello_under_the_handshake_limit_is_answered()
    {
        // An X25519MLKEM768 share (1,216 bytes) before the x25519 one, padded to 12 KB: bigger than any browser's.
        // Both groups are in supported_groups: a share for an unlisted group is refused (RFC 8446 §4.2.8).
        var hello = ClientHelloBuilder.Standard(new Random(1), EdgeFixture.Host, hybrid: true);
        hello.Extensions.RemoveAll(e => e.Type == 51);
        hello.Extensions.Add(ClientHelloBuilder.KeyShare((0x11ec, ClientHelloBuilder.X25519MLKem768Share(new Random(1))), (0x001d, RandomNumberGenerator.GetBytes(32))));
        hello.Extensions.Add(TlsExtension.Raw(21, new byte[12_000 - hello.HandshakeMessage().Length - 4]));
        Assert.Equal(12_000, hello.HandshakeMessage().Length);
        var (reply, _) = await SendAndWaitForCloseAsync(hello.Record(), closeOurSide: true);
        Assert.True(reply.Length > 5 && reply[0] == 22, $"expected the server's flight, got {Convert.ToHexString(reply.AsSpan(0, Math.Min(reply.Length, 16)))}");
    }

    [Fact]
    public async Task A_client_hello_over_the_handshake_limit_is_refused_at_its_header()
    {
        var hello = ClientHelloBuilder.Standard(new Random(2), EdgeFixture.Host);
        hello.Extensions.Add(TlsExtension.Raw(21, new byte[KeylessTlsServer.MaxHandshakeMessageSize])); // padding
        var records = ClientHelloBuilder.Fragment(22, 0x0303, hello.HandshakeMessage(), () => ClientHelloBuilder.MaxRecordFragment);
        // Only the first full record: the edge must not wait (up to the handshake timeout) for a message it will refuse.
        var (reply, elapsed) = await SendAndWaitForCloseAsync(records[..(5 + ClientHelloBuilder.MaxRecordFragment)], closeOurSide: false);
        Assert.True(elapsed < TimeSpan.FromSeconds(1), $"took {elapsed}");
        AssertFatalAlert(reply, 80); // internal_error: BouncyCastle's alert for this
        await AssertStillServingAsync();
    }

    [Fact]
    public async Task A_client_hello_with_a_lying_inner_length_is_reported_as_malformed_not_as_a_network_error()
    {
        using var meters = new EdgeMeterRecorder(edge, ("keyless.edge.handshakes", "outcome"));
        var hello = ClientHelloBuilder.Standard(new Random(4), EdgeFixture.Host);
        var fields = hello.LengthFields().ToList();
        var hostName = fields.FindIndex(f => f.Name == "host_name");
        await SendAndWaitForCloseAsync(hello.Record(new LengthPatch(hostName, fields[hostName].Length + 1)), closeOurSide: true);
        Assert.True(await Poll.UntilAsync(() => Task.FromResult(meters.Total("keyless.edge.handshakes", "malformed_message") == 1), TimeSpan.FromSeconds(5)),
            string.Join(", ", meters.ByTag("keyless.edge.handshakes")));
        await AssertStillServingAsync();
    }

    [Fact]
    public async Task A_server_name_longer_than_253_bytes_gets_unrecognized_name_even_under_a_wildcard()
    {
        // One label in front of acme.test, which *.acme.test covers: only the length makes it a bad name.
        var name = new string('a', ServerNames.MaxLength + 1 - ".acme.test".Length) + ".acme.test";
        var (reply, _) = await SendAndWaitForCloseAsync(ClientHelloBuilder.Standard(new Random(6), name).Record(), closeOurSide: true);
        AssertFatalAlert(reply, 112); // unrecognized_name
        await AssertStillServingAsync();
    }

    [Fact]
    public async Task A_server_name_with_control_characters_gets_unrecognized_name_even_under_a_wildcard()
    {
        var (reply, _) = await SendAndWaitForCloseAsync(ClientHelloBuilder.Standard(new Random(7), "x\r\nforged.acme.test").Record(), closeOurSide: true);
        AssertFatalAlert(reply, 112);
    }

    [Fact]
    public void Server_names_reach_log_lines_without_control_characters_and_cut_short()
    {
        Assert.Equal("x[31mforged log line.acme.test", ServerNames.ForLog("x\u001b[31mforged\r\n log line\0.acme.test"));
        Assert.StartsWith(new string('a', 64) + "…", ServerNames.ForLog(new string('a', 300)));
    }

    /// <summary>Records the first flight of a real TLS 1.2 client (openssl) against a throwaway listener.</summary>
    private static async Task<byte[]> CaptureClientHelloAsync()
    {
        using var listener = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        listener.Bind(new System.Net.IPEndPoint(System.Net.IPAddress.Loopback, 0));
        listener.Listen(1);
        var client = ExternalTool.RunAsync("openssl",
            ["s_client", "-connect", listener.LocalEndPoint!.ToString()!, "-servername", EdgeFixture.Host, "-tls1_2"], standardInput: "", timeout: TimeSpan.FromSeconds(10));
        using var accepted = await listener.AcceptAsync();
        var buffer = new byte[16384];
        var read = await accepted.ReceiveAsync(buffer, SocketFlags.None);
        accepted.Close();
        await client;
        return buffer[..read];
    }

    [Fact]
    public async Task A_client_that_stops_mid_handshake_is_dropped_after_the_handshake_timeout()
    {
        byte[] partial = [0x16, 0x03, 0x01, 0x02, 0x00, 0x01, 0x00, 0x01, 0xfc, 0x03, 0x03];
        var (_, elapsed) = await SendAndWaitForCloseAsync(partial, closeOurSide: false);
        Assert.InRange(elapsed, TimeSpan.FromSeconds(2.5), TimeSpan.FromSeconds(6)); // HandshakeTimeout is 3 s
        await AssertStillServingAsync();
    }

    [Fact]
    public async Task Tls11_is_refused_with_protocol_version()
    {
        var result = await ExternalTool.RunAsync("openssl",
            ["s_client", "-connect", edge.EdgeEndPoint.ToString(), "-servername", EdgeFixture.Host, "-tls1_1", "-cipher", "DEFAULT@SECLEVEL=0"], standardInput: "");
        Assert.NotEqual(0, result.ExitCode);
        Assert.Matches("alert (number 70|protocol version)|no protocols available", result.All);
    }

    [Fact]
    public async Task Cbc_suites_are_not_offered()
    {
        var result = await ExternalTool.RunAsync("openssl",
            ["s_client", "-connect", edge.EdgeEndPoint.ToString(), "-servername", EdgeFixture.Host, "-tls1_2", "-cipher", "ECDHE-RSA-AES128-SHA256:AES128-SHA"], standardInput: "");
        Assert.NotEqual(0, result.ExitCode);
        Assert.Contains("alert number 40", result.All); // handshake_failure
    }
}
