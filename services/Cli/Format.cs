using System.Globalization;

namespace Router.Cli;

internal static class Format
{
    public static CultureInfo Culture => CultureInfo.InvariantCulture;
}
