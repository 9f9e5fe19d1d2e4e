namespace Packet.Tests.Framing;

/// <summary>Ways of cutting one byte stream into the chunks a socket might deliver.</summary>
internal static class Chunking
{
    /// <summary>Every cut into two chunks, from (empty, all) to (all, empty).</summary>
    public static IEnumerable<byte[][]> EveryTwoWaySplit(byte[] stream)
    {
        for (var offset = 0; offset <= stream.Length; offset++)
        {
            yield return [stream[..offset], stream[offset..]];
        }
    }

    public static byte[][] OneByteAtATime(byte[] stream) =>
        stream.Select(b => new[] { b }).ToArray();

    /// <summary>Chunks of 1 to <paramref name="maxChunk"/> bytes, reproducible from the seed.</summary>
    public static byte[][] RandomChunks(byte[] stream, int seed, int maxChunk = 40)
    {
        var random = new Random(seed);
        var chunks = new List<byte[]>();
        var offset = 0;
        while (offset < stream.Length)
        {
            var size = Math.Min(random.Next(1, maxChunk + 1), stream.Length - offset);
            chunks.Add(stream[offset..(offset + size)]);
            offset += size;
        }

        return chunks.ToArray();
    }

    public static byte[] Concat(IEnumerable<byte[]> parts) => parts.SelectMany(p => p).ToArray();

    public static byte[] Ascii(string text) => System.Text.Encoding.Latin1.GetBytes(text);

    public static byte[] AllByteValues() => Enumerable.Range(0, 256).Select(i => (byte)i).ToArray();
}
