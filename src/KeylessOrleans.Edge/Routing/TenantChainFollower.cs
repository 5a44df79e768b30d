using System.Collections.Concurrent;
using System.Security.Cryptography;
using KeylessOrleans.Edge.Diagnostics;
using KeylessOrleans.Edge.Hosting;
using KeylessOrleans.Edge.KeyAccess;
using KeylessOrleans.Keys;
using KeylessOrleans.Registry;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace KeylessOrleans.Edge.Routing;

/// <summary>
/// Follows the certificate chains of the federated tenants this edge serves: their chains are fetched and checked
/// before their first route (<see cref="AdmitAsync"/>), and then every <see cref="EdgeControlPlaneOptions.ChainPollInterval"/>
/// it asks each recorded replica (<see cref="IKeyServerGrain"/>) whether its chains changed, and admits a changed set
/// only after checking it (<see cref="ChainAdmission"/>: names within the tenant's, and a fresh possession proof for
/// every key it has not yet proven since the key server started). A rotation reaches the edge within one interval.
/// An unreachable replica keeps its last admitted chains: its handshakes then fail fast through replica health, and
/// the key server's own checks still decide every key operation.
/// </summary>
internal sealed partial class TenantChainFollower(
    RouteTable routes,
    TenantClusterClients clients,
    KeyServerClient keys,
    AnswerCheck answers,
    EdgeMetrics metrics,
    IOptions<EdgeOptions> options,
    ILogger<TenantChainFollower> logger) : BackgroundService
{
    /// <summary>Replicas polled at once; a tenant whose key servers hang holds one of these for at most a deadline.</summary>
    private const int Parallelism = 16;

    private readonly ConcurrentDictionary<(string Tenant, string Replica), ReplicaState> _replicas = new();
    private readonly SemaphoreSlim _slots = new(Parallelism);
    private CancellationToken _stopping;

    /// <summary>
    /// Fetches and checks the chains of every replica of a tenant this edge is about to serve for the first time; the
    /// route table waits for it (bounded by its lookup deadline) before answering the tenant's first handshake.
    /// </summary>
    public Task AdmitAsync(TenantSettings tenant, CancellationToken cancellationToken) =>
        Task.WhenAll(tenant.KeyServers!.Select(server =>
        {
            var state = _replicas.GetOrAdd((tenant.Tenant, server.Replica), _ => new ReplicaState());
            // A poll already running for this replica admits the same chains; wait for it rather than ask twice.
            return state.Admitted.Task.WaitAsync(cancellationToken);
        }).Concat(tenant.KeyServers!.Select(server => PollOnceAsync(tenant, server.Replica))));

    private Task PollOnceAsync(TenantSettings tenant, string replica)
    {
        var state = _replicas.GetOrAdd((tenant.Tenant, replica), _ => new ReplicaState());
        return Interlocked.CompareExchange(ref state.Busy, 1, 0) != 0 ? Task.CompletedTask : PollAsync(tenant, replica, state, _stopping);
    }

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        _stopping = stoppingToken;
        routes.UseAdmission(AdmitAsync);
        while (!stoppingToken.IsCancellationRequested)
        {
            var listed = new HashSet<(string, string)>();
            foreach (var tenant in routes.Tenants.Where(t => t.IsFederated))
            {
                foreach (var server in tenant.KeyServers!)
                {
                    listed.Add((tenant.Tenant, server.Replica));
                    var state = _replicas.GetOrAdd((tenant.Tenant, server.Replica), _ => new ReplicaState());
                    if (Interlocked.CompareExchange(ref state.Busy, 1, 0) != 0) continue;
                    _ = PollAsync(tenant, server.Replica, state, stoppingToken);
                }
            }
            foreach (var gone in _replicas.Keys.Where(k => !listed.Contains(k)).ToList())
            {
                // Not served (idle, removed) or no longer listed: its chains are fetched and checked again if it returns.
                if (_replicas.TryGetValue(gone, out var state) && Volatile.Read(ref state.Busy) != 0) continue;
                _replicas.TryRemove(gone, out _);
                routes.RemoveFederatedReplica(gone.Tenant, gone.Replica);
            }
            await clients.SweepAsync();
            await Task.Delay(options.Value.ControlPlane.ChainPollInterval, stoppingToken).ContinueWith(_ => { }, TaskScheduler.Default);
        }
    }

    private async Task PollAsync(TenantSettings tenant, string replica, ReplicaState state, CancellationToken stoppingToken)
    {
        try
        {
            await _slots.WaitAsync(stoppingToken);
            try
            {
                await RefreshAsync(tenant, replica, state, stoppingToken);
                state.LastProblem = null;
            }
            finally
            {
                _slots.Release();
            }
        }
        catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
        {
        }
        catch (Exception e)
        {
            var problem = $"{e.GetType().Name}: {e.Message}";
            if (problem != state.LastProblem) LogUnreachable(tenant.Tenant, replica, problem);
            state.LastProblem = problem;
        }
        finally
        {
            state.Admitted.TrySetResult(); // asked once, admitted or not: a first handshake waits no longer
            Volatile.Write(ref state.Busy, 0);
        }
    }

    /// <summary>Fetches the replica's chains when changed (or when the tenant's settings did) and admits what passes.</summary>
    private async Task RefreshAsync(TenantSettings tenant, string replica, ReplicaState state, CancellationToken stoppingToken)
    {
        var settingsChanged = state.Settings is null || !state.Settings.SameAs(tenant);
        using var deadline = CancellationTokenSource.CreateLinkedTokenSource(stoppingToken);
        deadline.CancelAfter(options.Value.KeyCalls.TenantConnectTimeout + options.Value.KeyCalls.Timeout);
        var grains = await clients.GrainsAsync(tenant.Tenant, deadline.Token);
        var server = grains.GetGrain<IKeyServerGrain>($"{tenant.Tenant}/{replica}");
        var announced = await server.GetChainsIfChangedAsync(settingsChanged ? null : state.Version, deadline.Token).WaitAsync(deadline.Token);
        if (announced is null) return;

        var epoch = announced.Version.Split(':')[0];
        if (epoch != state.Epoch) state.Proven.Clear(); // a restarted key server proves its keys again
        state.Epoch = epoch;

        var admitted = new List<CertificateChainRegistration>();
        foreach (var (chain, index) in announced.Chains.Select((c, i) => (c, i)))
        {
            if (index >= ChainAdmission.MaxChainsPerReplica)
            {
                Refuse(tenant.Tenant, replica, $"{announced.Chains.Count - index} chains over the limit of {ChainAdmission.MaxChainsPerReplica} per replica");
                break;
            }
            var (checkedChain, problem) = ChainAdmission.Check(tenant, chain);
            if (checkedChain is null)
            {
                Refuse(tenant.Tenant, replica, problem!);
                continue;
            }
            var leafHash = Convert.ToHexString(SHA256.HashData(checkedChain.ChainDer[0]));
            if (!state.Proven.Contains(leafHash))
            {
                if (await ProveAsync(tenant.Tenant, replica, checkedChain) is { } refusal)
                {
                    Refuse(tenant.Tenant, replica, refusal);
                    continue;
                }
                state.Proven.Add(leafHash);
            }
            metrics.ChainAdmission(tenant.Tenant, accepted: true);
            admitted.Add(checkedChain);
        }

        routes.SetFederatedReplica(new ReplicaRegistration(tenant.Tenant, replica, admitted));
        state.Version = announced.Version;
        state.Settings = tenant;
        LogAdmitted(tenant.Tenant, replica, admitted.Count, announced.Chains.Count);
    }

    /// <summary>Asks the replica to sign a fresh challenge with the chain's key and checks the signature; null when proven.</summary>
    private async Task<string?> ProveAsync(string tenant, string replica, CertificateChainRegistration chain)
    {
        var request = ChainAdmission.PossessionRequest(keys.Context(tenant, chain.KeyId, chain.HostNames[0], null), chain.Algorithm);
        var result = await keys.PerformAsync(replica, request);
        if (!result.IsOk) return $"key {chain.KeyId[..16]}… was not proven: {result.Status} ({result.Detail})";
        return answers.Problem(chain.ChainDer[0], replica, request, result.Output!) is { } problem
            ? $"the possession proof for key {chain.KeyId[..16]}… is {problem}"
            : null;
    }

    private void Refuse(string tenant, string replica, string problem)
    {
        metrics.ChainAdmission(tenant, accepted: false);
        LogRefused(tenant, replica, problem);
    }

    private sealed class ReplicaState
    {
        public int Busy;
        public string? Version;
        public string? Epoch;
        public TenantSettings? Settings;
        public string? LastProblem;
        public HashSet<string> Proven { get; } = [];
        public TaskCompletionSource Admitted { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);
    }

    [LoggerMessage(EventId = EventIds.TenantChainsAdmitted, Level = LogLevel.Information, Message = "Admitted {Admitted} of {Announced} certificate chains of {Tenant}/{Replica}")]
    private partial void LogAdmitted(string tenant, string replica, int admitted, int announced);

    [LoggerMessage(EventId = EventIds.TenantChainsRefused, Level = LogLevel.Warning, Message = "Refused a certificate chain of {Tenant}/{Replica}: {Problem}")]
    private partial void LogRefused(string tenant, string replica, string problem);

    [LoggerMessage(EventId = EventIds.TenantChainsUnreachable, Level = LogLevel.Warning, Message = "Cannot ask {Tenant}/{Replica} for its certificate chains ({Problem}); serving its last admitted ones")]
    private partial void LogUnreachable(string tenant, string replica, string problem);
}
