using KeylessOrleans.Edge.Hosting;
using KeylessOrleans.Edge.Tls;
using KeylessOrleans.Keys;
using Microsoft.Extensions.Options;

namespace KeylessOrleans.Edge.Handshake;

/// <summary>Key operations through this silo's local handshake grain, blocking the calling handshake thread.</summary>
public sealed class HandshakeGrainGateway(IGrainFactory grains, IOptions<EdgeOptions> options) : IKeyOperationGateway
{
    private IHandshakeGrain Grain => grains.GetGrain<IHandshakeGrain>(0);

    public KeyOperationResult SignCertificateVerify(KeyCall call, SignatureScheme scheme, byte[] signedContent) =>
        Wait(Grain.SignCertificateVerifyAsync(call, scheme, signedContent));

    public KeyOperationResult SignServerKeyExchange(KeyCall call, SignatureScheme scheme, byte[] signedParams) =>
        Wait(Grain.SignServerKeyExchangeAsync(call, scheme, signedParams));

    public KeyOperationResult DecryptPremaster(KeyCall call, byte[] encryptedPremaster, ushort clientVersion) =>
        Wait(Grain.DecryptPremasterAsync(call, encryptedPremaster, clientVersion));

    /// <summary>The grain bounds its own time; this outer bound only guards against a stuck local call.</summary>
    private KeyOperationResult Wait(Task<KeyOperationResult> call)
    {
        try
        {
            return call.WaitAsync(options.Value.KeyCallTimeout + TimeSpan.FromSeconds(1)).GetAwaiter().GetResult();
        }
        catch (Exception e)
        {
            return KeyOperationResult.Failure(KeyOperationStatus.Unavailable, $"handshake grain failed: {e.GetType().Name}");
        }
    }
}
