using System.Runtime.Serialization;
using Akka.Actor;
using Akka.Configuration;
using Packet.Actors;
using Packet.Actors.Workers.Protocol;
using Xunit;

namespace Packet.Tests.Workers;

/// <summary>The worker protocol's own serializer, on the actor system a reactor with workers builds.</summary>
public sealed class WorkerProtocolTests : IAsyncLifetime
{
    private readonly Reactor _reactor = Reactor.Start(ConfigurationFactory.ParseString("packet.workers.enabled = on, akka.loglevel = WARNING"));

    public Task InitializeAsync() => Task.CompletedTask;

    public async Task DisposeAsync() => await _reactor.DisposeAsync();

    public static TheoryData<string> Kinds => ["work", "out", "reg", "ok", "rdy", "dlv", "push", "fwd", "offer", "drain", "want"];

    private object Message(string kind)
    {
        var someone = _reactor.System.DeadLetters;
        return kind switch
        {
            "work" => new WorkerProtocol.Work([new WorkerProtocol.Job(1, new byte[] { 1, 2, 3 }), new WorkerProtocol.Job(long.MaxValue, Array.Empty<byte>())]),
            "out" => new WorkerProtocol.Outcomes([new WorkerProtocol.Outcome(7, new byte[] { 9 }, null), new WorkerProtocol.Outcome(8, null, "échec: ☃")]),
            "reg" => new WorkerProtocol.Register("secret", 42, "eval_worker", someone),
            "ok" => new WorkerProtocol.Registered(someone, someone),
            "rdy" => WorkerProtocol.Ready.Instance,
            "dlv" => new WorkerProtocol.Deliver(new byte[] { 4, 5 }),
            "push" => new WorkerProtocol.Push(new byte[] { 6 }),
            "offer" => new WorkerProtocol.Offer([new WorkerProtocol.OfferedWorker("eval_worker", null, 2, someone), new WorkerProtocol.OfferedWorker("keyed", "k1", 1, someone)]),
            "drain" => WorkerProtocol.Draining.Instance,
            "want" => WorkerProtocol.OfferWanted.Instance,
            _ => new WorkerProtocol.Forward("sink_worker", null, new byte[] { 7 }),
        };
    }

    [Theory]
    [MemberData(nameof(Kinds))]
    public void Each_protocol_message_goes_through_the_protocol_serializer_and_comes_back_equal(string kind)
    {
        var message = Message(kind);
        var serialization = _reactor.System.Serialization;

        var serializer = Assert.IsType<WorkerProtocolSerializer>(serialization.FindSerializerFor(message));
        var manifest = serializer.Manifest(message);
        var back = serialization.Deserialize(serializer.ToBinary(message), serializer.Identifier, manifest);

        Assert.Equal(kind, manifest);
        Assert.Equal(Describe(message), Describe(back));
    }

    /// <summary>Records print their arrays as type names only; this prints their contents too.</summary>
    private static string Describe(object message) => message switch
    {
        WorkerProtocol.Work work => string.Join(";", work.Jobs.Select(j => $"{j.RequestId}:{Convert.ToHexString(j.Payload.Span)}")),
        WorkerProtocol.Outcomes outcomes => string.Join(";", outcomes.Items.Select(o => $"{o.RequestId}:{(o.Payload is { } p ? Convert.ToHexString(p.Span) : "null")}:{o.Error}")),
        WorkerProtocol.Deliver deliver => Convert.ToHexString(deliver.Payload.Span),
        WorkerProtocol.Push push => Convert.ToHexString(push.Payload.Span),
        WorkerProtocol.Forward forward => $"{forward.Worker}:{forward.Key}:{Convert.ToHexString(forward.Payload.Span)}",
        WorkerProtocol.Offer offer => string.Join(";", offer.Workers.Select(w => $"{w.Name}:{w.Key}:{w.MaxInFlight}:{w.Pool.Path}")),
        _ => message.ToString()!,
    };

    [Fact]
    public void A_count_larger_than_the_message_is_refused_before_anything_is_allocated()
    {
        var serializer = (WorkerProtocolSerializer)_reactor.System.Serialization.FindSerializerForType(typeof(WorkerProtocol.Work));
        var lying = new byte[] { 0xFF, 0xFF, 0xFF, 0x7F, 0, 0, 0, 0 }; // int.MaxValue jobs in 4 bytes

        var allocated = GC.GetAllocatedBytesForCurrentThread();
        var error = Assert.Throws<SerializationException>(() => serializer.FromBinary(lying, "work"));

        Assert.Contains("does not fit", error.Message);
        Assert.True(GC.GetAllocatedBytesForCurrentThread() - allocated < 64 * 1024);
    }
}
