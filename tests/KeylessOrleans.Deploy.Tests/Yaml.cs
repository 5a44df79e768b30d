using YamlDotNet.RepresentationModel;

namespace KeylessOrleans.Deploy.Tests;

/// <summary>YamlDotNet's representation model plus the two things compose files need: merge keys and paths.</summary>
internal static class Yaml
{
    /// <summary>Parses every document of a YAML stream; throws <see cref="YamlDotNet.Core.YamlException"/> on bad YAML.</summary>
    public static IReadOnlyList<YamlDocument> LoadAll(string text)
    {
        var stream = new YamlStream();
        stream.Load(new StringReader(text));
        return stream.Documents.ToList();
    }

    public static YamlNode LoadOne(string text) => LoadAll(text) is [var doc] ? doc.RootNode
        : throw new InvalidDataException("expected exactly one YAML document");

    /// <summary>
    /// A mapping's entries with YAML merge keys (<c>&lt;&lt;: *anchor</c>, as docker compose resolves them) applied:
    /// merged entries first, the mapping's own keys win. The representation model leaves "&lt;&lt;" as a plain key.
    /// </summary>
    public static IReadOnlyDictionary<string, YamlNode> Map(YamlNode? node)
    {
        var result = new Dictionary<string, YamlNode>(StringComparer.Ordinal);
        if (node is not YamlMappingNode mapping) return result;
        if (mapping.Children.TryGetValue(new YamlScalarNode("<<"), out var merge))
        {
            var sources = merge is YamlSequenceNode seq ? seq.Children : [merge];
            foreach (var source in sources)
                foreach (var (k, v) in Map(source)) result[k] = v;
        }
        foreach (var (key, value) in mapping.Children)
        {
            var name = ((YamlScalarNode)key).Value!;
            if (name != "<<") result[name] = value;
        }
        return result;
    }

    /// <summary>Follows a dotted path of mapping keys (merge keys applied); null when any step is missing.</summary>
    public static YamlNode? Get(YamlNode? node, string path)
    {
        foreach (var step in path.Split('.'))
        {
            if (!Map(node).TryGetValue(step, out node)) return null;
        }
        return node;
    }

    public static string? Str(YamlNode? node) => (node as YamlScalarNode)?.Value;

    public static string? Str(YamlNode? node, string path) => Str(Get(node, path));

    public static IReadOnlyList<YamlNode> Seq(YamlNode? node) => node is YamlSequenceNode s ? s.Children.ToList() : [];

    public static IReadOnlyList<string> Strings(YamlNode? node) => Seq(node).Select(n => Str(n) ?? "").ToList();
}
