using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using Ephemera.Core;

namespace Ephemera.Governance;

/// <summary>
/// Signs audit heads. The default is <see cref="FileAuditSigner"/> (a PEM key in its own 0600 file);
/// a host that keeps the key in hardware (TPM, HSM, KMS) implements this and passes it in
/// <see cref="AuditOptions.Signer"/>. The store never holds the private key.
/// </summary>
public interface IAuditSigner : IDisposable
{
    /// <summary>The public key, DER SubjectPublicKeyInfo of an ECDsa P-256 key (what verifiers pin).</summary>
    byte[] PublicKey { get; }

    /// <summary>ECDsa P-256 / SHA-256 signature (IEEE P1363 form) of <paramref name="data"/>.</summary>
    byte[] Sign(byte[] data);
}

/// <summary>A signed head: "the chain had <see cref="Seq"/> records ending in <see cref="Hash"/> at <see cref="At"/>".</summary>
public sealed record SignedHead(long Seq, string Hash, string At, byte[] Signature);

/// <summary>
/// A party outside the store that keeps every signed head (Certificate Transparency style). A rewrite of
/// the chain, even with the real key, disagrees with what a witness already holds.
/// </summary>
public interface IAuditWitness : IDisposable
{
    /// <summary>Records one head. Must only ever append; called after the record is committed.</summary>
    void Witness(SignedHead head);
}

/// <summary>Where the signing key lives and who witnesses heads; passed to <see cref="EphemeraStore.Open(string, IClock?, AuditOptions?)"/>.</summary>
public sealed record AuditOptions
{
    /// <summary>Private key file; default <c>&lt;db&gt;.key</c>. Ignored when <see cref="Signer"/> is set.</summary>
    public string? KeyPath { get; init; }
    /// <summary>A host-provided signer (hardware key). The store takes ownership.</summary>
    public IAuditSigner? Signer { get; init; }
    /// <summary>Witnesses that receive every signed head. The store takes ownership.</summary>
    public IReadOnlyList<IAuditWitness> Witnesses { get; init; } = [];
    /// <summary>Where the fingerprint is announced when a key is created (default stderr).</summary>
    public TextWriter? Notices { get; init; }
}

/// <summary>Helpers shared by signers and verifiers.</summary>
public static class AuditKeys
{
    /// <summary>sha256 (lower hex) of the DER SubjectPublicKeyInfo: the fingerprint operators pin.</summary>
    public static string Fingerprint(byte[] spki) => Convert.ToHexStringLower(SHA256.HashData(spki));

    /// <summary>Bytes a head signature covers.</summary>
    public static byte[] SignedBytes(long seq, string hash, string at) => Encoding.UTF8.GetBytes($"ephemera-audit|{seq}|{hash}|{at}");

    /// <summary>Loads a pinned public key from a PEM file (PUBLIC KEY, or a private key whose public half is used). Throws <see cref="EphemeraException"/> when unreadable.</summary>
    public static ECDsa LoadPublicKey(string path)
    {
        string text;
        try { text = File.ReadAllText(path); }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException) { throw new EphemeraException($"cannot read public key {path}: {e.Message}", e); }
        var key = ECDsa.Create();
        try { key.ImportFromPem(text); }
        catch (Exception e) when (e is ArgumentException or CryptographicException)
        {
            key.Dispose();
            throw new EphemeraException($"public key {path} is not a PEM ECDsa key: {e.Message}", e);
        }
        return key;
    }

    /// <summary>Creates a directory (and parents) and, on Unix, restricts the leaf to its owner (0700).</summary>
    public static void CreatePrivateDirectory(string dir)
    {
        bool existed = Directory.Exists(dir);
        Directory.CreateDirectory(dir);
        // Only folders we create are tightened: a shared existing folder (e.g. /tmp) is not ours to change.
        if (!existed && !OperatingSystem.IsWindows())
            File.SetUnixFileMode(dir, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute);
    }

    /// <summary>Sets a file to 0600 on Unix when it exists.</summary>
    public static void RestrictFile(string path)
    {
        if (!OperatingSystem.IsWindows() && File.Exists(path))
            File.SetUnixFileMode(path, UnixFileMode.UserRead | UnixFileMode.UserWrite);
    }
}

/// <summary>
/// ECDsa P-256 key in its own PEM file (default <c>&lt;db&gt;.key</c>), created 0600 in a 0700 folder on first
/// use, with the public key written beside it as <c>.pub</c> for operators to copy out and pin.
/// </summary>
public sealed class FileAuditSigner : IAuditSigner
{
    private readonly ECDsa _key;

    /// <summary>The private key file.</summary>
    public string Path { get; }
    /// <summary>True when this instance created the key (first start).</summary>
    public bool Created { get; }
    /// <inheritdoc/>
    public byte[] PublicKey { get; }

    /// <summary>Loads the key at <paramref name="path"/>, creating it when absent. Throws <see cref="EphemeraException"/> on a malformed file.</summary>
    public FileAuditSigner(string path)
    {
        Path = System.IO.Path.GetFullPath(path);
        _key = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        if (File.Exists(Path))
        {
            try { _key.ImportFromPem(File.ReadAllText(Path)); }
            catch (Exception e) when (e is ArgumentException or CryptographicException)
            {
                _key.Dispose();
                throw new EphemeraException($"audit signing key {Path} is not a PEM ECDsa private key: {e.Message}", e);
            }
        }
        else
        {
            AuditKeys.CreatePrivateDirectory(System.IO.Path.GetDirectoryName(Path)!);
            var options = new FileStreamOptions { Mode = FileMode.CreateNew, Access = FileAccess.Write };
            if (!OperatingSystem.IsWindows()) options.UnixCreateMode = UnixFileMode.UserRead | UnixFileMode.UserWrite; // only the engine's user may sign
            using (var fs = new FileStream(Path, options))
            using (var w = new StreamWriter(fs)) w.Write(_key.ExportPkcs8PrivateKeyPem());
            File.WriteAllText(Path + ".pub", _key.ExportSubjectPublicKeyInfoPem() + "\n");
            Created = true;
        }
        PublicKey = _key.ExportSubjectPublicKeyInfo();
    }

    /// <inheritdoc/>
    public byte[] Sign(byte[] data) => _key.SignData(data, HashAlgorithmName.SHA256);

    /// <inheritdoc/>
    public void Dispose() => _key.Dispose();
}

/// <summary>
/// Witness that appends one JSON line per signed head (<c>{"seq":…,"hash":…,"at":…,"sig":…}</c>) to a file
/// opened append-only, on a path apart from the store (another disk, a mount another user owns, a
/// chattr +a file). <c>audit verify --witness FILE</c> reads it back.
/// </summary>
public sealed class FileWitness : IAuditWitness
{
    private readonly FileStream _fs;
    private readonly object _lock = new();

    /// <summary>The witness file.</summary>
    public string Path { get; }

    /// <summary>Opens (creates) <paramref name="path"/> for appending.</summary>
    public FileWitness(string path)
    {
        Path = System.IO.Path.GetFullPath(path);
        Directory.CreateDirectory(System.IO.Path.GetDirectoryName(Path)!);
        var options = new FileStreamOptions { Mode = FileMode.Append, Access = FileAccess.Write, Share = FileShare.Read };
        if (!OperatingSystem.IsWindows()) options.UnixCreateMode = UnixFileMode.UserRead | UnixFileMode.UserWrite;
        try { _fs = new FileStream(Path, options); }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException) { throw new EphemeraException($"cannot open audit witness {Path}: {e.Message}", e); }
    }

    /// <inheritdoc/>
    public void Witness(SignedHead head)
    {
        byte[] line = Encoding.UTF8.GetBytes(JsonSerializer.Serialize(new { seq = head.Seq, hash = head.Hash, at = head.At, sig = Convert.ToBase64String(head.Signature) }) + "\n");
        lock (_lock) { _fs.Write(line); _fs.Flush(flushToDisk: true); }
    }

    /// <summary>Reads the heads from a witness file. Throws <see cref="EphemeraException"/> naming the line of a malformed entry.</summary>
    public static List<SignedHead> Read(string path)
    {
        string[] lines;
        try { lines = File.ReadAllLines(path); }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException) { throw new EphemeraException($"cannot read witness {path}: {e.Message}", e); }
        var heads = new List<SignedHead>();
        for (int i = 0; i < lines.Length; i++)
        {
            if (lines[i].Length == 0) continue;
            try
            {
                using var doc = JsonDocument.Parse(lines[i]);
                var r = doc.RootElement;
                heads.Add(new SignedHead(r.GetProperty("seq").GetInt64(), r.GetProperty("hash").GetString()!, r.GetProperty("at").GetString()!,
                    Convert.FromBase64String(r.GetProperty("sig").GetString()!)));
            }
            catch (Exception e) when (e is JsonException or KeyNotFoundException or InvalidOperationException or FormatException or NullReferenceException)
            {
                throw new EphemeraException($"{path}:{i + 1}: malformed witness entry: {e.Message}", e);
            }
        }
        return heads;
    }

    /// <inheritdoc/>
    public void Dispose() => _fs.Dispose();
}
