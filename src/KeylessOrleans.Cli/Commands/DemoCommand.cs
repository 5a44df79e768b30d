using System.CommandLine;
using System.Net;
using System.Net.Security;
using System.Net.Sockets;
using System.Runtime.InteropServices;
using System.Security.Cryptography.X509Certificates;
using System.Text;
using KeylessOrleans.Cli.Demo;
using KeylessOrleans.Cluster.Hosting;

namespace KeylessOrleans.Cli.Commands;

/// <summary>
/// One command, a whole keyless deployment on this machine: an origin, an edge silo and the demo tenant's key
/// server silo, each a separate process started through this program's own subcommands.
/// </summary>
internal static class DemoCommand
{
    public static Command Create()
    {
        var httpsPort = new Option<int>("--https-port") { Description = "HTTPS port of the edge", DefaultValueFactory = _ => 8443 };
        var dataDir = new Option<string>("--data-dir") { Description = "Folder for the demo CA, keys and settings (reused on later runs)", DefaultValueFactory = _ => "./.keyless-demo" };
        var siloPort = new Option<int>("--silo-port") { Description = "Edge silo port; the key server takes the next one", DefaultValueFactory = _ => 11111 };
        var gatewayPort = new Option<int>("--gateway-port") { Description = "Orleans gateway port of the edge", DefaultValueFactory = _ => 30000 };
        var prepareOnly = new Option<bool>("--prepare-only") { Description = "Only create the data folder (demo CA, keys, tenants file for --origin-port) and exit; deploy/local uses this" };
        var originPort = new Option<int?>("--origin-port") { Description = "Origin port written to the tenants file (default: a free port)" };
        var adminPort = new Option<int?>("--admin-port") { Description = "Edge admin port (/metrics, /healthz, /readyz); the key server takes the next one (default: free ports)" };
        var keyServerGatewayPort = new Option<int?>("--key-server-gateway-port") { Description = "Gateway port of the demo tenant's key server, where the edge connects as a client (default: a free port)" };
        var command = new Command("demo", "Run an edge, the demo tenant's key server (a cluster of its own) and an origin on localhost, serving https://demo.localhost:<https-port>/.")
        {
            httpsPort, dataDir, siloPort, gatewayPort, prepareOnly, originPort, adminPort, keyServerGatewayPort,
        };
        command.SetAction(result =>
        {
            if (!result.GetValue(prepareOnly))
                return RunAsync(result.GetValue(httpsPort), result.GetValue(dataDir)!, result.GetValue(siloPort), result.GetValue(gatewayPort),
                    result.GetValue(adminPort), result.GetValue(keyServerGatewayPort));
            var files = new DemoFiles(result.GetValue(dataDir)!);
            files.EnsureKeys();
            files.EnsureClusterCertificates();
            files.WriteTenants(result.GetValue(originPort) ?? LoopbackPorts.Take(), result.GetValue(keyServerGatewayPort) ?? LoopbackPorts.Take());
            Console.WriteLine($"demo data ready in {files.Root}: CA {files.CaFile}, keys {files.KeyDirectory}, tenants {files.TenantsFile}");
            return Task.FromResult(0);
        });
        return command;
    }

    /// <summary>
    /// Runs until Ctrl-C, SIGTERM, or the end of the process that started the demo. A key server that exits after
    /// start-up is restarted with <see cref="RestartBackoff"/> while the edge keeps answering its tenant's handshakes
    /// with internal_error, so an outage and the recovery can be watched; the edge or the origin exiting, or any
    /// child exiting during start-up (a setup problem), stops the demo. The children end with the demo in every case
    /// (<see cref="ParentWatch"/>).
    /// </summary>
    private static async Task<int> RunAsync(int httpsPort, string dataDirectory, int siloPort, int gatewayPort, int? adminPort, int? keyServerGatewayPort)
    {
        using var stop = new CancellationTokenSource();
        using var sigterm = PosixSignalRegistration.Create(PosixSignal.SIGTERM, c => { c.Cancel = true; stop.Cancel(); });
        using var sigint = PosixSignalRegistration.Create(PosixSignal.SIGINT, c => { c.Cancel = true; stop.Cancel(); });
        var starter = ParentWatch.Parent;
        var starterGone = ParentWatch.WaitUntilGoneAsync(starter, stop.Token).ContinueWith(watch =>
        {
            if (!watch.IsCompletedSuccessfully) return;
            Console.Error.WriteLine($"demo: the process that started the demo (pid {starter}) is gone; stopping");
            stop.Cancel();
        }, TaskScheduler.Default);

        var files = new DemoFiles(dataDirectory);
        Console.WriteLine(files.EnsureKeys()
            ? $"demo: created a demo CA and RSA-2048 + ECDSA P-256 keys for {DemoFiles.HostName} in {files.KeyDirectory}"
            : $"demo: reusing the keys in {files.KeyDirectory}");
        if (files.EnsureClusterCertificates())
            Console.WriteLine($"demo: created an operator CA (edge and operator certificates) and the tenant's own CA (key server certificate) for mutual TLS");
        var originPort = LoopbackPorts.Take();
        // Free ports unless asked: a demo must not fail because something already listens on 9090. A free port
        // may be one the demo is about to use itself (the key server takes siloPort + 1): skip those.
        var taken = new HashSet<int> { httpsPort, siloPort, siloPort + 1, gatewayPort, originPort };
        var keyServerGateway = keyServerGatewayPort ?? FreePort();
        int FreePort()
        {
            while (true)
                if (LoopbackPorts.Take() is var free && taken.Add(free)) return free;
        }
        var (edgeAdmin, keyServerAdmin) = adminPort is { } port ? (port, port + 1) : (FreePort(), FreePort());
        files.WriteTenants(originPort, keyServerGateway);
        string[] Identity(string folder, string authority) =>
            ["--tls-cert", Path.Combine(folder, "cert.pem"), "--tls-key", Path.Combine(folder, "key.pem"), "--tls-ca", authority];
        // The tenant's own cluster: its key server, certified by the tenant's CA; edges reach its gateway as clients.
        // A restart uses the same ports: the edge knows the gateway from the tenants file.
        ChildProcess StartKeyServer() => ChildProcess.Start("keyserver", ["keyserver", "--tenant", DemoFiles.Tenant, "--keys", files.KeyDirectory,
            "--audit-log", files.AuditLogFile, "--silo-port", $"{siloPort + 1}", "--gateway-port", $"{keyServerGateway}", "--admin-port", $"{keyServerAdmin}",
            "--edge-ca", files.KeyServerEdgeCaFile, .. Identity(files.KeyServerIdentity, Path.Combine(files.TenantCaFolder, "ca.pem"))]);

        var children = new List<ChildProcess>();
        CancellationTokenSource? recovery = null;
        try
        {
            children.Add(ChildProcess.Start("origin", "origin", "--listen", $"127.0.0.1:{originPort}"));
            // The operator's cluster: one edge, certified by the operator's CA.
            children.Add(ChildProcess.Start("edge", ["edge", "--https-port", $"{httpsPort}", "--silo-port", $"{siloPort}",
                "--gateway-port", $"{gatewayPort}", "--tenants", files.TenantsFile, "--registry-dir", files.RegistryDirectory, "--edge-id", "demo-edge", "--admin-port", $"{edgeAdmin}",
                .. Identity(files.EdgeIdentity, Path.Combine(files.OperatorCaFolder, "ca.pem"))]));
            children.Add(StartKeyServer());
            const int KeyServer = 2;

            var anyExited = Task.WhenAny(children.Select(c => c.Exited));
            var ready = WaitUntilServingAsync(httpsPort, files.CaFile, stop.Token);
            var first = await Task.WhenAny(ready, anyExited, Task.Delay(TimeSpan.FromSeconds(120), stop.Token));
            if (stop.IsCancellationRequested) return 0;
            if (first != ready || !await ready)
            {
                var dead = children.FirstOrDefault(c => c.Exited.IsCompleted);
                await Console.Error.WriteLineAsync(dead is null
                    ? "demo: the edge did not serve https within 120 s; stopping"
                    : $"demo: the {dead.Name} process exited with code {dead.ExitCode}; stopping");
                return 1;
            }

            Console.WriteLine();
            Console.WriteLine($"KeylessOrleans demo ready: https://{DemoFiles.HostName}:{httpsPort}/  (edge pid {children[1].Id}, key server pid {children[KeyServer].Id})");
            Console.WriteLine($"  curl --cacert {files.CaFile} --resolve {DemoFiles.HostName}:{httpsPort}:127.0.0.1 https://{DemoFiles.HostName}:{httpsPort}/");
            Console.WriteLine($"The registry (tenants, registered keys) is kept in {files.RegistryDirectory} and outlives the edge.");
            Console.WriteLine($"Key operations are recorded in {files.AuditLogFile} (check it: keyless audit verify {files.AuditLogFile}).");
            Console.WriteLine($"The key server is a cluster of its own (gateway 127.0.0.1:{keyServerGateway}); the edge reaches it as a client over mutual TLS.");
            Console.WriteLine($"  metrics and health: edge http://127.0.0.1:{edgeAdmin}/metrics (/healthz, /readyz), key server http://127.0.0.1:{keyServerAdmin}/metrics");
            Console.WriteLine($"Try an outage: kill -9 {children[KeyServer].Id} (the key server); the demo restarts it.");
            Console.WriteLine("Ctrl-C stops everything.");
            Console.WriteLine();

            var edgeOrOrigin = Task.WhenAny(children[0].Exited, children[1].Exited);
            var stopped = Task.Delay(Timeout.Infinite, stop.Token).ContinueWith(_ => { }, TaskScheduler.Default);
            var backoff = new RestartBackoff();
            while (true)
            {
                var keyServer = children[KeyServer];
                var ended = await Task.WhenAny(edgeOrOrigin, keyServer.Exited, stopped);
                if (stop.IsCancellationRequested) return 0;
                if (ended == edgeOrOrigin)
                {
                    var dead = children.First(c => c.Exited.IsCompleted);
                    await Console.Error.WriteLineAsync($"demo: the {dead.Name} process exited with code {dead.ExitCode}; stopping");
                    return 1;
                }

                recovery?.Cancel();
                recovery?.Dispose();
                recovery = null;
                var wait = backoff.Next(keyServer.Age);
                Console.WriteLine($"demo: key server exited (code {keyServer.ExitCode}): handshakes for {DemoFiles.HostName} get internal_error until it is back; restarting in {wait.TotalSeconds:0} s");
                await keyServer.DisposeAsync();
                await Task.Delay(wait, stop.Token).ContinueWith(_ => { }, TaskScheduler.Default);
                if (stop.IsCancellationRequested) return 0;
                children[KeyServer] = StartKeyServer();
                Console.WriteLine($"demo: key server restarted (pid {children[KeyServer].Id})");
                recovery = CancellationTokenSource.CreateLinkedTokenSource(stop.Token);
                _ = AnnounceRecoveryAsync(httpsPort, files.CaFile, recovery.Token);
            }
        }
        finally
        {
            Console.WriteLine("demo: stopping");
            recovery?.Cancel();
            await stop.CancelAsync(); // ends the watch on the starter
            await starterGone;
            // Key server first, then the edge, then the origin.
            for (var i = children.Count - 1; i >= 0; i--) await children[i].DisposeAsync();
            recovery?.Dispose();
            Console.WriteLine("demo: stopped");
        }
    }

    /// <summary>Says so once the edge serves the demo host again after a key server restart.</summary>
    private static async Task AnnounceRecoveryAsync(int httpsPort, string caFile, CancellationToken cancellationToken)
    {
        if (await WaitUntilServingAsync(httpsPort, caFile, cancellationToken))
            Console.WriteLine($"demo: the key server is back: handshakes for {DemoFiles.HostName} succeed again");
    }

    /// <summary>True once a TLS 1.3 request to the demo host through the edge returns 200.</summary>
    private static async Task<bool> WaitUntilServingAsync(int httpsPort, string caFile, CancellationToken cancellationToken)
    {
        var ca = X509CertificateLoader.LoadCertificateFromFile(caFile);
        while (!cancellationToken.IsCancellationRequested)
        {
            try
            {
                using var socket = new Socket(SocketType.Stream, ProtocolType.Tcp);
                await socket.ConnectAsync(IPAddress.Loopback, httpsPort, cancellationToken);
                await using var tls = new SslStream(new NetworkStream(socket, ownsSocket: false));
                using var timeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
                timeout.CancelAfter(TimeSpan.FromSeconds(5));
                await tls.AuthenticateAsClientAsync(new SslClientAuthenticationOptions
                {
                    TargetHost = DemoFiles.HostName,
                    RemoteCertificateValidationCallback = (_, certificate, _, _) => IssuedBy(certificate, ca),
                }, timeout.Token);
                await tls.WriteAsync(Encoding.ASCII.GetBytes($"GET / HTTP/1.1\r\nHost: {DemoFiles.HostName}\r\nConnection: close\r\n\r\n"), timeout.Token);
                var response = await new StreamReader(tls).ReadToEndAsync(timeout.Token);
                if (response.StartsWith("HTTP/1.1 200", StringComparison.Ordinal)) return true;
            }
            catch (Exception e) when (e is SocketException or IOException or System.Security.Authentication.AuthenticationException or OperationCanceledException)
            {
                // Not up yet: the edge is starting, or the key server has not registered its keys.
            }
            await Task.Delay(500, cancellationToken).ContinueWith(_ => { }, TaskScheduler.Default);
        }
        return false;
    }

    private static bool IssuedBy(X509Certificate? certificate, X509Certificate2 ca)
    {
        if (certificate is null) return false;
        using var chain = new X509Chain();
        chain.ChainPolicy.TrustMode = X509ChainTrustMode.CustomRootTrust;
        chain.ChainPolicy.CustomTrustStore.Add(ca);
        chain.ChainPolicy.RevocationMode = X509RevocationMode.NoCheck;
        using var leaf = X509CertificateLoader.LoadCertificate(certificate.GetRawCertData());
        return chain.Build(leaf);
    }
}
