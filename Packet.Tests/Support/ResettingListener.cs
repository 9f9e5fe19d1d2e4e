using System.Net;
using System.Net.Sockets;

namespace Packet.Tests.Support;

/// <summary>A plain listener on 127.0.0.1 that resets every connection as soon as it accepts it, and counts them.</summary>
public sealed class ResettingListener : IDisposable
{
    private readonly Socket _socket = new(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
    private readonly CancellationTokenSource _stop = new();
    private readonly Task _accepting;
    private int _accepted;

    public ResettingListener()
    {
        _socket.Bind(new IPEndPoint(IPAddress.Loopback, 0));
        _socket.Listen(1024);
        Port = ((IPEndPoint)_socket.LocalEndPoint!).Port;
        _accepting = AcceptAsync();
    }

    public int Port { get; }

    /// <summary>Connections accepted (and reset) so far.</summary>
    public int Accepted => Volatile.Read(ref _accepted);

    private async Task AcceptAsync()
    {
        while (!_stop.IsCancellationRequested)
        {
            Socket peer;
            try
            {
                peer = await _socket.AcceptAsync(_stop.Token);
            }
            catch (Exception e) when (e is OperationCanceledException or ObjectDisposedException or SocketException)
            {
                if (_stop.IsCancellationRequested) return;
                continue;
            }
            Interlocked.Increment(ref _accepted);
            try
            {
                peer.LingerState = new LingerOption(true, 0); // close sends RST
            }
            catch (SocketException)
            {
                // reset already
            }
            peer.Dispose();
        }
    }

    public void Dispose()
    {
        _stop.Cancel();
        _socket.Dispose();
        _accepting.Wait(Bounded.Default);
        _stop.Dispose();
    }
}
