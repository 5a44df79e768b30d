using System.Security.Cryptography;
using Org.BouncyCastle.Crypto;
using Org.BouncyCastle.Utilities;

namespace KeylessOrleans.Edge.Tls.Crypto;

/// <summary>
/// SHA-256 or SHA-384 for BouncyCastle's TLS stack, computed by .NET (OpenSSL, with the CPU's SHA instructions where it
/// has them). A handshake's hashing is a key schedule of many small HMACs (HKDF, the TLS 1.2 PRF, Finished) and a
/// transcript of a few kilobytes read at a few points. Short input is kept and hashed in one call when the digest is
/// read: no native hash context per HMAC, which BouncyCastle would never dispose (each would wait for the finalizer).
/// Input that outgrows <see cref="StreamAbove"/> (a transcript) is hashed as it comes, so reading it at each point
/// does not hash it all again. <see cref="IMemoable"/> lets BouncyCastle's HMAC keep its padded-key states.
/// </summary>
internal sealed class OneShotSha2Digest : IDigest, IMemoable
{
    private readonly HashAlgorithmName _algorithm;
    private readonly int _size;
    private byte[] _input;
    private int _length;
    private IncrementalHash? _stream;

    /// <summary>Input longer than this is hashed as it comes rather than kept.</summary>
    public const int StreamAbove = 1024;

    private OneShotSha2Digest(HashAlgorithmName algorithm, int size, byte[] input, int length)
    {
        _algorithm = algorithm;
        _size = size;
        _input = input;
        _length = length;
    }

    public static OneShotSha2Digest Sha256() => new(HashAlgorithmName.SHA256, SHA256.HashSizeInBytes, new byte[InitialCapacity], 0);

    public static OneShotSha2Digest Sha384() => new(HashAlgorithmName.SHA384, SHA384.HashSizeInBytes, new byte[InitialCapacity], 0);

    /// <summary>Enough for an HMAC's padded key and a short message without growing.</summary>
    private const int InitialCapacity = 256;

    public string AlgorithmName => _algorithm == HashAlgorithmName.SHA256 ? "SHA-256" : "SHA-384";

    public int GetDigestSize() => _size;

    /// <summary>The compression function's block: HMAC pads its key to this.</summary>
    public int GetByteLength() => _algorithm == HashAlgorithmName.SHA256 ? 64 : 128;

    public void Update(byte input) => BlockUpdate([input]);

    public void BlockUpdate(byte[] input, int inOff, int inLen) => BlockUpdate(input.AsSpan(inOff, inLen));

    public void BlockUpdate(ReadOnlySpan<byte> input)
    {
        if (_stream is null && _length + input.Length > StreamAbove)
        {
            _stream = IncrementalHash.CreateHash(_algorithm);
            _stream.AppendData(_input.AsSpan(0, _length));
            _length = 0;
        }
        if (_stream is not null)
        {
            _stream.AppendData(input);
            return;
        }
        Reserve(input.Length);
        input.CopyTo(_input.AsSpan(_length));
        _length += input.Length;
    }

    public int DoFinal(byte[] output, int outOff) => DoFinal(output.AsSpan(outOff));

    public int DoFinal(Span<byte> output)
    {
        var kept = _input.AsSpan(0, _length);
        var written = _stream is not null ? _stream.GetHashAndReset(output)
            : _algorithm == HashAlgorithmName.SHA256 ? SHA256.HashData(kept, output)
            : SHA384.HashData(kept, output);
        Reset();
        return written;
    }

    public void Reset()
    {
        _length = 0;
        _stream?.Dispose();
        _stream = null;
    }

    public IMemoable Copy() => new OneShotSha2Digest(_algorithm, _size, _input.AsSpan(0, _length).ToArray(), _length) { _stream = _stream?.Clone() };

    public void Reset(IMemoable other)
    {
        var from = (OneShotSha2Digest)other;
        if (from._algorithm != _algorithm) throw new ArgumentException($"cannot reset {AlgorithmName} from {from.AlgorithmName}", nameof(other));
        Reset();
        if (from._stream is not null) _stream = from._stream.Clone();
        else BlockUpdate(from._input.AsSpan(0, from._length));
    }

    private void Reserve(int count)
    {
        if (_input.Length - _length >= count) return;
        Array.Resize(ref _input, Math.Max(_input.Length * 2, _length + count));
    }
}
