using KeylessOrleans.TestSupport.Fuzzing;

namespace KeylessOrleans.Edge.Tests;

public sealed class ClientHelloFuzzerTests
{
    [Fact]
    public void An_input_is_reproduced_from_its_seed_and_index()
    {
        var first = new ClientHelloFuzzer(42, "www.acme.test");
        var again = new ClientHelloFuzzer(42, "www.acme.test");
        foreach (var index in new[] { 0, 1, 977, 123_456 })
        {
            Assert.Equal(first.Create(index).Bytes, again.Create(index).Bytes);
            Assert.Equal(first.Create(index).Kind, again.Create(index).Kind);
        }
    }

    [Fact]
    public void Every_kind_of_malformation_is_produced_without_failing()
    {
        var fuzzer = new ClientHelloFuzzer(7, "www.acme.test");
        var kinds = Enumerable.Range(0, 20_000).Select(fuzzer.Create).Select(i => i.Kind.Split(':')[0]).ToHashSet();
        Assert.Superset(new HashSet<string> { "random_bytes", "truncated", "length_field", "bogus_extension", "bit_flips", "record", "fragmented", "oversized", "valid", "stacked" }, kinds);
    }

    [Fact]
    public void The_unmodified_hello_has_consistent_lengths()
    {
        var hello = ClientHelloBuilder.Standard(new Random(3), "www.acme.test");
        var record = hello.Record();
        Assert.Equal(22, record[0]);
        Assert.Equal(record.Length - 5, record[3] << 8 | record[4]);
        Assert.Equal(record.Length - 9, record[6] << 16 | record[7] << 8 | record[8]);
        Assert.Contains(hello.LengthFields(), f => f.Name == "host_name" && f.Length == "www.acme.test".Length);
    }

    [Fact]
    public void A_hybrid_hello_carries_a_well_formed_X25519MLKEM768_share_first()
    {
        var hello = ClientHelloBuilder.Standard(new Random(5), "www.acme.test", hybrid: true);
        var shares = hello.LengthFields().Where(f => f.Name == "key_exchange").Select(f => f.Length).ToArray();
        Assert.Equal([1216, 32], shares);
        Assert.Equal(ClientHelloBuilder.X25519MLKem768Share(new Random(9)), ClientHelloBuilder.X25519MLKem768Share(new Random(9)));
    }

    [Fact]
    public void Fragmented_inputs_include_hybrid_share_hellos_spread_over_many_records()
    {
        var fuzzer = new ClientHelloFuzzer(11, "www.acme.test");
        var large = Enumerable.Range(0, 3000).Select(fuzzer.Create).Where(i => i.Kind == "fragmented").Count(i => i.Bytes.Length > 1500);
        Assert.True(large > 10, $"{large} fragmented inputs over 1,500 bytes");
    }
}
