namespace Router.Domain.Calibration;

/// <summary>
/// How calibration drift is watched (configuration section "CalibrationDrift"): which labelled
/// answers form a calibrator's window, when the window counts as drifted, and how often the
/// Scoring service measures it. The Gateway's report reads the same section.
/// </summary>
public sealed class CalibrationDriftOptions
{
    public const string SectionName = "CalibrationDrift";

    /// <summary>The most recent labels per model and calibrator that form its window.</summary>
    public int WindowLabels { get; set; } = 1000;

    /// <summary>Only labels given within this age are in a window.</summary>
    public TimeSpan WindowAge { get; set; } = TimeSpan.FromDays(7);

    /// <summary>Labels a window needs before it can be called drifted.</summary>
    public int MinimumLabels { get; set; } = 200;

    /// <summary>Drifted when the ECE's lower confidence bound is above this.</summary>
    public double MaxEce { get; set; } = 0.1;

    /// <summary>Drifted when the gap's confidence interval (mean label minus mean confidence) lies entirely beyond +-this.</summary>
    public double MaxGap { get; set; } = 0.1;

    /// <summary>Two-sided level of the intervals of the gap and the ECE.</summary>
    public double ConfidenceLevel { get; set; } = 0.95;

    /// <summary>Equal-mass bins of the ECE at most (fewer for windows of fewer than 50 answers per bin).</summary>
    public int Bins { get; set; } = 10;

    /// <summary>Bootstrap resamples of the ECE's interval.</summary>
    public int BootstrapResamples { get; set; } = 200;

    /// <summary>How often the Scoring service measures every window.</summary>
    public TimeSpan Interval { get; set; } = TimeSpan.FromMinutes(1);

    /// <summary>What is wrong with these settings, each naming its key; empty when they are valid.</summary>
    public IEnumerable<string> Problems()
    {
        if (WindowLabels < 1)
        {
            yield return $"{SectionName}:WindowLabels must be at least 1; got {WindowLabels}.";
        }

        if (WindowAge <= TimeSpan.Zero)
        {
            yield return $"{SectionName}:WindowAge must be positive (e.g. 7.00:00:00); got {WindowAge}.";
        }

        if (MinimumLabels < 1 || MinimumLabels > WindowLabels)
        {
            yield return $"{SectionName}:MinimumLabels must be between 1 and WindowLabels ({WindowLabels}); got {MinimumLabels}.";
        }

        if (!(MaxEce is > 0 and < 1))
        {
            yield return $"{SectionName}:MaxEce must be between 0 and 1 (exclusive); got {MaxEce}.";
        }

        if (!(MaxGap is > 0 and < 1))
        {
            yield return $"{SectionName}:MaxGap must be between 0 and 1 (exclusive); got {MaxGap}.";
        }

        if (!(ConfidenceLevel is >= 0.5 and < 1))
        {
            yield return $"{SectionName}:ConfidenceLevel must be at least 0.5 and below 1; got {ConfidenceLevel}.";
        }

        if (Bins is < 1 or > 100)
        {
            yield return $"{SectionName}:Bins must be between 1 and 100; got {Bins}.";
        }

        if (BootstrapResamples is < 20 or > 10_000)
        {
            yield return $"{SectionName}:BootstrapResamples must be between 20 and 10000; got {BootstrapResamples}.";
        }

        if (Interval < TimeSpan.FromSeconds(1))
        {
            yield return $"{SectionName}:Interval must be at least 1 second (e.g. 00:01:00); got {Interval}.";
        }
    }
}
