using System.Security.Cryptography;
using Packet.Actors;

namespace RedisServer;

/// <summary>
/// PBKDF2 password hashing (SHA-256, 100,000 iterations): work that takes tens of milliseconds of CPU on purpose, so
/// it runs in its own process and the server keeps serving every other command meanwhile.
/// </summary>
[Worker("pbkdf2", NoAutoLoad = true)]
sealed class Pbkdf2Worker : Worker
{
    /// <summary>The iterations: OWASP's advice for PBKDF2-HMAC-SHA256 is 600,000; fewer here, so a test stays quick.</summary>
    public const int Iterations = 100_000;

    /// <summary>Takes <c>[password, salt]</c> and answers the 32-byte key as lowercase hex.</summary>
    protected override object? ReceiveData(object? data)
    {
        if (data is not byte[][] { Length: 2 } arguments) throw new ArgumentException("PBKDF2 takes a password and a salt");
        return Convert.ToHexStringLower(Rfc2898DeriveBytes.Pbkdf2(arguments[0], arguments[1], Iterations, HashAlgorithmName.SHA256, 32));
    }
}
