using KeylessOrleans.Keys;

namespace KeylessOrleans.Edge.Tls;

/// <summary>
/// The plaintext handshake messages of one connection, as they cross the wire in both directions, kept until the
/// handshake's key operation has them: a TLS 1.2 RSA key exchange with extended master secret sends the key server
/// ClientHello … ClientKeyExchange, whose hash is the session hash (RFC 7627 §3). Records are parsed only for their
/// type and length; each direction stops at its change_cipher_spec, after which handshake records are encrypted.
/// A handshake that will not need the messages stops the recording (<see cref="Stop"/>) and frees it.
/// </summary>
internal sealed class HandshakeTranscript
{
    /// <summary>A ClientHello (at most <see cref="KeylessTlsServer.MaxHandshakeMessageSize"/>) and this server's flight fit.</summary>
    public const int MaxLength = 64 * 1024;

    private const byte ClientHello = 1;
    private const byte ServerHelloDone = 14;
    private const byte ClientKeyExchange = 16;

    private readonly Direction _client = new();
    private readonly Direction _server = new();
    private bool _stopped;

    public void FromClient(ReadOnlySpan<byte> bytes)
    {
        if (!_stopped) _client.Add(bytes);
    }

    public void FromServer(ReadOnlySpan<byte> bytes)
    {
        if (!_stopped) _server.Add(bytes);
    }

    public void Stop()
    {
        _stopped = true;
        _client.Clear();
        _server.Clear();
    }

    /// <summary>The client's first handshake message (its ClientHello) once it has arrived whole; null until then.</summary>
    public byte[]? FirstClientMessage()
    {
        if (_stopped || _client.Overflowed) return null;
        var messages = _client.Messages;
        return HandshakeMessages.End(messages, 0) is { } end ? messages[..end].ToArray() : null;
    }

    /// <summary>
    /// ClientHello ‖ the server's messages through ServerHelloDone ‖ the client's next messages through its
    /// ClientKeyExchange: the messages the session hash covers. Null when they were not all seen.
    /// </summary>
    public byte[]? ThroughClientKeyExchange()
    {
        if (_stopped || _client.Overflowed || _server.Overflowed) return null;
        var client = _client.Messages;
        var server = _server.Messages;
        if (MessageEnd(client, 0, ClientHello) is not { } helloEnd) return null;
        if (EndOfFirst(server, ServerHelloDone) is not { } serverEnd) return null;
        if (EndOfFirst(client[helloEnd..], ClientKeyExchange) is not { } keyExchangeEnd) return null;
        return [.. client[..helloEnd], .. server[..serverEnd], .. client.Slice(helloEnd, keyExchangeEnd)];
    }

    /// <summary>The end of the message at <paramref name="start"/> when it is complete and of <paramref name="type"/>.</summary>
    private static int? MessageEnd(ReadOnlySpan<byte> messages, int start, byte type) =>
        messages.Length > start && messages[start] == type ? HandshakeMessages.End(messages, start) : null;

    /// <summary>The end of the first complete message of <paramref name="type"/>.</summary>
    private static int? EndOfFirst(ReadOnlySpan<byte> messages, byte type)
    {
        for (var at = 0; HandshakeMessages.End(messages, at) is { } end; at = end)
            if (messages[at] == type) return end;
        return null;
    }

    /// <summary>One direction's record stream, reduced to the concatenated fragments of its handshake records.</summary>
    private sealed class Direction
    {
        private const byte ChangeCipherSpec = 20;
        private const byte Handshake = 22;

        private readonly byte[] _header = new byte[5];
        private MemoryStream? _messages;
        private int _headerFilled;
        private int _bodyLeft;
        private bool _encrypted;

        public bool Overflowed { get; private set; }

        public ReadOnlySpan<byte> Messages => _messages is null ? [] : _messages.GetBuffer().AsSpan(0, (int)_messages.Length);

        public void Add(ReadOnlySpan<byte> bytes)
        {
            while (!bytes.IsEmpty && !_encrypted && !Overflowed)
            {
                if (_headerFilled < _header.Length)
                {
                    var headerPart = Math.Min(_header.Length - _headerFilled, bytes.Length);
                    bytes[..headerPart].CopyTo(_header.AsSpan(_headerFilled));
                    _headerFilled += headerPart;
                    bytes = bytes[headerPart..];
                    if (_headerFilled < _header.Length) return;
                    _bodyLeft = (_header[3] << 8) | _header[4];
                    if (_bodyLeft == 0) EndRecord();
                    continue;
                }
                var part = Math.Min(_bodyLeft, bytes.Length);
                if (_header[0] == Handshake)
                {
                    _messages ??= new MemoryStream(4096);
                    if (_messages.Length + part > MaxLength) Overflowed = true;
                    else _messages.Write(bytes[..part]);
                }
                bytes = bytes[part..];
                _bodyLeft -= part;
                if (_bodyLeft == 0) EndRecord();
            }
        }

        public void Clear() => _messages = null;

        private void EndRecord()
        {
            _encrypted = _header[0] == ChangeCipherSpec;
            _headerFilled = 0;
        }
    }
}
