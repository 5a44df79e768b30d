using System.Net.Sockets;
using KeylessOrleans.TestSupport;

namespace KeylessOrleans.Benchmarks;

/// <summary>
/// nginx from Debian holding the same RSA and ECDSA keys itself — what an operator would run without keyless — with
/// the same protocols and suites as the edge, TLS 1.2 resumption by session ID and by ticket (like the edge) and a
/// proxy to the same origin. Started and stopped by PID.
/// </summary>
internal sealed class NginxServer : IAsyncDisposable
{
    private readonly KeylessProcess _process;

    private NginxServer(KeylessProcess process, int port) => (_process, Port) = (process, port);

    public int Port { get; }

    /// <summary>The master process; its workers are its children.</summary>
    public int ProcessId => _process.Id;

    public static async Task<NginxServer> StartAsync(TenantKeyFolder keys, int originPort, string workDirectory)
    {
        var prefix = Directory.CreateDirectory(Path.Combine(workDirectory, "nginx")).FullName;
        var port = KeylessProcess.FreePort();
        // The key folder's files hold each key followed by its chain: nginx reads the certificates and the key from one file.
        var rsa = Path.Combine(keys.Path, "rsa.pem");
        var ecdsa = Path.Combine(keys.Path, "ecdsa.pem");
        var user = Environment.UserName == "root" ? "user root root;" : "";
        var config = Path.Combine(prefix, "nginx.conf");
        await File.WriteAllTextAsync(config, $$"""
            {{user}}
            worker_processes auto;
            pid {{prefix}}/nginx.pid;
            error_log {{prefix}}/error.log warn;
            events { worker_connections 4096; }
            http {
                access_log off;
                client_body_temp_path {{prefix}}/body;
                proxy_temp_path {{prefix}}/proxy;
                fastcgi_temp_path {{prefix}}/fastcgi;
                uwsgi_temp_path {{prefix}}/uwsgi;
                scgi_temp_path {{prefix}}/scgi;
                server {
                    listen 127.0.0.1:{{port}} ssl;
                    server_name {{BenchCluster.Host}};
                    ssl_certificate {{rsa}};
                    ssl_certificate_key {{rsa}};
                    ssl_certificate {{ecdsa}};
                    ssl_certificate_key {{ecdsa}};
                    ssl_protocols TLSv1.2 TLSv1.3;
                    ssl_ciphers ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-ECDSA-AES256-GCM-SHA384:ECDHE-ECDSA-CHACHA20-POLY1305:ECDHE-RSA-AES128-GCM-SHA256:ECDHE-RSA-AES256-GCM-SHA384:ECDHE-RSA-CHACHA20-POLY1305:AES128-GCM-SHA256:AES256-GCM-SHA384;
                    ssl_prefer_server_ciphers on;
                    ssl_session_cache shared:SSL:20m;
                    ssl_session_tickets on;
                    location / {
                        proxy_pass http://127.0.0.1:{{originPort}};
                        proxy_buffering off;
                    }
                }
            }
            """);
        var process = KeylessProcess.StartProgram("nginx", ["-p", prefix, "-c", config, "-g", "daemon off;"], null);
        for (var attempt = 0; attempt < 100; attempt++)
        {
            if (process.HasExited) throw new InvalidOperationException($"nginx exited:\n{process.Output}");
            try
            {
                using var probe = new Socket(SocketType.Stream, ProtocolType.Tcp);
                await probe.ConnectAsync("127.0.0.1", port);
                return new NginxServer(process, port);
            }
            catch (SocketException)
            {
                await Task.Delay(100);
            }
        }
        await process.DisposeAsync();
        throw new TimeoutException("nginx did not listen within 10 s");
    }

    public ValueTask DisposeAsync() => _process.DisposeAsync();
}
