namespace Ephemera.Core;

/// <summary>
/// Which graph the detector runs: the fp32 graph, the project's int8 QDQ graph, or (Auto) whichever
/// measures faster on this machine at start — int8 only where it pays (VNNI CPUs), fp32 elsewhere.
/// </summary>
public enum DetectorPrecision { Auto, Fp32, Int8 }
