namespace KeylessOrleans.Edge.Hosting;

/// <summary>
/// The edge's background loops (registry follower, status reporter): one step per interval until the host stops; a
/// failing step never ends the loop, and a run of failures is reported once, when it begins.
/// </summary>
internal static class PollingLoop
{
    public static async Task RunAsync(Func<CancellationToken, Task> step, Func<TimeSpan> interval, Action<Exception> firstFailure, CancellationToken stopping)
    {
        var failing = false;
        while (!stopping.IsCancellationRequested)
        {
            try
            {
                await step(stopping);
                failing = false;
            }
            catch (OperationCanceledException) when (stopping.IsCancellationRequested)
            {
                return;
            }
            catch (Exception e)
            {
                if (!failing) firstFailure(e);
                failing = true;
            }
            await Task.Delay(interval(), stopping).ContinueWith(_ => { }, TaskScheduler.Default);
        }
    }
}
