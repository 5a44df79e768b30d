using System.Net.Sockets;
using System.Threading.Tasks.Sources;

namespace KeylessOrleans.Edge.Tls;

/// <summary>What one receive from a socket gave: bytes, the end of the peer's stream (0), or a socket error.</summary>
/// <param name="Count">Bytes received; 0 when the peer closed its side or the connection failed.</param>
/// <param name="Error">Success, or why the connection failed (e.g. ConnectionReset).</param>
internal readonly record struct Received(int Count, SocketError Error);

/// <summary>
/// Receives from one socket and reports a socket error as a value, not an exception. A client that resets its
/// connection after the handshake (closing with bytes unread, as <c>openssl s_time</c> and many clients do) is an
/// ordinary end of a connection, and <see cref="Socket.ReceiveAsync(Memory{byte}, SocketFlags, CancellationToken)"/>
/// throws it as a SocketException (whose stack trace it formats when the reset has already arrived): about a fifth
/// of the edge's CPU per resumed handshake. Cancellation still throws OperationCanceledException
/// (deadlines and idle timeouts end connections rarely): a cancelled receive is woken by shutting down the socket's
/// receiving side, after which the connection only sends (its close_notify) and closes.
/// One receive at a time.
/// </summary>
internal sealed class SocketReceiver(Socket socket) : SocketAsyncEventArgs(unsafeSuppressExecutionContextFlow: true), IValueTaskSource<Received>
{
    private ManualResetValueTaskSourceCore<bool> _completion; // continuations run inline on the completing thread, as Socket's own do
    private CancellationTokenRegistration _cancellation;

    public ValueTask<Received> ReceiveAsync(Memory<byte> buffer, CancellationToken cancellationToken)
    {
        cancellationToken.ThrowIfCancellationRequested();
        SetBuffer(buffer);
        _completion.Reset();
        // Registered before the receive starts, so the completion never races the registration: a shutdown before
        // the receive ends it at once, as one during it does.
        _cancellation = cancellationToken.UnsafeRegister(static state => ((SocketReceiver)state!).WakePending(), this);
        bool pending;
        try
        {
            pending = socket.ReceiveAsync(this);
        }
        catch
        {
            _cancellation.Unregister();
            throw;
        }
        return pending ? new ValueTask<Received>(this, _completion.Version) : new ValueTask<Received>(Result());
    }

    protected override void OnCompleted(SocketAsyncEventArgs e) => _completion.SetResult(true);

    /// <summary>The pending receive completes with the end of the stream; <see cref="Result"/> then throws.</summary>
    private void WakePending()
    {
        try
        {
            socket.Shutdown(SocketShutdown.Receive);
        }
        catch (Exception e) when (e is SocketException or ObjectDisposedException)
        {
            // Already reset or closed: the receive completes on its own.
        }
    }

    private Received Result()
    {
        var cancellation = _cancellation;
        _cancellation = default;
        cancellation.Unregister(); // not Dispose: that would wait for a callback running now
        cancellation.Token.ThrowIfCancellationRequested();
        return new Received(BytesTransferred, SocketError);
    }

    Received IValueTaskSource<Received>.GetResult(short token)
    {
        _completion.GetResult(token);
        return Result();
    }

    ValueTaskSourceStatus IValueTaskSource<Received>.GetStatus(short token) => _completion.GetStatus(token);

    void IValueTaskSource<Received>.OnCompleted(Action<object?> continuation, object? state, short token, ValueTaskSourceOnCompletedFlags flags) =>
        _completion.OnCompleted(continuation, state, token, flags);
}
