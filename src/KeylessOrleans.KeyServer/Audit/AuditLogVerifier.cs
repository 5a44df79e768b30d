namespace KeylessOrleans.KeyServer.Audit;

/// <summary>Where a chain breaks: the record's position (1-based), its line and what is wrong.</summary>
public sealed record AuditBreak(long Record, long Line, string Reason);

/// <summary>The outcome of walking a chain. <see cref="ValidLength"/> bytes, holding <see cref="Records"/> records, are intact.</summary>
public sealed record AuditVerification(long Records, DateTime? First, DateTime? Last, byte[] Head, long ValidLength, AuditBreak? Break)
{
    public bool IsIntact => Break is null;
    public string HeadHex => Convert.ToHexStringLower(Head);
}

/// <summary>
/// Walks an audit log from the first line and stops at the first one that does not continue the chain: a line
/// that is not a record, a hash that does not match the bytes (the record was edited), a prev that is not the hash
/// before it (a record was deleted, inserted or moved), a sequence number that does not follow. Streams the file,
/// so a large log costs time, not memory.
/// </summary>
public static class AuditLogVerifier
{
    /// <summary>Longer lines are not records: the writer caps every field (<see cref="AuditLog.MaxFieldLength"/>).</summary>
    public const int MaxLineLength = 64 * 1024;

    public static AuditVerification VerifyFile(string path)
    {
        using var stream = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.ReadWrite, 1, FileOptions.SequentialScan);
        return Verify(stream);
    }

    public static AuditVerification Verify(Stream stream)
    {
        var state = new Walk();
        var buffer = new byte[MaxLineLength];
        int start = 0, end = 0;
        while (true)
        {
            var newline = buffer.AsSpan(start, end - start).IndexOf((byte)'\n');
            if (newline >= 0)
            {
                if (!state.Accept(buffer.AsSpan(start, newline), terminated: true)) return state.Result();
                start += newline + 1;
                continue;
            }
            if (end - start == buffer.Length)
            {
                state.StopAtNextLine($"line longer than {MaxLineLength} bytes: not an audit record");
                return state.Result();
            }
            buffer.AsSpan(start, end - start).CopyTo(buffer);
            end -= start;
            start = 0;
            var read = stream.Read(buffer, end, buffer.Length - end);
            if (read == 0)
            {
                if (end > 0) state.Accept(buffer.AsSpan(0, end), terminated: false);
                return state.Result();
            }
            end += read;
        }
    }

    private sealed class Walk
    {
        private long _records;
        private long _line;
        private DateTime? _first;
        private DateTime? _last;
        private byte[] _head = AuditChain.Genesis;
        private long _validLength;
        private AuditBreak? _break;

        public bool Accept(ReadOnlySpan<byte> line, bool terminated)
        {
            _line++;
            if (!terminated)
            {
                Stop("incomplete last line (no newline): a torn write or a truncated file");
                return false;
            }
            var parsed = AuditChain.Parse(line, out var problem);
            if (parsed is null) return Stop(problem!);
            if (!parsed.HashMatches) return Stop("hash mismatch: the record was edited after it was written");
            if (!parsed.Prev.AsSpan().SequenceEqual(_head))
                return Stop(_records == 0
                    ? "prev is not the genesis value: a record was deleted, inserted or moved here"
                    : $"prev is not the hash of record {_records}: a record was deleted, inserted or moved here");
            if (parsed.Sequence != _records + 1) return Stop($"sequence gap: expected {_records + 1}, found {parsed.Sequence}");

            _records++;
            _first ??= parsed.Time;
            _last = parsed.Time;
            _head = parsed.Hash;
            _validLength += line.Length + 1;
            return true;
        }

        public void StopAtNextLine(string reason)
        {
            _line++;
            Stop(reason);
        }

        private bool Stop(string reason)
        {
            _break = new AuditBreak(_records + 1, _line, reason);
            return false;
        }

        public AuditVerification Result() => new(_records, _first, _last, _head, _validLength, _break);
    }
}
