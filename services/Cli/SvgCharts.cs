using System.Globalization;
using System.Text;
using Router.Domain.Metrics;

namespace Router.Cli;

/// <summary>Small self-contained SVG charts (no native plotting library needed): histograms and reliability diagrams.</summary>
internal static class SvgCharts
{
    private const int Width = 520;
    private const int Height = 340;
    private const int Left = 56;
    private const int Right = 16;
    private const int Top = 36;
    private const int Bottom = 48;

    /// <summary>Overlaid histograms of a confidence for right and wrong answers: how much they overlap (seed 000).</summary>
    public static string Histogram(string title, IReadOnlyList<double> right, IReadOnlyList<double> wrong, int bins = 20)
    {
        var rightCounts = Counts(right, bins);
        var wrongCounts = Counts(wrong, bins);
        var rightShare = rightCounts.Select(c => c / (double)Math.Max(1, right.Count)).ToArray();
        var wrongShare = wrongCounts.Select(c => c / (double)Math.Max(1, wrong.Count)).ToArray();
        var max = Math.Max(rightShare.Max(), wrongShare.Max());
        var svg = Begin(title, "confidence (probability)", "share of answers");
        var plotWidth = Width - Left - Right;
        var plotHeight = Height - Top - Bottom;
        var barWidth = plotWidth / (double)bins;
        for (var b = 0; b < bins; b++)
        {
            Bar(svg, Left + b * barWidth, rightShare[b] / max * plotHeight, barWidth, "#2b8a3e", plotHeight);
            Bar(svg, Left + b * barWidth, wrongShare[b] / max * plotHeight, barWidth, "#c92a2a", plotHeight);
        }

        Legend(svg, [($"right (n={right.Count})", "#2b8a3e"), ($"wrong (n={wrong.Count})", "#c92a2a")]);
        return End(svg);
    }

    /// <summary>Reliability diagram: observed accuracy against mean predicted probability per equal-mass bin, before and after calibration.</summary>
    public static string Reliability(string title, IReadOnlyList<ReliabilityBin> raw, IReadOnlyList<ReliabilityBin> calibrated)
    {
        var svg = Begin(title, "mean predicted probability", "observed accuracy");
        svg.Append(Line(X(0), Y(0), X(1), Y(1), "#868e96", "4 3"));
        Series(svg, raw, "#e8590c");
        Series(svg, calibrated, "#1971c2");
        Legend(svg, [("raw", "#e8590c"), ("calibrated", "#1971c2"), ("perfect", "#868e96")]);
        return End(svg);
    }

    private static void Series(StringBuilder svg, IReadOnlyList<ReliabilityBin> bins, string colour)
    {
        var points = string.Join(' ', bins.Select(b => F($"{X(b.MeanPredicted):F1},{Y(b.Observed):F1}")));
        svg.Append(F($"<polyline points=\"{points}\" fill=\"none\" stroke=\"{colour}\" stroke-width=\"2\"/>"));
        foreach (var b in bins)
        {
            svg.Append(F($"<circle cx=\"{X(b.MeanPredicted):F1}\" cy=\"{Y(b.Observed):F1}\" r=\"3.5\" fill=\"{colour}\"><title>{b.Count} answers: predicted {b.MeanPredicted:F3}, observed {b.Observed:F3}</title></circle>"));
        }
    }

    private static int[] Counts(IReadOnlyList<double> values, int bins)
    {
        var counts = new int[bins];
        foreach (var v in values)
        {
            counts[Math.Clamp((int)(Math.Clamp(double.IsNaN(v) ? 0 : v, 0, 1) * bins), 0, bins - 1)]++;
        }

        return counts;
    }

    private static void Bar(StringBuilder svg, double x, double height, double width, string colour, int plotHeight) =>
        svg.Append(F($"<rect x=\"{x + 1:F1}\" y=\"{Top + plotHeight - height:F1}\" width=\"{width - 2:F1}\" height=\"{height:F1}\" fill=\"{colour}\" fill-opacity=\"0.45\"/>"));

    private static StringBuilder Begin(string title, string xLabel, string yLabel)
    {
        var svg = new StringBuilder();
        svg.Append(F($"<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{Width}\" height=\"{Height}\" font-family=\"sans-serif\" font-size=\"12\">"));
        svg.Append(F($"<rect width=\"{Width}\" height=\"{Height}\" fill=\"white\"/>"));
        svg.Append(F($"<text x=\"{Width / 2}\" y=\"20\" text-anchor=\"middle\" font-size=\"14\" font-weight=\"bold\">{Escape(title)}</text>"));
        svg.Append(Line(X(0), Y(0), X(1), Y(0), "#212529", null));
        svg.Append(Line(X(0), Y(0), X(0), Y(1), "#212529", null));
        for (var t = 0; t <= 10; t += 2)
        {
            var v = t / 10.0;
            svg.Append(F($"<text x=\"{X(v):F1}\" y=\"{Y(0) + 16:F1}\" text-anchor=\"middle\">{v:0.0}</text>"));
            svg.Append(F($"<text x=\"{X(0) - 6:F1}\" y=\"{Y(v) + 4:F1}\" text-anchor=\"end\">{v:0.0}</text>"));
        }

        svg.Append(F($"<text x=\"{Left + (Width - Left - Right) / 2}\" y=\"{Height - 10}\" text-anchor=\"middle\">{Escape(xLabel)}</text>"));
        svg.Append(F($"<text transform=\"translate(14,{Top + (Height - Top - Bottom) / 2}) rotate(-90)\" text-anchor=\"middle\">{Escape(yLabel)}</text>"));
        return svg;
    }

    private static void Legend(StringBuilder svg, IEnumerable<(string Label, string Colour)> entries)
    {
        var y = Top + 6;
        foreach (var (label, colour) in entries)
        {
            svg.Append(F($"<rect x=\"{Width - Right - 150}\" y=\"{y}\" width=\"12\" height=\"12\" fill=\"{colour}\"/>"));
            svg.Append(F($"<text x=\"{Width - Right - 132}\" y=\"{y + 10}\">{Escape(label)}</text>"));
            y += 18;
        }
    }

    private static string End(StringBuilder svg) => svg.Append("</svg>").ToString();

    private static string Line(double x1, double y1, double x2, double y2, string colour, string? dash) =>
        F($"<line x1=\"{x1:F1}\" y1=\"{y1:F1}\" x2=\"{x2:F1}\" y2=\"{y2:F1}\" stroke=\"{colour}\"{(dash is null ? string.Empty : $" stroke-dasharray=\"{dash}\"")}/>");

    private static double X(double v) => Left + v * (Width - Left - Right);

    private static double Y(double v) => Height - Bottom - v * (Height - Top - Bottom);

    private static string Escape(string text) => System.Security.SecurityElement.Escape(text);

    private static string F(FormattableString text) => text.ToString(CultureInfo.InvariantCulture);
}
