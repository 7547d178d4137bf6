#!/usr/bin/env bash
# The server under HTTP load: do the cameras keep their detection rate while an API route is hammered?
#
#   bench/serve-load.sh [CONFIG] [SECONDS]      (defaults: configs/demo.yaml, 20)
#   ROUTE=/api/cameras THREADS=2 CONNECTIONS=16 bench/serve-load.sh
#
# Starts `ephemera serve` on a free loopback port (the CLI must be built: ./ephemera build), lets
# the cameras warm up, measures each camera's detections per second for SECONDS without load, then
# for SECONDS while wrk (Debian's wrk) sends ROUTE with the session key, and prints one JSON object:
# per-camera rates in both phases and their ratio, wrk's requests/s and latency percentiles.
# Not a unit test: on a shared two-core machine the figure says as much about the neighbours as
# about the server; rerun it on an idle machine for a number to quote.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
CONFIG=${1:-$ROOT/configs/demo.yaml}
SECS=${2:-20}
ROUTE=${ROUTE:-/api/records?class=Count&limit=100}
THREADS=${THREADS:-2}
CONNECTIONS=${CONNECTIONS:-16}
WARMUP=${WARMUP:-15}
CLI="$ROOT/src/Ephemera.Cli/bin/Release/net10.0/Ephemera.Cli.dll"
[ -f "$CLI" ] || { echo "serve-load: $CLI is missing: run ./ephemera build first" >&2; exit 2; }
command -v wrk >/dev/null || { echo "serve-load: wrk is missing (apt-get install wrk)" >&2; exit 2; }

PORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
BASE="http://127.0.0.1:$PORT"
LOG=$(mktemp); WRKOUT=$(mktemp)
dotnet "$CLI" serve --config "$CONFIG" --urls "$BASE" >/dev/null 2>"$LOG" &
PID=$!
cleanup() { kill "$PID" 2>/dev/null && wait "$PID" 2>/dev/null; rm -f "$LOG" "$WRKOUT"; }
trap cleanup EXIT

KEY=""
for _ in $(seq 120); do
  KEY=$(grep -o '#key=[0-9a-f]*' "$LOG" | head -1 | cut -d= -f2 || true)
  [ -n "$KEY" ] && break
  kill -0 "$PID" 2>/dev/null || { cat "$LOG" >&2; echo "serve-load: serve exited" >&2; exit 1; }
  sleep 1
done
[ -n "$KEY" ] || { echo "serve-load: no session key printed (does the config name server.keys? this script needs none)" >&2; exit 1; }

# Detections so far per camera, as JSON {id: detections}.
detections() {
  curl -sf -H "Authorization: Bearer $KEY" "$BASE/api/cameras" |
    python3 -c 'import json,sys; print(json.dumps({c["id"]: c["ledger"]["detections"] for c in json.load(sys.stdin)["cameras"] if c["state"] == "running"}))'
}

echo "serve-load: serving on $BASE; warming up ${WARMUP}s" >&2
sleep "$WARMUP"
D0=$(detections); T0=$(date +%s.%N)
echo "serve-load: baseline ${SECS}s without load" >&2
sleep "$SECS"
D1=$(detections); T1=$(date +%s.%N)
echo "serve-load: ${SECS}s of wrk -t$THREADS -c$CONNECTIONS on $ROUTE" >&2
wrk -t"$THREADS" -c"$CONNECTIONS" -d"${SECS}s" --latency -H "Authorization: Bearer $KEY" "$BASE$ROUTE" >"$WRKOUT"
D2=$(detections); T2=$(date +%s.%N)
CODES=$(curl -s -o /dev/null -w '%{http_code}' -H "Authorization: Bearer $KEY" "$BASE$ROUTE")

python3 - "$D0" "$D1" "$D2" "$T0" "$T1" "$T2" "$WRKOUT" "$ROUTE" "$THREADS" "$CONNECTIONS" "$CODES" "$(nproc)" <<'EOF'
import json, re, sys
d0, d1, d2 = (json.loads(x) for x in sys.argv[1:4])
t0, t1, t2 = (float(x) for x in sys.argv[4:7])
wrk = open(sys.argv[7]).read()
def ms(v, unit): return float(v) * {"us": 1e-3, "ms": 1.0, "s": 1e3}[unit]
lat = {p: ms(v, u) for p, v, u in re.findall(r"^\s+(50|75|90|99)%\s+([\d.]+)(us|ms|s)\s*$", wrk, re.M)}
rps = re.search(r"Requests/sec:\s+([\d.]+)", wrk)
non2xx = re.search(r"Non-2xx or 3xx responses:\s+(\d+)", wrk)
cams = {}
for cam in sorted(set(d0) & set(d1) & set(d2)):
    base = (d1[cam] - d0[cam]) / (t1 - t0); load = (d2[cam] - d1[cam]) / (t2 - t1)
    cams[cam] = {"baseline_per_s": round(base, 3), "under_load_per_s": round(load, 3), "ratio": round(load / base, 4) if base else None}
ratios = [c["ratio"] for c in cams.values() if c["ratio"] is not None]
# All cameras together: per-camera ratios over 20 s carry a few percent of noise on a shared machine.
base_all = sum(c["baseline_per_s"] for c in cams.values()); load_all = sum(c["under_load_per_s"] for c in cams.values())
print(json.dumps({
    "route": sys.argv[8], "wrk_threads": int(sys.argv[9]), "wrk_connections": int(sys.argv[10]), "route_status": int(sys.argv[11]), "cores": int(sys.argv[12]),
    "requests_per_s": float(rps.group(1)) if rps else None, "latency_ms": {f"p{k}": round(v, 3) for k, v in sorted(lat.items())},
    "non_2xx": int(non2xx.group(1)) if non2xx else 0,
    "detections_per_s_all": {"baseline": round(base_all, 3), "under_load": round(load_all, 3)},
    "detection_rate_ratio_all": round(load_all / base_all, 4) if base_all else None,
    "detection_rate_ratio_min": min(ratios) if ratios else None, "every_camera_within_5_percent": bool(ratios) and min(ratios) >= 0.95,
    "cameras": cams,
}))
EOF
