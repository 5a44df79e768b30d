using System.Security.Cryptography;
using System.Text;
using KeylessOrleans.Registry;

namespace KeylessOrleans.Cluster.Registry;

/// <summary>
/// A digest of everything in a registration, so the periodic re-registration of an unchanged replica does not
/// count as a change of its tenant (which every edge serving it would read again).
/// </summary>
internal static class RegistrationFingerprint
{
    public static byte[] Of(ReplicaRegistration registration)
    {
        using var hash = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
        void Add(string text)
        {
            hash.AppendData(BitConverter.GetBytes(text.Length));
            hash.AppendData(Encoding.UTF8.GetBytes(text));
        }

        Add(registration.Tenant);
        Add(registration.Replica);
        foreach (var chain in registration.Chains)
        {
            Add(chain.KeyId);
            Add(chain.Algorithm.ToString());
            Add(chain.NotAfter.ToUnixTimeSeconds().ToString(System.Globalization.CultureInfo.InvariantCulture));
            foreach (var name in chain.HostNames) Add(name);
            foreach (var certificate in chain.ChainDer)
            {
                hash.AppendData(BitConverter.GetBytes(certificate.Length));
                hash.AppendData(certificate);
            }
        }
        return hash.GetHashAndReset();
    }
}
