using System.Security.Cryptography;
using KeylessOrleans.KeyServer.KeyStore;
using KeylessOrleans.Keys;
using KeylessOrleans.TestSupport;
using Microsoft.Extensions.Logging;

namespace KeylessOrleans.KeyServer.Tests.KeyStore;

public sealed class PemKeyStoreReloadTests : IDisposable
{
    private readonly TempDirectory _folder = new("keyless-reload");
    private readonly TestCertificateAuthority _ca = new();
    private readonly ListLogger<PemKeyStore> _log = new();

    private string Write(string file, TestKey key, string host = "www.acme.test")
    {
        using var leaf = _ca.Issue(key, host);
        _folder.Write(file, key.Pem + "\n" + _ca.ChainPem(leaf));
        return KeyIds.FromSubjectPublicKeyInfo(key.SubjectPublicKeyInfo);
    }

    private static TestKey NewKey() => TestKeys.Ecdsa(ECCurve.NamedCurves.nistP256).Key;

    private void Delete(string file) => File.Delete(Path.Combine(_folder.Path, file));

    [Fact]
    public void A_key_replaced_by_another_is_swapped_in_with_its_chain_and_the_reload_token_fires()
    {
        var oldId = Write("site.pem", NewKey());
        using var store = new PemKeyStore(_folder.Path, _log, retirementDelay: TimeSpan.Zero);
        var token = store.GetReloadToken();

        var newId = Write("site-2026.pem", NewKey());
        Delete("site.pem");

        Assert.True(store.Reload());
        Assert.True(token.HasChanged);
        Assert.False(store.TryGetKey(oldId, out _));
        Assert.True(store.TryGetKey(newId, out _));
        Assert.Equal(newId, Assert.Single(store.Chains).KeyId);
        Assert.Contains(_log.Entries, e => e.Message.Contains("1 added, 1 removed"));
    }

    [Fact]
    public void A_renewed_certificate_for_the_same_key_replaces_the_chain_and_keeps_the_key_object()
    {
        var key = NewKey();
        var id = Write("site.pem", key);
        using var store = new PemKeyStore(_folder.Path, _log, retirementDelay: TimeSpan.Zero);
        store.TryGetKey(id, out var before);
        var oldLeaf = Assert.Single(store.Chains).EndEntity.Thumbprint;

        Write("site-renewed.pem", key, "renewed.acme.test");
        Delete("site.pem");

        Assert.True(store.Reload());
        store.TryGetKey(id, out var after);
        Assert.Same(before, after);
        var chain = Assert.Single(store.Chains);
        Assert.NotEqual(oldLeaf, chain.EndEntity.Thumbprint);
        Assert.Equal("site-renewed.pem", chain.Source);
        after!.Sign(SignatureScheme.EcdsaSecp256r1Sha256, [1, 2, 3]); // not disposed as a "removed" key
    }

    [Fact]
    public void An_unchanged_folder_reloads_to_nothing_and_fires_no_token()
    {
        Write("site.pem", NewKey());
        using var store = new PemKeyStore(_folder.Path, _log);
        var token = store.GetReloadToken();
        var chains = store.Chains;

        Assert.False(store.Reload());
        Assert.False(token.HasChanged);
        Assert.Same(chains, store.Chains);
    }

    [Fact]
    public void A_good_file_caught_half_written_keeps_serving_its_previous_contents()
    {
        var key = NewKey();
        var id = Write("site.pem", key);
        using var store = new PemKeyStore(_folder.Path, _log, retirementDelay: TimeSpan.Zero);
        var text = File.ReadAllText(Path.Combine(_folder.Path, "site.pem"));

        _folder.Write("site.pem", text[..(text.Length / 2)]);
        store.Reload();

        Assert.True(store.TryGetKey(id, out _));
        Assert.Single(store.Chains);
        Assert.Contains(_log.Entries, e => e.Level == LogLevel.Error && e.Message.Contains("site.pem") && e.Message.Contains("previous contents"));

        // Once the copy completes, the file is read again.
        var renewedId = Write("site.pem", NewKey());
        Assert.True(store.Reload());
        Assert.True(store.TryGetKey(renewedId, out _));
        Assert.False(store.TryGetKey(id, out _));
    }

    [Fact]
    public void A_broken_new_file_is_logged_once_and_the_working_keys_stay()
    {
        var id = Write("site.pem", NewKey());
        using var store = new PemKeyStore(_folder.Path, _log);

        _folder.Write("broken.pem", "-----BEGIN PRIVATE KEY-----\nnot base64!\n-----END PRIVATE KEY-----\n");
        store.Reload();
        store.Reload();

        Assert.True(store.TryGetKey(id, out _));
        Assert.Single(store.Chains);
        Assert.Single(_log.Entries, e => e.Level == LogLevel.Error && e.Message.Contains("broken.pem"));
    }

    [Fact]
    public void A_removed_key_is_unlisted_at_once_but_answers_for_the_retirement_delay_then_is_disposed()
    {
        var id = Write("site.pem", NewKey());
        var clock = new ManualClock();
        using var store = new PemKeyStore(_folder.Path, _log, retirementDelay: TimeSpan.FromSeconds(30), time: clock);
        store.TryGetKey(id, out var inFlight);

        Delete("site.pem");
        Assert.True(store.Reload());

        Assert.Empty(store.Keys);
        Assert.Empty(store.Chains);
        Assert.True(store.TryGetKey(id, out _)); // for edges still on the previous registry snapshot
        Assert.Single(store.ChainsOf(id));
        inFlight!.Sign(SignatureScheme.EcdsaSecp256r1Sha256, [1, 2, 3]); // an operation that picked it up before the swap

        clock.Advance(TimeSpan.FromSeconds(29));
        Assert.True(store.TryGetKey(id, out _));
        inFlight.Sign(SignatureScheme.EcdsaSecp256r1Sha256, [1, 2, 3]);

        clock.Advance(TimeSpan.FromSeconds(2));
        Assert.False(store.TryGetKey(id, out _));
        Assert.Throws<ObjectDisposedException>(() => inFlight.Sign(SignatureScheme.EcdsaSecp256r1Sha256, [1, 2, 3]));
    }

    [Fact]
    public void A_retiring_key_put_back_is_active_again_and_never_disposed()
    {
        var key = NewKey();
        var id = Write("site.pem", key);
        var clock = new ManualClock();
        using var store = new PemKeyStore(_folder.Path, _log, retirementDelay: TimeSpan.FromSeconds(30), time: clock);
        store.TryGetKey(id, out var original);

        Delete("site.pem");
        store.Reload();
        Write("site-back.pem", key);
        store.Reload();
        clock.Advance(TimeSpan.FromSeconds(31)); // the retirement timer fires, and finds the key active again

        store.TryGetKey(id, out var back);
        Assert.Same(original, back);
        Assert.Single(store.Keys);
        back!.Sign(SignatureScheme.EcdsaSecp256r1Sha256, [1, 2, 3]);
    }

    [Fact]
    public void A_key_file_made_readable_by_others_is_flagged_on_reload()
    {
        Write("site.pem", NewKey());
        using var store = new PemKeyStore(_folder.Path, _log);
        Assert.DoesNotContain(_log.Entries, e => e.Message.Contains("0600"));

        File.SetUnixFileMode(Path.Combine(_folder.Path, "site.pem"), UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.OtherRead);
        store.Reload();

        Assert.Contains(_log.Entries, e => e.Level == LogLevel.Warning && e.Message.Contains("site.pem") && e.Message.Contains("0600"));
    }

    public void Dispose()
    {
        _ca.Dispose();
        _folder.Dispose();
    }
}
