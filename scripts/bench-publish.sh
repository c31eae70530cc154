#!/usr/bin/env bash
# Runs the full benchmark suites on this machine and refreshes the published
# charts, for docs/benchmarks.md:
#   1. npm run bench                       (JS: single, workers, churn)
#   2. npm run bench:native                (every native workload, false sharing)
#   3. threadmap-bench --cachegrind         on 1M int keys, 95% reads, uniform,
#      with a 32 MiB 16-way LL cache       (this VM's cpuid reports a 512 MiB L3)
#   4. node bench/js/charts.mjs            SVGs of 1 and 2 into docs/benchmarks/
# Every output, with the console logs, stays in bench/results/publish-<date>/;
# the figures quoted in docs/benchmarks.md come from there. Takes ~15 minutes.
#   --peers   install the native peers (tbb, libcuckoo) first
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
cd "$root"
stamp="$(date -u +%Y%m%dT%H%M%SZ)"
out="bench/results/publish-$stamp"
mkdir -p "$out"
extra=()
[[ ${1:-} == --peers ]] && extra=(--install-peers)

echo "bench-publish: load average $(cut -d' ' -f1-3 /proc/loadavg); results in $out"
npm run bench -- --out="$out" --json="$out/js.json" 2>"$out/js.progress" | tee "$out/js.txt"
bash scripts/bench-native.sh "${extra[@]}" --json="$out/native.json" 2>"$out/native.progress" | tee "$out/native.txt"
bash scripts/bench-native.sh --cachegrind --sizes=1M --keys=int --reads=95 --dist=uniform --threads=1 \
  --rounds=1 --duration-ms=50 --no-false-sharing --cg-ops=200000 --cg-ll=33554432,16,64 \
  --json="$out/cachegrind.json" 2>"$out/cachegrind.progress" | tee "$out/cachegrind.txt"
node bench/js/charts.mjs --js="$out/js.json" --native="$out/native.json" --out=docs/benchmarks
echo "bench-publish: done; load average $(cut -d' ' -f1-3 /proc/loadavg); results in $out"
