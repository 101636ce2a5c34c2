using System.Security.Cryptography;
using System.Text;

namespace Router.Gateway.Access;

/// <summary>
/// API key material: a key is shown once at creation; the ledger keeps its SHA-256 (keys are
/// 256 random bits, so a fast hash is enough: there is nothing to brute-force) and a short
/// prefix that identifies it in listings.
/// </summary>
public static class ApiKeys
{
    public const string KeyPrefix = "rk_";
    public const int DisplayedPrefixLength = 10;

    public static string NewKey() => KeyPrefix + Base64Url(RandomNumberGenerator.GetBytes(32));

    public static string Hash(string key) => Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(key)));

    public static string DisplayedPrefix(string key) => key[..Math.Min(DisplayedPrefixLength, key.Length)];

    /// <summary>Compares secrets in constant time, so response timing does not reveal how much of a guess was right.</summary>
    public static bool SecretEquals(string expected, string actual) =>
        CryptographicOperations.FixedTimeEquals(SHA256.HashData(Encoding.UTF8.GetBytes(expected)), SHA256.HashData(Encoding.UTF8.GetBytes(actual)));

    private static string Base64Url(byte[] bytes) => Convert.ToBase64String(bytes).TrimEnd('=').Replace('+', '-').Replace('/', '_');
}
