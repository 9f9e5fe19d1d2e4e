using Akka.Configuration;
using Packet.Actors;
using Packet.Tests.Support;
using Xunit;

namespace Packet.Tests.Workers;

/// <summary><c>packet.workers.user</c>: WorkerHosts run as another Unix user, so worker code cannot read the master's files.</summary>
public sealed class WorkerUserTests : IDisposable
{
    private readonly string _private = Directory.CreateTempSubdirectory("packet-master-only-").FullName; // 0700, the master's user's

    public void Dispose() => Directory.Delete(_private, recursive: true);

    private static Reactor Master(string user) => Reactor.Start(ConfigurationFactory.ParseString($$"""
        akka.loglevel = WARNING
        packet.workers.root = "{{Configuration.ConfigurationTests.EvalWorkers().Replace('\\', '/')}}"
        packet.workers.user = "{{user}}"
        """));

    /// <summary>The eval sample's worker folder, built with the tests.</summary>

    [WorkerUserFact]
    public async Task WorkerHosts_run_as_the_configured_user_and_cannot_read_what_only_the_master_may()
    {
        var secret = Path.Combine(_private, "secret");
        File.WriteAllText(secret, "the master's own");
        var read = $"System.IO.File.ReadAllText(@\"{secret}\")";

        await using (var own = Master(""))
            Assert.Equal("the master's own", await own.AskWorkerAsync("eval_worker", read).Within("an ask as the master's user", TimeSpan.FromSeconds(60)));

        await using var master = Master("nobody");
        Assert.Equal("nobody", await master.AskWorkerAsync("eval_worker", "Environment.UserName").Within("an ask as nobody", TimeSpan.FromSeconds(60)));
        var refused = await Assert.ThrowsAsync<WorkerException>(() => master.AskWorkerAsync("eval_worker", read));
        Assert.Contains($"Access to the path '{secret}' is denied", refused.Message);
        var pid = Assert.IsType<string>(await master.AskWorkerAsync("eval_worker", "Environment.ProcessId.ToString()"));
        Assert.Contains(int.Parse(pid), (await master.GetWorkersAsync()).Select(w => w.ProcessId)); // setpriv became the WorkerHost: the master holds its process id
    }

    [Fact]
    public void A_user_that_cannot_be_used_is_refused_at_start_saying_why()
    {
        var unknown = Assert.Throws<ConfigurationException>(() => Master("no-such-user-packet"));
        Assert.Contains("packet.workers.user", unknown.Message);
        if (Environment.IsPrivilegedProcess)
        {
            Assert.Contains("\"no-such-user-packet\", which is not a user on this machine", unknown.Message);
            Assert.Contains("which is root", Assert.Throws<ConfigurationException>(() => Master("root")).Message);
        }
        else
        {
            Assert.Contains("this process is not root", unknown.Message);
        }
        var inProcess = Assert.Throws<ConfigurationException>(() => Reactor.Start(ConfigurationFactory.ParseString("""
            packet.workers { enabled = on, in-process = on, user = "nobody" }
            """)));
        Assert.Contains("needs WorkerHost processes", inProcess.Message);
    }
}
