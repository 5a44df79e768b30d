using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Options;

namespace KeylessOrleans.Cli.Commands;

internal static class HostRunner
{
    /// <summary>Runs a silo host until SIGINT/SIGTERM; a configuration error is printed by name and exits with 2.</summary>
    public static async Task<int> RunAsync(Func<IHost> build)
    {
        try
        {
            using var host = build();
            await host.RunAsync();
            return 0;
        }
        catch (OptionsValidationException e)
        {
            foreach (var failure in e.Failures) await Console.Error.WriteLineAsync($"configuration error: {failure}");
            return 2;
        }
        catch (AggregateException e) when (e.InnerExceptions.All(inner => inner is OptionsValidationException))
        {
            // ValidateOnStart reports the problems of several options classes together.
            foreach (var failure in e.InnerExceptions.Cast<OptionsValidationException>().SelectMany(inner => inner.Failures))
                await Console.Error.WriteLineAsync($"configuration error: {failure}");
            return 2;
        }
        catch (Exception e) when (e is ArgumentException or FileNotFoundException or DirectoryNotFoundException or InvalidDataException or System.Text.Json.JsonException)
        {
            await Console.Error.WriteLineAsync($"configuration error: {e.Message}");
            return 2;
        }
    }
}
