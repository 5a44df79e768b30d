using System.Globalization;
using System.Net;
using System.Net.Sockets;
using System.Text;

namespace KeylessOrleans.KeyServer.Audit;

/// <summary>
/// Sends each checkpoint off the host, where whoever can rewrite the log cannot reach it: a line appended to
/// <see cref="AuditLogOptions.HeadsFile"/> (for a shipper such as a log forwarder to follow) and/or an RFC 5424
/// syslog message to <see cref="AuditLogOptions.HeadsSyslog"/>. Either is an anchor for `keyless audit verify`.
/// <para>
/// Heads line: <c>TIME TENANT/REPLICA SEQ HEAD HMAC</c>, space-separated, one per checkpoint:
/// <c>2026-12-03T21:53:00.123456Z acme/primary 1234 &lt;64 hex&gt; &lt;64 hex&gt;</c> — record SEQ of the log has hash
/// HEAD, and HMAC is the checkpoint's (<see cref="AuditChain.CheckpointMac"/>).
/// </para>
/// </summary>
internal sealed class AuditHeadShipper : IDisposable
{
    /// <summary>Facility 13 (log audit), severity 6 (informational).</summary>
    private const int Priority = 13 * 8 + 6;

    private readonly string _tenant;
    private readonly string _replica;
    private readonly string? _file;
    private readonly Socket? _syslog;
    private readonly EndPoint? _syslogTo;
    private readonly string _host = Dns.GetHostName();

    public AuditHeadShipper(AuditLogOptions settings, string tenant, string replica)
    {
        _tenant = tenant;
        _replica = replica;
        _file = settings.ResolveHeadsFile(tenant, replica);
        if (!string.IsNullOrWhiteSpace(settings.HeadsSyslog) && TryParseSyslog(settings.HeadsSyslog, out var to))
        {
            // Resolved once: a datagram socket sends to addresses, and a syslog receiver does not move.
            _syslogTo = to is DnsEndPoint name ? new IPEndPoint(Dns.GetHostAddresses(name.Host)[0], name.Port) : to;
            to = _syslogTo;
            _syslog = to is UnixDomainSocketEndPoint
                ? new Socket(AddressFamily.Unix, SocketType.Dgram, ProtocolType.Unspecified)
                : new Socket(to.AddressFamily, SocketType.Dgram, ProtocolType.Udp);
        }
    }

    public bool Enabled => _file is not null || _syslog is not null;

    /// <summary><c>udp://HOST:PORT</c> (an IP address or a name) or <c>unix:PATH</c>.</summary>
    public static bool TryParseSyslog(string address, out EndPoint endpoint)
    {
        endpoint = null!;
        if (address.StartsWith("unix:", StringComparison.Ordinal))
        {
            var path = address["unix:".Length..].TrimStart('/');
            if (path.Length == 0) return false;
            endpoint = new UnixDomainSocketEndPoint("/" + path);
            return true;
        }
        if (!Uri.TryCreate(address, UriKind.Absolute, out var uri) || uri.Scheme != "udp" || uri.Port <= 0) return false;
        endpoint = IPAddress.TryParse(uri.Host.Trim('[', ']'), out var ip) ? new IPEndPoint(ip, uri.Port) : new DnsEndPoint(uri.Host, uri.Port);
        return true;
    }

    public static string Line(AuditCheckpoint checkpoint, string tenant, string replica) =>
        string.Create(CultureInfo.InvariantCulture,
            $"{checkpoint.Time.ToString(AuditChain.TimeFormat, CultureInfo.InvariantCulture)} {tenant}/{replica} {checkpoint.Covers} {Convert.ToHexStringLower(checkpoint.Head)} {Convert.ToHexStringLower(checkpoint.Hmac)}");

    /// <summary>The anchor in the last heads line of <paramref name="path"/>, or null when it has none.</summary>
    public static AuditAnchor? LastAnchor(string path)
    {
        foreach (var line in File.ReadLines(path).Reverse())
        {
            var parts = line.Split(' ', StringSplitOptions.RemoveEmptyEntries);
            if (parts.Length >= 4 && AuditAnchor.TryParse($"{parts[2]}:{parts[3]}", out var anchor)) return anchor;
        }
        return null;
    }

    /// <summary>Ships one checkpoint; throws on the first destination that fails (the caller counts and logs it).</summary>
    public void Ship(AuditCheckpoint checkpoint)
    {
        var line = Line(checkpoint, _tenant, _replica);
        if (_file is not null)
        {
            using var file = new FileStream(_file, new FileStreamOptions { Mode = FileMode.Append, Access = FileAccess.Write, Share = FileShare.ReadWrite });
            file.Write(Encoding.UTF8.GetBytes(line + "\n"));
        }
        if (_syslog is not null)
        {
            // RFC 5424: <PRI>1 TIMESTAMP HOSTNAME APP-NAME PROCID MSGID STRUCTURED-DATA MSG
            var message = string.Create(CultureInfo.InvariantCulture,
                $"<{Priority}>1 {checkpoint.Time.ToString(AuditChain.TimeFormat, CultureInfo.InvariantCulture)} {_host} keyless-keyserver - audit-head " +
                $"[keyless@32473 tenant=\"{Escape(_tenant)}\" replica=\"{Escape(_replica)}\" seq=\"{checkpoint.Covers}\" head=\"{Convert.ToHexStringLower(checkpoint.Head)}\" hmac=\"{Convert.ToHexStringLower(checkpoint.Hmac)}\"] {line}");
            _syslog.SendTo(Encoding.UTF8.GetBytes(message), _syslogTo!);
        }
    }

    /// <summary>RFC 5424 PARAM-VALUE escaping.</summary>
    private static string Escape(string value) => value.Replace("\\", "\\\\").Replace("\"", "\\\"").Replace("]", "\\]");

    public void Dispose() => _syslog?.Dispose();
}
