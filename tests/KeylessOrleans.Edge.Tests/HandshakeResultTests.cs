using KeylessOrleans.Edge.Tls;
using KeylessOrleans.Keys;
using Org.BouncyCastle.Tls;

namespace KeylessOrleans.Edge.Tests;

/// <summary>
/// The names of handshake outcomes: the handshakes metric's outcome tag and the failed-handshake log's reason, which
/// dashboards, alerting rules and other tests match.
/// </summary>
public sealed class HandshakeResultTests
{
    [Theory]
    [InlineData(nameof(HandshakeOutcome.Ok), "ok")]
    [InlineData(nameof(HandshakeOutcome.Closed), "closed")]
    [InlineData(nameof(HandshakeOutcome.ClientClosed), "client_closed")]
    [InlineData(nameof(HandshakeOutcome.Timeout), "timeout")]
    [InlineData(nameof(HandshakeOutcome.Shutdown), "shutdown")]
    [InlineData(nameof(HandshakeOutcome.Overloaded), "overloaded")]
    [InlineData(nameof(HandshakeOutcome.IoError), "io_error")]
    [InlineData(nameof(HandshakeOutcome.MalformedMessage), "malformed_message")]
    public void Outcomes_keep_their_metric_and_log_names(string outcome, string tag) =>
        Assert.Equal(tag, HandshakeResult.Of(Enum.Parse<HandshakeOutcome>(outcome)).Tag);

    [Fact]
    public void An_alert_the_edge_sent_is_named_as_the_alert()
    {
        Assert.Equal("unrecognized_name", HandshakeResult.Refused(AlertDescription.unrecognized_name).Tag);
        Assert.Equal("handshake_failure", HandshakeResult.Refused(AlertDescription.handshake_failure).Tag);
    }

    [Fact]
    public void A_client_alert_is_named_with_its_prefix_even_when_unknown()
    {
        Assert.Equal("client_alert_bad_certificate", HandshakeResult.ClientAlert(AlertDescription.bad_certificate).Tag);
        Assert.Equal($"client_alert_{AlertDescription.GetName(255)}", HandshakeResult.ClientAlert(255).Tag);
    }

    [Fact]
    public void A_key_failure_is_named_by_its_status()
    {
        Assert.Equal("key_Unavailable", HandshakeResult.KeyFailed(KeyOperationStatus.Unavailable).Tag);
        foreach (var status in Enum.GetValues<KeyOperationStatus>())
            Assert.Equal($"key_{status}", HandshakeResult.KeyFailed(status).Tag);
    }

    [Fact]
    public void Every_outcome_has_a_name()
    {
        foreach (var outcome in Enum.GetValues<HandshakeOutcome>())
        {
            var result = outcome switch
            {
                HandshakeOutcome.AlertSent => HandshakeResult.Refused(AlertDescription.internal_error),
                HandshakeOutcome.ClientAlert => HandshakeResult.ClientAlert(AlertDescription.internal_error),
                HandshakeOutcome.KeyFailure => HandshakeResult.KeyFailed(KeyOperationStatus.CryptoFailed),
                _ => HandshakeResult.Of(outcome),
            };
            Assert.False(string.IsNullOrEmpty(result.Tag));
        }
    }
}
