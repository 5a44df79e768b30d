using System.Net;
using System.Net.Http.Headers;
using System.Net.Sockets;
using System.Security.Cryptography;
using KeylessOrleans.Edge.Caching;
using KeylessOrleans.Edge.Diagnostics;
using KeylessOrleans.Edge.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using Org.BouncyCastle.X509;

namespace KeylessOrleans.Edge.Stapling;

/// <summary>
/// OCSP responses to staple, per served certificate: fetched from the responder the certificate names (its
/// Authority Information Access), checked (<see cref="OcspResponseCheck"/>) and kept until halfway to their
/// nextUpdate, then fetched again. Handshakes never wait for a responder: they staple what is current, and the
/// first handshake for a certificate (or one after its staple went stale) only starts the fetch.
/// </summary>
internal sealed partial class OcspStapler : IDisposable
{
    private const int MaxResponseBytes = 64 * 1024;

    private readonly EdgeOptions _options;
    private readonly TimeProvider _time;
    private readonly EdgeMetrics _metrics;
    private readonly ILogger<OcspStapler> _logger;
    private readonly HttpClient _http;
    private readonly ResponderAddressPolicy _addresses;
    private readonly LastUsedMap<string, Entry> _entries = new(keepUnused: TimeSpan.FromDays(1), sweepEvery: TimeSpan.FromHours(1));

    public OcspStapler(IOptions<EdgeOptions> options, TimeProvider time, EdgeMetrics metrics, ILogger<OcspStapler> logger)
    {
        _options = options.Value;
        _time = time;
        _metrics = metrics;
        _logger = logger;
        _addresses = new ResponderAddressPolicy(_options.Stapling.ResponderPrivateNetworks.Select(IPNetwork.Parse));
        _http = new HttpClient(new SocketsHttpHandler { AllowAutoRedirect = false, UseProxy = false, ConnectCallback = ConnectAsync })
        {
            Timeout = _options.Stapling.FetchTimeout,
        };
    }

    /// <summary>Connects only to addresses the policy allows, resolving the name here so the check sees what is dialled.</summary>
    private async ValueTask<Stream> ConnectAsync(SocketsHttpConnectionContext context, CancellationToken cancellationToken)
    {
        var host = context.DnsEndPoint.Host;
        var addresses = IPAddress.TryParse(host, out var literal) ? [literal] : await Dns.GetHostAddressesAsync(host, cancellationToken);
        var allowed = addresses.Where(_addresses.Allows).ToArray();
        if (allowed.Length == 0) throw new ResponderAddressRefusedException(host, addresses);
        var socket = new Socket(SocketType.Stream, ProtocolType.Tcp) { NoDelay = true };
        try
        {
            await socket.ConnectAsync(allowed, context.DnsEndPoint.Port, cancellationToken);
            return new NetworkStream(socket, ownsSocket: true);
        }
        catch
        {
            socket.Dispose();
            throw;
        }
    }

    /// <summary>The current staple for the chain (end-entity first), or null; starts a fetch when one is due.</summary>
    public OcspStaple? Current(IReadOnlyList<byte[]> chainDer)
    {
        if (!_options.Stapling.Enabled || chainDer.Count < 2) return null; // no issuer, no CertID
        var key = Convert.ToHexString(SHA256.HashData(chainDer[0]));
        var now = _time.GetUtcNow();
        var entry = _entries.Use(key, now);
        if (now >= entry.RefreshAt && Interlocked.CompareExchange(ref entry.Fetching, 1, 0) == 0)
            _ = Task.Run(() => FetchAsync(entry, chainDer[0], chainDer[1])); // off the handshake thread entirely
        var staple = entry.Staple;
        return staple is not null && (staple.NextUpdate is null || staple.NextUpdate > now) ? staple : null;
    }

    private async Task FetchAsync(Entry entry, byte[] leafDer, byte[] issuerDer)
    {
        var subject = "?";
        var responder = "?";
        try
        {
            var parser = new X509CertificateParser();
            var leaf = parser.ReadCertificate(leafDer);
            var issuer = parser.ReadCertificate(issuerDer);
            subject = leaf.SubjectDN.ToString();
            if (ResponderOf(leafDer) is not { } url)
            {
                entry.RefreshAt = DateTimeOffset.MaxValue; // nothing to ask: no staple for this certificate, ever
                return;
            }
            responder = url.ToString();
            var (staple, problem) = await FetchAndCheckAsync(url, leaf, issuer);
            if (staple is null)
            {
                Failed(entry, problem!.StartsWith("the responder could not be reached", StringComparison.Ordinal) ? "unreachable" : "refused", subject, responder, problem);
                return;
            }
            _metrics.OcspFetched("ok");
            entry.Staple = staple;
            var halfLife = staple.NextUpdate is { } next ? (next - staple.ThisUpdate) / 2 : _options.Stapling.RefreshInterval;
            entry.RefreshAt = _time.GetUtcNow() + TimeSpan.FromTicks(Math.Clamp(halfLife.Ticks, TimeSpan.FromSeconds(1).Ticks, _options.Stapling.RefreshInterval.Ticks));
            LogFetched(subject, responder, staple.ThisUpdate, staple.NextUpdate);
        }
        catch (Exception e)
        {
            // Fire-and-forget: nothing may escape, and a failure must not turn into a fetch per handshake.
            Failed(entry, "failed", subject, responder, e.GetType().Name);
        }
        finally
        {
            Volatile.Write(ref entry.Fetching, 0);
        }
    }

    private void Failed(Entry entry, string outcome, string subject, string responder, string problem)
    {
        _metrics.OcspFetched(outcome);
        entry.RefreshAt = _time.GetUtcNow() + _options.Stapling.RetryInterval;
        LogFetchFailed(subject, responder, problem, _options.Stapling.RetryInterval.TotalSeconds);
    }

    private async Task<(OcspStaple?, string?)> FetchAndCheckAsync(Uri responder, X509Certificate leaf, X509Certificate issuer)
    {
        byte[] body;
        try
        {
            using var content = new ByteArrayContent(OcspResponseCheck.Request(leaf, issuer));
            content.Headers.ContentType = new MediaTypeHeaderValue("application/ocsp-request");
            // Headers only: the body is read here, at most 64 KiB of it, so a responder streaming without end costs
            // the edge 64 KiB, not its memory (the default would buffer up to 2 GB before any check).
            using var request = new HttpRequestMessage(HttpMethod.Post, responder) { Content = content };
            using var response = await _http.SendAsync(request, HttpCompletionOption.ResponseHeadersRead);
            if (!response.IsSuccessStatusCode) return (null, $"the responder answered HTTP {(int)response.StatusCode}");
            if (response.Content.Headers.ContentLength > MaxResponseBytes) return (null, "the response is larger than 64 KiB");
            await using var stream = await response.Content.ReadAsStreamAsync();
            if (await ReadAtMostAsync(stream, MaxResponseBytes) is not { } read) return (null, "the response is larger than 64 KiB");
            body = read;
        }
        catch (HttpRequestException e) when (e.InnerException is ResponderAddressRefusedException refused)
        {
            return (null, refused.Message);
        }
        catch (Exception e) when (e is HttpRequestException or TaskCanceledException or IOException)
        {
            return (null, $"the responder could not be reached ({e.GetType().Name})");
        }
        return OcspResponseCheck.Check(body, leaf, issuer, _time.GetUtcNow());
    }

    /// <summary>The whole stream when it holds at most <paramref name="limit"/> bytes; null (having read limit + 1) when longer.</summary>
    private static async Task<byte[]?> ReadAtMostAsync(Stream stream, int limit)
    {
        var buffer = new byte[limit + 1];
        var length = 0;
        int read;
        while (length < buffer.Length && (read = await stream.ReadAsync(buffer.AsMemory(length))) > 0) length += read;
        return length > limit ? null : buffer[..length];
    }

    /// <summary>The first http(s) OCSP responder in the certificate's Authority Information Access, if any.</summary>
    private static Uri? ResponderOf(byte[] leafDer)
    {
        using var certificate = System.Security.Cryptography.X509Certificates.X509CertificateLoader.LoadCertificate(leafDer);
        var access = certificate.Extensions.OfType<System.Security.Cryptography.X509Certificates.X509AuthorityInformationAccessExtension>().FirstOrDefault();
        return access?.EnumerateOcspUris()
            .Select(u => Uri.TryCreate(u, UriKind.Absolute, out var uri) ? uri : null)
            .FirstOrDefault(u => u is { Scheme: "http" or "https" });
    }

    public void Dispose() => _http.Dispose();

    private sealed class Entry : LastUsedEntry
    {
        public volatile OcspStaple? Staple;
        public DateTimeOffset RefreshAt = DateTimeOffset.MinValue;
        public int Fetching;
    }

    [LoggerMessage(EventId = EventIds.OcspFetched, Level = LogLevel.Information, Message = "OCSP response for {Subject} from {Responder}: good, thisUpdate {ThisUpdate:O}, nextUpdate {NextUpdate:O}; stapled from now on")]
    private partial void LogFetched(string subject, string responder, DateTimeOffset thisUpdate, DateTimeOffset? nextUpdate);

    [LoggerMessage(EventId = EventIds.OcspFetchFailed, Level = LogLevel.Warning, Message = "No OCSP staple for {Subject} from {Responder}: {Problem}; trying again in {RetrySeconds:0} s")]
    private partial void LogFetchFailed(string subject, string responder, string problem, double retrySeconds);
}
