using System.Buffers.Text;
using Packet.Actors;

namespace RedisServer;

/// <summary>Writes RESP replies to a connection: simple strings, errors, integers, bulk strings and arrays.</summary>
static class Resp
{
    /// <summary>Redis' own words for a write past maxmemory.</summary>
    public const string OutOfMemory = "OOM command not allowed when used memory > 'maxmemory'.";

    public static void Ok(Connection connection) => connection.SendData("+OK\r\n"u8);

    /// <summary><c>+text</c>; the text holds no CR or LF.</summary>
    public static void Simple(Connection connection, string text) => connection.SendData($"+{text}\r\n");

    /// <summary><c>-message</c>, its CR and LF turned into spaces so the reply stays one line.</summary>
    public static void Error(Connection connection, string message) => connection.SendData($"-{message.ReplaceLineEndings(" ")}\r\n");

    public static void Integer(Connection connection, long value) => Header(connection, (byte)':', value);

    /// <summary><c>$length</c>, the bytes, CRLF; <c>$-1</c> (nil) for null.</summary>
    public static void Bulk(Connection connection, ReadOnlySpan<byte> value)
    {
        Header(connection, (byte)'$', value.Length);
        connection.SendData(value);
        connection.SendData("\r\n"u8);
    }

    public static void Nil(Connection connection) => connection.SendData("$-1\r\n"u8);

    /// <summary>An array's header, <c>*count</c>; its items follow.</summary>
    public static void ArrayHeader(Connection connection, int count) => Header(connection, (byte)'*', count);

    private static void Header(Connection connection, byte kind, long value)
    {
        Span<byte> line = stackalloc byte[24];
        line[0] = kind;
        Utf8Formatter.TryFormat(value, line[1..], out var length);
        line[1 + length] = (byte)'\r';
        line[2 + length] = (byte)'\n';
        connection.SendData(line[..(3 + length)]);
    }
}
