using System.Buffers;
using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using KeylessOrleans.Edge.Diagnostics;
using KeylessOrleans.Edge.Forwarding;
using KeylessOrleans.Edge.Hosting;
using Microsoft.Extensions.Logging;
using Org.BouncyCastle.Tls;

namespace KeylessOrleans.Edge.Tls;

/// <summary>
/// One client connection: a BouncyCastle server in non-blocking mode fed from async socket reads. Handshake
/// steps run on the dedicated <see cref="HandshakeWorkerPool"/> (they may block on a key call); after the
/// handshake, records are decrypted inline and bytes flow to and from the origin without holding any thread.
/// </summary>
internal sealed partial class TlsConnection(
    Socket client,
    TlsServerContext shared,
    HandshakeWorkerPool pool,
    EdgeOptions options,
    EdgeMetrics metrics,
    FailedHandshakeLog failures,
    ILogger logger)
{
    private const int BufferSize = 32 * 1024;

    private readonly EdgeTlsServerProtocol _tls = new();
    private readonly SemaphoreSlim _tlsLock = new(1, 1); // BouncyCastle state and the order of records sent to the client
    // Pooled: a connection that only handshakes used to allocate (and zero) five 32 KiB buffers.
    private readonly byte[] _input = ArrayPool<byte>.Shared.Rent(BufferSize);
    private readonly byte[] _sendBuffer = ArrayPool<byte>.Shared.Rent(BufferSize);
    private readonly IPEndPoint _clientEndPoint = (IPEndPoint)client.RemoteEndPoint!;
    private readonly SocketReceiver _receiver = new(client); // every read from the client: a reset is a result, not an exception
    private readonly HandshakeTranscript _transcript = new();
    private long _sentToClient;
    private bool _helloChecked; // the first ClientHello went through ClientHelloCheck

    public HandshakeFacts Facts { get; } = new();

    public async Task RunAsync(CancellationToken stopping)
    {
        var result = HandshakeResult.Of(HandshakeOutcome.IoError);
        try
        {
            using (client)
            {
                var started = Stopwatch.GetTimestamp();
                result = await HandshakeAsync(stopping);
                metrics.RecordHandshake(Facts.Route?.TenantName, Facts.Version, Facts.Resumed, result.Tag, Stopwatch.GetElapsedTime(started), Facts.Delegated, Facts.Group);
                if (result.Outcome != HandshakeOutcome.Ok)
                {
                    // Named values only (JSON logs make them fields), never key material; bounded per client network.
                    failures.Failed(_clientEndPoint.Address, Facts.ServerName, Facts.Route?.TenantName ?? "-", Facts.Group ?? "-", result.Tag, Facts.AlertSent, Facts.KeyFailureDetail);
                    return;
                }
                await ForwardAsync(stopping);
            }
        }
        finally
        {
            _receiver.Dispose(); // after the socket: a receive still pending has been aborted
            ArrayPool<byte>.Shared.Return(_sendBuffer);
            // After a handshake deadline a step may still be reading the input on a handshake thread: let the GC
            // have that buffer rather than hand it to another connection.
            if (result.Outcome != HandshakeOutcome.Timeout) ArrayPool<byte>.Shared.Return(_input);
        }
    }

    /// <returns>How the handshake ended, for logs and metrics.</returns>
    private async Task<HandshakeResult> HandshakeAsync(CancellationToken stopping)
    {
        using var deadline = CancellationTokenSource.CreateLinkedTokenSource(stopping);
        deadline.CancelAfter(options.Limits.HandshakeTimeout);
        var input = _input;
        try
        {
            var server = new KeylessTlsServer(shared, _clientEndPoint.Address.ToString(), Facts, _transcript);
            _tls.Accept(server);
            while (_tls.IsHandshaking)
            {
                var (read, error) = await _receiver.ReceiveAsync(input, deadline.Token);
                if (error != SocketError.Success) return IoFailure();
                if (read == 0) return HandshakeResult.Of(HandshakeOutcome.ClientClosed);
                _transcript.FromClient(input.AsSpan(0, read)); // before BouncyCastle acts on them: a key call may need them
                if (!_helloChecked && _transcript.FirstClientMessage() is { } hello)
                {
                    _helloChecked = true;
                    if (ClientHelloCheck.Check(hello) is { } refusal)
                    {
                        await SendFatalAlertAsync(refusal.Alert, deadline.Token);
                        Facts.AlertSent = $"{AlertDescription.GetText(refusal.Alert)}: {refusal.Reason}";
                        // Named as BouncyCastle's own refusals are: a malformed message, or the alert's name.
                        return refusal.Alert == AlertDescription.decode_error ? HandshakeResult.Of(HandshakeOutcome.MalformedMessage) : HandshakeResult.Refused(refusal.Alert);
                    }
                }
                Task step;
                if (!server.MayCallKeyServer)
                {
                    // Nothing in this step can block (the key operation is behind us, or the session resumed): run
                    // it here and save the two thread hand-offs of the pool, e.g. for every client Finished.
                    step = RunInline(() => _tls.OfferInput(input, 0, read));
                }
                else if (!pool.TryRun(() => _tls.OfferInput(input, 0, read), out step))
                {
                    metrics.ConnectionRefused("handshake_queue_full");
                    return HandshakeResult.Of(HandshakeOutcome.Overloaded);
                }
                try
                {
                    await step.WaitAsync(deadline.Token);
                }
                catch (Exception e) when (e is not OperationCanceledException)
                {
                    // BouncyCastle queued the fatal alert before throwing: send it. (After a deadline the step may
                    // still be running on its thread, so nothing of its state is touched then.)
                    await FlushToClientAsync(deadline.Token);
                    await SendEarlyAlertAsync(deadline.Token);
                    throw;
                }
                await FlushToClientAsync(deadline.Token); // the next handshake flight
            }
            _transcript.Stop();
            // A client may send Finished and close_notify together: the handshake still completed.
            return HandshakeResult.Of(Facts.Version is not null ? HandshakeOutcome.Ok : HandshakeOutcome.Closed);
        }
        catch (OperationCanceledException) when (!stopping.IsCancellationRequested)
        {
            return HandshakeResult.Of(HandshakeOutcome.Timeout);
        }
        catch (OperationCanceledException)
        {
            return HandshakeResult.Of(HandshakeOutcome.Shutdown);
        }
        catch (TlsFatalAlertReceived e)
        {
            return HandshakeResult.ClientAlert(e.AlertDescription);
        }
        catch (TlsFatalAlert e)
        {
            return Facts.KeyFailure is { } failure ? HandshakeResult.KeyFailed(failure) : HandshakeResult.Refused(e.AlertDescription);
        }
        catch (EndOfStreamException) when (Facts.KeyFailure is null && Facts.AlertSent is not null)
        {
            // BouncyCastle read past the end of a structure inside a client message (an inner length that lies).
            // It answers internal_error, but the fault is the client's malformed message, not the network.
            return HandshakeResult.Of(HandshakeOutcome.MalformedMessage);
        }
        catch (Exception e) when (e is IOException or SocketException or ObjectDisposedException)
        {
            return IoFailure();
        }
    }

    /// <summary>The connection failed: a key failure before it is what the handshake is remembered for.</summary>
    private HandshakeResult IoFailure() =>
        Facts.KeyFailure is { } failure ? HandshakeResult.KeyFailed(failure) : HandshakeResult.Of(HandshakeOutcome.IoError);

    /// <summary>
    /// BouncyCastle writes no record before a ClientHello has parsed (it has no record version yet), so a ClientHello
    /// it refused as malformed or of an unsupported version got a bare close. RFC 8446 §6 / RFC 5246 §7.2 want the
    /// alert: when nothing has gone to the client yet, the alert BouncyCastle raised is sent here, as a plaintext
    /// record with legacy_record_version 0x0303 (RFC 8446 §5.1).
    /// </summary>
    private async Task SendEarlyAlertAsync(CancellationToken cancellationToken)
    {
        if (_sentToClient > 0 || _tls.FatalAlertRaised is not { } description) return;
        await SendFatalAlertAsync(description, cancellationToken);
        Facts.AlertSent ??= AlertDescription.GetText(description);
    }

    /// <summary>A plaintext fatal alert, before BouncyCastle has written anything (so no record protection yet).</summary>
    private async Task SendFatalAlertAsync(short description, CancellationToken cancellationToken)
    {
        byte[] alert = [(byte)ContentType.alert, 3, 3, 0, 2, (byte)AlertLevel.fatal, (byte)description];
        await client.SendAsync(alert, SocketFlags.None, cancellationToken);
        _sentToClient += alert.Length;
    }

    private static Task RunInline(Action step)
    {
        try
        {
            step();
            return Task.CompletedTask;
        }
        catch (Exception e)
        {
            return Task.FromException(e);
        }
    }

    private async Task ForwardAsync(CancellationToken stopping)
    {
        var route = Facts.Route!;
        var input = _input;
        using var idle = CancellationTokenSource.CreateLinkedTokenSource(stopping);
        idle.CancelAfter(options.Limits.IdleTimeout);
        // The origin connection opens with the client's first request bytes, as nginx does: connections that only
        // handshake (browser preconnects, health checks, TLS scanners, `openssl s_time`) never cost the origin a
        // connection. Opening it at once made every such connection an origin connect, accept and reset.
        switch (await AwaitFirstRequestAsync(input, idle))
        {
            case FirstRequest.Arrived:
                break;
            case FirstRequest.IdleTimeout:
            case FirstRequest.ClientDoneSending:
                await CloseTlsAsync(CancellationToken.None);
                return;
            default:
                // The connection failed (BouncyCastle has sent its alert) or the client is gone: writing more to it
                // would only fail, and a failed write costs an exception per connection.
                return;
        }
        Socket origin;
        try
        {
            origin = await OriginConnector.ConnectAsync(route.Tenant.Origin, _clientEndPoint, (IPEndPoint)client.LocalEndPoint!, options.Limits.OriginConnectTimeout, stopping);
        }
        catch (Exception e) when (e is SocketException or OperationCanceledException or IOException)
        {
            LogOriginUnreachable(route.TenantName, route.Tenant.Origin.Host, route.Tenant.Origin.Port, e.GetType().Name);
            await CloseTlsAsync(CancellationToken.None);
            return;
        }

        var plain = ArrayPool<byte>.Shared.Rent(BufferSize);
        var fromOrigin = ArrayPool<byte>.Shared.Rent(BufferSize);
        using (origin)
        {
            var upstream = ClientToOriginAsync(origin, input, plain, idle);
            var downstream = OriginToClientAsync(origin, fromOrigin, idle);
            // Either direction failing ends the connection; a clean end of one side waits for the other.
            await Task.WhenAll(upstream, downstream);
        }
        ArrayPool<byte>.Shared.Return(plain);
        ArrayPool<byte>.Shared.Return(fromOrigin);
    }

    private enum FirstRequest { Arrived, ClientClosed, ClientDoneSending, ClientGone, IdleTimeout }

    /// <summary>Reads from the client until decrypted application data waits in BouncyCastle, or the client leaves.</summary>
    private async Task<FirstRequest> AwaitFirstRequestAsync(byte[] input, CancellationTokenSource idle)
    {
        try
        {
            while (_tls.GetAvailableInputBytes() == 0)
            {
                if (_tls.IsClosed) return FirstRequest.ClientClosed;
                if (_tls.PeerClosed) return FirstRequest.ClientDoneSending; // close_notify and no request: answer it
                var (read, _) = await _receiver.ReceiveAsync(input, idle.Token);
                // The end of its stream or a reset: a client that only handshakes often closes with bytes unread.
                if (read == 0) return FirstRequest.ClientGone;
                await OfferClientBytesAsync(input, read, idle.Token);
            }
            return FirstRequest.Arrived;
        }
        catch (OperationCanceledException)
        {
            return FirstRequest.IdleTimeout;
        }
        catch (Exception e) when (e is IOException or SocketException or ObjectDisposedException)
        {
            return FirstRequest.ClientGone;
        }
    }

    private async Task ClientToOriginAsync(Socket origin, byte[] input, byte[] plain, CancellationTokenSource idle)
    {
        try
        {
            // The first request bytes (and any that came with them, up to a close_notify).
            if (!await SendDecryptedAsync(origin, plain, idle.Token)) return;
            while (!_tls.PeerClosed && !_tls.IsClosed)
            {
                var (read, error) = await _receiver.ReceiveAsync(input, idle.Token);
                if (error != SocketError.Success)
                {
                    idle.Cancel();
                    return;
                }
                idle.CancelAfter(options.Limits.IdleTimeout);
                if (read == 0) break;
                var closed = await OfferClientBytesAsync(input, read, idle.Token);
                if (!await SendDecryptedAsync(origin, plain, idle.Token) || closed) break;
            }
            // The client is done sending (close_notify, or the end of its TCP stream): tell the origin (half-close).
            // The origin's response still goes to the client, then this side's close_notify.
            origin.Shutdown(SocketShutdown.Send);
        }
        catch (Exception e) when (e is IOException or SocketException or OperationCanceledException or ObjectDisposedException)
        {
            idle.Cancel();
        }
    }

    /// <summary>
    /// Feeds bytes from the client to BouncyCastle and sends what it answers at once (alerts, close_notify);
    /// true when the client has closed the TLS connection or its sending side (close_notify).
    /// </summary>
    private async Task<bool> OfferClientBytesAsync(byte[] input, int count, CancellationToken cancellationToken)
    {
        await _tlsLock.WaitAsync(cancellationToken);
        try
        {
            try
            {
                _tls.OfferInput(input, 0, count);
            }
            catch (IOException)
            {
                // A fatal alert is queued (e.g. a malformed KeyUpdate): it goes out before the connection closes.
                await FlushToClientLockedAsync(cancellationToken);
                throw;
            }
            var closed = _tls.IsClosed || _tls.PeerClosed;
            await FlushToClientLockedAsync(cancellationToken);
            return closed;
        }
        finally
        {
            _tlsLock.Release();
        }
    }

    /// <summary>Moves decrypted bytes waiting in BouncyCastle to the origin; false when the origin is gone.</summary>
    private async Task<bool> SendDecryptedAsync(Socket origin, byte[] plain, CancellationToken cancellationToken)
    {
        while (true)
        {
            int count;
            await _tlsLock.WaitAsync(cancellationToken);
            try
            {
                var available = _tls.GetAvailableInputBytes();
                if (available == 0) return true;
                count = _tls.ReadInput(plain, 0, Math.Min(available, plain.Length));
            }
            finally
            {
                _tlsLock.Release();
            }
            // Awaiting the origin before reading more from the client is the backpressure.
            await origin.SendAsync(plain.AsMemory(0, count), SocketFlags.None, cancellationToken);
        }
    }

    private async Task OriginToClientAsync(Socket origin, byte[] buffer, CancellationTokenSource idle)
    {
        try
        {
            while (true)
            {
                var read = await origin.ReceiveAsync(buffer, SocketFlags.None, idle.Token);
                idle.CancelAfter(options.Limits.IdleTimeout);
                if (read == 0) break;
                await _tlsLock.WaitAsync(idle.Token);
                try
                {
                    _tls.WriteApplicationData(buffer, 0, read);
                    await FlushToClientLockedAsync(idle.Token);
                }
                finally
                {
                    _tlsLock.Release();
                }
            }
            await CloseTlsAsync(idle.Token);
            // Give the client a moment to read the rest and close its side, then let go.
            idle.CancelAfter(TimeSpan.FromSeconds(2));
        }
        catch (Exception e) when (e is IOException or SocketException or OperationCanceledException or ObjectDisposedException)
        {
            idle.Cancel();
        }
    }

    /// <summary>Sends close_notify and shuts down our sending side.</summary>
    private async Task CloseTlsAsync(CancellationToken cancellationToken)
    {
        await _tlsLock.WaitAsync(cancellationToken);
        try
        {
            if (!_tls.IsClosed) _tls.Close();
            await FlushToClientLockedAsync(cancellationToken);
            client.Shutdown(SocketShutdown.Send);
        }
        catch (Exception e) when (e is IOException or SocketException or ObjectDisposedException)
        {
            // The client is already gone; nothing left to tell it.
        }
        finally
        {
            _tlsLock.Release();
        }
    }

    private async Task FlushToClientAsync(CancellationToken cancellationToken)
    {
        await _tlsLock.WaitAsync(cancellationToken);
        try
        {
            await FlushToClientLockedAsync(cancellationToken);
        }
        finally
        {
            _tlsLock.Release();
        }
    }

    private async Task FlushToClientLockedAsync(CancellationToken cancellationToken)
    {
        int available;
        while ((available = _tls.GetAvailableOutputBytes()) > 0)
        {
            var count = _tls.ReadOutput(_sendBuffer, 0, Math.Min(available, _sendBuffer.Length));
            _transcript.FromServer(_sendBuffer.AsSpan(0, count)); // a no-op once the handshake no longer needs it
            await client.SendAsync(_sendBuffer.AsMemory(0, count), SocketFlags.None, cancellationToken);
            _sentToClient += count;
        }
    }

    [LoggerMessage(EventId = EventIds.OriginUnreachable, Level = LogLevel.Warning, Message = "Origin {OriginHost}:{OriginPort} of tenant {Tenant} unreachable ({Error}); closed the client connection")]
    private partial void LogOriginUnreachable(string tenant, string originHost, int originPort, string error);
}
