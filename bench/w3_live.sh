#!/usr/bin/env bash
# W3 alone, for comparing builds side by side in one run: a live worker (local destination,
# default durability), idle in the Changelog Crawl over W1's tree (20,000 files x 4 KiB in 200
# directories), sees 1 % of the files change (200 modified, 50 renamed, 50 deleted, 50
# created). Timed from the first change until status.json's last-synced mark passes the last
# one, and from the last change (as a rescan is timed: it starts once the change is made);
# the worker's own pass time and the number of entries the pass looked at are read from
# worker.log and status.json. Then, each after a sync: `rsync -a --delete` of the same change
# (into its own copy of the tree, made before the change), and the destination's floor: the
# same change applied by bench/apply_floor.c (each file written to a temporary name and
# renamed over, the renames and deletes; one thread, no sync), the least any tool that keeps
# partial files from final names must do. rsync / floor is the most any tool could be faster
# than rsync's rescan on this machine. Each round runs every binary once, in rotated order;
# medians. On a fresh ext4 in a loop image (GEOREP_BENCH_HOST_FS=1: on the work directory's).
#
#   bash bench/w3_live.sh [GEOREP_BINARY...]     (default build/release/src/georep; root)
#   GEOREP_BENCH_ROUNDS=5 (default)   GEOREP_BENCH_DIR=/var/tmp/georep-w3 (default)
set -euo pipefail
cd "$(dirname "$0")/.."
source bench/lib.sh
bench_binaries "$@"
work=${GEOREP_BENCH_DIR:-/var/tmp/georep-w3}
rounds=${GEOREP_BENCH_ROUNDS:-5}
bench_fresh_fs "$work" 4G
trap 'bench_release_fs "$work"' EXIT
floor=$work/apply_floor
cc -O2 -o "$floor" bench/apply_floor.c
results=$work/results
: >"$results"

one_run() {  # one_run BINARY: prints "converge_ms after_last_ms pass_ms scanned rsync_ms floor_ms"
  local georep=$1 w=$work/run
  rm -rf "$w"
  mkdir -p "$w"
  python3 bench/workloads.py w1 "$w/src"
  "$georep" worker --once --source "$w/src" --destination "$w/dst" --state-dir "$w/state" \
    >/dev/null
  rsync -a "$w/src/" "$w/rsync/"
  rsync -a "$w/src/" "$w/floor/"
  python3 bench/workloads.py w3-plan "$w/src" >"$w/plan"
  sync
  "$georep" worker --source "$w/src" --destination "$w/dst" --state-dir "$w/state" \
    --log-level debug >/dev/null 2>&1 &
  local pid=$!
  local converge after_last
  read -r _ converge _ after_last < <(python3 bench/workloads.py w3 "$w/src" "$w/state" 2>/dev/null)
  kill "$pid"
  wait "$pid" 2>/dev/null || true
  diff -r "$w/src" "$w/dst" >/dev/null || { echo "the destination differs" >&2; exit 1; }
  local start end floor_ms
  sync
  start=$(date +%s%N)
  rsync -a --delete "$w/src/" "$w/rsync/"
  end=$(date +%s%N)
  sync
  floor_ms=$("$floor" "$w/src" "$w/floor" <"$w/plan")
  diff -r "$w/src" "$w/floor" >/dev/null || { echo "the floor's copy differs" >&2; exit 1; }
  # The passes after the first full one: their time summed, the entries they looked at.
  local pass_ms scanned
  pass_ms=$(grep "msg=pass full=false" "$w/state/worker.log" | sed 's/.*took_ms=\([0-9]*\).*/\1/' |
    awk '{s += $1} END {print s + 0}')
  scanned=$(grep "msg=pass full=false" "$w/state/worker.log" |
    sed -n 's/.*scanned=\([0-9]*\).*/\1/p' | awk '{s += $1} END {print s + 0}')
  echo "$converge $after_last $pass_ms $scanned $(((end - start) / 1000000)) $floor_ms"
}

for r in $(seq 1 "$rounds"); do
  for i in "${!binaries[@]}"; do
    b=${binaries[$(((i + r) % ${#binaries[@]}))]}
    read -r converge after_last pass_ms scanned rsync_ms floor_ms < <(one_run "$b")
    printf '  round %d  %-36s converged %5d ms (%4d after the last change)  passes %5d ms  looked at %6s entries; rsync %5d ms; floor %4d ms\n' \
      "$r" "$b" "$converge" "$after_last" "$pass_ms" "$scanned" "$rsync_ms" "$floor_ms"
    echo "$b $converge $after_last $pass_ms $rsync_ms $floor_ms" >>"$results"
  done
done
echo "== medians of $rounds rounds"
python3 - "$results" <<'PY'
import statistics, sys
rows, rsync, floor = {}, [], []
for line in open(sys.argv[1]):
    b, c, a, p, r, f = line.split()
    rows.setdefault(b, ([], [], []))
    rows[b][0].append(int(c))
    rows[b][1].append(int(a))
    rows[b][2].append(int(p))
    rsync.append(int(r))
    floor.append(int(f))
m = statistics.median
print(f"  rsync -a --delete rescan: {m(rsync):7.0f} ms")
print(f"  the destination's floor:  {m(floor):7.0f} ms (rsync/floor {m(rsync) / m(floor):4.2f}: "
      "no tool can be faster than rsync by more)")
for b, (c, a, p) in rows.items():
    print(f"  {b:36} converged {m(c):5.0f} ms (rsync/georep {m(rsync) / m(c):4.2f});"
          f" after the last change {m(a):5.0f} ms ({m(rsync) / m(a):4.2f});"
          f" passes {m(p):5.0f} ms ({m(rsync) / m(p):4.2f})")
PY
