using KeylessOrleans.Edge.Tls;
using Org.BouncyCastle.Tls;

namespace KeylessOrleans.Edge.Tests;

/// <summary>Which key-agreement group the edge picks from what a client offers (no handshake needed).</summary>
public sealed class SuiteAndGroupPolicyTests
{
    [Fact]
    public void Tls12_curve_is_the_clients_first_that_a_key_server_signs_for()
    {
        int[] offered = [NamedGroup.secp521r1, NamedGroup.x448, NamedGroup.secp384r1, NamedGroup.x25519];

        Assert.Equal(NamedGroup.secp384r1, SuiteAndGroupPolicy.SelectCurve(offered, 0));
        Assert.Equal(384, SuiteAndGroupPolicy.MaxCurveBits(offered));
    }

    [Fact]
    public void Tls12_client_with_only_foreign_curves_gets_no_ecdhe()
    {
        int[] offered = [NamedGroup.secp521r1, NamedGroup.brainpoolP256r1];

        Assert.Equal(-1, SuiteAndGroupPolicy.SelectCurve(offered, 0));
        Assert.Equal(0, SuiteAndGroupPolicy.MaxCurveBits(offered));
    }

    [Fact]
    public void Tls12_dhe_group_defaults_to_ffdhe2048_and_never_goes_beyond_ffdhe4096()
    {
        Assert.Equal(NamedGroup.ffdhe2048, SuiteAndGroupPolicy.SelectFiniteFieldGroup(null, 0));
        Assert.Equal(NamedGroup.ffdhe2048, SuiteAndGroupPolicy.SelectFiniteFieldGroup([NamedGroup.x25519], 0));
        Assert.Equal(NamedGroup.ffdhe3072, SuiteAndGroupPolicy.SelectFiniteFieldGroup([NamedGroup.ffdhe8192, NamedGroup.ffdhe3072], 0));
        Assert.Equal(-1, SuiteAndGroupPolicy.SelectFiniteFieldGroup([NamedGroup.ffdhe8192], 0));
        Assert.Equal(0, SuiteAndGroupPolicy.MaxFiniteFieldBits([NamedGroup.ffdhe8192]));
    }

    [Fact]
    public void Tls13_group_with_a_client_key_share_comes_first_so_no_hello_retry_is_needed()
    {
        int[] groups = [NamedGroup.X25519MLKEM768, NamedGroup.x25519, NamedGroup.secp256r1];
        var share = new KeyShareEntry(NamedGroup.x25519, new byte[32]);

        var used = SuiteAndGroupPolicy.OrderTls13Groups(groups, [NamedGroup.X25519MLKEM768, NamedGroup.x25519], [share]);

        Assert.Same(share, used);
        Assert.Equal([NamedGroup.x25519, NamedGroup.X25519MLKEM768, NamedGroup.secp256r1], groups);
    }

    [Fact]
    public void Tls13_client_without_a_share_for_the_chosen_group_gets_no_share_used()
    {
        int[] groups = [NamedGroup.X25519MLKEM768, NamedGroup.x25519];

        Assert.Null(SuiteAndGroupPolicy.OrderTls13Groups(groups, [NamedGroup.x25519], [new KeyShareEntry(NamedGroup.secp256r1, new byte[65])]));
    }
}
