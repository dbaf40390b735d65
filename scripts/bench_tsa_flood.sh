#!/bin/bash
# Signing latency with and without a flood of RFC 3161 queries (issue 12.6).
#
# Run from a checkout whose demo is serving (`make run`: gRPC 127.0.0.1:50051, RFC 3161
# on http://127.0.0.1:8080/tsa, metrics on 127.0.0.1:9464). Needs h2load
# (apt-get install nghttp2-client). In one run:
#   1. the raw PKCS#11 RSA-2048 rate (python -m signer.keys.rawbench, one thread per core);
#   2. SignDigests capacity, unary RSA-2048, closed loop (kyso bench sign);
#   3. SignDigests paced at half that capacity (--rate), alone: p50/p99;
#   4. the same while `h2load --h1 -c FLOOD_CONNS` floods /tsa with valid queries:
#      p50/p99, plus timestamps granted and requests shed per second from /metrics,
#      and h2load's own status-code counts;
#   5. the raw rate again.
# Prints one JSON object per step.
#   usage: scripts/bench_tsa_flood.sh [SECONDS] [FLOOD_CONNS]
set -euo pipefail
dur=${1:-15}
conns=${2:-64}
py=.venv/bin/python
kyso=.venv/bin/kyso
export KYSO_TOKEN=${KYSO_TOKEN:-$(cat var/demo-admin.token)}
eval "$(hsm-sim/provision.sh var/hsm 2>/dev/null)"
metrics=${METRICS_URL:-http://127.0.0.1:9464/metrics}
tsa=${TSA_URL:-http://127.0.0.1:8080/tsa}
agency=000.00.00.H13
tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT
which h2load >/dev/null || { echo "h2load missing: apt-get install nghttp2-client" >&2; exit 1; }

sup=$(pgrep -f "^$PWD/.venv/bin/python $PWD/.venv/bin/kyso serve" | head -1)
[ -n "$sup" ] || { echo "no kyso serve from $PWD is running (make run)" >&2; exit 1; }
# CPU seconds used so far by the server (supervisor and workers), by one process, by all
ticks() { for p in "$@"; do awk '{print $14 + $15}' "/proc/$p/stat" 2>/dev/null; done | awk '{s+=$1} END {print s / 100}'; }
server_cpu() { ticks "$sup" $(pgrep -P "$sup"); }
busy_cpu() { awk '/^cpu / {print ($2 + $3 + $4 + $7 + $8 + $9) / 100}' /proc/stat; }
raw() { $py -m signer.keys.rawbench --algorithm rsa-2048 --threads 2 --duration 5 2>/dev/null | tail -1; }
# counters summed over label sets: issued tokens, and shed requests by reason
scrape() {
  curl -s "$metrics" | awk '
    /^kyso_timestamps_issued_total/ {t+=$2}
    /^kyso_tsa_http_shed_total/ {match($0, /reason="[^"]*"/); r=substr($0, RSTART+8, RLENGTH-9); s[r]+=$2}
    /^kyso_rpc_requests_total\{/ && /SignDigests/ && !/code="OK"/ {e+=$2}
    END {printf "{\"issued\": %d, \"sign_errors\": %d, \"shed\": {", t, e;
         n=0; for (k in s) {printf "%s\"%s\": %d", (n++ ? ", " : ""), k, s[k]}; print "}}"}'
}
bench() {  # bench NAME [extra kyso bench args...]
  local name=$1; shift
  local s0 b0 w0; s0=$(server_cpu); b0=$(busy_cpu); w0=$(date +%s.%N)
  $kyso bench sign --agency $agency --algorithm rsa-2048 --duration "$dur" --concurrency 16 \
    --processes 2 --json "$tmp/$name.json" "$@" >/dev/null
  local s1 b1 w1; s1=$(server_cpu); b1=$(busy_cpu); w1=$(date +%s.%N)
  $py - "$tmp/$name.json" "$name" "$s0" "$s1" "$b0" "$b1" "$w0" "$w1" <<'PY'
import json, sys
r = json.load(open(sys.argv[1]))
s0, s1, b0, b1, w0, w1 = map(float, sys.argv[3:9])
print(json.dumps({"case": sys.argv[2], "rate": r["rate"], "calls_per_s": r["throughput"],
                  "p50_ms": r["p50_ms"], "p95_ms": r["p95_ms"], "p99_ms": r["p99_ms"],
                  "max_ms": r["max_ms"], "errors": r["errors"],
                  # cores in use over the run (bench's spawn time included): server, machine
                  "server_cores": round((s1 - s0) / (w1 - w0), 2),
                  "machine_busy_cores": round((b1 - b0) / (w1 - w0), 2)}))
PY
}

echo "{\"case\": \"raw-before\", \"raw\": $(raw)}"
bench capacity
cap=$($py -c "import json; print(json.load(open('$tmp/capacity.json'))['throughput'])")
rate=$($py -c "print(round($cap / 2))")
bench "half-alone" --rate "$rate"

openssl ts -query -data README.md -sha256 -cert -out "$tmp/q.tsq" 2>/dev/null
h2load --h1 -c "$conns" -t 1 -D $((dur + 6)) -d "$tmp/q.tsq" \
  -H "content-type: application/timestamp-query" "$tsa" >"$tmp/h2load.out" 2>&1 &
flood=$!; tf=$(date +%s.%N)
sleep 2  # the flood is on before signing starts (bench waits ~1.4 s more to spawn)
m0=$(scrape); t0=$(date +%s.%N)
bench "half-flood" --rate "$rate"
m1=$(scrape); t1=$(date +%s.%N)
h2cpu=$(ticks $flood); h2wall=$($py -c "print(round($t1 - $tf, 1))")
wait $flood || true
echo "{\"case\": \"h2load-cpu\", \"cores\": $($py -c "print(round($h2cpu / $h2wall, 2))")}"
$py - "$m0" "$m1" "$t0" "$t1" <<'PY'
import json, sys
a, b = json.loads(sys.argv[1]), json.loads(sys.argv[2])
s = float(sys.argv[4]) - float(sys.argv[3])
shed = {k: round((b["shed"].get(k, 0) - a["shed"].get(k, 0)) / s, 1) for k in b["shed"]}
print(json.dumps({"case": "flood-server-side", "seconds": round(s, 1),
                  "granted_per_s": round((b["issued"] - a["issued"]) / s, 1),
                  "shed_per_s": shed, "sign_errors": b["sign_errors"] - a["sign_errors"]}))
PY
grep -E "^requests:|^status codes:|^finished in" "$tmp/h2load.out" | sed 's/^/  [h2load] /' >&2
echo "{\"case\": \"raw-after\", \"raw\": $(raw)}"
