using System.Buffers.Binary;
using System.Net.Sockets;
using Packet.Actors;
using Packet.Io.Configuration;
using Packet.Tests.Support;
using Xunit;
using Xunit.Abstractions;

namespace Packet.Tests.Samples;

/// <summary>
/// The length-header attack of issue 15 at the real defaults, against the EchoServer sample in <c>--framed</c>
/// mode in its own process, so that its memory is its own: many connections each announce the largest frame
/// <c>packet.framing.max-frame-length</c> allows (16 MiB), send a few bytes of it, and hold.
/// </summary>
/// <remarks>
/// Resident memory alone would not show a server that sized its buffers by the header: .NET hands out fresh
/// pages that nothing touches until the body arrives. So the test reads what the process has committed (the
/// writable mappings in <c>/proc/PID/maps</c>, which Linux charges against its commit limit) as well as what
/// is resident, and runs the server under a 256 MiB GC heap limit, as .NET sets one in a container with a
/// memory limit (75% of it): a server that allocated what headers announce there fails with
/// <see cref="OutOfMemoryException"/> and drops the connections.
/// </remarks>
public sealed class FrameMemoryTests(ITestOutputHelper output)
{
    private const int Attackers = 200;

    /// <summary>The bound the attack must stay under, in committed and in resident memory: about 0.6 MiB a connection.</summary>
    private const long Bound = 128L * 1024 * 1024;

    private static readonly Dictionary<string, string> HeapLimit = new() { ["DOTNET_GCHeapHardLimit"] = "0x10000000" }; // 256 MiB

    [Fact]
    public async Task Two_hundred_connections_announcing_the_largest_frame_and_holding_cost_the_server_little_memory()
    {
        // hocon/echo-server.conf sets no packet.framing key: the sample runs with the defaults.
        var maxFrame = TransportSettings.From(Reactor.DefaultConfig).MaxFrameLength;
        await using var server = await SampleServerProcess.StartAsync(4096, HeapLimit, "--framed");

        // Each attacker sends a one-byte frame, then the header and three bytes of the largest frame, in one
        // write. The echo of the first frame says the server has decoded the chunk that holds the header.
        var attack = new byte[5 + 4 + 3];
        BinaryPrimitives.WriteUInt32BigEndian(attack, 1);
        attack[4] = (byte)'A';
        BinaryPrimitives.WriteUInt32BigEndian(attack.AsSpan(5), (uint)maxFrame);
        "abc"u8.CopyTo(attack.AsSpan(9));

        var before = ProcessMemory.Read(server.Id);
        var attackers = new List<Socket>();
        try
        {
            for (var i = 0; i < Attackers; i++)
            {
                var attacker = await Loopback.ConnectAsync(server.EndPoint);
                attackers.Add(attacker);
                await attacker.SendAsync(attack, SocketFlags.None);
            }

            var echoed = 0;
            foreach (var attacker in attackers)
            {
                if (await EchoedAsync(attacker, attack[..5])) echoed++;
            }

            using var fresh = await Loopback.ConnectAsync(server.EndPoint);
            await fresh.SendAsync(new byte[] { 0, 0, 0, 2, (byte)'h', (byte)'i' }, SocketFlags.None);
            Assert.Equal("\0\0\0\u0002hi"u8.ToArray(), await fresh.ReadExactlyAsync(6));
            var after = ProcessMemory.Read(server.Id);

            // Nothing more is sent to an attacker, so a socket that reads as ready has been closed by the server.
            var dropped = attackers.Count(a => a.Poll(0, SelectMode.SelectRead));
            var report = $"{Attackers} connections announcing {maxFrame} bytes: committed {before.Committed >> 20} -> {after.Committed >> 20} MiB, " +
                         $"resident {before.Resident >> 20} -> {after.Resident >> 20} MiB, {echoed} echoed, {dropped} dropped";
            output.WriteLine(report);
            Assert.True(echoed == Attackers && dropped == 0, $"{report}; the server wrote:\n{Tail(server.Output)}");
            Assert.True(after.Committed - before.Committed < Bound, report);
            Assert.True(after.Resident - before.Resident < Bound, report);
        }
        finally
        {
            foreach (var attacker in attackers) attacker.Dispose();
        }
    }

    /// <summary>True when <paramref name="frame"/> comes back; false when the server closed or reset the connection instead.</summary>
    private static async Task<bool> EchoedAsync(Socket attacker, byte[] frame)
    {
        try
        {
            return (await attacker.ReadExactlyAsync(frame.Length)).AsSpan().SequenceEqual(frame);
        }
        catch (Exception e) when (e is SocketException or EndOfStreamException)
        {
            return false;
        }
    }

    private static string Tail(string output) => output.Length <= 4000 ? output : output[^4000..];

    /// <summary>A process's memory as Linux accounts it, read from <c>/proc</c>.</summary>
    private sealed record ProcessMemory(long Committed, long Resident)
    {
        /// <summary>
        /// Committed: the size of its writable mappings (a GC commit turns reserved, inaccessible address space
        /// into writable mappings, touched or not); resident: VmRSS.
        /// </summary>
        public static ProcessMemory Read(int pid)
        {
            long committed = 0;
            foreach (var line in File.ReadLines($"/proc/{pid}/maps"))
            {
                var fields = line.Split(' ', 3);
                if (!fields[1].StartsWith("rw", StringComparison.Ordinal)) continue;
                var range = fields[0].Split('-');
                committed += Convert.ToInt64(range[1], 16) - Convert.ToInt64(range[0], 16);
            }

            var rss = File.ReadLines($"/proc/{pid}/status").Single(l => l.StartsWith("VmRSS:", StringComparison.Ordinal));
            var kib = long.Parse(rss.Split(' ', StringSplitOptions.RemoveEmptyEntries)[1], System.Globalization.CultureInfo.InvariantCulture);
            return new ProcessMemory(committed, kib * 1024);
        }
    }
}
