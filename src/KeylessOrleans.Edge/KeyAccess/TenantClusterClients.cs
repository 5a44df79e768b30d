using System.Collections.Concurrent;
using System.Net;
using System.Security.Cryptography.X509Certificates;
using KeylessOrleans.Cluster.Security;
using KeylessOrleans.Edge.Diagnostics;
using KeylessOrleans.Edge.Hosting;
using KeylessOrleans.Edge.Routing;
using KeylessOrleans.Keys;
using KeylessOrleans.Registry;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using Orleans.Configuration;
using Orleans.Connections.Security;

namespace KeylessOrleans.Edge.KeyAccess;

/// <summary>
/// The edge's connections to tenants' own key-server clusters: one Orleans client per tenant, through the gateways
/// the operator recorded (<see cref="TenantSettings.KeyServers"/>), over mutual TLS — the edge presents its cluster
/// certificate, and a gateway must present one from the tenant's CA (<see cref="TenantSettings.KeyServerCa"/>) naming a
/// replica of that very tenant. A tenant is never a member of the operator's cluster, so nothing it sends reaches
/// further than its own client here: a hostile gateway can answer this edge's calls badly, not route, gossip or place.
/// </summary>
/// <remarks>
/// A client is made on first use and reused; it is closed when the tenant's settings change (a new one follows them),
/// when the tenant is removed, or after <see cref="EdgeKeyCallOptions.TenantClientIdleTimeout"/> without use. A connection
/// attempt is bounded by <see cref="EdgeKeyCallOptions.TenantConnectTimeout"/>; after a failure the tenant is not tried again
/// for a backoff (1 s doubling to 30 s), during which its calls fail at once as unavailable. Each tenant connects on
/// its own, so a tenant whose gateways hang costs the others nothing.
/// Tenants without recorded key servers are members of the operator's cluster (single-organization mode,
/// <see cref="EdgeOptions.SharedCluster"/>) and are called through this silo's own grain factory.
/// </remarks>
internal sealed partial class TenantClusterClients(
    IGrainFactory ownCluster,
    RouteTable routes,
    IOptions<EdgeOptions> options,
    ILoggerFactory loggers,
    EdgeMetrics metrics,
    TimeProvider time) : IAsyncDisposable
{
    private readonly TimeProvider _time = time;
    private readonly EdgeMetrics _metrics = metrics;

    private static readonly TimeSpan FirstBackoff = TimeSpan.FromSeconds(1);
    private static readonly TimeSpan LongestBackoff = TimeSpan.FromSeconds(30);

    private readonly ConcurrentDictionary<string, TenantConnection> _connections = new(StringComparer.Ordinal);
    private readonly ILogger _logger = loggers.CreateLogger<TenantClusterClients>();
    private X509Certificate2? _identity;
    private int _disposed;

    /// <summary>Tenants with an open (or opening) client right now.</summary>
    public int Count => _connections.Count;

    /// <summary>
    /// Where to send calls for <paramref name="tenant"/>'s key grains. Throws <see cref="OrleansException"/> when its
    /// key servers cannot be reached (or none are recorded), and <see cref="OperationCanceledException"/> past the token.
    /// </summary>
    public async ValueTask<IGrainFactory> GrainsAsync(string tenant, CancellationToken cancellationToken)
    {
        var settings = routes.Tenant(tenant);
        if (settings is null || !settings.IsFederated)
        {
            if (options.Value.SharedCluster) return ownCluster;
            throw new OrleansException($"tenant {tenant} has no key servers recorded (Keyless:Edge:SharedCluster is off)");
        }
        ObjectDisposedException.ThrowIf(_disposed != 0, this);

        while (true)
        {
            var connection = _connections.GetOrAdd(tenant, static (t, s) => new TenantConnection(t, s.Settings, s.Owner), (Settings: settings, Owner: this));
            if (!connection.Settings.SameAs(settings))
            {
                // The operator changed where (or how) the tenant is reached: the next call opens a client that follows.
                if (_connections.TryRemove(new KeyValuePair<string, TenantConnection>(tenant, connection)))
                    _ = connection.DisposeAsync().AsTask();
                continue;
            }
            connection.Touch(_time.GetTimestamp());
            return await connection.ClientAsync(cancellationToken);
        }
    }

    /// <summary>Closes clients of tenants that were removed or have not been used for the idle timeout.</summary>
    public async Task SweepAsync()
    {
        var now = _time.GetTimestamp();
        foreach (var (tenant, connection) in _connections)
        {
            var settings = routes.Tenant(tenant);
            var idle = _time.GetElapsedTime(connection.LastUsed, now) > options.Value.KeyCalls.TenantClientIdleTimeout;
            if (settings is not null && settings.IsFederated && !idle) continue;
            if (!_connections.TryRemove(new KeyValuePair<string, TenantConnection>(tenant, connection))) continue;
            LogClosed(tenant, settings is null ? "tenant removed" : idle ? "idle" : "no key servers recorded");
            await connection.DisposeAsync();
        }
    }

    public async ValueTask DisposeAsync()
    {
        if (Interlocked.Exchange(ref _disposed, 1) != 0) return;
        foreach (var connection in _connections.Values) await connection.DisposeAsync();
        _connections.Clear();
        _identity?.Dispose();
    }

    private X509Certificate2? Identity()
    {
        var o = options.Value;
        if (string.IsNullOrWhiteSpace(o.IdentityCertificate)) return null;
        return _identity ??= X509Certificate2.CreateFromPemFile(o.IdentityCertificate, o.IdentityKey);
    }

    /// <summary>Builds and starts one tenant's client; throws when its gateways cannot be reached in time.</summary>
    private async Task<(IHost Host, IClusterClient Client)> ConnectAsync(string tenant, TenantSettings settings, CancellationToken cancellationToken)
    {
        var o = options.Value;
        var gateways = new List<IPEndPoint>();
        foreach (var server in settings.KeyServers!)
            gateways.AddRange(await ResolveAsync(server.Gateway, cancellationToken));
        if (gateways.Count == 0) throw new OrleansException($"no gateway address of tenant {tenant} resolves");

        var identity = Identity();
        X509Certificate2? authority = null;
        if (settings.KeyServerCa is { Length: > 0 } caPem)
        {
            if (identity is null) throw new OrleansException($"tenant {tenant} requires mutual TLS and this edge has no identity certificate");
            authority = X509Certificate2.CreateFromPem(caPem);
        }
        else if (identity is not null)
        {
            throw new OrleansException($"tenant {tenant} has no key-server CA recorded: an edge with an identity connects over mutual TLS only");
        }

        var builder = Host.CreateEmptyApplicationBuilder(new HostApplicationBuilderSettings { DisableDefaults = true });
        builder.Services.AddSingleton(loggers); // the edge's own logging; not disposed with the client
        builder.UseOrleansClient(client =>
        {
            client.UseStaticClustering(gateways.ToArray());
            client.Configure<ClusterOptions>(c =>
            {
                c.ClusterId = TenantCluster.ClusterId(tenant);
                c.ServiceId = TenantCluster.ServiceId;
            });
            // A call this client sends is bounded by the edge's own deadline; this only ends what nobody waits for.
            client.Configure<ClientMessagingOptions>(m => m.ResponseTimeout = o.KeyCalls.Timeout + TimeSpan.FromSeconds(5));
            client.Configure<GatewayOptions>(g => g.GatewayListRefreshPeriod = TimeSpan.FromMinutes(1));
            if (authority is not null)
            {
                client.UseTls(identity!, tls =>
                {
                    tls.RemoteCertificateMode = RemoteCertificateMode.RequireCertificate;
                    tls.OnAuthenticateAsClient = (_, s) => s.TargetHost = $"keyserver.{tenant}";
                    tls.RemoteCertificateValidation = (certificate, _, _) => KeyServerCertificateProblem(certificate, authority, tenant) is not { } problem
                        || Refused(tenant, problem);
                });
            }
        });
        var host = builder.Build();
        try
        {
            using var timeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
            timeout.CancelAfter(o.KeyCalls.TenantConnectTimeout);
            await host.StartAsync(timeout.Token).WaitAsync(timeout.Token);
            return (host, host.Services.GetRequiredService<IClusterClient>());
        }
        catch
        {
            _ = Task.Run(async () =>
            {
                try { await host.StopAsync(TimeSpan.FromSeconds(1)); } catch (Exception) { /* it never started */ }
                host.Dispose();
            }, CancellationToken.None);
            throw;
        }
    }

    private bool Refused(string tenant, string problem)
    {
        _metrics.TenantConnectRefused(tenant);
        LogCertificateRefused(tenant, problem);
        return false;
    }

    /// <summary>Why a gateway's certificate is not one of <paramref name="tenant"/>'s key servers, or null when it is.</summary>
    public static string? KeyServerCertificateProblem(X509Certificate2 certificate, X509Certificate2 authority, string tenant)
    {
        using var chain = new X509Chain();
        chain.ChainPolicy.TrustMode = X509ChainTrustMode.CustomRootTrust;
        chain.ChainPolicy.CustomTrustStore.Add(authority);
        chain.ChainPolicy.RevocationMode = X509RevocationMode.NoCheck;
        if (!chain.Build(certificate))
            return $"certificate '{certificate.Subject}' is not issued by tenant {tenant}'s key-server CA ({string.Join(", ", chain.ChainStatus.Select(s => s.Status))})";
        return SiloIdentity.FromCertificate(certificate) is { Role: SiloIdentity.OnPremRole } identity && identity.Tenant == tenant
            ? null
            : $"certificate '{certificate.Subject}' does not name a key server of tenant {tenant}";
    }

    private static async Task<IPEndPoint[]> ResolveAsync(string gateway, CancellationToken cancellationToken)
    {
        if (IPEndPoint.TryParse(gateway, out var endpoint) && endpoint.Port != 0) return [endpoint];
        var separator = gateway.LastIndexOf(':');
        if (separator <= 0 || !int.TryParse(gateway[(separator + 1)..], out var port)) return [];
        var addresses = await Dns.GetHostAddressesAsync(gateway[..separator], cancellationToken);
        return addresses.Select(a => new IPEndPoint(a, port)).ToArray();
    }

    /// <summary>One tenant's client: connected once, shared by every call; failures back off.</summary>
    private sealed class TenantConnection(string tenant, TenantSettings settings, TenantClusterClients owner) : IAsyncDisposable
    {
        private readonly Lock _lock = new();
        private Task<(IHost Host, IClusterClient Client)>? _connecting;
        private long _retryAt;
        private TimeSpan _backoff = FirstBackoff;
        private long _lastUsed;

        public TenantSettings Settings { get; } = settings;

        public long LastUsed => Interlocked.Read(ref _lastUsed);

        public void Touch(long now) => Interlocked.Exchange(ref _lastUsed, now);

        public async Task<IGrainFactory> ClientAsync(CancellationToken cancellationToken)
        {
            Task<(IHost Host, IClusterClient Client)> connecting;
            lock (_lock)
            {
                if (_connecting is { IsFaulted: true } or { IsCanceled: true })
                {
                    var wait = owner._time.GetElapsedTime(owner._time.GetTimestamp(), _retryAt);
                    if (wait > TimeSpan.Zero)
                        throw new OrleansException($"key servers of tenant {tenant} unreachable; trying again in {wait.TotalMilliseconds:0} ms");
                    _connecting = null;
                }
                if (_connecting is null)
                {
                    owner._metrics.TenantConnectAttempt(tenant);
                    _connecting = Task.Run(() => owner.ConnectAsync(tenant, Settings, CancellationToken.None));
                    _ = _connecting.ContinueWith(t => Connected(t), TaskScheduler.Default);
                }
                connecting = _connecting;
            }
            try
            {
                var (_, client) = await connecting.WaitAsync(cancellationToken);
                return client;
            }
            catch (Exception e) when (e is not OperationCanceledException and not OrleansException)
            {
                throw new OrleansException($"key servers of tenant {tenant} unreachable: {e.GetBaseException().Message}", e);
            }
        }

        private void Connected(Task<(IHost Host, IClusterClient Client)> attempt)
        {
            lock (_lock)
            {
                if (attempt.IsCompletedSuccessfully)
                {
                    _backoff = FirstBackoff;
                    owner.LogConnected(tenant, Settings.KeyServers!.Count);
                    return;
                }
                _retryAt = owner._time.GetTimestamp() + (long)(_backoff.TotalSeconds * owner._time.TimestampFrequency);
                owner.LogConnectFailed(tenant, attempt.Exception?.GetBaseException().Message ?? "timed out", _backoff.TotalMilliseconds);
                _backoff = TimeSpan.FromTicks(Math.Min(_backoff.Ticks * 2, LongestBackoff.Ticks));
            }
        }

        public async ValueTask DisposeAsync()
        {
            Task<(IHost Host, IClusterClient Client)>? connecting;
            lock (_lock) connecting = _connecting;
            if (connecting is null) return;
            try
            {
                var (host, _) = await connecting;
                using var stop = new CancellationTokenSource(TimeSpan.FromSeconds(5));
                await host.StopAsync(stop.Token);
                host.Dispose();
            }
            catch (Exception)
            {
                // A client that never connected has nothing to close.
            }
        }
    }

    [LoggerMessage(EventId = EventIds.TenantClusterConnected, Level = LogLevel.Information, Message = "Connected to tenant {Tenant}'s key-server cluster ({GatewayCount} replicas recorded)")]
    private partial void LogConnected(string tenant, int gatewayCount);

    [LoggerMessage(EventId = EventIds.TenantClusterConnectFailed, Level = LogLevel.Warning, Message = "Cannot reach tenant {Tenant}'s key servers: {Problem}; its handshakes fail until a retry in {BackoffMs:0} ms succeeds")]
    private partial void LogConnectFailed(string tenant, string problem, double backoffMs);

    [LoggerMessage(EventId = EventIds.TenantClusterCertificateRefused, Level = LogLevel.Warning, Message = "Refused a gateway of tenant {Tenant}: {Problem}")]
    private partial void LogCertificateRefused(string tenant, string problem);

    [LoggerMessage(EventId = EventIds.TenantClusterClosed, Level = LogLevel.Information, Message = "Closed the client of tenant {Tenant}'s key-server cluster ({Reason})")]
    private partial void LogClosed(string tenant, string reason);
}
