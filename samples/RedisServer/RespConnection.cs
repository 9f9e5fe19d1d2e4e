using System.Buffers.Text;
using System.Text;
using Packet.Actors;

namespace RedisServer;

#region connection
/// <summary>
/// One client of the Redis protocol (RESP): requests are arrays of binary-safe bulk strings (<c>*3\r\n$3\r\nSET\r\n...</c>),
/// or inline commands a person types (<c>PING</c>); every request gets one reply, in the order they came, however many a
/// client pipelines in one write.
/// </summary>
/// <remarks>
/// Replies stay in order and output stays bounded: a request is run at once when nothing waits before it and the
/// connection is writable; otherwise it waits in <see cref="_waiting"/>, reading pauses, and the requests run as output
/// drains (<see cref="OutboundDrained"/>) or as the worker answers (<see cref="WorkerReceive"/>). Only what one read
/// brought can wait, so a client that pipelines a thousand GETs of a large value is slowed by TCP, not buffered.
/// </remarks>
sealed class RespConnection(Store store) : LineConnection("\r\n")
{
    /// <summary>The most arguments one request may have.</summary>
    private const int MaxArguments = 1024 * 1024;

    /// <summary>What each argument costs beyond its bytes, counted against the bound of one request.</summary>
    private const int ArgumentOverhead = 32;

    private readonly Queue<List<byte[]>> _waiting = new(); // requests read but not yet run
    private List<byte[]>? _request;                          // the request being read
    private int _argumentsLeft;                              // bulk strings it still announces
    private long _requestBytes;                              // what it holds so far, with each argument's overhead
    private bool _asking;                                    // a PBKDF2 is in the worker: later requests wait for its reply
    private bool _ended;                                     // QUIT, or a protocol error: nothing more is read

    /// <summary>The most one request may hold: a value of the longest block the reactor reads, and change.</summary>
    private long MaxRequestBytes => Limits.MaxBinaryLength + 64 * 1024;

    // ---- reading requests ---------------------------------------------------------------------

    protected override void ReceiveLine(ReadOnlySpan<byte> line)
    {
        if (_ended) return;
        if (_argumentsLeft > 0)
        {
            // "$length": the next argument's size; its bytes and CRLF follow as a block.
            if (line.IsEmpty || line[0] != (byte)'$' || !Number(line[1..], out var length) || length < 0 || length > Limits.MaxBinaryLength - 2)
            {
                ProtocolError(line.IsEmpty || line[0] != (byte)'$' ? $"expected '$', got '{Printable(line[..Math.Min(line.Length, 1)])}'" : "invalid bulk length");
                return;
            }
            _requestBytes += length + ArgumentOverhead;
            if (_requestBytes > MaxRequestBytes)
            {
                ProtocolError($"a request may hold at most {MaxRequestBytes} bytes");
                return;
            }
            SetBinaryMode((int)length + 2);
            return;
        }
        if (!line.IsEmpty && line[0] == (byte)'*')
        {
            if (!Number(line[1..], out var count) || count > MaxArguments)
            {
                ProtocolError("invalid multibulk length");
                return;
            }
            if (count <= 0) return; // an empty request, which Redis ignores too
            (_request, _argumentsLeft, _requestBytes) = (new List<byte[]>((int)Math.Min(count, 16)), (int)count, 0);
            return;
        }
        // An inline command, as typed into nc or telnet: words split on spaces.
        var words = new List<byte[]>();
        foreach (var range in line.Split((byte)' '))
            if (!line[range].IsEmpty) words.Add(line[range].ToArray());
        if (words.Count > 0) Request(words);
    }

    protected override void ReceiveBinaryData(ReadOnlyMemory<byte> data)
    {
        if (_ended) return;
        if (!data.Span.EndsWith("\r\n"u8))
        {
            ProtocolError("a bulk string must end with CRLF");
            return;
        }
        _request!.Add(data.Span[..^2].ToArray());
        if (--_argumentsLeft == 0) Request(_request);
    }

    private static bool Number(ReadOnlySpan<byte> text, out long value) => Utf8Parser.TryParse(text, out value, out var used) && used == text.Length;

    private void ProtocolError(string message)
    {
        Resp.Error(this, $"ERR Protocol error: {message}");
        _ended = true;
        CloseConnectionAfterWriting(); // as Redis does: the stream cannot be read any further
    }

    // ---- running them in order ------------------------------------------------------------------

    private void Request(List<byte[]> request)
    {
        if (_waiting.Count == 0 && !_asking && IsWritable)
        {
            Run(request);
            return;
        }
        _waiting.Enqueue(request);
        Pause();
    }

    /// <summary>Runs what waits, while the connection is writable and no worker answer is due.</summary>
    private void RunWaiting()
    {
        while (_waiting.Count > 0 && !_asking && IsWritable && !_ended) Run(_waiting.Dequeue());
        if (_waiting.Count == 0 && !_asking) Resume();
    }

    protected override void OutboundDrained() => RunWaiting();

    protected override void WorkerReceive(WorkerReply reply)
    {
        if (reply.IsError) Resp.Error(this, $"ERR {reply.Error}");
        else Resp.Bulk(this, Encoding.ASCII.GetBytes((string)reply.Data!));
        _asking = false;
        RunWaiting();
    }

    // ---- the commands ---------------------------------------------------------------------------

    private void Run(List<byte[]> request)
    {
        var name = request[0];
        var count = request.Count;
        if (Is(name, "GET"u8))
        {
            if (count != 2) WrongArguments("get");
            else if (store.Get(request[1]) is { } value) Resp.Bulk(this, value);
            else Resp.Nil(this);
        }
        else if (Is(name, "SET"u8))
        {
            if (count < 3) WrongArguments("set");
            else if (count > 3) Resp.Error(this, "ERR syntax error"); // SET's options (EX, NX...) are not part of this sample
            else if (store.Set(request[1], request[2])) Resp.Ok(this);
            else Resp.Error(this, Resp.OutOfMemory);
        }
        else if (Is(name, "INCR"u8))
        {
            if (count != 2)
            {
                WrongArguments("incr");
                return;
            }
            var (value, error) = store.Increment(request[1]);
            if (error is null) Resp.Integer(this, value);
            else Resp.Error(this, error);
        }
        else if (Is(name, "DEL"u8))
        {
            if (count < 2) WrongArguments("del");
            else Resp.Integer(this, request.Skip(1).Count(store.Delete));
        }
        else if (Is(name, "PING"u8))
        {
            if (count > 2) WrongArguments("ping");
            else if (count == 2) Resp.Bulk(this, request[1]);
            else Resp.Simple(this, "PONG");
        }
        else if (Is(name, "ECHO"u8))
        {
            if (count != 2) WrongArguments("echo");
            else Resp.Bulk(this, request[1]);
        }
        else if (Is(name, "PBKDF2"u8))
        {
            // Slow on purpose: it runs in a worker process, and this connection's later requests wait for its answer.
            if (count != 3) WrongArguments("pbkdf2");
            else
            {
                _asking = true;
                AskWorker("pbkdf2", new[] { request[1], request[2] });
            }
        }
        else if (Is(name, "CONFIG"u8) && count == 3 && Is(request[1], "GET"u8))
        {
            // What redis-benchmark asks before it starts: no saving, no append-only file.
            var answer = Is(request[2], "save"u8) ? "" : Is(request[2], "appendonly"u8) ? "no" : null;
            Resp.ArrayHeader(this, answer is null ? 0 : 2);
            if (answer is null) return;
            Resp.Bulk(this, request[2]);
            Resp.Bulk(this, Encoding.ASCII.GetBytes(answer));
        }
        else if (Is(name, "QUIT"u8))
        {
            Resp.Ok(this);
            _ended = true;
            CloseConnectionAfterWriting();
        }
        else
        {
            Resp.Error(this, $"ERR unknown command '{Printable(name)}'");
        }
    }

    private void WrongArguments(string command) => Resp.Error(this, $"ERR wrong number of arguments for '{command}' command");

    private static bool Is(byte[] word, ReadOnlySpan<byte> command) => Ascii.EqualsIgnoreCase(word, command);

    /// <summary>At most 64 bytes of <paramref name="bytes"/>, each outside printable ASCII as '?': safe to put in a reply line.</summary>
    private static string Printable(ReadOnlySpan<byte> bytes)
    {
        var text = new StringBuilder();
        foreach (var b in bytes[..Math.Min(bytes.Length, 64)]) text.Append(b is >= 0x20 and < 0x7F ? (char)b : '?');
        return text.ToString();
    }
}
#endregion
