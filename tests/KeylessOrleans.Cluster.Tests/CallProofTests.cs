using System.Reflection;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using KeylessOrleans.Cluster.Security;
using KeylessOrleans.Registry;
using KeylessOrleans.TestSupport;
using Microsoft.Extensions.DependencyInjection;
using Orleans.Serialization;

namespace KeylessOrleans.Cluster.Tests;

/// <summary>The proof an operator tool or edge signs on a control-plane call, as the edge checks it.</summary>
public sealed class CallProofTests : IDisposable
{
    private static readonly TimeSpan Window = TimeSpan.FromMinutes(1);
    private static readonly CallProof.Call SetTenant = new("keyless.IRegistryGrain", "SetTenant", "registry/default", SHA256.HashData("acme settings"u8));

    private readonly ClusterIdentities _ca = new();
    private readonly ManualClock _clock = new(DateTimeOffset.UtcNow);
    private readonly CallProofSigner _operator;
    private readonly CallProofChecker _checker;

    public CallProofTests()
    {
        _operator = Signer(_ca, SiloIdentity.Operator("ops"));
        _checker = new CallProofChecker(X509CertificateLoader.LoadCertificateFromFile(_ca.CaFile), Window, 1000, _clock);
    }

    private CallProofSigner Signer(ClusterIdentities ca, SiloIdentity identity)
    {
        var (certificate, key) = ca.Issue(identity);
        return new CallProofSigner(X509Certificate2.CreateFromPemFile(certificate, key), _clock);
    }

    [Fact]
    public void A_fresh_proof_names_its_signer()
    {
        var (caller, problem) = _checker.Check(_operator.Sign(SetTenant), SetTenant);
        Assert.Null(problem);
        Assert.Equal(SiloIdentity.Operator("ops"), caller);
    }

    [Fact]
    public void A_proof_presented_a_second_time_is_refused()
    {
        var proof = _operator.Sign(SetTenant);
        Assert.NotNull(_checker.Check(proof, SetTenant).Caller);
        var (caller, problem) = _checker.Check(proof, SetTenant);
        Assert.Null(caller);
        Assert.Contains("replayed", problem);
    }

    [Fact]
    public void A_proof_older_than_the_window_is_refused_and_one_from_the_future_too()
    {
        var old = _operator.Sign(SetTenant);
        _clock.Advance(Window + TimeSpan.FromSeconds(1));
        Assert.Contains("old", _checker.Check(old, SetTenant).Problem);

        var future = _operator.Sign(SetTenant);
        _clock.Advance(-(Window + Window));
        Assert.Null(_checker.Check(future, SetTenant).Caller);
    }

    [Fact]
    public void A_proof_for_another_call_is_refused()
    {
        var proof = _operator.Sign(SetTenant);
        Assert.Contains("does not match", _checker.Check(proof, SetTenant with { Method = "RemoveTenant" }).Problem);
        Assert.Contains("does not match", _checker.Check(proof, SetTenant with { ArgumentsDigest = SHA256.HashData("globex settings"u8) }).Problem);
        Assert.Contains("does not match", _checker.Check(proof, SetTenant with { Target = "registry/other" }).Problem);
        Assert.Contains("does not match", _checker.Check(proof, SetTenant with { Interface = "keyless.ISessionTicketKeysGrain" }).Problem);
    }

    [Fact]
    public void A_certificate_from_another_ca_or_a_signature_by_another_key_is_refused()
    {
        using var otherCa = new ClusterIdentities("Attacker CA");
        using var rogue = Signer(otherCa, SiloIdentity.Operator("ops"));
        Assert.Contains("not issued by the cluster CA", _checker.Check(rogue.Sign(SetTenant), SetTenant).Problem);

        // The operator's real certificate with the attacker's signature.
        var genuine = CallProof.Decode(_operator.Sign(SetTenant))!;
        var forged = CallProof.Decode(rogue.Sign(SetTenant))!;
        var mixed = CallProof.Encode(forged.UnixTimeMilliseconds, forged.Nonce, genuine.Certificate, forged.Signature);
        Assert.Contains("does not match", _checker.Check(mixed, SetTenant).Problem);

        Assert.Contains("no cluster proof", _checker.Check(null, SetTenant).Problem);
        Assert.Contains("malformed", _checker.Check([1, 2, 3], SetTenant).Problem);
    }

    [Fact]
    public void Arguments_digest_the_same_after_a_trip_through_orleans_serialization()
    {
        using var services = new ServiceCollection().AddSerializer(s => s.AddAssembly(typeof(TenantSettings).Assembly)).BuildServiceProvider();
        var serializer = services.GetRequiredService<Serializer>();
        var sent = new TenantSettings("acme", ["www.acme.test", "*.acme.test"], new OriginEndpoint("127.0.0.1", 8080, false, true), true);
        var received = serializer.Deserialize<TenantSettings>(serializer.SerializeToArray(sent));
        var other = sent with { Origin = sent.Origin with { Port = 8081 } };
        var registration = new ReplicaRegistration("acme", "primary", [new CertificateChainRegistration("k1", Keys.KeyAlgorithm.EcdsaP256, [[1, 2, 3]], ["www.acme.test"], DateTimeOffset.UtcNow)]);

        Assert.Equal(Digest(nameof(IRegistryGrain.SetTenantAsync), sent), Digest(nameof(IRegistryGrain.SetTenantAsync), received));
        Assert.NotEqual(Digest(nameof(IRegistryGrain.SetTenantAsync), sent), Digest(nameof(IRegistryGrain.SetTenantAsync), other));
        Assert.Equal(Digest(nameof(IRegistryGrain.RegisterReplicaAsync), registration),
            Digest(nameof(IRegistryGrain.RegisterReplicaAsync), serializer.Deserialize<ReplicaRegistration>(serializer.SerializeToArray(registration))));
        Assert.NotEqual(Digest(nameof(IRegistryGrain.ListTenantsAsync), "a", 7), Digest(nameof(IRegistryGrain.ListTenantsAsync), "a", 8));
    }

    private static byte[] Digest(string method, params object?[] arguments) =>
        CallProof.ArgumentsDigest(typeof(IRegistryGrain).GetMethod(method), new Arguments(arguments));

    [Fact]
    public void Every_grain_interface_hosted_on_edges_declares_its_callers()
    {
        var grainClasses = new[] { typeof(Registry.RegistryGrain).Assembly, typeof(Edge.Hosting.EdgeOptions).Assembly }
            .SelectMany(a => a.GetTypes()).Where(t => typeof(Grain).IsAssignableFrom(t) && !t.IsAbstract);
        var interfaces = grainClasses.SelectMany(t => t.GetInterfaces())
            .Where(i => typeof(IAddressable).IsAssignableFrom(i) && i.Namespace?.StartsWith("KeylessOrleans", StringComparison.Ordinal) == true).Distinct().ToList();
        Assert.Contains(typeof(IRegistryGrain), interfaces);
        Assert.Contains(typeof(Edge.Handshake.IHandshakeGrain), interfaces);
        var undeclared = interfaces.SelectMany(i => i.GetMethods()).Where(m => CallerRules.For(m) is null).Select(m => $"{m.DeclaringType!.Name}.{m.Name}");
        Assert.Empty(undeclared);
    }

    [Fact]
    public void Who_may_call_what()
    {
        Callers Of<T>(string method) => CallerRules.For(typeof(T).GetMethod(method)!)!.Value;
        Assert.Equal(Callers.Operator, Of<IRegistryGrain>(nameof(IRegistryGrain.RemoveTenantAsync)));
        Assert.Equal(Callers.Edge | Callers.Operator, Of<IRegistryGrain>(nameof(IRegistryGrain.LookupHostAsync)));
        Assert.Equal(Callers.OwnTenantOnPrem, Of<IRegistryGrain>(nameof(IRegistryGrain.RegisterReplicaAsync)));
        Assert.Equal(Callers.Edge, Of<Edge.Tls.Tickets.ISessionTicketKeysGrain>(nameof(Edge.Tls.Tickets.ISessionTicketKeysGrain.GetKeysAsync)));
        Assert.Equal(Callers.LocalProcess, Of<Edge.Handshake.IHandshakeGrain>(nameof(Edge.Handshake.IHandshakeGrain.PerformAsync)));
        Assert.False(CallerRules.NeedsProof(typeof(Edge.Handshake.IHandshakeGrain).GetMethod(nameof(Edge.Handshake.IHandshakeGrain.PerformAsync))));
        Assert.False(CallerRules.NeedsProof(typeof(Keys.IKeyGrain).GetMethods()[0])); // calls into tenants' clusters carry no proof

        var registration = new ReplicaRegistration("acme", "primary", []);
        Assert.Equal("acme", CallerRules.TenantOf(typeof(IRegistryGrain).GetMethod(nameof(IRegistryGrain.RegisterReplicaAsync))!, new Arguments([registration])));
        Assert.Equal("globex", CallerRules.TenantOf(typeof(IRegistryGrain).GetMethod(nameof(IRegistryGrain.UnregisterReplicaAsync))!, new Arguments(["globex", "primary"])));
    }

    public void Dispose()
    {
        _operator.Dispose();
        _ca.Dispose();
    }

    /// <summary>A call's arguments as Orleans hands them to filters.</summary>
    private sealed class Arguments(object?[] values) : Orleans.Serialization.Invocation.IInvokable
    {
        public int GetArgumentCount() => values.Length;
        public object? GetArgument(int index) => values[index];
        public void SetArgument(int index, object value) => values[index] = value;
        public object? GetTarget() => null;
        public void SetTarget(Orleans.Serialization.Invocation.ITargetHolder holder) { }
        public ValueTask<Orleans.Serialization.Invocation.Response> Invoke() => throw new NotSupportedException();
        public string GetMethodName() => "";
        public string GetInterfaceName() => "";
        public string GetActivityName() => "";
        public MethodInfo GetMethod() => throw new NotSupportedException();
        public Type GetInterfaceType() => typeof(object);
        public TimeSpan? GetDefaultResponseTimeout() => null;
        public void Dispose() { }
    }
}
