#!/usr/bin/env bash
# How a live pass's cost grows with the tree: a worker idle in the Changelog Crawl over a tree
# of N empty files (1,000 per directory) sees one file rewritten, ten times; the worker's own
# time for each of those incremental passes (worker.log, took_ms) is reported, median and
# max, for each tree size and each binary given -- side by side in one run.
#
#   bash bench/live_pass_scale.sh [GEOREP_BINARY...]   (default build/release/src/georep; root)
#   GEOREP_BENCH_SIZES="20000 200000 1000000" (default)   GEOREP_BENCH_DIR=/var/tmp/georep-scale
set -euo pipefail
cd "$(dirname "$0")/.."
source bench/lib.sh
bench_binaries "$@"
work=${GEOREP_BENCH_DIR:-/var/tmp/georep-scale}
sizes=${GEOREP_BENCH_SIZES:-20000 200000 1000000}
rm -rf "$work"
mkdir -p "$work"
trap 'rm -rf "$work"' EXIT

for n in $sizes; do
  rm -rf "$work/src"
  python3 - "$work/src" "$n" <<'PY'
import os, sys
root, n = sys.argv[1], int(sys.argv[2])
for i in range(n):
    d = f"{root}/d{i // 1000}"
    if i % 1000 == 0:
        os.makedirs(d)
    open(f"{d}/f{i}", "w").close()
PY
  for georep in "${binaries[@]}"; do
    w=$work/run
    rm -rf "$w"
    mkdir -p "$w"
    "$georep" worker --once --source "$work/src" --destination "$w/dst" --state-dir "$w/state" \
      >/dev/null
    "$georep" worker --source "$work/src" --destination "$w/dst" --state-dir "$w/state" \
      --log-level debug >/dev/null 2>&1 &
    pid=$!
    for _ in $(seq 1 600); do
      grep -q '"crawl": *"Changelog Crawl"' "$w/state/status.json" 2>/dev/null && break
      sleep 0.1
    done
    for i in $(seq 1 10); do
      echo "change $i" >"$work/src/d0/f0"
      sleep 1
    done
    kill "$pid"
    wait "$pid" 2>/dev/null || true
    # The incremental passes (the first full one aside): their took_ms, sorted.
    grep 'msg=pass full=false' "$w/state/worker.log" | sed 's/.*took_ms=\([0-9]*\).*/\1/' |
      sort -n >"$w/took"
    count=$(wc -l <"$w/took")
    [ "$count" -gt 0 ] || { echo "no incremental pass in $w/state/worker.log" >&2; exit 1; }
    median=$(sed -n "$(((count + 1) / 2))p" "$w/took")
    printf '%-9s files  %-40s passes %2d  median %5d ms  max %5d ms\n' "$n" "$georep" "$count" \
      "$median" "$(tail -1 "$w/took")"
  done
done
