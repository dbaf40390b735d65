#!/usr/bin/env bash
# Signing throughput of one revision, on a fresh clone of this repository, against the
# raw PKCS#11 rate measured in the same run (docs/benchmarks.md).
#   scripts/bench_revision.sh REV NAME     (needs make venv; output under /tmp/kb/NAME)
set -e
repo=$(cd "$(dirname "$0")/.." && pwd)
rev=$1; name=$2; d=/tmp/kb/$name; rm -rf $d; mkdir -p /tmp/kb; git clone -q "$repo" $d; git -C $d checkout -q $rev; cd $d
eval "$(hsm-sim/provision.sh var/hsm)" >/dev/null
export PYTHONPATH=$d KYSO_TSA_CLOCK_CHECK=off KYSO_SERVER_WORKERS=1
$repo/.venv/bin/kyso serve --demo > serve.log 2>&1 &
pid=$!
for i in $(seq 120); do grep -q "serving gRPC" serve.log && break; sleep 1; done
export KYSO_TOKEN=$(cat var/demo-admin.token)
K=$repo/.venv/bin/kyso
for run in 1 2; do
  echo "== $name cms b64 run $run"; $K bench sign --agency 000.00.00.H13 --duration 6 --concurrency 4 --batch 64 --form cms --raw --raw-duration 3 2>&1 | tail -6
done
echo "== $name raw unary"; $K bench sign --agency 000.00.00.H13 --duration 6 --concurrency 8 --raw --raw-duration 3 2>&1 | tail -6
kill $pid; wait $pid || true
