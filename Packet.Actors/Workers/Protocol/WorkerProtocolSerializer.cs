using System.Buffers.Binary;
using System.Runtime.Serialization;
using System.Text;
using Akka.Actor;
using Akka.Serialization;

namespace Packet.Actors.Workers.Protocol;

/// <summary>
/// Writes and reads the <see cref="WorkerProtocol"/> messages field by field, in little-endian binary:
/// no type names on the wire, so nothing the peer sends can name a type to build, and every length
/// and count is checked against the bytes left before anything is allocated. A message that does not
/// read cleanly throws <see cref="SerializationException"/>, and Akka.Remote drops it.
/// </summary>
/// <remarks>
/// Bound for <see cref="WorkerProtocol.IMessage"/> in <c>packet.workers.remote-config</c>. It is also
/// several times cheaper than a general serializer for these small messages, whose cost is paid
/// on every ask.
/// </remarks>
internal sealed class WorkerProtocolSerializer : SerializerWithStringManifest
{
    public WorkerProtocolSerializer(ExtendedActorSystem system)
        : base(system)
    {
    }

    /// <summary>Akka serializer ids up to 100 are Akka's own.</summary>
    public override int Identifier => 7301;

    public override string Manifest(object o) => o switch
    {
        WorkerProtocol.Work => "work",
        WorkerProtocol.Outcomes => "out",
        WorkerProtocol.Register => "reg",
        WorkerProtocol.Registered => "ok",
        WorkerProtocol.Ready => "rdy",
        WorkerProtocol.Deliver => "dlv",
        WorkerProtocol.Push => "push",
        WorkerProtocol.Forward => "fwd",
        WorkerProtocol.Offer => "offer",
        WorkerProtocol.Draining => "drain",
        WorkerProtocol.OfferWanted => "want",
        _ => throw new ArgumentException($"{o.GetType()} is not a worker protocol message", nameof(o)),
    };

    /// <summary>
    /// Writes the message twice: once to measure it, once into an array of exactly that size, which the
    /// second pass fills, so it is not zeroed first (a megabyte payload made zeroing a visible cost).
    /// </summary>
    public override byte[] ToBinary(object obj)
    {
        var measure = new Writer(null);
        Write(obj, measure);
        var writer = new Writer(GC.AllocateUninitializedArray<byte>(measure.Position));
        Write(obj, writer);
        return writer.Buffer!;
    }

    private static void Write(object obj, Writer writer)
    {
        switch (obj)
        {
            case WorkerProtocol.Work work:
                writer.Int(work.Jobs.Length);
                foreach (var job in work.Jobs)
                {
                    writer.Long(job.RequestId);
                    writer.Bytes(job.Payload);
                }
                break;
            case WorkerProtocol.Outcomes outcomes:
                writer.Int(outcomes.Items.Length);
                foreach (var outcome in outcomes.Items)
                {
                    writer.Long(outcome.RequestId);
                    writer.Bytes(outcome.Payload);
                    writer.String(outcome.Error);
                }
                break;
            case WorkerProtocol.Register register:
                writer.String(register.Secret);
                writer.Long(register.Instance);
                writer.String(register.Name);
                writer.String(Serialization.SerializedActorPath(register.Worker));
                break;
            case WorkerProtocol.Registered registered:
                writer.String(Serialization.SerializedActorPath(registered.Proxy));
                writer.String(Serialization.SerializedActorPath(registered.Asks));
                break;
            case WorkerProtocol.Ready:
                break;
            case WorkerProtocol.Deliver deliver:
                writer.Bytes(deliver.Payload);
                break;
            case WorkerProtocol.Push push:
                writer.Bytes(push.Payload);
                break;
            case WorkerProtocol.Forward forward:
                writer.String(forward.Worker);
                writer.String(forward.Key);
                writer.Bytes(forward.Payload);
                break;
            case WorkerProtocol.Draining or WorkerProtocol.OfferWanted:
                break;
            case WorkerProtocol.Offer offer:
                writer.Int(offer.Workers.Length);
                foreach (var worker in offer.Workers)
                {
                    writer.String(worker.Name);
                    writer.String(worker.Key);
                    writer.Int(worker.MaxInFlight);
                    writer.String(Serialization.SerializedActorPath(worker.Pool));
                }
                break;
            default:
                throw new ArgumentException($"{obj.GetType()} is not a worker protocol message", nameof(obj));
        }
    }

    public override object FromBinary(byte[] bytes, string manifest)
    {
        var reader = new Reader(bytes);
        object message = manifest switch
        {
            "work" => new WorkerProtocol.Work(reader.Array(minItemBytes: 12, r => new WorkerProtocol.Job(r.Long(), r.Bytes()))),
            "out" => new WorkerProtocol.Outcomes(reader.Array(minItemBytes: 16, r => new WorkerProtocol.Outcome(r.Long(), r.NullableBytes(), r.NullableString()))),
            "reg" => new WorkerProtocol.Register(reader.String(), reader.Long(), reader.String(), Resolve(reader.String())),
            "ok" => new WorkerProtocol.Registered(Resolve(reader.String()), Resolve(reader.String())),
            "rdy" => WorkerProtocol.Ready.Instance,
            "dlv" => new WorkerProtocol.Deliver(reader.Bytes()),
            "push" => new WorkerProtocol.Push(reader.Bytes()),
            "fwd" => new WorkerProtocol.Forward(reader.String(), reader.NullableString(), reader.Bytes()),
            "drain" => WorkerProtocol.Draining.Instance,
            "want" => WorkerProtocol.OfferWanted.Instance,
            "offer" => new WorkerProtocol.Offer(reader.Array(minItemBytes: 16, r => new WorkerProtocol.OfferedWorker(r.String(), r.NullableString(), r.Int(), Resolve(r.String())))),
            _ => throw new SerializationException($"worker protocol: unknown message kind \"{manifest}\""),
        };
        reader.End();
        return message;
    }

    private IActorRef Resolve(string path)
    {
        try
        {
            return system.Provider.ResolveActorRef(path);
        }
        catch (Exception e) when (e is FormatException or ArgumentException)
        {
            throw new SerializationException($"worker protocol: \"{path}\" is not an actor path: {e.Message}", e);
        }
    }

    /// <summary>Writes into <see cref="Buffer"/>, or only counts the bytes when it is <see langword="null"/>.</summary>
    private sealed class Writer(byte[]? buffer)
    {
        public byte[]? Buffer => buffer;

        public int Position { get; private set; }

        public void Int(int value)
        {
            if (buffer is not null) BinaryPrimitives.WriteInt32LittleEndian(buffer.AsSpan(Position), value);
            Position += 4;
        }

        public void Long(long value)
        {
            if (buffer is not null) BinaryPrimitives.WriteInt64LittleEndian(buffer.AsSpan(Position), value);
            Position += 8;
        }

        /// <summary>A length (-1 for null), then the bytes.</summary>
        public void Bytes(ReadOnlyMemory<byte>? value)
        {
            Int(value?.Length ?? -1);
            if (value is not { } bytes) return;
            if (buffer is not null) bytes.Span.CopyTo(buffer.AsSpan(Position));
            Position += bytes.Length;
        }

        /// <summary>A UTF-8 length (-1 for null), then the UTF-8 bytes.</summary>
        public void String(string? value)
        {
            if (value is null)
            {
                Int(-1);
                return;
            }
            var length = Encoding.UTF8.GetByteCount(value);
            Int(length);
            if (buffer is not null) Encoding.UTF8.GetBytes(value, buffer.AsSpan(Position, length));
            Position += length;
        }
    }

    /// <summary>Reads what <see cref="Writer"/> wrote, trusting no length or count it finds.</summary>
    private sealed class Reader(byte[] bytes)
    {
        private int _position;

        private int Left => bytes.Length - _position;

        public int Int() => BinaryPrimitives.ReadInt32LittleEndian(Take(4));

        public long Long() => BinaryPrimitives.ReadInt64LittleEndian(Take(8));

        public ReadOnlyMemory<byte> Bytes() => NullableBytes() ?? throw Bad("a payload is missing");

        /// <summary>A slice of the message's own array: Akka.Remote allocates one for each message and never reuses it.</summary>
        public ReadOnlyMemory<byte>? NullableBytes()
        {
            if (Length() is not { } length) return null;
            var start = _position;
            Take(length);
            return bytes.AsMemory(start, length);
        }

        public string String() => NullableString() ?? throw Bad("a text field is missing");

        public string? NullableString() => Length() is { } length ? Encoding.UTF8.GetString(Take(length)) : null;

        /// <summary>A count, then that many items; a count the bytes left cannot hold is refused before any item is read.</summary>
        public T[] Array<T>(int minItemBytes, Func<Reader, T> item)
        {
            var count = Int();
            if (count < 0 || count > Left / minItemBytes) throw Bad($"a count of {count} items does not fit in the {Left} bytes left");
            var items = new T[count];
            for (var i = 0; i < count; i++) items[i] = item(this);
            return items;
        }

        public void End()
        {
            if (Left != 0) throw Bad($"{Left} bytes are left over");
        }

        private int? Length()
        {
            var length = Int();
            if (length == -1) return null;
            if (length < 0 || length > Left) throw Bad($"a length of {length} does not fit in the {Left} bytes left");
            return length;
        }

        private ReadOnlySpan<byte> Take(int count)
        {
            if (count > Left) throw Bad($"the message ends {count - Left} bytes early");
            var span = bytes.AsSpan(_position, count);
            _position += count;
            return span;
        }

        private static SerializationException Bad(string why) => new($"worker protocol: {why}");
    }
}
