namespace KeylessOrleans.Edge.Handshake;

/// <summary>
/// Blocks a handshake thread until a task completes, without spinning first. Task.Wait and GetResult spin before
/// they sleep; a key call takes a network round trip, so that spinning never pays off, and on a small edge it took
/// the cores from the threads that complete the call (a profile of full TLS 1.3 handshakes: ~15 % of the edge's
/// CPU spun in Task.SpinWait under the key-call wait).
/// </summary>
internal static class QuietWait
{
    /// <returns>True when <paramref name="task"/> completed within <paramref name="timeout"/>.</returns>
    public static bool For(Task task, TimeSpan timeout)
    {
        if (task.IsCompleted) return true;
        // spinCount 0: sleep at once. Not disposed: after a timeout the continuation may still set it, and without a
        // WaitHandle requested it holds no kernel object.
        var done = new ManualResetEventSlim(false, spinCount: 0);
        task.ContinueWith(static (_, state) => ((ManualResetEventSlim)state!).Set(), done,
            CancellationToken.None, TaskContinuationOptions.ExecuteSynchronously, TaskScheduler.Default);
        return done.Wait(timeout);
    }
}
