using System.Diagnostics;
using Net.Pkcs11Interop.Common;
using Net.Pkcs11Interop.HighLevelAPI;

namespace KeylessOrleans.TestSupport;

/// <summary>
/// A real SoftHSM2 for this test process: its own configuration and token folder under /tmp (SOFTHSM2_CONF is
/// set for the whole process before any module is loaded), tokens made with softhsm2-util, key pairs generated
/// inside the token as a bank would: sensitive and not extractable.
/// </summary>
public sealed class SoftHsm
{
    public const string Module = "/usr/lib/softhsm/libsofthsm2.so";
    private static readonly Lazy<SoftHsm> Shared = new(() => new SoftHsm());

    private readonly string _root;

    private SoftHsm()
    {
        if (!File.Exists(Module)) throw new InvalidOperationException($"{Module} is missing: tests/run.sh installs softhsm2");
        _root = Directory.CreateTempSubdirectory("keyless-softhsm-").FullName;
        Directory.CreateDirectory(Path.Combine(_root, "tokens"));
        ConfigFile = Path.Combine(_root, "softhsm2.conf");
        File.WriteAllText(ConfigFile, $"directories.tokendir = {Path.Combine(_root, "tokens")}\nobjectstore.backend = file\nlog.level = ERROR\n");
        // The module reads SOFTHSM2_CONF with getenv: .NET's Environment.SetEnvironmentVariable does not reach
        // the native environment on Linux, so set it there too.
        Environment.SetEnvironmentVariable("SOFTHSM2_CONF", ConfigFile);
        if (SetEnv("SOFTHSM2_CONF", ConfigFile, 1) != 0) throw new InvalidOperationException("setenv(SOFTHSM2_CONF) failed");
        AppDomain.CurrentDomain.ProcessExit += (_, _) => { try { Directory.Delete(_root, true); } catch (IOException) { } };
    }

    public static SoftHsm Instance => Shared.Value;

    [System.Runtime.InteropServices.DllImport("libc", EntryPoint = "setenv")]
    private static extern int SetEnv(string name, string value, int overwrite);

    public string ConfigFile { get; }

    /// <summary>A new token with a user PIN, its PIN also written to a file for pin-source=file:.</summary>
    public HsmToken CreateToken(string label, string pin = "123456")
    {
        var start = new ProcessStartInfo("softhsm2-util", ["--init-token", "--free", "--label", label, "--pin", pin, "--so-pin", "987654"])
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
        };
        start.Environment["SOFTHSM2_CONF"] = ConfigFile;
        using var process = Process.Start(start)!;
        var output = process.StandardOutput.ReadToEnd() + process.StandardError.ReadToEnd();
        if (!process.WaitForExit(30_000) || process.ExitCode != 0) throw new InvalidOperationException($"softhsm2-util failed: {output}");
        var pinFile = Path.Combine(_root, $"{label}.pin");
        File.WriteAllText(pinFile, pin + "\n");
        return new HsmToken(label, pin, pinFile);
    }
}

public sealed record HsmToken(string Label, string Pin, string PinFile)
{
    /// <summary>The RFC 7512 URI of a key on this token.</summary>
    public string Uri(string objectLabel, string? pinSource = null) =>
        $"pkcs11:token={Label};object={objectLabel};type=private?module-path={SoftHsm.Module}&pin-source={pinSource ?? "file:" + PinFile}";

    /// <summary>
    /// An RSA key pair and, as onboarding makes it, its implicit-rejection key (an HMAC secret with the same id,
    /// labelled "&lt;label&gt;.implicit-rejection"), unless <paramref name="withImplicitRejectionKey"/> is false.
    /// </summary>
    public byte[] GenerateRsa(string label, int bits = 2048, bool withImplicitRejectionKey = true) => Generate(label, CKM.CKM_RSA_PKCS_KEY_PAIR_GEN, (attributes, publicTemplate, privateTemplate) =>
    {
        publicTemplate.Add(attributes.Create(CKA.CKA_MODULUS_BITS, (ulong)bits));
        publicTemplate.Add(attributes.Create(CKA.CKA_PUBLIC_EXPONENT, new byte[] { 0x01, 0x00, 0x01 }));
        privateTemplate.Add(attributes.Create(CKA.CKA_DECRYPT, true));
    }, withImplicitRejectionKey);

    public byte[] GenerateEcP256(string label) => Generate(label, CKM.CKM_EC_KEY_PAIR_GEN, (attributes, publicTemplate, _) =>
        publicTemplate.Add(attributes.Create(CKA.CKA_EC_PARAMS, new byte[] { 0x06, 0x08, 0x2A, 0x86, 0x48, 0xCE, 0x3D, 0x03, 0x01, 0x07 })));

    /// <summary>Generates a key pair in the token and returns the public key's SubjectPublicKeyInfo.</summary>
    private byte[] Generate(string label, CKM mechanism, Action<Net.Pkcs11Interop.HighLevelAPI.Factories.IObjectAttributeFactory, List<IObjectAttribute>, List<IObjectAttribute>> specific, bool withImplicitRejectionKey = false)
    {
        _ = SoftHsm.Instance;
        KeylessOrleans.KeyServer.KeyStore.Pkcs11.Pkcs11Native.EnsureResolver();
        var factories = new Pkcs11InteropFactories();
        // The library is initialised for this call only: keys must be made before a key store opens the module.
        using var library = factories.Pkcs11LibraryFactory.LoadPkcs11Library(factories, SoftHsm.Module, AppType.MultiThreaded);
        var slot = library.GetSlotList(SlotsType.WithTokenPresent).Single(s => s.GetTokenInfo().Label.Trim() == Label);
        using var session = slot.OpenSession(SessionType.ReadWrite);
        session.Login(CKU.CKU_USER, Pin);
        var attributes = factories.ObjectAttributeFactory;
        var id = System.Text.Encoding.UTF8.GetBytes(label);
        var publicTemplate = new List<IObjectAttribute>
        {
            attributes.Create(CKA.CKA_TOKEN, true), attributes.Create(CKA.CKA_LABEL, label), attributes.Create(CKA.CKA_ID, id),
            attributes.Create(CKA.CKA_VERIFY, true),
        };
        var privateTemplate = new List<IObjectAttribute>
        {
            attributes.Create(CKA.CKA_TOKEN, true), attributes.Create(CKA.CKA_PRIVATE, true), attributes.Create(CKA.CKA_LABEL, label),
            attributes.Create(CKA.CKA_ID, id), attributes.Create(CKA.CKA_SIGN, true),
            attributes.Create(CKA.CKA_SENSITIVE, true), attributes.Create(CKA.CKA_EXTRACTABLE, false),
        };
        specific(attributes, publicTemplate, privateTemplate);
        session.GenerateKeyPair(factories.MechanismFactory.Create(mechanism), publicTemplate, privateTemplate, out var publicKey, out _);
        if (withImplicitRejectionKey) KeylessOrleans.KeyServer.KeyStore.Pkcs11.Pkcs11ImplicitRejectionKey.Create(session, factories, label, id);

        if (mechanism == CKM.CKM_RSA_PKCS_KEY_PAIR_GEN)
        {
            var values = session.GetAttributeValue(publicKey, [CKA.CKA_MODULUS, CKA.CKA_PUBLIC_EXPONENT]);
            using var rsa = System.Security.Cryptography.RSA.Create(new System.Security.Cryptography.RSAParameters
            {
                Modulus = values[0].GetValueAsByteArray(),
                Exponent = values[1].GetValueAsByteArray(),
            });
            session.Logout();
            return rsa.ExportSubjectPublicKeyInfo();
        }
        var pointDer = session.GetAttributeValue(publicKey, [CKA.CKA_EC_POINT])[0].GetValueAsByteArray();
        var point = new System.Formats.Asn1.AsnReader(pointDer, System.Formats.Asn1.AsnEncodingRules.DER).ReadOctetString();
        using var ecdsa = System.Security.Cryptography.ECDsa.Create(new System.Security.Cryptography.ECParameters
        {
            Curve = System.Security.Cryptography.ECCurve.NamedCurves.nistP256,
            Q = new System.Security.Cryptography.ECPoint { X = point[1..33], Y = point[33..] },
        });
        session.Logout();
        return ecdsa.ExportSubjectPublicKeyInfo();
    }
}
