using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;

namespace KeylessOrleans.KeyServer.KeyStore;

/// <summary>Reads one PEM file of the key folder: its private keys and certificates, all or nothing.</summary>
internal static class PemFile
{
    private static readonly string[] Extensions = [".pem", ".key", ".crt", ".cer"];

    public static bool IsKeyOrCertificateFile(string path) =>
        Extensions.Contains(Path.GetExtension(path), StringComparer.OrdinalIgnoreCase);

    /// <exception cref="InvalidDataException">A block is malformed or unsupported, or the file holds none; nothing is returned then.</exception>
    public static (List<IPrivateKey> Keys, List<X509Certificate2> Certificates) Read(string file)
    {
        var text = File.ReadAllText(file);
        var keys = new List<IPrivateKey>();
        var certificates = new List<X509Certificate2>();
        try
        {
            var remaining = text.AsSpan();
            var blocks = 0;
            while (PemEncoding.TryFind(remaining, out var fields))
            {
                blocks++;
                var label = remaining[fields.Label].ToString();
                var der = Convert.FromBase64String(remaining[fields.Base64Data].ToString());
                if (label == "CERTIFICATE")
                    certificates.Add(ReadCertificate(der));
                else if (PemKeyReader.IsPrivateKeyLabel(label))
                    keys.Add(PemKeyReader.Read(label, der));
                remaining = remaining[fields.Location.End..];
            }
            // PemEncoding skips blocks it cannot parse; a key file with a broken block (or one still being
            // written) must not load half-way.
            if (blocks < CountOccurrences(text, "-----BEGIN "))
                throw new InvalidDataException("a PEM block is malformed (bad base64 or no matching END line)");
            if (keys.Count == 0 && certificates.Count == 0)
                throw new InvalidDataException("no PEM private key or certificate found");
            return (keys, certificates);
        }
        catch
        {
            keys.ForEach(k => k.Dispose());
            certificates.ForEach(c => c.Dispose());
            throw;
        }
    }

    private static int CountOccurrences(string text, string value)
    {
        var count = 0;
        for (var i = text.IndexOf(value, StringComparison.Ordinal); i >= 0; i = text.IndexOf(value, i + value.Length, StringComparison.Ordinal)) count++;
        return count;
    }

    private static X509Certificate2 ReadCertificate(byte[] der)
    {
        try
        {
            return X509CertificateLoader.LoadCertificate(der);
        }
        catch (CryptographicException e)
        {
            throw new InvalidDataException($"a CERTIFICATE block is malformed ({e.Message})", e);
        }
    }
}
