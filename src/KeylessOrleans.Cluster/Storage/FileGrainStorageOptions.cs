using Microsoft.Extensions.Options;
using Orleans.Storage;

namespace KeylessOrleans.Cluster.Storage;

/// <summary>Settings of one <see cref="FileGrainStorage"/> (named after the storage).</summary>
public sealed class FileGrainStorageOptions : IStorageProviderSerializerOptions
{
    /// <summary>
    /// The folder that holds the state files; created at silo start when missing. Every silo that may host the grains
    /// must use the same folder, so all of them run on one machine. One folder per service: file names do not include
    /// the service id.
    /// </summary>
    public string Directory { get; set; } = "";

    /// <summary>How states become bytes; unset, the silo's default grain storage serializer.</summary>
    public IGrainStorageSerializer GrainStorageSerializer { get; set; } = default!;
}

/// <summary>Refuses a storage without a usable folder at silo start, naming the storage.</summary>
internal sealed class FileGrainStorageOptionsValidator : IValidateOptions<FileGrainStorageOptions>
{
    public ValidateOptionsResult Validate(string? name, FileGrainStorageOptions options)
    {
        if (string.IsNullOrWhiteSpace(options.Directory))
            return ValidateOptionsResult.Fail($"grain storage '{name}': Directory is required (the folder that keeps grain state)");
        string full;
        try
        {
            full = Path.GetFullPath(options.Directory);
        }
        catch (Exception e) when (e is ArgumentException or NotSupportedException or PathTooLongException)
        {
            return ValidateOptionsResult.Fail($"grain storage '{name}': Directory '{options.Directory}' is not a valid path ({e.Message})");
        }
        return File.Exists(full)
            ? ValidateOptionsResult.Fail($"grain storage '{name}': Directory '{full}' is a file, not a folder")
            : ValidateOptionsResult.Success;
    }
}
