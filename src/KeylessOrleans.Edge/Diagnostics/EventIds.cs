namespace KeylessOrleans.Edge.Diagnostics;

/// <summary>
/// Every log event id of the edge assembly, in one place so that no two log lines share an id. An id never changes
/// meaning once used: operators alert and filter on them. A new line takes an unused id in its area's range; a test
/// fails the build when two [LoggerMessage] methods share one.
/// </summary>
internal static class EventIds
{
    // Key calls to tenants' key servers (3001–3009) and tenants' own clusters (3010–3019).
    public const int KeyCallFailed = 3001;
    public const int KeyCallsShed = 3002;
    public const int EdgeSessionOpened = 3003;
    public const int EdgeSessionRefused = 3004;
    public const int KeyServerBadAnswer = 3005;
    public const int KeyCallsShedSummary = 3006;
    public const int TenantClusterConnected = 3010;
    public const int TenantClusterConnectFailed = 3011;
    public const int TenantClusterCertificateRefused = 3012;
    public const int TenantClusterClosed = 3013;

    // Registry feed (3101–3109), tenants' chains (3110–3119), session ticket keys (3120–3129).
    public const int RegistryChangesApplied = 3101;
    public const int RegistryUnreachable = 3102;
    public const int RegistryFeedStartOver = 3103;
    public const int TenantChainsAdmitted = 3110;
    public const int TenantChainsRefused = 3111;
    public const int TenantChainsUnreachable = 3112;
    public const int TicketKeysFirstFetched = 3120;
    public const int TicketKeysUnreachable = 3121;

    // Handshakes and connections (3201–3209).
    public const int HandshakeFailed = 3201;
    public const int OriginUnreachable = 3202;
    public const int HandshakeFailedSummary = 3203;
    public const int HandshakeFailedOthersSummary = 3204;

    // The TLS listener (3301–3309).
    public const int Listening = 3301;
    public const int CannotListen = 3302;
    public const int ConnectionCrashed = 3303;
    public const int ConnectionsRefused = 3304;
    public const int ConnectionsLimitedByFiles = 3305;
    public const int ConnectionsRefusedSummary = 3306;

    // Delegated credentials (3401–3409).
    public const int DelegatedCredentialIssued = 3401;
    public const int DelegatedCredentialRefused = 3402;

    // Status reports (3501–3509).
    public const int StatusReportFailed = 3501;

    // The warm-up before ready (3601–3609).
    public const int WarmedUp = 3601;
    public const int WarmUpHandshakesFailed = 3602;
    public const int WarmUpFailed = 3603;
    public const int WarmUpKeyCalls = 3604;
    public const int WarmUpHostNameUnserved = 3605;
    public const int WarmUpKeyCallsFailed = 3606;

    // OCSP stapling (3701–3709).
    public const int OcspFetched = 3701;
    public const int OcspFetchFailed = 3702;

    // Grain call authorization (3801–3809).
    public const int GrainCallRefused = 3801;
    public const int GrainCallsOpen = 3802;
    public const int GrainCallRefusedSummary = 3803;
}
