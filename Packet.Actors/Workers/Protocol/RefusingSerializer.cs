using System.Runtime.Serialization;
using Akka.Actor;
using Akka.Serialization;

namespace Packet.Actors.Workers.Protocol;

/// <summary>
/// Stands in, on the master ↔ WorkerHost link, for each of Akka's own serializers: JSON (which reads type
/// names off the wire), bytes, primitives, protobuf, actor selections, Identify/PoisonPill/Kill, system
/// messages such as Watch and DeathWatchNotification, and remote deployment. Their ids then name no
/// serializer on the link, so such a message from a peer is dropped unread, and this one refuses to
/// write any: only <see cref="WorkerProtocol"/> messages cross. On a cluster node it stands in for JSON
/// only, the cluster's own messages keeping their serializers.
/// </summary>
internal sealed class RefusingSerializer(ExtendedActorSystem system) : Serializer(system)
{
    /// <summary>The form Akka calls for a serializer that has settings of its own (JSON's): they are ignored.</summary>
    public RefusingSerializer(ExtendedActorSystem system, Akka.Configuration.Config settings)
        : this(system)
    {
    }

    /// <summary>Next to <see cref="WorkerProtocolSerializer"/>'s; Akka's own ids are at most 100.</summary>
    public override int Identifier => 7302;

    public override bool IncludeManifest => false;

    public override byte[] ToBinary(object obj) =>
        throw new SerializationException($"{obj.GetType()} may not cross this link: no serializer of its own is bound to it");

    public override object FromBinary(byte[] bytes, Type type) =>
        throw new SerializationException("this link reads only messages whose serializers are bound to it");
}
