namespace KeylessOrleans.TestSupport.Fuzzing;

/// <summary>
/// Writes TLS wire structures (big-endian integers, length-prefixed vectors). Every length prefix it writes is
/// numbered in order, so a fuzzer can ask for exactly one of them to be written wrong (<see cref="LengthPatch"/>).
/// </summary>
public sealed class TlsWriter
{
    private readonly List<byte> _bytes = [];
    private readonly LengthFields _fields;

    public TlsWriter(LengthPatch? patch = null) : this(new LengthFields(patch))
    {
    }

    private TlsWriter(LengthFields fields) => _fields = fields;

    /// <summary>The length prefixes written so far, in order: their names, widths in bytes and true values.</summary>
    public IReadOnlyList<(string Name, int Width, int Length)> Fields => _fields.Written;

    public byte[] ToArray() => [.. _bytes];

    public void U8(int value) => _bytes.Add((byte)value);

    public void U16(int value)
    {
        _bytes.Add((byte)(value >> 8));
        _bytes.Add((byte)value);
    }

    public void U24(int value)
    {
        _bytes.Add((byte)(value >> 16));
        U16(value);
    }

    public void Bytes(ReadOnlySpan<byte> bytes) => _bytes.AddRange(bytes);

    /// <summary>A vector: <paramref name="width"/> length bytes, then what <paramref name="body"/> writes.</summary>
    public void Vector(string name, int width, Action<TlsWriter> body)
    {
        var index = _fields.Written.Count;
        _fields.Written.Add((name, width, 0));
        var inner = new TlsWriter(_fields);
        body(inner);
        _fields.Written[index] = (name, width, inner._bytes.Count);
        var length = _fields.Patch is { } patch && patch.Field == index ? patch.Value : inner._bytes.Count;
        switch (width)
        {
            case 1: U8(length); break;
            case 2: U16(length); break;
            case 3: U24(length); break;
            default: throw new ArgumentOutOfRangeException(nameof(width));
        }
        _bytes.AddRange(inner._bytes);
    }

    private sealed class LengthFields(LengthPatch? patch)
    {
        public LengthPatch? Patch { get; } = patch;
        public List<(string Name, int Width, int Length)> Written { get; } = [];
    }
}

/// <summary>Write <paramref name="Value"/> instead of the true length in the <paramref name="Field"/>-th length prefix.</summary>
public sealed record LengthPatch(int Field, int Value);
