using System.Net;
using System.Net.Sockets;
using Packet.Io.Configuration;
using Packet.Tests.Support;
using Xunit;

namespace Packet.Tests.Samples;

/// <summary>
/// The EchoServer sample in its own process, started under a low open-file limit (<c>prlimit</c>), as a
/// server in a container with a small <c>ulimit -n</c> runs. The process is killed when the test ends.
/// </summary>
public sealed class EchoServerTests
{
    private const int OpenFileLimit = 512;

    [Fact]
    public async Task Under_a_low_open_file_limit_a_connect_flood_is_refused_beyond_what_the_server_can_hold_and_it_keeps_serving()
    {
        // Without a cap the server would accept until the process has no file left, and then the .NET
        // runtime, unable to start a thread, aborts it ("Out of memory.").
        const int flood = 600;
        await using var server = await SampleServerProcess.StartAsync(OpenFileLimit);
        var endpoint = server.EndPoint;
        var clients = new List<Socket>();
        int echoed = 0, refused = 0;
        try
        {
            for (var i = 0; i < flood && !server.HasExited; i++)
            {
                Socket client;
                try
                {
                    client = await Loopback.ConnectAllowingResetAsync(endpoint);
                }
                catch (SocketException e) when (e.SocketErrorCode == SocketError.ConnectionRefused)
                {
                    break; // nothing listens: the assertions below say why
                }
                clients.Add(client);
                if (await EchoesAsync(client)) echoed++;
                else refused++;
            }

            Assert.False(server.HasExited, $"the server died:\n{server.Output}");
            Assert.Equal(OpenFiles.ConnectionCap(OpenFileLimit), echoed);
            Assert.Equal(flood - echoed, refused);
            Assert.Contains($"may open only {OpenFileLimit} files", server.Output);
        }
        finally
        {
            foreach (var client in clients) client.Dispose();
        }

        await Bounded.Until(async () =>
        {
            using var fresh = await Loopback.ConnectAllowingResetAsync(endpoint);
            return await EchoesAsync(fresh);
        }, "a new client to be served once the flood has gone");
    }

    /// <remarks>
    /// A process out of descriptors can lose its runtime too: .NET aborts it ("Out of memory.") when it needs a
    /// new thread then. That is no fault of the transport, so an attempt that dies so is made again, up to
    /// three times; any other failure fails the test. Akka.IO is not among the cases: its own listener retries
    /// every 10 ms and logs a warning each time, and under that flood the runtime died in most attempts.
    /// </remarks>
    [Theory]
    [InlineData("sockets")]
    public async Task Out_of_file_descriptors_the_server_pauses_accepting_and_serves_the_waiting_client_once_one_is_free(string transport)
    {
        for (var attempt = 1; ; attempt++)
        {
            await using var server = await SampleServerProcess.StartAsync(OpenFileLimit, "--transport", transport);
            try
            {
                using var first = await Loopback.ConnectAsync(server.EndPoint);
                Assert.True(await EchoesAsync(first), "the first client was not served");

                // A limit of 3 leaves the process only its standard streams: every new descriptor fails with
                // EMFILE, whatever it closes meanwhile. The kernel still completes the handshake into the backlog.
                server.LimitOpenFiles(3);
                using var waiting = await Loopback.ConnectAsync(server.EndPoint);
                await waiting.SendAsync("w");
                await Bounded.Until(() => server.Output.Contains("cannot accept a connection") || server.HasExited,
                    $"the server to report that it cannot accept; it wrote:\n{server.Output}");
                Assert.False(server.HasExited, $"the server died:\n{server.Output}");

                server.LimitOpenFiles(OpenFileLimit);
                Assert.Equal((byte)'w', (await waiting.ReadExactlyAsync(1))[0]);
                Assert.True(await EchoesAsync(first), "the first client was not served after the pause");
                return;
            }
            catch (Exception) when (attempt < 3 && server.DiedOutOfMemory())
            {
                // the runtime's abort, not the transport's failure: try again
            }
        }
    }

    /// <summary>True when the server echoes a byte; false when it closed or reset the connection instead.</summary>
    private static async Task<bool> EchoesAsync(Socket client)
    {
        try
        {
            await client.SendAsync("x");
            return (await client.ReadExactlyAsync(1))[0] == (byte)'x';
        }
        catch (Exception e) when (e is SocketException or EndOfStreamException)
        {
            return false;
        }
    }
}
