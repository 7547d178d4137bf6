using System.Reflection;
using Ephemera.Core;

namespace Ephemera.Cli;

public static class Program
{
    public static int Main(string[] args)
    {
        var verbs = typeof(Program).Assembly.GetTypes()
            .Where(t => typeof(IVerb).IsAssignableFrom(t) && t is { IsAbstract: false, IsInterface: false })
            .Select(t => (IVerb)Activator.CreateInstance(t)!)
            .OrderBy(v => v.Name, StringComparer.Ordinal)
            .ToDictionary(v => v.Name, StringComparer.Ordinal);

        if (args.Length == 0 || args[0] is "--help" or "-h" or "help")
        {
            Console.Error.WriteLine("usage: ephemera VERB [options]   (each verb takes --help)\n");
            foreach (var v in verbs.Values) Console.Error.WriteLine($"  {v.Name,-10} {v.Summary}");
            return args.Length == 0 ? 2 : 0;
        }
        if (!verbs.TryGetValue(args[0], out var verb))
        {
            Console.Error.WriteLine($"ephemera: unknown verb '{args[0]}'; known: {string.Join(", ", verbs.Keys)}");
            return 2;
        }
        var rest = args[1..];
        if (rest.Contains("--help") || rest.Contains("-h"))
        {
            Console.Error.WriteLine(verb.Usage);
            return 0;
        }
        try
        {
            return verb.Run(rest);
        }
        catch (UsageException e)
        {
            Console.Error.WriteLine($"ephemera {verb.Name}: {e.Message}\n\n{verb.Usage}");
            return 2;
        }
        catch (EphemeraException e)
        {
            Console.Error.WriteLine($"ephemera {verb.Name}: {e.Message}");
            return 2;
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            Console.Error.WriteLine($"ephemera {verb.Name}: {e.Message}");
            return 2;
        }
        catch (Exception e)
        {
            // No stack trace reaches a user: a bug still exits 2 with a message that names it.
            Console.Error.WriteLine($"ephemera {verb.Name}: internal error ({e.GetType().Name}): {e.Message}; please report it with the command line");
            return 2;
        }
    }
}
