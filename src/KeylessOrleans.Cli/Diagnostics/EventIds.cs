namespace KeylessOrleans.Cli.Diagnostics;

/// <summary>
/// Every log event id of the keyless program's own assembly, in one place so that no two log lines share an id. An
/// id never changes meaning once used: operators alert and filter on them. A new line takes an unused id in its
/// area's range; a test fails the build when two [LoggerMessage] methods share one.
/// </summary>
internal static class EventIds
{
    // Tenant file import at edge start (4001–4099).
    public const int TenantImported = 4001;
    public const int TenantImportRefused = 4002;
    public const int TenantImportRetrying = 4003;

    // Admin endpoint (5001–5099).
    public const int AdminListening = 5001;
    public const int AdminCannotListen = 5002;
    public const int AdminDashboardWithheld = 5003;
    public const int AdminMetricsWithheld = 5004;
    public const int AdminPlainHttp = 5005;
}
