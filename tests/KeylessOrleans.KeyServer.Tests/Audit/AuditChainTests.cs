using System.Text;
using KeylessOrleans.KeyServer.Audit;
using KeylessOrleans.TestSupport;
using static KeylessOrleans.TestSupport.AuditLogFile;

namespace KeylessOrleans.KeyServer.Tests.Audit;

/// <summary>The verifier finds the first record that does not continue the chain, whatever was done to it.</summary>
public sealed class AuditChainTests : IDisposable
{
    private readonly TempDirectory _folder = new("keyless-audit");

    private AuditVerification Verify(IEnumerable<string> lines) =>
        AuditLogVerifier.VerifyFile(Write(Path.Combine(_folder.Path, $"{Guid.NewGuid():N}.log"), lines));

    [Fact]
    public void An_intact_chain_verifies_with_its_count_times_and_head()
    {
        var lines = Chain(5);
        var result = Verify(lines);
        Assert.True(result.IsIntact, result.Break?.Reason);
        Assert.Equal(5, result.Records);
        Assert.Equal(new DateTime(2026, 1, 2, 3, 4, 5, DateTimeKind.Utc), result.First);
        Assert.Equal(new DateTime(2026, 1, 2, 3, 4, 9, DateTimeKind.Utc), result.Last);
        Assert.Contains($"\"h\":\"{System.Buffers.Text.Base64Url.EncodeToString(result.Head)}\"", lines[^1]);
        Assert.Equal(Encoding.UTF8.GetByteCount(string.Concat(lines)), result.ValidLength);
    }

    [Fact]
    public void An_empty_file_verifies_with_no_records()
    {
        var result = Verify([]);
        Assert.True(result.IsIntact);
        Assert.Equal(0, result.Records);
        Assert.Equal(AuditChain.Genesis, result.Head);
    }

    [Fact]
    public void Lines_are_json_with_a_fixed_property_order_ending_in_prev_and_hash()
    {
        var line = Chain(1)[0];
        Assert.StartsWith("{\"n\":1,\"t\":\"2026-01-02T03:04:05.000000Z\",\"tn\":\"acme\",\"e\":\"edge-1\",\"k\":\"", line);
        Assert.Matches("\"op\":\"sign_certificate_verify\",\"sni\":\"www.acme.test\",\"c\":\"198.51.100.7\",\"in\":\"A{43}\",\"r\":\"Ok\",\"p\":\"[A-Za-z0-9_-]{43}\",\"h\":\"[A-Za-z0-9_-]{43}\"}\n$", line);
        using var json = System.Text.Json.JsonDocument.Parse(line);
        Assert.Equal(System.Buffers.Text.Base64Url.EncodeToString(AuditChain.Genesis), json.RootElement.GetProperty("p").GetString());
    }

    [Fact]
    public void A_v1_chain_still_verifies_and_so_does_a_v1_file_continued_in_v2()
    {
        var v1 = Chain(3, format: 1);
        Assert.StartsWith("{\"seq\":1,\"time\":\"2026-01-02T03:04:05.000000Z\",\"tenant\":\"acme\",\"replica\":\"primary\",", v1[0]);
        Assert.Matches("\"request_sha256\":\"0{64}\",\"outcome\":\"Ok\",\"prev\":\"[0-9a-f]{64}\",\"hash\":\"[0-9a-f]{64}\"}\n$", v1[0]);
        var old = Verify(v1);
        Assert.True(old.IsIntact, old.Break?.Reason);
        Assert.Equal(3, old.FormatV1Lines);

        // An upgraded key server appends v2 lines to the v1 file it continues: one chain.
        var record = new System.Buffers.ArrayBufferWriter<byte>();
        AuditChain.WriteRecord(Record(4, DateTime.UtcNow), record);
        var line = new System.Buffers.ArrayBufferWriter<byte>();
        AuditChain.WriteLine(record.WrittenSpan, old.Head, line);
        var mixed = Verify([.. v1, Encoding.UTF8.GetString(line.WrittenSpan)]);
        Assert.True(mixed.IsIntact, mixed.Break?.Reason);
        Assert.Equal(4, mixed.Records);
        AssertBreak(Verify(EditField(v1, 2)), 2, "hash mismatch");
    }

    [Fact]
    public void A_v2_record_is_much_smaller_than_the_v1_record()
    {
        var v1 = Encoding.UTF8.GetByteCount(Chain(1, format: 1)[0]);
        var v2 = Encoding.UTF8.GetByteCount(Chain(1)[0]);
        Console.WriteLine($"bytes per record: v1 {v1}, v2 {v2}");
        Assert.True(v2 <= v1 * 3 / 4, $"v1 {v1} bytes, v2 {v2} bytes");
    }

    [Theory]
    [InlineData(1)]
    [InlineData(3)]
    [InlineData(5)]
    public void Editing_a_field_of_record_k_breaks_the_chain_at_k(int k) =>
        AssertBreak(Verify(EditField(Chain(5), k)), k, "hash mismatch");

    [Theory]
    [InlineData(1, "genesis")]
    [InlineData(3, "deleted, inserted or moved")]
    [InlineData(4, "deleted, inserted or moved")]
    public void Deleting_record_k_breaks_the_chain_at_k(int k, string reason) =>
        AssertBreak(Verify(Delete(Chain(5), k)), k, reason);

    [Theory]
    [InlineData(1)]
    [InlineData(2)]
    [InlineData(4)]
    public void Swapping_records_k_and_k_plus_1_breaks_the_chain_at_k(int k) =>
        AssertBreak(Verify(Swap(Chain(5), k)), k, "deleted, inserted or moved");

    [Fact]
    public void A_record_copied_in_from_another_chain_breaks_it_there()
    {
        var lines = Chain(5);
        lines.Insert(2, Chain(3, start: new DateTime(2026, 2, 1, 0, 0, 0, DateTimeKind.Utc))[2]);
        AssertBreak(Verify(lines), 3, "deleted, inserted or moved");
    }

    [Fact]
    public void Truncating_the_last_line_halfway_breaks_the_chain_at_the_last_record() =>
        AssertBreak(Verify(TruncateLast(Chain(5))), 5, "incomplete last line");

    [Fact]
    public void A_complete_last_line_without_its_newline_is_reported_as_torn()
    {
        var lines = Chain(3);
        lines[^1] = lines[^1].TrimEnd('\n');
        AssertBreak(Verify(lines), 3, "incomplete last line");
    }

    [Fact]
    public void A_line_that_is_not_a_record_breaks_the_chain_there()
    {
        var lines = Chain(4);
        lines.Insert(1, "{\"note\":\"hello\"}\n");
        AssertBreak(Verify(lines), 2, "not an audit record");
        AssertBreak(Verify([.. Chain(2), "\n"]), 3, "not an audit record");
    }

    [Fact]
    public void A_chain_rebuilt_with_a_skipped_sequence_number_is_a_gap()
    {
        // Well-hashed lines whose numbers jump: only a forger (or a bug) writes these.
        var lines = Chain(2);
        var record = new System.Buffers.ArrayBufferWriter<byte>();
        AuditChain.WriteRecord(Record(4, DateTime.UtcNow), record);
        var line = new System.Buffers.ArrayBufferWriter<byte>();
        var head = System.Buffers.Text.Base64Url.DecodeFromChars(System.Text.Json.JsonDocument.Parse(lines[^1]).RootElement.GetProperty("h").GetString()!);
        AuditChain.WriteLine(record.WrittenSpan, head, line);
        lines.Add(Encoding.UTF8.GetString(line.WrittenSpan));
        AssertBreak(Verify(lines), 3, "sequence gap: expected 3, found 4");
    }

    [Fact]
    public void Cutting_whole_records_off_the_end_changes_only_the_chain_head()
    {
        // The chain cannot see its own missing tail: that is what comparing the head with a copy kept elsewhere is for.
        var full = Verify(Chain(5));
        var cut = Verify(Chain(5).Take(3));
        Assert.True(cut.IsIntact);
        Assert.NotEqual(full.HeadHex, cut.HeadHex);
    }

    private static void AssertBreak(AuditVerification result, long record, string reason)
    {
        Assert.False(result.IsIntact, "the tampered chain verified");
        Assert.Equal(record, result.Break!.Record);
        Assert.Equal(record, result.Break.Line);
        Assert.Contains(reason, result.Break.Reason);
        Assert.Equal(record - 1, result.Records);
    }

    public void Dispose() => _folder.Dispose();
}
