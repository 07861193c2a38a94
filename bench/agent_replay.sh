#!/usr/bin/env bash
# The agent alone, with 0, 1, 2 and 4 file threads: the worker's stream for W1 (20,000 files x
# 4 KiB in 200 directories, initial sync, default durability) is recorded once, then replayed
# into `georep agent --file-threads N` with a fresh destination each time. No worker or ssh
# shares the CPUs with the agent here, as on a destination host of its own. Each round runs
# every thread count once, in rotated order, after a sync; medians of wall, user and system
# time. On a fresh ext4 in a loop image beside WORKDIR, like bench/replication_bench.sh.
#
#   bash bench/agent_replay.sh [WORKDIR]       (default /var/tmp/georep-replay; root)
#   GEOREP_BENCH_ROUNDS=5 (default)   GEOREP_BENCH_THREADS="0 1 2 4" (default)
set -euo pipefail
cd "$(dirname "$0")/.."
work=${1:-/var/tmp/georep-replay}
rounds=${GEOREP_BENCH_ROUNDS:-5}
read -r -a counts <<<"${GEOREP_BENCH_THREADS:-0 1 2 4}"
command -v /usr/bin/time >/dev/null || apt-get install -y time >/dev/null
bash scripts/build.sh release >/dev/null
georep=$PWD/build/release/src/georep

mountpoint -q "$work" && umount "$work"
rm -rf "$work" "$work.img"
mkdir -p "$work"
cleanup() {
  if mountpoint -q "$work"; then umount "$work"; fi
  rm -rf "$work" "$work.img"
}
trap cleanup EXIT
truncate -s 4G "$work.img"
mkfs.ext4 -q -F -E lazy_itable_init=0,lazy_journal_init=0 "$work.img"
mount -o loop "$work.img" "$work"

python3 bench/workloads.py w1 "$work/src"
# An "ssh" that records what the worker sends and hands it to an agent on this host.
cat >"$work/record-ssh" <<EOF
#!/bin/sh
tee "$work/w1.stream" | "$georep" agent --root "$work/recorded"
EOF
chmod +x "$work/record-ssh"
"$georep" worker --once --source "$work/src" --destination "localhost::/unused" \
  --state-dir "$work/state" --ssh-command "$work/record-ssh" >/dev/null
echo "== recorded $(stat -c %s "$work/w1.stream") bytes of W1's stream"

declare -A wall user sys
for r in $(seq 1 "$rounds"); do
  for i in "${!counts[@]}"; do
    n=${counts[$(((i + r) % ${#counts[@]}))]}
    rm -rf "$work/dst"
    mkdir "$work/dst"
    sync
    /usr/bin/time -f "%e %U %S" -o "$work/time" "$georep" agent --root "$work/dst" \
      --file-threads "$n" <"$work/w1.stream" >/dev/null
    [ "$(find "$work/dst" -type f | wc -l)" = 20000 ] || { echo "replay incomplete" >&2; exit 1; }
    read -r e u s <"$work/time"
    wall[$n]+="$e "
    user[$n]+="$u "
    sys[$n]+="$s "
    printf '  round %d  file threads %d: %ss wall, %ss user, %ss system\n' "$r" "$n" "$e" "$u" "$s"
  done
done
median() { tr ' ' '\n' | grep -v '^$' | sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
echo "== medians of $rounds rounds (seconds)"
base=$(echo "${wall[${counts[0]}]}" | median)
for n in "${counts[@]}"; do
  w=$(echo "${wall[$n]}" | median)
  printf '  file threads %d: wall %s (%.2fx of %d threads), user %s, system %s\n' "$n" "$w" \
    "$(awk -v a="$base" -v b="$w" 'BEGIN {print a / b}')" "${counts[0]}" "$(echo "${user[$n]}" | median)" \
    "$(echo "${sys[$n]}" | median)"
done
