using System.Collections.Concurrent;
using KeylessOrleans.Keys;
using Orleans.Serialization;

namespace KeylessOrleans.TestSupport;

/// <summary>Every grain request and response the silos handled, in their Orleans wire encoding.</summary>
public sealed class GrainCallRecorder
{
    /// <summary>Method: "Interface.Method", followed by the operation's name for a key request.</summary>
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
        var arguments = Enumerable.Range(0, context.Request.GetArgumentCount()).Select(context.Request.GetArgument).ToList();
        // A key request names its operation: the method alone (PerformAsync) does not say which one was asked for.
        var operation = arguments.OfType<KeyRequest>().FirstOrDefault()?.Operation;
        var method = operation is null ? $"{context.InterfaceName}.{context.MethodName}" : $"{context.InterfaceName}.{context.MethodName} {operation}";
        recorder.ContextKeys.Enqueue((method, [.. RequestContext.Keys ?? []]));
        foreach (var argument in arguments)
            Record(method, argument);
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
