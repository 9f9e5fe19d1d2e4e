using PublicApiGenerator;
using Packet.Actors;
using Packet.Io.Configuration;
using Packet.Tests.Configuration;
using Xunit;

namespace Packet.Tests.Api;

/// <summary>
/// Pins the public surface: any change shows up as a diff of the approved files in review. To accept a
/// deliberate change, copy the .received.txt written next to the approved file over it.
/// </summary>
public sealed class PublicApiTests
{
    [Theory]
    [InlineData("Packet.Actors")]
    [InlineData("Packet.Io")]
    public void The_public_API_matches_the_approved_file(string assembly)
    {
        var type = assembly == "Packet.Actors" ? typeof(Reactor) : typeof(PacketConfig);
        var api = type.Assembly.GeneratePublicApi(new ApiGeneratorOptions { ExcludeAttributes = ["System.Runtime.Versioning.TargetFrameworkAttribute"] });
        var folder = Path.Combine(ConfigurationTests.RepositoryRoot(), "Packet.Tests", "Api");
        var approved = Path.Combine(folder, $"{assembly}.approved.txt");
        var received = Path.Combine(folder, $"{assembly}.received.txt");

        var expected = File.Exists(approved) ? File.ReadAllText(approved) : "";
        if (expected.ReplaceLineEndings() == api.ReplaceLineEndings())
        {
            File.Delete(received);
            return;
        }
        File.WriteAllText(received, api);
        Assert.Fail($"the public API of {assembly} changed; review {received} and copy it over {approved} if the change is deliberate");
    }
}
