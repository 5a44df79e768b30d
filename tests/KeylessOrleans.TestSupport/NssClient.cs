using System.Security.Cryptography;

namespace KeylessOrleans.TestSupport;

/// <summary>
/// NSS's test client (tstclnt, Debian libnss3-tools) with its own certificate database trusting only the test CA:
/// the TLS client with delegated-credential support (-B) that runs headless.
/// </summary>
public sealed class NssClient : IDisposable
{
    private readonly TempDirectory _database = new("keyless-nss");

    private NssClient()
    {
    }

    public static Task<NssClient> CreateAsync(TestCertificateAuthority authority) =>
        CreateAsync(PemEncoding.WriteString("CERTIFICATE", authority.Certificate.RawData));

    /// <param name="caPem">The one CA to trust, as PEM.</param>
    public static async Task<NssClient> CreateAsync(string caPem)
    {
        var client = new NssClient();
        var ca = client._database.Write("ca.pem", caPem);
        await Check(ExternalTool.RunAsync("certutil", ["-N", "-d", client.Database, "--empty-password"]));
        await Check(ExternalTool.RunAsync("certutil", ["-A", "-d", client.Database, "-n", "keyless-test-ca", "-t", "C,,", "-i", ca]));
        return client;
    }

    private string Database => $"sql:{_database.Path}";

    /// <summary>
    /// One TLS 1.3 request to https://<paramref name="host"/>/ through 127.0.0.1, verifying the chain and the name;
    /// with <paramref name="ocspStapling"/> it asks for a stapled OCSP response (status_request) and says how many came.
    /// </summary>
    public async Task<ExternalTool.Result> GetAsync(int port, string host, bool delegatedCredentials, bool ocspStapling = false)
    {
        // tstclnt spins instead of exiting when its request comes on a pipe that ends; from a file (-A) it exits.
        // One file per call: concurrent calls rewriting a shared one handed tstclnt an empty request, and it waited.
        var request = _database.Write($"request-{Guid.NewGuid():n}.txt", $"GET / HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n\r\n");
        try
        {
            return await ExternalTool.RunAsync("tstclnt",
                ["-h", "127.0.0.1", "-p", $"{port}", "-a", host, "-d", Database, "-V", "tls1.3:tls1.3", "-A", request,
                    .. delegatedCredentials ? new[] { "-B" } : [], .. ocspStapling ? new[] { "-T" } : []]);
        }
        finally
        {
            File.Delete(request);
        }
    }

    private static async Task Check(Task<ExternalTool.Result> run)
    {
        var result = await run;
        if (result.ExitCode != 0) throw new InvalidOperationException($"certutil failed: {result.All}");
    }

    public void Dispose() => _database.Dispose();
}
