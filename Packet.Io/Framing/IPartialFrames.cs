namespace Packet.Io.Framing;

/// <summary>A decoder that can tell how much of a frame it holds: what a minimum data rate is measured on.</summary>
internal interface IPartialFrames
{
    /// <summary>Bytes of a frame begun and not yet delivered; 0 between frames.</summary>
    int Buffered { get; }
}
