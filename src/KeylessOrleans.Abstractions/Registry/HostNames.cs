namespace KeylessOrleans.Registry;

/// <summary>Host-name rules shared by the registry and the edge: normalisation and exact/wildcard matching.</summary>
public static class HostNames
{
    public static string Normalize(string hostName) => hostName.Trim().TrimEnd('.').ToLowerInvariant();

    /// <summary>
    /// True when <paramref name="pattern"/> covers <paramref name="hostName"/>: equal names, or "*.example.com"
    /// matching exactly one label in front of "example.com" (RFC 6125 §6.4.3, no partial-label wildcards).
    /// </summary>
    public static bool Matches(string pattern, string hostName)
    {
        pattern = Normalize(pattern);
        hostName = Normalize(hostName);
        if (!pattern.StartsWith("*.", StringComparison.Ordinal)) return pattern == hostName;
        var suffix = pattern[1..]; // ".example.com"
        if (!hostName.EndsWith(suffix, StringComparison.Ordinal)) return false;
        var label = hostName[..^suffix.Length];
        return label.Length > 0 && !label.Contains('.');
    }

    /// <summary>
    /// True when an allowed name <paramref name="pattern"/> covers a certificate's name: it matches it, or both are the
    /// same wildcard. A wildcard certificate name is covered only by that very wildcard, never by a single name.
    /// </summary>
    public static bool Covers(string pattern, string certificateName) =>
        Normalize(pattern) == Normalize(certificateName) || (!certificateName.StartsWith("*.", StringComparison.Ordinal) && Matches(pattern, certificateName));

    /// <summary>The DNS names of a certificate's subject alternative names, normalized, each once.</summary>
    public static List<string> Of(System.Security.Cryptography.X509Certificates.X509Certificate2 certificate) =>
        certificate.Extensions.OfType<System.Security.Cryptography.X509Certificates.X509SubjectAlternativeNameExtension>()
            .SelectMany(san => san.EnumerateDnsNames())
            .Select(Normalize)
            .Distinct()
            .ToList();
}
