#!/usr/bin/env python3
"""Reads the per-phase callgrind profiles that bench/callgrind/run writes and prints instruction
counts per stage (JSON on stdout). A phase's self cost is summed per object file (shared library,
managed assembly, or JIT-compiled code) and grouped into components; a stage's count is its phase
minus the phase before it, because each phase repeats the previous one's work and adds one stage.

usage: phases.py OUT_PREFIX FRAMES [--baseline FILE [--tolerance 0.02]]
"""
import json, os, re, sys

PHASES = ["startup", "decode", "preprocess", "detect", "track"]  # cg.out.1 .. cg.out.5 (see PipelinePhases.cs)

def component(obj: str) -> str:
    base = os.path.basename(obj)
    if base.startswith("libclrjit"): return "jit_compiler"         # compiling methods: excluded from stages
    if re.match(r"lib(av|sw|postproc)", base): return "ffmpeg"
    if base.startswith("libephemera_native"): return "native_core"
    if base.startswith("libonnxruntime"): return "onnxruntime"
    if base.startswith(("libc.so", "libc-", "ld-linux", "libm.so", "libstdc++", "libgcc_s", "libpthread")): return "libc"
    if base.startswith(("libcoreclr", "libSystem.", "libhost")) or base.endswith(".dll") or obj == "???":
        return "managed"   # the runtime, the framework and the engine's JIT-compiled code
    return "other_libraries"   # codec helpers FFmpeg pulls in, and the like

def self_cost_by_component(path: str) -> dict:
    names, cur, totals, skip_next = {}, "???", {}, False
    with open(path, encoding="utf-8", errors="replace") as f:
        for line in f:
            if skip_next:            # the line after calls= is the call's inclusive cost: not self cost
                skip_next = False
                continue
            c = line[0] if line else ""
            if c.isdigit() or c in "+-*":
                parts = line.split()
                if len(parts) >= 2:
                    comp = component(cur)
                    totals[comp] = totals.get(comp, 0) + int(parts[-1])
                continue
            if line.startswith(("ob=", "cob=")):
                m = re.match(r"c?ob=\((\d+)\)(?: (.*))?", line.rstrip("\n"))
                if m:
                    if m.group(2): names[m.group(1)] = m.group(2)
                    if line.startswith("ob="): cur = names.get(m.group(1), "???")
                else:
                    name = line.split("=", 1)[1].strip()
                    if line.startswith("ob="): cur = name
            elif line.startswith("calls="):
                skip_next = True
    return totals

def main() -> int:
    if len(sys.argv) < 3:
        print(__doc__, file=sys.stderr); return 2
    prefix, frames = sys.argv[1], int(sys.argv[2])
    baseline, tolerance = None, 0.02
    args = sys.argv[3:]
    for i, a in enumerate(args):
        if a == "--baseline": baseline = args[i + 1]
        if a == "--tolerance": tolerance = float(args[i + 1])
    phases = {}
    for i, name in enumerate(PHASES, start=1):
        path = f"{prefix}.{i}"
        if not os.path.exists(path):
            print(f"phases.py: {path} is missing: the harness did not reach phase '{name}'", file=sys.stderr); return 1
        phases[name] = self_cost_by_component(path)
    work = {p: sum(v for k, v in c.items() if k != "jit_compiler") for p, c in phases.items()}
    stages = {
        "decode": work["decode"],
        "preprocess": work["preprocess"] - work["decode"],
        "detect": work["detect"] - work["preprocess"],
        "track": work["track"],
    }
    result = {
        "frames": frames,
        "instructions_per_frame": {s: round(v / frames) for s, v in stages.items()},
        "instructions": stages,
        "phases_by_component": phases,
        "jit_compiler_in_phases": sum(c.get("jit_compiler", 0) for p, c in phases.items() if p != "startup"),
    }
    if baseline:
        with open(baseline, encoding="utf-8") as f: base = json.load(f)
        cmp, worst = {}, 0.0
        for s, v in result["instructions_per_frame"].items():
            b = base["instructions_per_frame"].get(s)
            if b:
                ratio = v / b
                cmp[s] = round(ratio, 4)
                worst = max(worst, abs(ratio - 1))
        result["baseline"] = {"file": baseline, "ratio": cmp, "tolerance": tolerance, "within": worst <= tolerance}
    json.dump(result, sys.stdout, indent=2)
    print()
    if baseline and not result["baseline"]["within"]:
        print(f"phases.py: instruction counts moved more than {tolerance:.0%} from {baseline}: {cmp}", file=sys.stderr)
        return 3
    return 0

if __name__ == "__main__":
    sys.exit(main())
