using KeylessOrleans.KeyServer.Audit;

namespace KeylessOrleans.KeyServer.Hosting;

/// <summary>
/// Opens the audit log when the silo is built (a broken log stops the start before the silo joins the cluster) and
/// closes it in the silo's last stopping stage, after every key grain is gone, so the last records get written.
/// </summary>
internal sealed class AuditLogLifecycle(AuditLog log) : ILifecycleParticipant<ISiloLifecycle>
{
    public void Participate(ISiloLifecycle lifecycle) =>
        lifecycle.Subscribe(nameof(AuditLog), ServiceLifecycleStage.RuntimeInitialize, _ => Task.CompletedTask, log.StopAsync);
}
