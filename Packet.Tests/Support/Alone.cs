using Xunit;

namespace Packet.Tests.Support;

/// <summary>
/// A collection that runs by itself, after the parallel tests: for tests that race threads against each
/// other, whose spinning would slow the tests beside them and whose interleavings those tests would disturb.
/// </summary>
[CollectionDefinition(nameof(Alone), DisableParallelization = true)]
public sealed class Alone;
