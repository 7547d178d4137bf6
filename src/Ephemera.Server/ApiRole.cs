using System.Security.Cryptography;
using System.Text;
using Ephemera.Config;
using Ephemera.Core;
using Ephemera.Governance;

namespace Ephemera.Server;

/// <summary>Who calls the server, lowest first: each role may do what the roles below it may.</summary>
public enum ApiRole { Public = 0, Viewer = 1, Analyst = 2, Operator = 3, Admin = 4 }

/// <summary>The least role an endpoint demands (endpoint metadata; an endpoint without it demands <see cref="ApiRole.Admin"/>).</summary>
public sealed record RequiresRole(ApiRole Role);

public static class ApiRoles
{
    public static string Name(this ApiRole r) => r.ToString().ToLowerInvariant();

    public static ApiRole Parse(string role) => role switch
    {
        "viewer" => ApiRole.Viewer, "analyst" => ApiRole.Analyst, "operator" => ApiRole.Operator, "admin" => ApiRole.Admin,
        _ => throw new EphemeraException($"'{role}' is not a key role ({string.Join(", ", ServerConfig.KeyRoles)})"),
    };

    /// <summary>
    /// The store role a server role reads a class as: viewers and analysts read aggregates as the
    /// store's analyst, operators and admins as its operator; every role may also read what the
    /// public may (crowd levels and icons). Null when no role of the caller's may read the class.
    /// </summary>
    public static Role? StoreRoleFor(ApiRole role, DataClass cls)
    {
        Role main = role switch
        {
            ApiRole.Public => Role.Public,
            ApiRole.Viewer or ApiRole.Analyst => Role.Analyst,
            _ => Role.Operator,
        };
        if (AccessPolicy.CanRead(main, cls)) return main;
        if (AccessPolicy.CanRead(Role.Public, cls)) return Role.Public;
        return null;
    }
}

/// <summary>
/// API keys from the config's <c>server.keys</c>: only their sha256 is held; a presented key is
/// hashed and compared with every stored hash in constant time (no early exit on a match).
/// </summary>
public sealed class ApiKeyStore
{
    private readonly (byte[] Hash, ApiRole Role)[] _keys;

    public ApiKeyStore(IEnumerable<ApiKeyConfig> keys) =>
        _keys = keys.Select(k => (Convert.FromHexString(k.Sha256), ApiRoles.Parse(k.Role))).ToArray();

    public int Count => _keys.Length;

    /// <summary>The role of the key in an <c>Authorization: Bearer KEY</c> header; null when absent or unknown.</summary>
    public ApiRole? Authenticate(string? authorization)
    {
        if (string.IsNullOrEmpty(authorization) || !authorization.StartsWith("Bearer ", StringComparison.OrdinalIgnoreCase)) return null;
        string key = authorization["Bearer ".Length..].Trim();
        if (key.Length == 0 || key.Length > 512) return null;
        byte[] hash = SHA256.HashData(Encoding.UTF8.GetBytes(key));
        ApiRole? found = null;
        foreach (var (h, role) in _keys)
            if (CryptographicOperations.FixedTimeEquals(hash, h) && found is null) found = role;
        return found;
    }

    /// <summary>The config line for a key: its sha256 as lower-case hex.</summary>
    public static string Hash(string key) => Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(key)));
}
