using ScottPlot;

namespace Packet.Bench;

/// <summary>Draws the echo cells as ratios to the raw Socket baseline: one group of bars per cell.</summary>
public static class Chart
{
    private static readonly Color[] Palette = [Colors.SteelBlue, Colors.FireBrick, Colors.DarkOrange, Colors.SeaGreen, Colors.MediumPurple];

    /// <param name="cells">Cell titles, in order.</param>
    /// <param name="servers">
    /// Each server's name and, per cell, its ÷ raw (one bar per cell each) and the lowest and highest
    /// per-turn ÷ raw, drawn as a line through the bar.
    /// </param>
    /// <param name="path">Where to write the PNG.</param>
    public static void Ratios(IReadOnlyList<string> cells, IReadOnlyList<(string Name, double[] Ratios, (double Low, double High)[] Turns)> servers, string path)
    {
        var plot = new Plot();
        var group = servers.Count + 1;
        var bars = new List<Bar>();
        for (var i = 0; i < cells.Count; i++)
            for (var s = 0; s < servers.Count; s++)
                bars.Add(new Bar { Position = i * group + s, Value = servers[s].Ratios[i], FillColor = Palette[s % Palette.Length] });
        plot.Add.Bars(bars);
        for (var i = 0; i < cells.Count; i++)
            for (var s = 0; s < servers.Count; s++)
            {
                var (low, high) = servers[s].Turns[i];
                var range = plot.Add.Line(i * group + s, low, i * group + s, high);
                range.LineColor = Colors.Black;
                range.LineWidth = 1.5f;
            }
        plot.Add.HorizontalLine(1, 1, Colors.Gray, LinePattern.Dashed);
        plot.Axes.Bottom.SetTicks(cells.Select((_, i) => i * group + (servers.Count - 1) / 2.0).ToArray(), cells.Select(Wrap).ToArray());
        // Head room above the highest turn, so the legend in the corner covers no bar or line.
        plot.Axes.SetLimitsY(0, Math.Max(1, servers.Max(s => s.Turns.Select(t => t.High).DefaultIfEmpty(0).Max())) * 1.35);
        plot.Title("Echo cells as a ratio to a raw .NET Socket echo (1.0 = raw; memory: lower is better; lines: lowest to highest turn)");
        plot.YLabel("÷ raw");
        plot.ShowLegend(servers.Select((s, i) => new LegendItem { LabelText = s.Name, FillColor = Palette[i % Palette.Length] }).ToArray(), Alignment.UpperRight);
        plot.SavePng(path, 1100, 550);
    }

    private static string Wrap(string title) => title.Replace(", ", "\n");
}
