using System.Collections.Concurrent;
using System.Security.Cryptography;
using Net.Pkcs11Interop.Common;
using Net.Pkcs11Interop.HighLevelAPI;

namespace KeylessOrleans.KeyServer.KeyStore.Pkcs11;

/// <summary>
/// One logged-in token and a bounded pool of its sessions, sized to the key server's concurrency. A session
/// that fails because the token went away is dropped; the next operation opens a new one and logs in again,
/// and if the token is really gone the caller gets a clear CryptographicException.
/// </summary>
internal sealed class Pkcs11Token : IDisposable
{
    private static readonly CKR[] TokenLost =
    [
        CKR.CKR_SESSION_HANDLE_INVALID, CKR.CKR_SESSION_CLOSED, CKR.CKR_DEVICE_REMOVED, CKR.CKR_DEVICE_ERROR,
        CKR.CKR_TOKEN_NOT_PRESENT, CKR.CKR_USER_NOT_LOGGED_IN, CKR.CKR_DEVICE_MEMORY,
    ];

    private readonly ISlot _slot;
    private readonly string _pin;
    private readonly ConcurrentBag<ISession> _idle = [];
    private readonly SemaphoreSlim _available;

    public Pkcs11Token(Pkcs11InteropFactories factories, ISlot slot, string label, string pin, int poolSize)
    {
        Factories = factories;
        _slot = slot;
        Label = label;
        _pin = pin;
        _available = new SemaphoreSlim(poolSize, poolSize);
        // Log in once now, so a wrong PIN is a start-up error.
        var session = OpenLoggedIn();
        _idle.Add(session);
    }

    public Pkcs11InteropFactories Factories { get; }
    public string Label { get; }

    /// <summary>Runs <paramref name="operation"/> on a pooled session, retrying once on a fresh session when the token dropped it.</summary>
    public T Use<T>(Func<ISession, T> operation)
    {
        if (!_available.Wait(TimeSpan.FromSeconds(10)))
            throw new CryptographicException($"PKCS#11 token '{Label}': no free session within 10 s");
        try
        {
            for (var attempt = 0; ; attempt++)
            {
                var session = _idle.TryTake(out var pooled) ? pooled : OpenLoggedIn();
                try
                {
                    var result = operation(session);
                    _idle.Add(session);
                    return result;
                }
                catch (Pkcs11Exception e) when (Array.IndexOf(TokenLost, e.RV) >= 0)
                {
                    session.Dispose();
                    if (attempt > 0) throw new CryptographicException($"PKCS#11 token '{Label}' is not usable: {e.RV}", e);
                }
                catch
                {
                    _idle.Add(session); // the session is fine; the request was not
                    throw;
                }
            }
        }
        finally
        {
            _available.Release();
        }
    }

    /// <summary>
    /// Runs <paramref name="operation"/> on a new read/write session, closed afterwards: only for creating objects
    /// when configured to (the pool's sessions are read-only, so serving never changes the token).
    /// </summary>
    public T UseReadWrite<T>(Func<ISession, T> operation)
    {
        using var session = OpenLoggedIn(SessionType.ReadWrite);
        return operation(session);
    }

    private ISession OpenLoggedIn(SessionType type = SessionType.ReadOnly)
    {
        var session = _slot.OpenSession(type);
        try
        {
            session.Login(CKU.CKU_USER, _pin);
        }
        catch (Pkcs11Exception e) when (e.RV == CKR.CKR_USER_ALREADY_LOGGED_IN)
        {
            // Login is per application and token: another session already did it.
        }
        catch
        {
            session.Dispose();
            throw;
        }
        return session;
    }

    public void Dispose()
    {
        while (_idle.TryTake(out var session)) session.Dispose();
        _available.Dispose();
    }
}
