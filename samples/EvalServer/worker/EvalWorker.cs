using System.Collections;
using Microsoft.CodeAnalysis.CSharp.Scripting;
using Microsoft.CodeAnalysis.Scripting;
using Packet.Actors;

namespace EvalServer.Worker;

#region worker
/// <summary>
/// The seed's eval_worker: evaluates each request as a C# expression (the C# analogue of Ruby's eval)
/// and returns the result as one line of text. It runs in its own WorkerHost process, so an expression
/// that crashes, hogs the CPU or never ends cannot hurt the server: the master's ask timeout kills and
/// restarts this process. Two instances, one expression each at a time: while one is stuck in an
/// endless loop, the other serves everyone else.
/// </summary>
[Worker("eval_worker", Instances = 2, MaxInFlight = 1)]
public sealed class EvalWorker : Packet.Actors.Worker
{
    private static readonly ScriptOptions Options = ScriptOptions.Default
        .WithImports("System", "System.Linq", "System.Collections.Generic", "System.Text")
        .WithReferences(typeof(Enumerable).Assembly);

    /// <summary>Compiles one expression up front, so the first client does not wait for Roslyn to warm up.</summary>
    protected override void WorkerInit()
    {
        Console.WriteLine("Starting eval_worker");
        CSharpScript.EvaluateAsync<object?>("1 + 1", Options).GetAwaiter().GetResult();
        Console.WriteLine("eval_worker is warm");
    }

    /// <inheritdoc />
    protected override object? ReceiveData(object? data)
    {
        var code = data as string ?? throw new ArgumentException("eval_worker evaluates strings");
        try
        {
            return Format(CSharpScript.EvaluateAsync<object?>(code, Options).GetAwaiter().GetResult());
        }
        catch (CompilationErrorException e)
        {
            throw new InvalidOperationException(string.Join("; ", e.Diagnostics.Select(d => d.GetMessage())));
        }
    }

    /// <summary>Prints a result on one line: sequences as [a, b], null as null.</summary>
    private static string Format(object? value) => value switch
    {
        null => "null",
        string text => text.ReplaceLineEndings(" "),
        IEnumerable sequence => $"[{string.Join(", ", sequence.Cast<object?>().Select(Format))}]",
        _ => (value.ToString() ?? "").ReplaceLineEndings(" "),
    };
}
#endregion
