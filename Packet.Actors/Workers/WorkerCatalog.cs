using System.Reflection;

namespace Packet.Actors.Workers;

/// <summary>A worker class the master knows by name.</summary>
internal sealed record WorkerType(string Name, Type Type, bool NoAutoLoad, int Instances, int MaxInFlight, Type Proxy, bool ClusterUnique)
{
    public string AssemblyPath => Type.Assembly.Location;

    public string TypeName => Type.FullName!;

    /// <summary>Checks that <paramref name="type"/> can run as a worker; the message says what is missing.</summary>
    public static WorkerType Of(Type type)
    {
        if (!type.IsSubclassOf(typeof(Worker)) || type.IsAbstract)
            throw new ArgumentException($"{type.FullName} is not a concrete subclass of Packet.Actors.Worker");
        var attribute = type.GetCustomAttribute<WorkerAttribute>()
            ?? throw new ArgumentException($"worker class {type.FullName} has no name: mark it [Worker(\"its_name\")]");
        if (string.IsNullOrWhiteSpace(attribute.Name))
            throw new ArgumentException($"worker class {type.FullName} has an empty [Worker] name");
        if (type.GetConstructor(Type.EmptyTypes) is null)
            throw new ArgumentException($"worker class {type.FullName} needs a public parameterless constructor");
        if (string.IsNullOrEmpty(type.Assembly.Location))
            throw new ArgumentException($"worker class {type.FullName} lives in an assembly without a file, which a WorkerHost cannot load");
        if (attribute.Instances < 1)
            throw new ArgumentException($"worker class {type.FullName} asks for {attribute.Instances} instances; at least 1 is needed");
        if (attribute.MaxInFlight < 0)
            throw new ArgumentException($"worker class {type.FullName} has a negative MaxInFlight");
        if (attribute.ClusterUnique && attribute.Instances != 1)
            throw new ArgumentException($"worker class {type.FullName} is ClusterUnique with {attribute.Instances} instances: a cluster-unique worker runs as one");
        if (attribute.ClusterUnique && attribute.NoAutoLoad)
            throw new ArgumentException($"worker class {type.FullName} is both ClusterUnique and NoAutoLoad: a cluster-unique worker is started by the cluster");
        var proxy = attribute.Proxy ?? typeof(MetaPimp);
        if (!proxy.IsSubclassOf(typeof(Pimp)) || proxy.IsAbstract || proxy.GetConstructor(Type.EmptyTypes) is null)
            throw new ArgumentException($"worker class {type.FullName} names proxy {proxy.FullName}, which is not a concrete Pimp subclass with a public parameterless constructor");
        return new WorkerType(attribute.Name, type, attribute.NoAutoLoad, attribute.Instances, attribute.MaxInFlight, proxy, attribute.ClusterUnique);
    }
}

/// <summary>
/// Finds the worker classes of a reactor: those in <c>packet.workers.root</c> (in every assembly there
/// that has a <c>.deps.json</c>, that is, a project's output rather than one of its dependencies) and
/// those named in <c>packet.workers.types</c>.
/// </summary>
internal static class WorkerCatalog
{
    public static Dictionary<string, WorkerType> Load(WorkerSettings settings)
    {
        var found = new List<WorkerType>();
        if (settings.Root is { } root)
            found.AddRange(Directory.EnumerateFiles(root, "*.dll", SearchOption.AllDirectories)
                .Where(WorkerAssemblies.IsWorkerCandidate).SelectMany(Scan));
        foreach (var name in settings.Types)
            found.Add(WorkerType.Of(Type.GetType(name, throwOnError: false)
                ?? throw new ArgumentException($"packet.workers.types names \"{name}\", which cannot be loaded")));

        var catalog = new Dictionary<string, WorkerType>();
        foreach (var worker in found.DistinctBy(w => w.Type))
            if (!catalog.TryAdd(worker.Name, worker))
                throw new ArgumentException($"two worker classes are named \"{worker.Name}\": {catalog[worker.Name].Type.FullName} and {worker.Type.FullName}");
        return catalog;
    }

    private static IEnumerable<WorkerType> Scan(string path)
    {
        Assembly assembly;
        try
        {
            assembly = WorkerAssemblies.Load(path);
        }
        catch (BadImageFormatException)
        {
            return []; // a native library beside the workers
        }
        catch (FileLoadException)
        {
            return []; // already loaded from elsewhere, such as Packet.Actors itself
        }
        Type[] types;
        try
        {
            types = assembly.GetTypes();
        }
        catch (ReflectionTypeLoadException e)
        {
            types = e.Types.OfType<Type>().ToArray();
        }
        return types.Where(t => t.IsSubclassOf(typeof(Worker)) && !t.IsAbstract).Select(WorkerType.Of).ToArray();
    }
}
