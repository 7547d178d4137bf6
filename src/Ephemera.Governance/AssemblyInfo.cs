using System.Runtime.CompilerServices;

// Only the anonymiser builds AnonymisedImageRecord (its constructor is internal and runs the M2 check).
[assembly: InternalsVisibleTo("Ephemera.Anonymisation")]
