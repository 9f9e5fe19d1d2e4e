using System.Diagnostics;

namespace Packet.Bench.Servers;

/// <summary>
/// The EventMachine baseline, the reactor Packet was built on: <c>eventmachine-echo.rb</c>, run by Ruby itself
/// rather than as a mode of this program, so the bench measures the Ruby process. An optional column: it runs
/// only where Ruby and EventMachine are installed (Debian: <c>apt-get install ruby-eventmachine</c>).
/// </summary>
public static class EventMachineEchoServer
{
    /// <summary>The server's name in the cells and the results.</summary>
    public const string Name = "eventmachine-echo-server";

    private static readonly string Script = Path.Combine(AppContext.BaseDirectory, "Servers", "eventmachine-echo.rb");

    private static readonly Lazy<string?> Version = new(() =>
    {
        try
        {
            using var ruby = Process.Start(new ProcessStartInfo("ruby", ["-reventmachine", "-e", "print \"EventMachine #{EM::VERSION}, Ruby #{RUBY_VERSION}\""])
            {
                RedirectStandardOutput = true,
                RedirectStandardError = true,
            })!;
            var version = ruby.StandardOutput.ReadToEnd();
            return ruby.WaitForExit(TimeSpan.FromSeconds(30)) && ruby.ExitCode == 0 ? version : null;
        }
        catch (System.ComponentModel.Win32Exception)
        {
            return null; // no ruby on the PATH
        }
    });

    /// <summary>"EventMachine 1.3.0, Ruby 3.1.2", or null when Ruby or EventMachine is missing.</summary>
    public static string? InstalledVersion => Version.Value;

    /// <summary>How to start it listening on an ephemeral port of 127.0.0.1.</summary>
    public static ProcessStartInfo StartInfo() => new("ruby", [Script, "--port", "0"]);
}
