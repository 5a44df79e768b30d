using System.Net.Sockets;
using System.Runtime.InteropServices;
using KeylessOrleans.TestSupport;

namespace KeylessOrleans.Wan.Tests.Network;

/// <summary>
/// A Linux network namespace this test run created (<c>ip netns add</c>), deleted again on dispose — which also
/// deletes every interface in it and the veth peers of those. Processes run in it through <see cref="Launcher"/>;
/// sockets of the test process itself are made in it by <see cref="NewSocket"/>.
/// </summary>
public sealed class NetworkNamespace : IDisposable
{
    private const int CloneNewNet = 0x40000000;

    private readonly Thread _insider;
    private readonly InsiderWork _work = new();

    private NetworkNamespace(string name)
    {
        Name = name;
        // A socket belongs to the namespace of the thread that created it, for its whole life; setns(2) moves
        // only the calling thread. So one dedicated thread enters the namespace and makes every socket for it.
        using var entered = new ManualResetEventSlim();
        Exception? failure = null;
        _insider = new Thread(() =>
        {
            try
            {
                using var handle = File.OpenHandle($"/var/run/netns/{name}");
                if (SetNs((int)handle.DangerousGetHandle(), CloneNewNet) != 0)
                    throw new InvalidOperationException($"setns into {name} failed: errno {Marshal.GetLastPInvokeError()}");
            }
            catch (Exception e)
            {
                failure = e;
                return;
            }
            finally
            {
                entered.Set();
            }
            _work.RunUntilCompleted();
        }) { IsBackground = true, Name = $"netns {name}" };
        _insider.Start();
        entered.Wait();
        if (failure is not null) throw failure;
    }

    public string Name { get; }

    /// <summary>The command prefix that runs a program inside this namespace (<c>ip netns exec</c> execs it: same PID).</summary>
    public IReadOnlyList<string> Launcher => ["ip", "netns", "exec", Name];

    /// <summary>Creates the namespace with its loopback up.</summary>
    public static async Task<NetworkNamespace> CreateAsync(string name)
    {
        await Ip("netns", "add", name);
        await Ip("-n", name, "link", "set", "lo", "up");
        return new NetworkNamespace(name);
    }

    /// <summary>A TCP socket in this namespace (bind, listen and connect then work on its addresses).</summary>
    public Socket NewSocket() => _work.Run(() => new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp));

    /// <summary>An <c>ip</c> command inside this namespace (<c>ip -n NAME ...</c>).</summary>
    public Task RunIpAsync(params string[] arguments) => Ip(["-n", Name, .. arguments]);

    /// <summary>Any program inside this namespace, to its end.</summary>
    public Task<ExternalTool.Result> RunAsync(string program, params string[] arguments) =>
        ExternalTool.RunAsync("ip", ["netns", "exec", Name, program, .. arguments]);

    public static async Task Ip(params string[] arguments)
    {
        var result = await ExternalTool.RunAsync("ip", arguments);
        if (result.ExitCode != 0) throw new InvalidOperationException($"ip {string.Join(' ', arguments)} failed: {result.All.Trim()}");
    }

    /// <summary>Names of the namespaces that exist now.</summary>
    public static IReadOnlyList<string> Existing() =>
        Directory.Exists("/var/run/netns") ? Directory.GetFiles("/var/run/netns").Select(Path.GetFileName).OfType<string>().ToList() : [];

    /// <summary>The processes running in the namespace <paramref name="name"/> (<c>ip netns pids</c>).</summary>
    public static IReadOnlyList<int> Pids(string name)
    {
        var result = ExternalTool.RunAsync("ip", ["netns", "pids", name]).GetAwaiter().GetResult();
        return result.Output.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries).Select(int.Parse).ToList();
    }

    /// <summary>Deletes a namespace by name (no-op when it is gone); used for leftovers of a crashed run.</summary>
    public static void Delete(string name)
    {
        var result = ExternalTool.RunAsync("ip", ["netns", "delete", name]).GetAwaiter().GetResult();
        if (result.ExitCode != 0 && Existing().Contains(name))
            throw new InvalidOperationException($"ip netns delete {name} failed: {result.All.Trim()}");
    }

    public void Dispose()
    {
        _work.Complete();
        _insider.Join();
        Delete(Name);
    }

    [DllImport("libc", EntryPoint = "setns", SetLastError = true)]
    private static extern int SetNs(int fd, int nstype);

    /// <summary>Work items for the thread inside the namespace.</summary>
    private sealed class InsiderWork
    {
        private readonly System.Collections.Concurrent.BlockingCollection<Action> _items = new();

        public T Run<T>(Func<T> work)
        {
            var done = new TaskCompletionSource<T>(TaskCreationOptions.RunContinuationsAsynchronously);
            _items.Add(() =>
            {
                try
                {
                    done.SetResult(work());
                }
                catch (Exception e)
                {
                    done.SetException(e);
                }
            });
            return done.Task.GetAwaiter().GetResult();
        }

        public void RunUntilCompleted()
        {
            foreach (var item in _items.GetConsumingEnumerable()) item();
        }

        public void Complete() => _items.CompleteAdding();
    }
}
