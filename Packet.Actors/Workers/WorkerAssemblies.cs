using System.Reflection;
using System.Runtime.Loader;

namespace Packet.Actors.Workers;

/// <summary>
/// Loads worker assemblies the way plugins are loaded: each one's dependencies resolve from its own
/// folder through its <c>.deps.json</c>, so a worker can bring libraries (Roslyn, say) that the
/// master and the WorkerHost do not have.
/// </summary>
internal static class WorkerAssemblies
{
    /// <summary>True for a project output that carries its dependency file: the assemblies a WorkerRoot scan considers.</summary>
    public static bool IsWorkerCandidate(string path) => File.Exists(Path.ChangeExtension(path, ".deps.json"));

    public static Assembly Load(string path)
    {
        var resolver = new AssemblyDependencyResolver(path);
        AssemblyLoadContext.Default.Resolving += (context, name) =>
            resolver.ResolveAssemblyToPath(name) is { } dependency ? context.LoadFromAssemblyPath(dependency) : null;
        return AssemblyLoadContext.Default.LoadFromAssemblyPath(path);
    }
}
