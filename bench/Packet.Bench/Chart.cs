using ScottPlot;

namespace Packet.Bench;

/// <summary>Draws the echo cells as ratios to the raw Socket baseline: one group of bars per cell.</summary>
public static class Chart
{
    /// <param name="cells">Cell titles, in order.</param>
    /// <param name="kestrel">Kestrel ÷ raw, per cell.</param>
    /// <param name="akkaIo">PacketAkka on its Akka.IO transport ÷ raw, per cell.</param>
    /// <param name="onKestrel">PacketAkka on its Kestrel transport ÷ raw, per cell.</param>
    /// <param name="path">Where to write the PNG.</param>
    public static void Ratios(IReadOnlyList<string> cells, IReadOnlyList<double> kestrel, IReadOnlyList<double> akkaIo, IReadOnlyList<double> onKestrel, string path)
    {
        var plot = new Plot();
        var bars = new List<Bar>();
        for (var i = 0; i < cells.Count; i++)
        {
            bars.Add(new Bar { Position = i * 4, Value = kestrel[i], FillColor = Colors.SteelBlue });
            bars.Add(new Bar { Position = i * 4 + 1, Value = akkaIo[i], FillColor = Colors.DarkOrange });
            bars.Add(new Bar { Position = i * 4 + 2, Value = onKestrel[i], FillColor = Colors.SeaGreen });
        }
        plot.Add.Bars(bars);
        plot.Add.HorizontalLine(1, 1, Colors.Gray, LinePattern.Dashed);
        plot.Axes.Bottom.SetTicks(cells.Select((_, i) => i * 4 + 1.0).ToArray(), cells.Select(Wrap).ToArray());
        plot.Axes.Margins(bottom: 0);
        plot.Title("Echo cells as a ratio to a raw .NET Socket echo (1.0 = raw; memory: lower is better)");
        plot.YLabel("÷ raw");
        plot.ShowLegend([new LegendItem { LabelText = "Kestrel", FillColor = Colors.SteelBlue }, new LegendItem { LabelText = "PacketAkka on Akka.IO", FillColor = Colors.DarkOrange },
            new LegendItem { LabelText = "PacketAkka on Kestrel", FillColor = Colors.SeaGreen }], Alignment.UpperRight);
        plot.SavePng(path, 1100, 550);
    }

    private static string Wrap(string title) => title.Replace(", ", "\n");
}
