using System.Text.RegularExpressions;
using Packet.Tests.Configuration;
using Xunit;

namespace Packet.Tests.Docs;

public sealed partial class ReadmeTests
{
    [Fact]
    public void The_README_echo_server_is_the_sample_that_compiles()
    {
        var root = ConfigurationTests.RepositoryRoot();
        var sample = File.ReadAllText(Path.Combine(root, "samples", "EchoServer", "Program.cs")).ReplaceLineEndings("\n");
        var readme = File.ReadAllText(Path.Combine(root, "README.md")).ReplaceLineEndings("\n");

        var regions = Region().Matches(sample).ToDictionary(m => m.Groups["name"].Value, m => m.Groups["code"].Value.Trim('\n'));

        Assert.Equal(["echo", "handler", "options", "tls"], regions.Keys.Order());
        Assert.Contains($"```csharp\n{regions["echo"]}\n\n{regions["handler"]}\n```", readme);
        Assert.Contains($"```csharp\n{regions["options"]}\n```", readme);
        Assert.Contains($"```csharp\n{regions["tls"]}\n```", readme);
    }

    [Theory]
    [InlineData("samples/EvalServer/Program.cs", 2)]
    [InlineData("samples/EvalServer/worker/EvalWorker.cs", 1)]
    public void The_README_eval_server_is_the_sample_that_compiles(string file, int count)
    {
        var root = ConfigurationTests.RepositoryRoot();
        var sample = File.ReadAllText(Path.Combine(root, file)).ReplaceLineEndings("\n");
        var readme = File.ReadAllText(Path.Combine(root, "README.md")).ReplaceLineEndings("\n");

        var regions = Region().Matches(sample).Select(m => m.Groups["code"].Value.Trim('\n')).ToArray();

        Assert.Equal(count, regions.Length);
        Assert.Contains($"```csharp\n{string.Join("\n\n", regions)}\n```", readme);
    }

    [Fact]
    public void The_README_names_the_two_commands_that_CI_and_users_run()
    {
        var root = ConfigurationTests.RepositoryRoot();
        var readme = File.ReadAllText(Path.Combine(root, "README.md"));
        var ci = File.ReadAllText(Path.Combine(root, ".ci", "run"));

        var commands = readme[readme.IndexOf("```sh\n", StringComparison.Ordinal)..];
        Assert.StartsWith("```sh\ndotnet run --project samples/EvalServer ", commands);
        Assert.Contains("\ndotnet test PacketAkka.sln ", commands);
        Assert.Contains("\ndotnet test PacketAkka.sln\n", ci);
    }

    [Fact]
    public void Every_test_the_bad_input_and_security_tables_name_exists_where_they_link()
    {
        var root = ConfigurationTests.RepositoryRoot();
        var readme = File.ReadAllText(Path.Combine(root, "README.md"));
        var table = readme[readme.IndexOf("## Bad input", StringComparison.Ordinal)..readme.IndexOf("## The handler model", StringComparison.Ordinal)];

        var links = TestLink().Matches(table).ToArray();

        Assert.True(links.Length >= 17, $"only {links.Length} test links in the bad-input table");
        foreach (var link in links)
        {
            var file = Path.Combine(root, link.Groups["path"].Value);
            Assert.True(File.Exists(file), $"the table links {link.Groups["path"].Value}, which does not exist");
            var name = link.Groups["name"].Value.Split('.').Last().TrimEnd('.');
            Assert.True(File.ReadAllText(file).Contains(name, StringComparison.Ordinal), $"{link.Groups["path"].Value} has no test {name}");
        }
    }

    [GeneratedRegex(@"\[`(?<name>[A-Za-z0-9_.]+?)(\.\.\.)?`\]\((?<path>Packet\.Tests/[^)]+)\)")]
    private static partial Regex TestLink();

    [GeneratedRegex(@"#region (?<name>\w+)\n(?<code>.*?)#endregion", RegexOptions.Singleline)]
    private static partial Regex Region();
}
