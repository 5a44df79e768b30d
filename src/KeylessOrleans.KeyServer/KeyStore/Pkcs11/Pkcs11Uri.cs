namespace KeylessOrleans.KeyServer.KeyStore.Pkcs11;

/// <summary>
/// An RFC 7512 PKCS#11 URI naming a private key:
/// <c>pkcs11:token=bank;object=www-rsa;type=private?module-path=/usr/lib/softhsm/libsofthsm2.so&amp;pin-source=file:/etc/keyless/pin</c>.
/// The PIN comes from <c>pin-source</c> (<c>file:PATH</c>, or <c>env:NAME</c> for an environment variable);
/// <c>pin-value</c> is refused so no PIN sits in clear in the configuration.
/// </summary>
internal sealed record Pkcs11Uri(string Text, string? Token, string? Serial, string? Object, byte[]? Id, string ModulePath, string PinSource)
{
    public static Pkcs11Uri Parse(string text)
    {
        if (!text.StartsWith("pkcs11:", StringComparison.Ordinal))
            throw new ArgumentException($"'{Redacted(text)}' is not a PKCS#11 URI (it must start with pkcs11:)");
        var body = text["pkcs11:".Length..];
        var query = "";
        var question = body.IndexOf('?');
        if (question >= 0)
        {
            query = body[(question + 1)..];
            body = body[..question];
        }
        var path = Attributes(body, ';');
        var parameters = Attributes(query, '&');
        if (parameters.ContainsKey("pin-value"))
            throw new ArgumentException("pin-value is not allowed in a key URI: put the PIN in a file (pin-source=file:/path) or an environment variable (pin-source=env:NAME)");
        if (path.TryGetValue("type", out var type) && type != "private")
            throw new ArgumentException($"type={type} in '{Redacted(text)}': the key server needs type=private");
        if (!parameters.TryGetValue("module-path", out var module))
            throw new ArgumentException($"'{Redacted(text)}' has no module-path (the PKCS#11 library, e.g. /usr/lib/softhsm/libsofthsm2.so)");
        if (!parameters.TryGetValue("pin-source", out var pinSource))
            throw new ArgumentException($"'{Redacted(text)}' has no pin-source (file:/path or env:NAME)");
        if (!path.ContainsKey("object") && !path.ContainsKey("id"))
            throw new ArgumentException($"'{Redacted(text)}' names no key: give object=LABEL or id=%xx");
        path.TryGetValue("token", out var token);
        path.TryGetValue("serial", out var serial);
        var label = path.TryGetValue("object", out var rawLabel)
            ? System.Text.Encoding.UTF8.GetString(System.Text.Encoding.Latin1.GetBytes(rawLabel))
            : null;
        byte[]? id = path.TryGetValue("id", out var idText) ? System.Text.Encoding.Latin1.GetBytes(idText) : null;
        return new Pkcs11Uri(text, token, serial, label, id, module, pinSource);
    }

    /// <summary>Reads the PIN named by pin-source.</summary>
    public string ReadPin()
    {
        if (PinSource.StartsWith("env:", StringComparison.Ordinal))
            return Environment.GetEnvironmentVariable(PinSource[4..])
                ?? throw new ArgumentException($"pin-source={PinSource}: the environment variable {PinSource[4..]} is not set");
        var path = PinSource.StartsWith("file:", StringComparison.Ordinal) ? PinSource[5..] : PinSource;
        if (!File.Exists(path)) throw new ArgumentException($"pin-source={PinSource}: the file does not exist");
        return File.ReadAllText(path).TrimEnd('\r', '\n');
    }

    /// <summary>The object part of the URI, for messages: object=… or id=….</summary>
    public string ObjectDescription => Object is not null ? $"object={Object}" : $"id={Convert.ToHexString(Id!)}";

    public string TokenDescription => Token is not null ? $"token={Token}" : Serial is not null ? $"serial={Serial}" : "the first token";

    private static Dictionary<string, string> Attributes(string part, char separator)
    {
        var result = new Dictionary<string, string>(StringComparer.Ordinal);
        foreach (var attribute in part.Split(separator, StringSplitOptions.RemoveEmptyEntries))
        {
            var equals = attribute.IndexOf('=');
            if (equals <= 0) throw new ArgumentException($"PKCS#11 URI attribute '{attribute}' is not name=value");
            result[attribute[..equals]] = PercentDecode(attribute[(equals + 1)..]);
        }
        return result;
    }

    /// <summary>RFC 3986 percent-decoding to raw bytes, kept as Latin-1 so binary ids survive.</summary>
    private static string PercentDecode(string value)
    {
        var bytes = new List<byte>();
        for (var i = 0; i < value.Length; i++)
        {
            if (value[i] == '%' && i + 2 < value.Length)
            {
                bytes.Add(Convert.ToByte(value.Substring(i + 1, 2), 16));
                i += 2;
            }
            else
            {
                bytes.AddRange(System.Text.Encoding.UTF8.GetBytes(value[i].ToString()));
            }
        }
        return System.Text.Encoding.Latin1.GetString(bytes.ToArray());
    }

    /// <summary>The URI without its query (module and PIN source), for messages.</summary>
    private static string Redacted(string text) => text.Split('?')[0];

    public override string ToString() => Redacted(Text);
}
