namespace KeylessOrleans.TestSupport;

/// <summary>
/// An NSS key log as <c>openssl s_client -keylogfile</c> writes it: per TLS 1.2 handshake the master secret
/// (CLIENT_RANDOM) and, for RSA key exchange, the premaster (RSA); per TLS 1.3 handshake the traffic and
/// exporter secrets. The client randoms and ciphertext prefixes are public and left out.
/// </summary>
public static class TlsKeyLog
{
    public sealed record Secret(string Label, byte[] Value)
    {
        public bool IsPremaster => Label == "RSA";
        public bool IsTls12MasterSecret => Label == "CLIENT_RANDOM";
    }

    public static IReadOnlyList<Secret> Read(string file) =>
        File.ReadAllLines(file)
            .Where(line => line.Length > 0 && !line.StartsWith('#'))
            .Select(line => line.Split(' '))
            .Where(fields => fields.Length == 3)
            .Select(fields => new Secret(fields[0], Convert.FromHexString(fields[2])))
            .ToList();
}
