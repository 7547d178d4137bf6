using BenchmarkDotNet.Running;

namespace Ephemera.Bench;

/// <summary>BenchmarkDotNet entry: <c>dotnet run -c Release --project bench/Ephemera.Bench -- --filter '*'</c>.</summary>
public static class Program
{
    public static void Main(string[] args)
    {
        if (args is ["pipeline-phases", ..])
        {
            Environment.Exit(PipelinePhases.Run(args));
        }
        if (args is ["engine-gap", ..])
        {
            Environment.Exit(EngineGap.Run(args));
        }
        if (args is ["paired-detector", ..])
        {
            PairedDetectorThroughput.Run(args.Length > 1 ? int.Parse(args[1]) : 40, args.Length > 2 ? int.Parse(args[2]) : 2, args is [_, _, _, "spin"]);
            return;
        }
        if (args is ["int8-speedup", ..])
        {
            Int8Speedup.Run(args.Length > 1 ? int.Parse(args[1]) : 5, args.Length > 2 ? int.Parse(args[2]) : 1);
            return;
        }
        if (args is ["anonymise-eval", ..])
        {
            AnonymiseEvaluation.Run(args[1..]);
            return;
        }
        if (args is ["failover", ..])
        {
            FailoverLoad.Run(int.Parse(args[1]), args.Length > 2 ? double.Parse(args[2], System.Globalization.CultureInfo.InvariantCulture) : 6, args.Length > 3 ? int.Parse(args[3]) : 3);
            return;
        }
        if (args is ["collector-load", ..])
        {
            CollectorLoad.Run(int.Parse(args[1]), args.Length > 2 ? int.Parse(args[2]) : 6, args.Length > 3 ? int.Parse(args[3]) : 120);
            return;
        }
        if (args is ["preprocess-cpu", ..])
        {
            PreprocessBenchmarks.CpuTable(args.Length > 1 ? int.Parse(args[1]) : 200);
            return;
        }
        if (args is ["decode-options", ..])
        {
            DecodeOptionBenchmarks.CpuTable(args.Length > 1 ? int.Parse(args[1]) : 3);
            return;
        }
        BenchmarkSwitcher.FromAssembly(typeof(Program).Assembly).Run(args);
    }
}
