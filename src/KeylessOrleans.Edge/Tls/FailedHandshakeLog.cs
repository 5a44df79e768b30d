using System.Net;
using System.Net.Sockets;
using KeylessOrleans.Cluster.Diagnostics;
using KeylessOrleans.Edge.Diagnostics;
using KeylessOrleans.Edge.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace KeylessOrleans.Edge.Tls;

/// <summary>
/// The failed-handshake log, bounded: anyone can make handshakes fail at any rate, and a scanner at 10,000
/// connections/s must not become 10,000 lines/s. Failures alike — same reason, tenant and client network (IPv4 /24,
/// IPv6 /64) — are logged in full (event 3201) up to <see cref="FailedHandshakeLogOptions.FirstInFull"/> per
/// <see cref="FailedHandshakeLogOptions.Window"/>; at the window's end one line per such group says how many more
/// there were (3203). Past <see cref="FailedHandshakeLogOptions.MaxKeys"/> groups in a window, the rest share
/// one group (3204). The metric keyless.edge.handshakes counts every failure; this log only tells what they were.
/// </summary>
internal sealed partial class FailedHandshakeLog : IDisposable
{
    private readonly LogThrottle<Group> _throttle;
    private readonly ILogger _logger;

    /// <param name="logger">TlsConnection's category: the lines keep the category they always had.</param>
    public FailedHandshakeLog(IOptions<EdgeOptions> options, TimeProvider time, ILogger<TlsConnection> logger)
    {
        var o = options.Value;
        _logger = logger;
        var windowSeconds = o.FailedHandshakeLog.Window.TotalSeconds;
        _throttle = new LogThrottle<Group>(o.FailedHandshakeLog.Window, o.FailedHandshakeLog.FirstInFull, o.FailedHandshakeLog.MaxKeys, Group.Overflow,
            (group, count) =>
            {
                if (group == Group.Overflow) LogOthersSummary(logger, count, windowSeconds, o.FailedHandshakeLog.MaxKeys);
                else LogSummary(logger, count, group.Network, group.Tenant, group.Reason, windowSeconds);
            },
            time);
    }

    /// <summary>The most lines (full and summaries) one window can write.</summary>
    public long MaxLinesPerWindow => _throttle.MaxLinesPerWindow;

    public void Failed(IPAddress client, string? serverName, string tenant, string group, string reason, string? alert, string? keyDetail)
    {
        if (_throttle.ShouldLog(new Group(reason, tenant, NetworkOf(client))))
            LogHandshakeFailed(_logger, client.ToString(), serverName, tenant, group, reason, alert, keyDetail);
    }

    /// <summary>Writes the summaries of the window so far (the edge stops accepting; nothing later would).</summary>
    public void Flush() => _throttle.Flush();

    public void Dispose() => _throttle.Dispose();

    /// <summary>The client's network as failures are grouped: IPv4 /24, IPv6 /64 (what one site or one host holds).</summary>
    public static string NetworkOf(IPAddress address)
    {
        if (address.IsIPv4MappedToIPv6) address = address.MapToIPv4();
        var prefix = address.AddressFamily == AddressFamily.InterNetwork ? 24 : 64;
        return $"{Masked(address, prefix)}/{prefix}";
    }

    private static IPAddress Masked(IPAddress address, int prefix)
    {
        var bytes = address.GetAddressBytes();
        for (var i = 0; i < bytes.Length; i++)
        {
            var keep = Math.Clamp(prefix - i * 8, 0, 8);
            bytes[i] &= (byte)(0xFF00 >> keep);
        }
        return new IPAddress(bytes);
    }

    private readonly record struct Group(string Reason, string Tenant, string Network)
    {
        public static readonly Group Overflow = new("*", "*", "*");
    }

    [LoggerMessage(EventId = EventIds.HandshakeFailed, Level = LogLevel.Information, Message = "Handshake from {Client} for {ServerName} (tenant {Tenant}, group {Group}) failed: {Reason} (alert sent: {Alert}; key server: {KeyDetail})")]
    private static partial void LogHandshakeFailed(ILogger logger, string client, string? serverName, string tenant, string group, string reason, string? alert, string? keyDetail);

    [LoggerMessage(EventId = EventIds.HandshakeFailedSummary, Level = LogLevel.Information, Message = "... and {Count} more handshakes from {Network} (tenant {Tenant}) failed with {Reason} in the last {WindowSeconds} s, not logged one by one")]
    private static partial void LogSummary(ILogger logger, long count, string network, string tenant, string reason, double windowSeconds);

    [LoggerMessage(EventId = EventIds.HandshakeFailedOthersSummary, Level = LogLevel.Information, Message = "... and {Count} more handshakes failed in the last {WindowSeconds} s from clients, tenants and reasons beyond the {MaxKeys} kinds logged in full (Keyless:Edge:FailedHandshakeLog:MaxKeys)")]
    private static partial void LogOthersSummary(ILogger logger, long count, double windowSeconds, int maxKeys);
}
