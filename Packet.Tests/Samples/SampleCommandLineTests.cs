using Packet.Tests.Configuration;
using Packet.Tests.Support;
using Xunit;

namespace Packet.Tests.Samples;

/// <summary>Every sample's command line follows .NET's conventions: <c>--help</c> answers, and a wrong option stops the program before it does anything.</summary>
public sealed class SampleCommandLineTests
{
    public static TheoryData<string> Samples => ["EchoServer", "EvalServer", "HttpClient", "RedisServer"];

    [Theory]
    [MemberData(nameof(Samples))]
    public async Task Help_prints_the_usage_and_exits_0(string sample)
    {
        var (exit, output, _) = await RunAsync(sample, "--help");

        Assert.Equal(0, exit);
        Assert.Contains("Usage:", output);
        Assert.Contains("--help", output);
    }

    [Theory]
    [MemberData(nameof(Samples))]
    public async Task An_unknown_option_is_an_error_and_the_program_does_not_start(string sample)
    {
        var (exit, output, errors) = await RunAsync(sample, "--bogus");

        Assert.Equal(1, exit);
        Assert.Contains("Unrecognized command or argument '--bogus'", errors);
        Assert.DoesNotContain("listening on", output);
    }

    [Fact]
    public async Task A_port_out_of_range_is_an_error_that_names_the_range()
    {
        var (exit, _, errors) = await RunAsync("EchoServer", "--port", "70000");

        Assert.Equal(1, exit);
        Assert.Contains("--port takes a number from 0 to 65535", errors);
    }

    /// <summary>Runs the sample to its end (at most 60 s), returning its exit code, standard output and standard error.</summary>
    private static async Task<(int Exit, string Output, string Errors)> RunAsync(string sample, params string[] arguments)
    {
        var run = await ClientProcess.RunAsync("dotnet", ["exec", ConfigurationTests.SampleDll(sample), .. arguments], TimeSpan.FromSeconds(60));
        return (run.ExitCode, run.Text, run.Errors);
    }
}
