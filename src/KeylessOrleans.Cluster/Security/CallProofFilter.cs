
namespace KeylessOrleans.Cluster.Security;

/// <summary>
/// Puts a <see cref="CallProof"/> in the request context of every outgoing call to a grain method that admits
/// callers by role (<see cref="CallerRules.NeedsProof"/>), and of no other: calls into tenants' clusters carry none.
/// </summary>
internal sealed class CallProofFilter(CallProofSigner signer) : IOutgoingGrainCallFilter
{
    /// <remarks>Async on purpose: the proof is set in this method's own execution context, so it leaves with this call
    /// and never stays in the caller's request context for its next call.</remarks>
    public async Task Invoke(IOutgoingGrainCallContext context)
    {
        if (CallerRules.NeedsProof(context.InterfaceMethod))
            RequestContext.Set(CallProof.ContextKey, signer.Sign(CallProof.Call.Of(context)));
        await context.Invoke();
    }
}
