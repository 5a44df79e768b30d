using System.Collections.Frozen;
using KeylessOrleans.Keys;
using Org.BouncyCastle.Tls;

namespace KeylessOrleans.Edge.Tls;

/// <summary>
/// How a handshake ended, with the alert or key-operation status that says more, and the one place that names it.
/// The names are the handshakes metric's outcome tag and the failed-handshake log's reason: dashboards, alerting
/// rules and tests match them, so they never change. They are made once, not per failed handshake: a scanner makes
/// failures at any rate.
/// </summary>
internal readonly record struct HandshakeResult
{
    private const string ClientAlertPrefix = "client_alert_";

    private static readonly string[] ClientAlertTags = ClientAlertNames();

    private static readonly FrozenDictionary<KeyOperationStatus, string> KeyFailureTags =
        Enum.GetValues<KeyOperationStatus>().ToFrozenDictionary(status => status, status => $"key_{status}");

    private HandshakeResult(HandshakeOutcome outcome, short alert = -1, KeyOperationStatus keyFailure = default)
    {
        Outcome = outcome;
        Alert = alert;
        KeyFailure = keyFailure;
    }

    public HandshakeOutcome Outcome { get; }

    /// <summary>The alert's description for <see cref="HandshakeOutcome.AlertSent"/> and <see cref="HandshakeOutcome.ClientAlert"/>; -1 otherwise.</summary>
    public short Alert { get; }

    /// <summary>The key operation's status for <see cref="HandshakeOutcome.KeyFailure"/>.</summary>
    public KeyOperationStatus KeyFailure { get; }

    public static HandshakeResult Of(HandshakeOutcome outcome) => new(outcome);

    /// <summary>This edge refused the handshake with this fatal alert.</summary>
    public static HandshakeResult Refused(short alert) => new(HandshakeOutcome.AlertSent, alert);

    public static HandshakeResult ClientAlert(short alert) => new(HandshakeOutcome.ClientAlert, alert);

    public static HandshakeResult KeyFailed(KeyOperationStatus status) => new(HandshakeOutcome.KeyFailure, keyFailure: status);

    /// <summary>The outcome tag of keyless.edge.handshakes and the reason in the failed-handshake log.</summary>
    public string Tag => Outcome switch
    {
        HandshakeOutcome.Ok => "ok",
        HandshakeOutcome.Closed => "closed",
        HandshakeOutcome.ClientClosed => "client_closed",
        HandshakeOutcome.Timeout => "timeout",
        HandshakeOutcome.Shutdown => "shutdown",
        HandshakeOutcome.Overloaded => "overloaded",
        HandshakeOutcome.IoError => "io_error",
        HandshakeOutcome.MalformedMessage => "malformed_message",
        HandshakeOutcome.AlertSent => AlertDescription.GetName(Alert),
        HandshakeOutcome.ClientAlert => (uint)Alert < ClientAlertTags.Length ? ClientAlertTags[Alert] : $"{ClientAlertPrefix}{AlertDescription.GetName(Alert)}",
        HandshakeOutcome.KeyFailure => KeyFailureTags.TryGetValue(KeyFailure, out var tag) ? tag : $"key_{KeyFailure}",
        _ => throw new ArgumentOutOfRangeException(nameof(Outcome), Outcome, null),
    };

    public override string ToString() => Tag;

    /// <summary>Every client alert's tag: an alert description is one byte on the wire.</summary>
    private static string[] ClientAlertNames()
    {
        var tags = new string[256];
        for (var alert = 0; alert < tags.Length; alert++) tags[alert] = ClientAlertPrefix + AlertDescription.GetName((short)alert);
        return tags;
    }
}
