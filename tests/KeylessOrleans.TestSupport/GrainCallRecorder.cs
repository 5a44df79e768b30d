using System.Collections.Concurrent;
using Orleans.Serialization;

namespace KeylessOrleans.TestSupport;

/// <summary>Every grain request and response the silos handled, in their Orleans wire encoding.</summary>
public sealed class GrainCallRecorder
{
    public ConcurrentQueue<(string Method, byte[] Encoded)> Messages { get; } = new();

    /// <summary>The request-context keys each incoming call arrived with (before any other filter ran).</summary>
    public ConcurrentQueue<(string Method, string[] Keys)> ContextKeys { get; } = new();

    /// <summary>Key operations the key grains were asked for (each recorded twice: arguments and result).</summary>
    public int KeyGrainCalls => Messages.Count(m => m.Method.Contains("IKeyGrain") && !m.Method.Contains("Describe")) / 2;

    public bool Contains(ReadOnlySpan<byte> needle)
    {
        foreach (var (_, encoded) in Messages)
            if (encoded.AsSpan().IndexOf(needle) >= 0) return true;
        return false;
    }
}

/// <summary>Records the arguments and result of every incoming grain call, serialized as Orleans sends them.</summary>
public sealed class RecordingGrainCallFilter(GrainCallRecorder recorder, Serializer serializer) : IIncomingGrainCallFilter
{
    public async Task Invoke(IIncomingGrainCallContext context)
    {
        var method = $"{context.InterfaceName}.{context.MethodName}";
        recorder.ContextKeys.Enqueue((method, [.. RequestContext.Keys ?? []]));
        for (var i = 0; i < context.Request.GetArgumentCount(); i++)
            Record(method, context.Request.GetArgument(i));
        try
        {
            await context.Invoke();
            Record(method, context.Result);
        }
        catch (Exception e)
        {
            Record(method, e.ToString());
            throw;
        }
    }

    private void Record(string method, object? value)
    {
        if (value is null or CancellationToken) return;
        recorder.Messages.Enqueue((method, serializer.SerializeToArray<object>(value)));
    }
}
