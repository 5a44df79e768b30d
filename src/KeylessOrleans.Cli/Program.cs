using System.CommandLine;
using KeylessOrleans.Cli.Commands;
using KeylessOrleans.Cli.Demo;

ParentWatch.FollowDemo(); // a child of `keyless demo` ends with it

var root = new RootCommand("KeylessOrleans: TLS at the edge, private keys on the tenant's own servers.")
{
    DemoCommand.Create(),
    EdgeCommand.Create(),
    KeyServerCommand.Create(),
    AuditCommand.Create(),
    OriginCommand.Create(),
    TenantCommand.Create(),
    StatusCommand.Create(),
    CertificateCommands.Ca(),
    CertificateCommands.Cert(),
};
// Silos handle SIGINT/SIGTERM themselves (graceful leave), so the parser must not cut them short.
return await root.Parse(args).InvokeAsync(new InvocationConfiguration { ProcessTerminationTimeout = null });
