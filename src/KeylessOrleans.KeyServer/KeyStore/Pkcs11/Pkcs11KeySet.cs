using System.Security.Cryptography;
using KeylessOrleans.KeyServer.Diagnostics;
using KeylessOrleans.Keys;
using Microsoft.Extensions.Logging;
using Net.Pkcs11Interop.Common;
using Net.Pkcs11Interop.HighLevelAPI;

namespace KeylessOrleans.KeyServer.KeyStore.Pkcs11;

/// <summary>
/// Opens the tokens and finds the private keys named by PKCS#11 URIs. Every failure is a start-up error that
/// names the URI part at fault (module-path, token, pin-source, object/id).
/// </summary>
internal sealed partial class Pkcs11KeySet : IDisposable
{
    private static readonly byte[] P256Oid = [0x06, 0x08, 0x2A, 0x86, 0x48, 0xCE, 0x3D, 0x03, 0x01, 0x07];
    private static readonly byte[] P384Oid = [0x06, 0x05, 0x2B, 0x81, 0x04, 0x00, 0x22];

    // Pkcs11Interop detects the platform on first use without a lock; silos started side by side in one
    // process (tests) would race, so the first use is serialised, and a key set without URIs never touches it.
    private static readonly Lock PlatformLock = new();

    private Pkcs11InteropFactories? _factoriesValue;
    private readonly Dictionary<string, IPkcs11Library> _libraries = [];
    private readonly Dictionary<(string Module, string Token), Pkcs11Token> _tokens = [];
    private readonly ILogger _logger;
    private readonly bool _createImplicitRejectionKeys;

    /// <param name="createImplicitRejectionKeys">
    /// True: an RSA key without its implicit-rejection key (<see cref="Pkcs11ImplicitRejectionKey"/>) gets one
    /// generated in its token, with a log line. False (the default): no object is ever created; such a key signs
    /// but refuses every decryption, and a warning says so at start.
    /// </param>
    public Pkcs11KeySet(IEnumerable<string> uris, int sessionPoolSize, ILogger<Pkcs11KeySet> logger, bool createImplicitRejectionKeys = false)
    {
        _logger = logger;
        _createImplicitRejectionKeys = createImplicitRejectionKeys;
        var parsed = uris.Select(Pkcs11Uri.Parse).ToList();
        if (parsed.Count == 0)
        {
            Keys = [];
            return;
        }
        Pkcs11Native.EnsureResolver();
        try
        {
            Keys = parsed.Select(uri => Load(uri, sessionPoolSize)).ToList();
        }
        catch
        {
            Dispose();
            throw;
        }
    }

    public IReadOnlyList<IPrivateKey> Keys { get; }

    private Pkcs11InteropFactories Factories
    {
        get
        {
            if (_factoriesValue is null)
                lock (PlatformLock) _factoriesValue ??= new Pkcs11InteropFactories();
            return _factoriesValue;
        }
    }

    private IPrivateKey Load(Pkcs11Uri uri, int sessionPoolSize)
    {
        var token = OpenToken(uri, sessionPoolSize);
        return token.Use(session =>
        {
            var attributes = Factories.ObjectAttributeFactory;
            var template = new List<IObjectAttribute> { attributes.Create(CKA.CKA_CLASS, CKO.CKO_PRIVATE_KEY) };
            if (uri.Object is not null) template.Add(attributes.Create(CKA.CKA_LABEL, uri.Object));
            if (uri.Id is not null) template.Add(attributes.Create(CKA.CKA_ID, uri.Id));
            var found = session.FindAllObjects(template);
            if (found.Count == 0) throw new ArgumentException($"{uri}: no private key with {uri.ObjectDescription} on token '{token.Label}'");
            if (found.Count > 1) throw new ArgumentException($"{uri}: {found.Count} private keys match {uri.ObjectDescription} on token '{token.Label}'; add id= to choose one");
            var handle = found[0];

            var values = session.GetAttributeValue(handle, [CKA.CKA_KEY_TYPE, CKA.CKA_SENSITIVE, CKA.CKA_EXTRACTABLE, CKA.CKA_ID, CKA.CKA_LABEL]);
            var keyType = (CKK)values[0].GetValueAsUlong();
            if (!values[1].GetValueAsBool() || values[2].GetValueAsBool())
                LogExtractable(uri.ToString(), token.Label);
            return keyType switch
            {
                CKK.CKK_RSA => LoadRsa(session, token, handle, values[3].GetValueAsByteArray(), values[4].GetValueAsString(), uri),
                CKK.CKK_EC => LoadEc(session, token, handle, values[3].GetValueAsByteArray(), values[4].GetValueAsString(), uri),
                _ => throw new ArgumentException($"{uri}: key type {keyType} is not supported (RSA and EC are)"),
            };
        });
    }

    private Pkcs11PrivateKey LoadRsa(ISession session, Pkcs11Token token, IObjectHandle handle, byte[] id, string label, Pkcs11Uri uri)
    {
        var values = session.GetAttributeValue(handle, [CKA.CKA_MODULUS, CKA.CKA_PUBLIC_EXPONENT]);
        var parameters = new RSAParameters { Modulus = values[0].GetValueAsByteArray(), Exponent = values[1].GetValueAsByteArray() };
        using var rsa = RSA.Create(parameters);
        var rejectionKey = FindImplicitRejectionKey(session, token, id, label, uri);
        return new Pkcs11PrivateKey(token, handle, label, KeyAlgorithm.Rsa, rsa.KeySize, rsa.ExportSubjectPublicKeyInfo(), parameters, rejectionKey);
    }

    /// <summary>
    /// The RSA key's secret for deterministic implicit rejection, by the <see cref="Pkcs11ImplicitRejectionKey"/>
    /// convention; created only when configured, so an HSM never gains an object its owners did not ask for.
    /// </summary>
    private IObjectHandle? FindImplicitRejectionKey(ISession session, Pkcs11Token token, byte[] id, string label, Pkcs11Uri uri)
    {
        var rejectionLabel = Pkcs11ImplicitRejectionKey.LabelFor(label);
        var found = session.FindAllObjects(Pkcs11ImplicitRejectionKey.SearchTemplate(Factories, label, id));
        if (found.Count > 1)
            throw new ArgumentException($"{uri}: {found.Count} implicit-rejection keys '{rejectionLabel}' with this key's id on token '{token.Label}'; keep one");
        if (found.Count == 1)
        {
            var values = session.GetAttributeValue(found[0], [CKA.CKA_SIGN, CKA.CKA_SENSITIVE, CKA.CKA_EXTRACTABLE, CKA.CKA_VALUE_LEN]);
            if (!values[0].GetValueAsBool())
                throw new ArgumentException($"{uri}: the implicit-rejection key '{rejectionLabel}' on token '{token.Label}' does not allow CKA_SIGN (HMAC)");
            if (values[3].GetValueAsUlong() < (ulong)Pkcs11ImplicitRejectionKey.ValueLength)
                throw new ArgumentException($"{uri}: the implicit-rejection key '{rejectionLabel}' on token '{token.Label}' is shorter than {Pkcs11ImplicitRejectionKey.ValueLength} bytes");
            if (!values[1].GetValueAsBool() || values[2].GetValueAsBool())
                LogExtractable($"{uri} ({rejectionLabel})", token.Label);
            return found[0];
        }
        if (!_createImplicitRejectionKeys)
        {
            LogImplicitRejectionKeyMissing(uri.ToString(), token.Label, rejectionLabel);
            return null;
        }
        var created = token.UseReadWrite(writer => Pkcs11ImplicitRejectionKey.Create(writer, Factories, label, id));
        LogImplicitRejectionKeyCreated(rejectionLabel, token.Label, uri.ToString());
        return created;
    }

    /// <summary>EC private keys do not carry their point: it comes from the public key object with the same id (or label).</summary>
    private Pkcs11PrivateKey LoadEc(ISession session, Pkcs11Token token, IObjectHandle handle, byte[] id, string label, Pkcs11Uri uri)
    {
        var attributes = Factories.ObjectAttributeFactory;
        var curveOid = session.GetAttributeValue(handle, [CKA.CKA_EC_PARAMS])[0].GetValueAsByteArray();
        var (algorithm, curve, size) = curveOid.AsSpan().SequenceEqual(P256Oid) ? (KeyAlgorithm.EcdsaP256, ECCurve.NamedCurves.nistP256, 256)
            : curveOid.AsSpan().SequenceEqual(P384Oid) ? (KeyAlgorithm.EcdsaP384, ECCurve.NamedCurves.nistP384, 384)
            : throw new ArgumentException($"{uri}: the key's curve is not P-256 or P-384");
        var match = id.Length > 0 ? attributes.Create(CKA.CKA_ID, id) : attributes.Create(CKA.CKA_LABEL, label);
        var publicKeys = session.FindAllObjects([attributes.Create(CKA.CKA_CLASS, CKO.CKO_PUBLIC_KEY), match]);
        if (publicKeys.Count == 0) throw new ArgumentException($"{uri}: the public key of this EC key (same id or label) is not on token '{token.Label}'");
        var pointDer = session.GetAttributeValue(publicKeys[0], [CKA.CKA_EC_POINT])[0].GetValueAsByteArray();
        var point = new System.Formats.Asn1.AsnReader(pointDer, System.Formats.Asn1.AsnEncodingRules.DER).ReadOctetString();
        var coordinate = (point.Length - 1) / 2;
        using var ecdsa = ECDsa.Create(new ECParameters
        {
            Curve = curve,
            Q = new ECPoint { X = point[1..(1 + coordinate)], Y = point[(1 + coordinate)..] },
        });
        return new Pkcs11PrivateKey(token, handle, label, algorithm, size, ecdsa.ExportSubjectPublicKeyInfo(), null, null);
    }

    private Pkcs11Token OpenToken(Pkcs11Uri uri, int sessionPoolSize)
    {
        if (!_libraries.TryGetValue(uri.ModulePath, out var library))
        {
            try
            {
                library = Factories.Pkcs11LibraryFactory.LoadPkcs11Library(Factories, uri.ModulePath, AppType.MultiThreaded);
            }
            catch (Exception e) when (e is Pkcs11Exception or UnmanagedException or DllNotFoundException or IOException)
            {
                throw new ArgumentException($"{uri}: module-path={uri.ModulePath} cannot be loaded ({e.Message})", e);
            }
            _libraries[uri.ModulePath] = library;
        }

        var slots = library.GetSlotList(SlotsType.WithTokenPresent);
        var candidates = slots.Select(slot => (Slot: slot, Info: slot.GetTokenInfo())).ToList();
        var chosen = candidates.FirstOrDefault(c =>
            (uri.Token is null || c.Info.Label.Trim() == uri.Token) && (uri.Serial is null || c.Info.SerialNumber.Trim() == uri.Serial));
        if (chosen.Slot is null)
        {
            var available = string.Join(", ", candidates.Select(c => $"'{c.Info.Label.Trim()}' (serial {c.Info.SerialNumber.Trim()})"));
            throw new ArgumentException($"{uri}: no token with {uri.TokenDescription} in {uri.ModulePath} (present: {(available.Length > 0 ? available : "none")})");
        }
        var label = chosen.Info.Label.Trim();
        if (_tokens.TryGetValue((uri.ModulePath, label), out var open)) return open;

        var pin = uri.ReadPin();
        try
        {
            open = new Pkcs11Token(Factories, chosen.Slot, label, pin, sessionPoolSize);
        }
        catch (Pkcs11Exception e) when (e.RV is CKR.CKR_PIN_INCORRECT or CKR.CKR_PIN_INVALID or CKR.CKR_PIN_LEN_RANGE or CKR.CKR_PIN_LOCKED)
        {
            throw new ArgumentException($"{uri}: login to token '{label}' failed with the PIN from pin-source={uri.PinSource} ({e.RV})", e);
        }
        _tokens[(uri.ModulePath, label)] = open;
        LogTokenOpened(label, uri.ModulePath, sessionPoolSize);
        return open;
    }

    public void Dispose()
    {
        foreach (var token in _tokens.Values) token.Dispose();
        _tokens.Clear();
        foreach (var library in _libraries.Values) library.Dispose();
        _libraries.Clear();
    }

    [LoggerMessage(EventId = EventIds.Pkcs11KeyExtractable, Level = LogLevel.Warning, Message = "PKCS#11 key {Uri} on token '{Token}' is extractable or not sensitive: set CKA_SENSITIVE=true and CKA_EXTRACTABLE=false")]
    private partial void LogExtractable(string uri, string token);

    [LoggerMessage(EventId = EventIds.Pkcs11TokenOpened, Level = LogLevel.Information, Message = "PKCS#11 token '{Token}' opened through {Module} with {Sessions} sessions")]
    private partial void LogTokenOpened(string token, string module, int sessions);

    [LoggerMessage(EventId = EventIds.Pkcs11ImplicitRejectionKeyMissing, Level = LogLevel.Warning, Message = "PKCS#11 RSA key {Uri} on token '{Token}' has no implicit-rejection key '{RejectionLabel}' (CKK_GENERIC_SECRET, same CKA_ID): it signs, but every RSA decryption with it is refused. Create the key at onboarding, or set Keyless:KeyServer:Pkcs11CreateImplicitRejectionKeys=true")]
    private partial void LogImplicitRejectionKeyMissing(string uri, string token, string rejectionLabel);

    [LoggerMessage(EventId = EventIds.Pkcs11ImplicitRejectionKeyCreated, Level = LogLevel.Warning, Message = "Created implicit-rejection key '{RejectionLabel}' on token '{Token}' for {Uri} (Pkcs11CreateImplicitRejectionKeys is on)")]
    private partial void LogImplicitRejectionKeyCreated(string rejectionLabel, string token, string uri);
}
