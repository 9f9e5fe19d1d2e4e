using Xunit;

namespace Packet.Tests.Workers;

/// <summary>The shared worker suite with the workers on actors inside the master (<c>packet.workers.in-process = on</c>).</summary>
public sealed class InProcessWorkerTests(InProcessWorkerFixture fixture) : WorkerSuite(fixture), IClassFixture<InProcessWorkerFixture>;
