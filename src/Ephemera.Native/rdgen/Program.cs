using System.Reflection;
using System.Runtime.Loader;
using System.Text;
using System.Text.Json;

// args[0]: folder with the engine's built assemblies; writes rd.xml to stdout.
var dir = Path.GetFullPath(args[0]);
var ctx = AssemblyLoadContext.Default;
ctx.Resolving += (c, n) => File.Exists(Path.Combine(dir, n.Name + ".dll")) ? c.LoadFromAssemblyPath(Path.Combine(dir, n.Name + ".dll")) : null;
var asms = Directory.GetFiles(dir, "Ephemera*.dll").Select(f => ctx.LoadFromAssemblyPath(f)).ToList();
var stj = typeof(JsonSerializer).Assembly;
Type G(string n) => stj.GetType(n, true)!;
var set = new HashSet<Type>();
var colls = new HashSet<Type>();
void Walk(Type t)
{
    if (t.IsByRef || t.IsPointer || t.IsByRefLike || t.IsFunctionPointer || t.ContainsGenericParameters) return;
    // A type over a package the folder does not hold (Silk.NET's Vulkan handles): never serialised by the engine.
    try { _ = t.Namespace; _ = t.IsValueType; } catch (FileNotFoundException) { return; }
    if (t.IsArray) { colls.Add(t); Walk(t.GetElementType()!); return; }
    if (t.IsValueType) set.Add(t);
    if (t.IsGenericType) { foreach (var a in t.GetGenericArguments()) Walk(a); if (!t.IsValueType && typeof(System.Collections.IEnumerable).IsAssignableFrom(t)) colls.Add(t); }
}
foreach (var a in asms)
{
    Type[] types; try { types = a.GetTypes(); } catch (ReflectionTypeLoadException e) { types = e.Types.Where(x => x != null).ToArray()!; }
    foreach (var t in types)
    {
        if (t.ContainsGenericParameters) continue;
        if (t.IsValueType) Walk(t);
        const BindingFlags F = BindingFlags.Public | BindingFlags.NonPublic | BindingFlags.Instance | BindingFlags.Static | BindingFlags.DeclaredOnly;
        try
        {
            foreach (var f in t.GetFields(F)) Walk(f.FieldType);
            foreach (var p in t.GetProperties(F)) Walk(p.PropertyType);
        }
        catch (Exception) { }
    }
}
foreach (var t in new[] { typeof(bool), typeof(byte), typeof(short), typeof(int), typeof(long), typeof(float), typeof(double), typeof(decimal),
    typeof(DateTime), typeof(DateTimeOffset), typeof(TimeSpan), typeof(Guid), typeof(JsonElement), typeof(uint), typeof(ulong), typeof(char), typeof(DateOnly) })
    set.Add(t);
foreach (var t in set.ToList()) if (Nullable.GetUnderlyingType(t) == null) set.Add(typeof(Nullable<>).MakeGenericType(t));
var outTypes = new HashSet<Type>();
// Records (no public parameterless constructor): System.Text.Json binds them through their
// constructor even when it only serialises, with converters instantiated over the parameter types.
var small = G("System.Text.Json.Serialization.Converters.SmallObjectWithParameterizedConstructorConverter`5");
var large = stj.GetType("System.Text.Json.Serialization.Converters.LargeObjectWithParameterizedConstructorConverterWithReflection`1")
    ?? G("System.Text.Json.Serialization.Converters.LargeObjectWithParameterizedConstructorConverter`1");
foreach (var a in asms)
{
    Type[] types; try { types = a.GetTypes(); } catch (ReflectionTypeLoadException e) { types = e.Types.Where(x => x != null).ToArray()!; }
    foreach (var t in types)
    {
        if (t.ContainsGenericParameters || t.IsAbstract || t.IsInterface || t.IsByRefLike || typeof(Delegate).IsAssignableFrom(t)) continue;
        ConstructorInfo[] ctors;
        try { if (t.GetConstructor(Type.EmptyTypes) != null) continue; ctors = t.GetConstructors(); }
        catch (FileNotFoundException) { continue; } // a type over a package the folder does not hold: never serialised by the engine
        if (ctors.Length != 1) continue;
        Type[] ps;
        try { ps = ctors[0].GetParameters().Select(x => x.ParameterType).ToArray(); } catch (FileNotFoundException) { continue; }
        if (ps.Any(x => x.IsByRef || x.IsPointer || x.IsByRefLike)) continue;
        foreach (var x in ps) Walk(x);
        if (ps.Length <= 4) outTypes.Add(small.MakeGenericType([t, .. ps, .. Enumerable.Repeat(typeof(object), 4 - ps.Length)]));
        else outTypes.Add(large.MakeGenericType(t));
    }
}
foreach (var v in set)
{
    if (v.IsGenericTypeDefinition) continue;
    outTypes.Add(G("System.Text.Json.Serialization.Metadata.JsonPropertyInfo`1").MakeGenericType(v));
    outTypes.Add(typeof(System.Text.Json.Serialization.Metadata.JsonTypeInfo<>).MakeGenericType(v));
    outTypes.Add(G("System.Text.Json.Serialization.Metadata.JsonParameterInfo`1").MakeGenericType(v));
    if (v.IsEnum) outTypes.Add(G("System.Text.Json.Serialization.Converters.EnumConverter`1").MakeGenericType(v));
    if (Nullable.GetUnderlyingType(v) is { } u) outTypes.Add(G("System.Text.Json.Serialization.Converters.NullableConverter`1").MakeGenericType(u));
    else if (!v.IsPrimitive && !v.IsEnum && v.Namespace != "System" && v != typeof(JsonElement))
        outTypes.Add(G("System.Text.Json.Serialization.Converters.ObjectDefaultConverter`1").MakeGenericType(v));
}
foreach (var c in colls)
{
    if (c.IsArray) { var e = c.GetElementType()!; if (e.IsValueType) outTypes.Add(G("System.Text.Json.Serialization.Converters.ArrayConverter`2").MakeGenericType(c, e)); continue; }
    var args2 = c.GetGenericArguments();
    var def = c.GetGenericTypeDefinition();
    if (!args2.Any(x => x.IsValueType)) continue;
    if (def == typeof(List<>)) outTypes.Add(G("System.Text.Json.Serialization.Converters.ListOfTConverter`2").MakeGenericType(c, args2[0]));
    else if (def == typeof(Dictionary<,>)) outTypes.Add(G("System.Text.Json.Serialization.Converters.DictionaryOfTKeyTValueConverter`3").MakeGenericType(c, args2[0], args2[1]));
    else if (def == typeof(IReadOnlyDictionary<,>)) outTypes.Add(G("System.Text.Json.Serialization.Converters.IReadOnlyDictionaryOfTKeyTValueConverter`3").MakeGenericType(c, args2[0], args2[1]));
    else if (def == typeof(IDictionary<,>)) outTypes.Add(G("System.Text.Json.Serialization.Converters.IDictionaryOfTKeyTValueConverter`3").MakeGenericType(c, args2[0], args2[1]));
    else if (def == typeof(IList<>)) outTypes.Add(G("System.Text.Json.Serialization.Converters.IListOfTConverter`2").MakeGenericType(c, args2[0]));
    else if (def == typeof(ICollection<>)) outTypes.Add(G("System.Text.Json.Serialization.Converters.ICollectionOfTConverter`2").MakeGenericType(c, args2[0]));
    else if (args2.Length == 1 && (def == typeof(IEnumerable<>) || def == typeof(IReadOnlyList<>) || def == typeof(IReadOnlyCollection<>)))
        outTypes.Add(G("System.Text.Json.Serialization.Converters.IEnumerableOfTConverter`2").MakeGenericType(c, args2[0]));
}
// YamlDotNet's reflection deserializer (models.yaml) creates the collections it fills with
// Activator.CreateInstance: keep the constructors of every concrete collection the engine declares.
foreach (var c in colls.Concat([typeof(List<object>), typeof(Dictionary<object, object>), typeof(List<string>)]))
    if (!c.IsArray && !c.IsInterface && !c.IsAbstract) outTypes.Add(c);
string Name(Type t)
{
    if (t.IsArray) return Name(t.GetElementType()!) + "[]";
    var baseName = (t.IsGenericType ? t.GetGenericTypeDefinition() : t).FullName!;
    if (!t.IsGenericType) return baseName;
    return baseName + "[" + string.Join(",", t.GetGenericArguments().Select(a => "[" + Name(a) + "," + a.Assembly.GetName().Name + "]")) + "]";
}
var sb = new StringBuilder();
sb.AppendLine("<!-- Generated by the rd.xml generator (see docs/c-abi.md): the System.Text.Json instantiations over value types that the");
sb.AppendLine("     engine's reflection-based serialisation needs under NativeAOT (no JIT to make them at run time). -->");
sb.AppendLine("<Directives xmlns=\"http://schemas.microsoft.com/netfx/2013/01/metadata\">\n  <Application>");
foreach (var g in outTypes.GroupBy(t => t.Assembly.GetName().Name!).OrderBy(g => g.Key, StringComparer.Ordinal))
{
    sb.AppendLine($"    <Assembly Name=\"{g.Key}\">");
    foreach (var n in g.Select(Name).Distinct().Order(StringComparer.Ordinal)) sb.AppendLine($"      <Type Name=\"{System.Security.SecurityElement.Escape(n)}\" Dynamic=\"Required All\" />");
    sb.AppendLine("    </Assembly>");
}
sb.AppendLine("  </Application>\n</Directives>");
Console.Write(sb);
