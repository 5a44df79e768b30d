namespace KeylessOrleans.KeyServer.Diagnostics;

/// <summary>
/// Every log event id of the key server assembly, in one place so that no two log lines share an id. An id
/// never changes meaning once used: operators alert and filter on them. A new line takes an unused id in its
/// area's range; a test fails the build when two [LoggerMessage] methods share one.
/// </summary>
internal static class EventIds
{
    // PEM key store (1001–1009) and the key folder watcher (1010–1019).
    public const int KeyFileSkipped = 1001;
    public const int KeyFileDuplicate = 1002;
    public const int ChainWithoutKey = 1003;
    public const int KeyWithoutCertificate = 1004;
    public const int KeyFileReadableByOthers = 1005;
    public const int KeysLoaded = 1006;
    public const int KeysReloaded = 1007;
    public const int KeyFileKeptPrevious = 1008;
    public const int KeyFolderWatcherFailed = 1010;
    public const int KeyFolderRescanFailed = 1011;
    public const int KeyFolderNotWatched = 1012;

    // Key grain: operations and edge sessions (1101–1199).
    public const int KeyOperationDone = 1101;
    public const int KeyOperationRefused = 1102;
    public const int KeyGrainMisplaced = 1103;
    public const int KeyGrainDrillDelay = 1104;
    public const int EdgeSessionOpened = 1105;
    public const int EdgeSessionRefused = 1106;
    public const int EdgeSessionRefusedUncertified = 1107;
    public const int EdgeSessionThrottled = 1108;

    // Audit log (1201–1299).
    public const int AuditLogOff = 1201;
    public const int AuditNewChain = 1202;
    public const int AuditChainContinued = 1203;
    public const int AuditNewChainReplacing = 1204;
    public const int AuditWriteFailed = 1205;
    public const int AuditWriteRecovered = 1206;
    public const int AuditRecordsWithheld = 1207;
    public const int AuditStateWriteFailed = 1208;
    public const int AuditLogClosed = 1209;
    public const int AuditStopTimedOut = 1210;
    public const int AuditWriterStopped = 1211;
    public const int AuditShipFailed = 1212;
    public const int AuditShipRecovered = 1213;
    public const int AuditOperationThrew = 1214;
    public const int AuditRotated = 1215;
    public const int AuditCompressed = 1216;
    public const int AuditCompressFailed = 1217;
    public const int AuditRetentionDeleted = 1218;
    public const int AuditRetentionKept = 1219;
    public const int AuditRetentionFailed = 1220;
    public const int AuditMaintenanceFailed = 1221;
    public const int AuditContinuedAfterMissingFile = 1222;
    public const int AuditRecordsWithheldSummary = 1223;

    // PKCS#11 key store (1301–1309, 1320–1329).
    public const int Pkcs11KeyExtractable = 1301;
    public const int Pkcs11TokenOpened = 1302;
    public const int Pkcs11ImplicitRejectionKeyMissing = 1320;
    public const int Pkcs11ImplicitRejectionKeyCreated = 1321;

    // Edge access policy and delegated-credential policy (1310–1319).
    public const int EdgesUnauthenticated = 1310;
    public const int AccessPolicyEdges = 1311;
    public const int AccessPolicyLimits = 1312;
    public const int AccessPolicyReloaded = 1313;
    public const int AccessPolicyChangeRefused = 1314;
    public const int AccessPolicyRestartNeeded = 1315;
    public const int DelegationPolicyReloaded = 1316;
    public const int DelegationPolicy = 1317;
    public const int KeyRequestRefused = 1318;
    public const int KeyRequestsRefusedSummary = 1319;

    // Key server grain (1401–1499).
    public const int KeyServerGrainMisplaced = 1401;

    // Replica registration with the registry (1501–1599).
    public const int ReplicaRegistered = 1501;
    public const int ReplicaRegistrationRetrying = 1502;
    public const int ReplicaUnregisterFailed = 1503;
    public const int ReplicaRegistrationRefused = 1504;
}
