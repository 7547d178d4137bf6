using Ephemera.Core;

namespace Ephemera.Cluster;

/// <summary>The names a cluster shares on its NATS server: one stream, three KV buckets, and the subjects.</summary>
public static class ClusterNames
{
    /// <summary>The JetStream stream of record parts (subjects <c>ephemera.records.&gt;</c>).</summary>
    public const string RecordStream = "EPHEMERA_RECORDS";
    /// <summary>KV bucket: the desired cameras (key = camera id), each with its config and manifest.</summary>
    public const string DesiredBucket = "ephemera_desired";
    /// <summary>KV bucket: camera leases (key = camera id, value = the owning worker); entries expire after the lease time.</summary>
    public const string LeaseBucket = "ephemera_leases";
    /// <summary>KV bucket: each camera's last reported state and rates (key = camera id).</summary>
    public const string StatusBucket = "ephemera_status";
    /// <summary>Object store bucket: case-4 anonymised images (the only image output), each with its expiry.</summary>
    public const string ImageBucket = "ephemera_images";
    /// <summary>The collector's durable consumer.</summary>
    public const string CollectorConsumer = "collector";

    /// <summary>
    /// <c>ephemera.records.&lt;camera&gt;.&lt;class&gt;</c>. A camera id may hold '.', the subject
    /// separator, so '.' is written '~' (a character camera ids cannot hold).
    /// </summary>
    public static string RecordSubject(string cameraId, DataClass cls) => $"ephemera.records.{cameraId.Replace('.', '~')}.{cls}";
}
