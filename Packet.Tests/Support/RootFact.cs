using Xunit;

namespace Packet.Tests.Support;

/// <summary>A fact that needs root, for <see cref="NetworkNamespace"/>: skipped, saying why, elsewhere.</summary>
public sealed class RootFactAttribute : FactAttribute
{
    public RootFactAttribute()
    {
        if (!NetworkNamespace.Available) Skip = "needs root and iproute2, for network namespaces (CI runs it)";
    }
}

/// <summary>A theory that needs root, for <see cref="NetworkNamespace"/>: skipped, saying why, elsewhere.</summary>
public sealed class RootTheoryAttribute : TheoryAttribute
{
    public RootTheoryAttribute()
    {
        if (!NetworkNamespace.Available) Skip = "needs root and iproute2, for network namespaces (CI runs it)";
    }
}
