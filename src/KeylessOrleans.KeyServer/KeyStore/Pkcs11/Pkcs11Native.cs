using System.Reflection;
using System.Runtime.InteropServices;

namespace KeylessOrleans.KeyServer.KeyStore.Pkcs11;

/// <summary>
/// Pkcs11Interop loads modules through "libdl", a name that exists on Linux only with the C development
/// package installed. Since glibc 2.34 dlopen lives in libc itself, so the name is mapped to the runtime
/// library that every system has.
/// </summary>
internal static class Pkcs11Native
{
    private static int _installed;

    public static void EnsureResolver()
    {
        if (!OperatingSystem.IsLinux() || Interlocked.Exchange(ref _installed, 1) == 1) return;
        NativeLibrary.SetDllImportResolver(typeof(Net.Pkcs11Interop.HighLevelAPI.Pkcs11InteropFactories).Assembly, Resolve);
    }

    private static IntPtr Resolve(string name, Assembly assembly, DllImportSearchPath? searchPath)
    {
        if (name != "libdl") return IntPtr.Zero;
        foreach (var candidate in new[] { "libdl.so.2", "libc.so.6" })
            if (NativeLibrary.TryLoad(candidate, out var handle)) return handle;
        return IntPtr.Zero;
    }
}
