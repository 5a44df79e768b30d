using YamlDotNet.RepresentationModel;
using static KeylessOrleans.Deploy.Tests.Yaml;

namespace KeylessOrleans.Deploy.Tests;

/// <summary>
/// deploy/k8s: every manifest, the edge Deployment, its Services and the HPA (the operator's side); the tenant's key
/// server as a cluster of its own (tenant/), and the operator's Job that records it (operator/).
/// </summary>
public class KubernetesTests
{
    private static readonly string[] ClusterScoped = ["Namespace"];

    /// <summary>The manifests of one folder (`kubectl apply -f` does not descend into sub-folders).</summary>
    private static List<(string File, YamlNode Doc)> Manifests(params string[] folder) =>
        Directory.GetFiles(DeployFiles.Path(["k8s", .. folder]), "*.yaml").Order()
            .SelectMany(f => LoadAll(File.ReadAllText(f)).Select(d => (Path.GetFileName(f), d.RootNode)))
            .ToList();

    private static YamlNode Find(string kind, string name, params string[] folder) =>
        Manifests(folder).Single(m => Str(m.Doc, "kind") == kind && Str(m.Doc, "metadata.name") == name).Doc;

    private const string TenantNamespace = "keyless-tenant-acme";

    /// <summary>Problems with one manifest's identity: apiVersion, kind, metadata.name, the expected namespace.</summary>
    internal static List<string> CheckIdentity(YamlNode doc, string expectedNamespace = "keyless")
    {
        var problems = new[] { "apiVersion", "kind", "metadata.name" }
            .Where(p => string.IsNullOrEmpty(Str(doc, p))).Select(p => $"missing {p}").ToList();
        if (!ClusterScoped.Contains(Str(doc, "kind")) && Str(doc, "metadata.namespace") != expectedNamespace)
            problems.Add($"{Str(doc, "kind")}/{Str(doc, "metadata.name")} is not in namespace {expectedNamespace}");
        return problems;
    }

    /// <summary>The value after <paramref name="option"/> in an argument list, or null.</summary>
    private static string? Option(IReadOnlyList<string> args, string option) => args.SkipWhile(a => a != option).Skip(1).FirstOrDefault();

    /// <summary>Problems with an HPA: autoscaling/v2, targets a Deployment present in <paramref name="docs"/>, CPU 70%.</summary>
    internal static List<string> CheckHpa(YamlNode hpa, IEnumerable<YamlNode> docs)
    {
        var problems = new List<string>();
        if (Str(hpa, "apiVersion") != "autoscaling/v2") problems.Add("HPA is not autoscaling/v2");
        var target = Str(hpa, "spec.scaleTargetRef.name");
        if (Str(hpa, "spec.scaleTargetRef.kind") != "Deployment"
            || !docs.Any(d => Str(d, "kind") == "Deployment" && Str(d, "metadata.name") == target))
            problems.Add($"HPA targets no Deployment named {target}");
        var cpu = Seq(Get(hpa, "spec.metrics")).FirstOrDefault(m => Str(m, "resource.name") == "cpu");
        if (Str(cpu, "resource.target.averageUtilization") != "70") problems.Add("HPA CPU target is not 70%");
        return problems;
    }

    [Fact]
    public void Every_manifest_parses_and_names_itself()
    {
        var manifests = Manifests();
        Assert.True(manifests.Count >= 8, $"only {manifests.Count} manifests");
        Assert.All(manifests, m => Assert.Empty(CheckIdentity(m.Doc).Select(p => $"{m.File}: {p}")));
        // Secrets are referenced, never shipped.
        Assert.DoesNotContain(manifests, m => Str(m.Doc, "kind") == "Secret");
    }

    [Fact]
    public void Hpa_targets_the_edge_deployment()
    {
        var manifests = Manifests().Select(m => m.Doc).ToList();
        var hpa = Assert.Single(manifests, d => Str(d, "kind") == "HorizontalPodAutoscaler");
        Assert.Empty(CheckHpa(hpa, manifests));
        Assert.Equal("keyless-edge", Str(hpa, "spec.scaleTargetRef.name"));
    }

    [Fact]
    public void Edge_deployment_advertises_the_pod_ip_and_uses_the_command_surface()
    {
        var edge = Find("Deployment", "keyless-edge");
        Assert.Equal("3", Str(edge, "spec.replicas"));
        var container = Assert.Single(Seq(Get(edge, "spec.template.spec.containers")));
        var args = Strings(Get(container, "args"));
        Assert.Empty(CommandSurface.CheckCommand(args));
        Assert.Equal("edge", args[0]);

        var advertise = args.SkipWhile(a => a != "--advertise").Skip(1).First(); // "$(POD_IP)"
        var variable = advertise.TrimStart('$', '(').TrimEnd(')');
        var env = Seq(Get(container, "env")).Single(e => Str(e, "name") == variable);
        Assert.Equal("status.podIP", Str(env, "valueFrom.fieldRef.fieldPath"));

        Assert.NotNull(Get(container, "resources.requests.cpu"));
        Assert.NotNull(Get(container, "resources.requests.memory"));
        var secret = Seq(Get(edge, "spec.template.spec.volumes")).Select(v => Str(v, "secret.secretName")).OfType<string>();
        Assert.Contains("keyless-edge-tls", secret);
    }

    [Fact]
    public void Probes_ask_the_admin_port_that_the_config_map_sets_and_https_listens_on_its_port()
    {
        var edge = Find("Deployment", "keyless-edge");
        var container = Seq(Get(edge, "spec.template.spec.containers"))[0];
        var config = Find("ConfigMap", Str(Seq(Get(container, "envFrom"))[0], "configMapRef.name")!);
        string? ContainerPort(string? name) => Str(Seq(Get(container, "ports")).Single(p => Str(p, "name") == name), "containerPort");

        Assert.Equal("/readyz", Str(container, "readinessProbe.httpGet.path"));
        Assert.Equal("/healthz", Str(container, "livenessProbe.httpGet.path"));
        Assert.Equal(Str(config, "data.KEYLESS__ADMIN__PORT"), ContainerPort(Str(container, "readinessProbe.httpGet.port")));
        Assert.Equal(Str(config, "data.KEYLESS__ADMIN__PORT"), ContainerPort(Str(container, "livenessProbe.httpGet.port")));
        Assert.Equal("0.0.0.0", Str(config, "data.KEYLESS__ADMIN__LISTENADDRESS")); // the kubelet probes the pod IP
        Assert.Equal(Str(config, "data.KEYLESS__EDGE__LISTENER__HTTPSPORT"), ContainerPort("https"));
        Assert.Equal("0.0.0.0", Str(config, "data.KEYLESS__EDGE__LISTENER__LISTENADDRESS"));
        Assert.Empty(CommandSurface.CheckEnvironment(Map(Get(config, "data")).Keys));
    }

    [Fact]
    public void Services_expose_https_by_load_balancer_and_silos_headless()
    {
        var podLabels = Map(Get(Find("Deployment", "keyless-edge"), "spec.template.metadata.labels"));
        var services = Manifests().Where(m => Str(m.Doc, "kind") == "Service").Select(m => m.Doc).ToList();

        var https = Assert.Single(services, s => Str(s, "spec.type") == "LoadBalancer");
        Assert.Contains(Seq(Get(https, "spec.ports")), p => Str(p, "port") == "443" && Str(p, "targetPort") == "https");
        var silo = Assert.Single(services, s => Str(s, "spec.clusterIP") == "None");
        Assert.Contains(Seq(Get(silo, "spec.ports")), p => Str(p, "port") == "11111");

        foreach (var service in new[] { https, silo })
            foreach (var (key, value) in Map(Get(service, "spec.selector")))
                Assert.Equal(Str(podLabels[key]), Str(value));
    }

    [Fact]
    public void Tenant_and_operator_manifests_parse_and_name_themselves_in_their_own_namespaces()
    {
        var tenant = Manifests("tenant");
        Assert.Contains(tenant, m => Str(m.Doc, "kind") == "Namespace" && Str(m.Doc, "metadata.name") == TenantNamespace);
        Assert.All(tenant, m => Assert.Empty(CheckIdentity(m.Doc, TenantNamespace).Select(p => $"tenant/{m.File}: {p}")));
        var job = Assert.Single(Manifests("operator"));
        Assert.Empty(CheckIdentity(job.Doc));
        Assert.DoesNotContain(tenant.Concat([job]), m => Str(m.Doc, "kind") == "Secret");
    }

    [Fact]
    public void Tenant_key_server_is_a_cluster_of_its_own_with_one_inbound_port_its_gateway()
    {
        var deployment = Find("Deployment", "keyless-keyserver", "tenant");
        var container = Assert.Single(Seq(Get(deployment, "spec.template.spec.containers")));
        var args = Strings(Get(container, "args"));
        Assert.Empty(CommandSurface.CheckCommand(args));
        Assert.Equal("keyserver", args[0]);
        Assert.DoesNotContain("--shared-cluster", args);
        Assert.Equal("1", Str(deployment, "spec.replicas")); // a lone silo: localhost clustering, no membership store

        var config = Find("ConfigMap", Str(Seq(Get(container, "envFrom"))[0], "configMapRef.name")!, "tenant");
        var settings = Map(Get(config, "data"));
        Assert.Empty(CommandSurface.CheckEnvironment(settings.Keys));
        // Never the operator's cluster: no Redis (the operator's or any), no shared-cluster mode, no operator cluster id.
        Assert.DoesNotContain(settings.Keys, k => k is "KEYLESS__CLUSTER__REDIS" or "KEYLESS__CLUSTER__CLUSTERING" or "KEYLESS__KEYSERVER__SHAREDCLUSTER"
            or "KEYLESS__CLUSTER__CLUSTERID" or "KEYLESS__CLUSTER__SERVICEID");
        Assert.Equal("acme", Str(settings["KEYLESS__KEYSERVER__TENANT"]));
        // Mutual TLS with its own certificate and the tenant's CA (Secret keyless-keyserver-tls); edges from the
        // operator's CA only (ConfigMap keyless-edge-ca).
        string MountOf(string volume) => Str(Seq(Get(container, "volumeMounts")).Single(m => Str(m, "name") == volume), "mountPath")!;
        var volumes = Seq(Get(deployment, "spec.template.spec.volumes"));
        string VolumeFor(string path) => Str(Seq(Get(container, "volumeMounts")).Single(m => path.StartsWith(Str(m, "mountPath") + "/", StringComparison.Ordinal)), "name")!;
        Assert.Equal("keyless-keyserver-tls", Str(volumes.Single(v => Str(v, "name") == VolumeFor(Str(settings["KEYLESS__CLUSTER__TLSCA"])!)), "secret.secretName"));
        Assert.Equal("keyless-keyserver-tls", Str(volumes.Single(v => Str(v, "name") == VolumeFor(Str(settings["KEYLESS__CLUSTER__TLSCERTIFICATE"])!)), "secret.secretName"));
        Assert.Equal("keyless-edge-ca", Str(volumes.Single(v => Str(v, "name") == VolumeFor(Str(settings["KEYLESS__KEYSERVER__ACCESS__EDGECA"])!)), "configMap.name"));
        Assert.Equal("true", Str(Seq(Get(container, "volumeMounts")).Single(m => Str(m, "mountPath") == MountOf("keys")), "readOnly"));

        // One Service, one port: the gateway, at the address the key server advertises.
        var service = Assert.Single(Manifests("tenant"), m => Str(m.Doc, "kind") == "Service").Doc;
        var port = Assert.Single(Seq(Get(service, "spec.ports")));
        var gateway = Seq(Get(container, "ports")).Single(p => Str(p, "name") == Str(port, "targetPort"));
        Assert.Equal(Str(settings["KEYLESS__CLUSTER__GATEWAYPORT"]), Str(gateway, "containerPort"));
        Assert.Equal(Str(settings["KEYLESS__CLUSTER__GATEWAYPORT"]), Str(port, "port"));
        Assert.Equal(Str(settings["KEYLESS__CLUSTER__ADVERTISEDADDRESS"]), Str(service, "spec.loadBalancerIP"));
        foreach (var (key, value) in Map(Get(service, "spec.selector")))
            Assert.Equal(Str(Map(Get(deployment, "spec.template.metadata.labels"))[key]), Str(value));
    }

    [Fact]
    public void Operator_job_records_the_tenants_gateway_and_ca_with_the_operator_certificate()
    {
        var job = Find("Job", "tenant-add-acme", "operator");
        var container = Assert.Single(Seq(Get(job, "spec.template.spec.containers")));
        var args = Strings(Get(container, "args"));
        Assert.Empty(CommandSurface.CheckCommand(args));
        Assert.Equal(["tenant", "add", "acme"], args.Take(3));

        var tenantSettings = Map(Get(Find("ConfigMap", "keyless-keyserver", "tenant"), "data"));
        Assert.Equal($"primary={Str(tenantSettings["KEYLESS__CLUSTER__ADVERTISEDADDRESS"])}:{Str(tenantSettings["KEYLESS__CLUSTER__GATEWAYPORT"])}",
            Option(args, "--key-server"));
        var operatorSettings = Map(Get(Find("ConfigMap", "keyless-cluster"), "data"));
        Assert.Equal(Str(operatorSettings["KEYLESS__CLUSTER__REDIS"]), Option(args, "--redis"));
        Assert.Equal(Str(operatorSettings["KEYLESS__CLUSTER__CLUSTERID"]), Option(args, "--cluster-id"));

        var mounts = Seq(Get(container, "volumeMounts"));
        var volumes = Seq(Get(job, "spec.template.spec.volumes"));
        YamlNode VolumeFor(string path) => volumes.Single(v => Str(v, "name")
            == Str(mounts.Single(m => path.StartsWith(Str(m, "mountPath") + "/", StringComparison.Ordinal)), "name"));
        Assert.Equal("keyless-tenant-acme-ca", Str(VolumeFor(Option(args, "--key-server-ca")!), "configMap.name"));
        Assert.Equal("keyless-operator-tls", Str(VolumeFor(Option(args, "--tls-cert")!), "secret.secretName"));
        Assert.Equal("keyless-operator-tls", Str(VolumeFor(Option(args, "--tls-ca")!), "secret.secretName"));
    }

    // --- the checks can fail ---

    [Fact]
    public void Identity_check_reports_a_nameless_manifest() =>
        Assert.Equal(["missing metadata.name", "ConfigMap/ is not in namespace keyless"],
            CheckIdentity(LoadOne("apiVersion: v1\nkind: ConfigMap\nmetadata: {}\n")));

    [Fact]
    public void Hpa_check_reports_a_wrong_target()
    {
        var docs = LoadAll("""
            apiVersion: apps/v1
            kind: Deployment
            metadata: { name: keyless-edge }
            ---
            apiVersion: autoscaling/v1
            kind: HorizontalPodAutoscaler
            metadata: { name: x }
            spec:
              scaleTargetRef: { kind: Deployment, name: edge }
              metrics: [{ type: Resource, resource: { name: cpu, target: { averageUtilization: 80 } } }]
            """).Select(d => d.RootNode).ToList();
        Assert.Equal(["HPA is not autoscaling/v2", "HPA targets no Deployment named edge", "HPA CPU target is not 70%"],
            CheckHpa(docs[1], docs));
    }
}
