#!/usr/bin/env bash
# Random-seed conformance sweep (issue 14): quick-profile runs with fresh random seeds — by default 40 of
# the reference and 8 each of wasm-simd and onnxruntime-cpu — to find seed-dependent failures that the
# fixed seed of `npm test` cannot. Not part of `npm test` (minutes of CPU). Every failing run keeps its
# console report (with the replay command of each failure) under OUT/.
#
#   bash bench/seed-sweep.sh [OUT]          (default OUT: tmp/seed-sweep)
#   REFERENCE_RUNS=40 BACKEND_RUNS=8 BACKENDS="wasm-simd onnxruntime-cpu" bash bench/seed-sweep.sh
#
# Exit code 0 when every run passed, 1 when one failed. Seeds come from /dev/urandom (unsigned 32-bit).
set -u
cd "$(dirname "$0")/.."
OUT=${1:-tmp/seed-sweep}
REFERENCE_RUNS=${REFERENCE_RUNS:-40}
BACKEND_RUNS=${BACKEND_RUNS:-8}
BACKENDS=${BACKENDS:-"wasm-simd onnxruntime-cpu"}
mkdir -p "$OUT"
summary="$OUT/summary.txt"
: > "$summary"
failed=0

sweep() { # backend runs
  local backend=$1 runs=$2 pass=0 i seed code log
  for ((i = 1; i <= runs; i++)); do
    seed=$(od -An -N4 -tu4 /dev/urandom | tr -d ' ')
    log="$OUT/$backend-$seed.txt"
    node bin/diffspec.mjs conformance --backend "$backend" --profile quick --seed "$seed" > "$log" 2>&1
    code=$?
    if [ "$code" -eq 0 ]; then
      pass=$((pass + 1))
      rm -f "$log"
    else
      failed=1
      echo "$backend seed $seed: exit $code, $(tail -n 1 "$log") (see $log)" | tee -a "$summary"
    fi
  done
  echo "$backend: $pass/$runs runs passed" | tee -a "$summary"
}

sweep reference "$REFERENCE_RUNS"
for b in $BACKENDS; do sweep "$b" "$BACKEND_RUNS"; done
exit "$failed"
