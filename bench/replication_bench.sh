#!/usr/bin/env bash
# Side-by-side benchmark of georep's own replication engine against rsync and cp, in one run
# (ratios are what to compare; absolute times on a shared machine are noisy):
#   W1  20,000 files x 4 KiB in 200 directories, initial sync
#   W2  4 files x 256 MiB, initial sync
#   W3  after W1, 1 % of the files mutated (modified, created, renamed, deleted), converge:
#       live workers timed from the first change to the durable Ack of the last; rsync rescans
#   Delta: 1 MiB rewritten inside a 1 GiB file; bytes on the wire (georep and rsync over ssh)
#   Lag p50/p99 from a file written on the source to its arrival under its final name at the
#       destination, with a running worker and a writer at 1,000 files per second for 10 s
# W1 and W2 run with: georep worker --once (local path at the default durability `batch`; the
# same with --durability none, which is what rsync and cp give: no fsync; and over ssh to a
# private sshd on 127.0.0.1: at the default durability, without sync, and with --sync-jobs 3),
# rsync -a (local, and over the same ssh) and cp -a, in GEOREP_BENCH_ROUNDS rounds (3) with the
# tools' order rotated each round; medians reported.
# Caches are not dropped: every tool reads the same warm source. Max RSS from GNU time.
# Every timed run starts after a sync (not timed), so that none pays for another's writeback.
# georep's default durability puts the data on stable storage before it says synced; rsync
# and cp leave it in the page cache, so they are also timed followed by `sync -f` of the
# destination file system ("+ sync" rows): the like-for-like comparison for the default.
# Everything happens on a fresh ext4 file system (journaled, mkfs defaults) in a loop-mounted
# image beside WORKDIR, so that the host's own file system (its options, its other users'
# dirty data, inodes it freed a moment ago) does not weigh on one tool and not another; set
# GEOREP_BENCH_HOST_FS=1 to run on WORKDIR's file system instead.
#
#   bash bench/replication_bench.sh [WORKDIR]      (default /var/tmp/georep-bench; root)
set -euo pipefail
cd "$(dirname "$0")/.."
work=${1:-/var/tmp/georep-bench}
bash scripts/install-deps.sh
command -v /usr/bin/time >/dev/null || { apt-get install -y time >/dev/null; }
bash scripts/build.sh release >/dev/null
georep=$PWD/build/release/src/georep

kill "$(cat "$work/sshd/pid" 2>/dev/null)" 2>/dev/null || true
mountpoint -q "$work" && umount "$work"
rm -rf "$work" "$work.img"
mkdir -p "$work"
cleanup() {
  kill "$(cat "$work/sshd/pid" 2>/dev/null)" 2>/dev/null || true
  if mountpoint -q "$work"; then umount "$work"; fi
  rm -rf "$work" "$work.img"
}
trap cleanup EXIT
if [ "${GEOREP_BENCH_HOST_FS:-0}" != 1 ]; then
  avail=$(df -B1G --output=avail "$(dirname "$work")" | tail -1)
  [ "$avail" -ge 24 ] || { echo "need 24 GiB free beside $work (have $avail)" >&2; exit 1; }
  truncate -s 24G "$work.img"
  mkfs.ext4 -q -F -E lazy_itable_init=0,lazy_journal_init=0 "$work.img"
  mount -o loop "$work.img" "$work"
  echo "== on a fresh ext4 (loop, journaled): $(findmnt -no SOURCE,OPTIONS "$work")"
fi
mkdir -p "$work"/{src1,src2,keys,sshd}
ssh-keygen -q -t ed25519 -N "" -f "$work/keys/id"
ssh-keygen -q -t ed25519 -N "" -f "$work/sshd/host"
cp "$work/keys/id.pub" "$work/sshd/authorized_keys"
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
/usr/sbin/sshd -f /dev/null -o ListenAddress=127.0.0.1 -o Port="$port" \
  -o HostKey="$work/sshd/host" -o AuthorizedKeysFile="$work/sshd/authorized_keys" \
  -o PidFile="$work/sshd/pid" -o StrictModes=no -o UsePAM=no -o PermitRootLogin=yes
ssh_cmd="ssh -i $work/keys/id -o StrictHostKeyChecking=no -o UserKnownHostsFile=/dev/null -o LogLevel=error"
for _ in $(seq 1 50); do $ssh_cmd -p "$port" root@127.0.0.1 true 2>/dev/null && break; sleep 0.1; done

echo "== making the workloads in $work"
rmdir "$work/src1"
python3 bench/workloads.py w1 "$work/src1"
python3 - "$work" <<'PY'
import os, sys
work = sys.argv[1]
for i in range(4):
    with open(f"{work}/src2/big{i}", "wb") as out:
        for _ in range(256):
            out.write(os.urandom(1 << 20))
PY

rounds=${GEOREP_BENCH_ROUNDS:-3}
declare -A times rss_of
run() {  # run NAME COMMAND...: wall milliseconds and max RSS of one command
  local name=$1
  shift
  local start end
  sync
  start=$(date +%s%N)
  /usr/bin/time -f "%M" -o "$work/rss" "$@" >/dev/null 2>"$work/err" || {
    echo "$name failed:" >&2
    cat "$work/err" >&2
    exit 1
  }
  end=$(date +%s%N)
  times[$name]+="$(((end - start) / 1000000)) "
  rss_of[$name]=$(tail -1 "$work/rss")
  printf '  %-44s %6d ms\n' "$name" $(((end - start) / 1000000))
}
ssh_args=(--ssh-command "$ssh_cmd" --ssh-port "$port" --remote-command "$georep agent")
tools=("georep (local)" "georep durability=none (local)" "georep (ssh)"
  "georep durability=none (ssh)" "georep sync-jobs=3 (ssh)" "georep file-threads=0 (ssh)"
  "rsync -a (local)" "rsync -a (ssh)"
  "cp -a" "rsync -a + sync (local)" "rsync -a + sync (ssh)" "cp -a + sync"
  "rsync -a (ssh, AES-GCM)")
run_tool() {  # run_tool W ROUND TOOL: one initial sync of workload W into a fresh directory
  local w=$1 tool=$3 src=$work/src$1 out=$work/r$2-w$1
  case $tool in
    "georep (local)")
      run "W$w $tool" "$georep" worker --once --source "$src" --destination "$out-georep" \
        --state-dir "$out-georep.state"
      ;;
    "georep durability=none (local)")
      run "W$w $tool" "$georep" worker --once --source "$src" --destination "$out-georep-none" \
        --state-dir "$out-georep-none.state" --durability none
      ;;
    "georep (ssh)")
      run "W$w $tool" "$georep" worker --once --source "$src" \
        --destination "root@127.0.0.1::$out-georep-ssh" --state-dir "$out-georep-ssh.state" \
        "${ssh_args[@]}"
      ;;
    "georep durability=none (ssh)")
      run "W$w $tool" "$georep" worker --once --source "$src" \
        --destination "root@127.0.0.1::$out-georep-ssh-none" \
        --state-dir "$out-georep-ssh-none.state" --durability none "${ssh_args[@]}"
      ;;
    "georep sync-jobs=3 (ssh)")
      run "W$w $tool" "$georep" worker --once --source "$src" \
        --destination "root@127.0.0.1::$out-georep-ssh-jobs" \
        --state-dir "$out-georep-ssh-jobs.state" --sync-jobs 3 "${ssh_args[@]}"
      ;;
    "georep file-threads=0 (ssh)")
      # The agent as it was before it wrote small files on threads: the same binary, side by side.
      run "W$w $tool" "$georep" worker --once --source "$src" \
        --destination "root@127.0.0.1::$out-georep-ssh-ft0" \
        --state-dir "$out-georep-ssh-ft0.state" --ssh-command "$ssh_cmd" --ssh-port "$port" \
        --remote-command "$georep agent --file-threads 0"
      ;;
    "rsync -a (local)") run "W$w $tool" rsync -a "$src/" "$out-rsync/" ;;
    "rsync -a (ssh)")
      run "W$w $tool" rsync -a -e "$ssh_cmd -p $port" "$src/" "root@127.0.0.1:$out-rsync-ssh/"
      ;;
    "rsync -a (ssh, AES-GCM)")
      # The cipher georep's worker prefers on a CPU with AES instructions, for a like-for-like
      # row beside rsync's default (chacha20-poly1305).
      run "W$w $tool" rsync -a -e "$ssh_cmd -p $port -o Ciphers=aes128-gcm@openssh.com" "$src/" \
        "root@127.0.0.1:$out-rsync-ssh-gcm/"
      ;;
    "cp -a") run "W$w $tool" cp -a "$src" "$out-cp" ;;
    "rsync -a + sync (local)")
      run "W$w $tool" sh -c 'rsync -a "$1/" "$2/" && sync -f "$2"' - "$src" "$out-rsync-sync"
      ;;
    "rsync -a + sync (ssh)")
      run "W$w $tool" sh -c 'rsync -a -e "$3" "$1/" "root@127.0.0.1:$2/" && sync -f "$2"' - \
        "$src" "$out-rsync-ssh-sync" "$ssh_cmd -p $port"
      ;;
    "cp -a + sync") run "W$w $tool" sh -c 'cp -a "$1" "$2" && sync -f "$2"' - "$src" "$out-cp-sync" ;;
  esac
}
for w in 1 2; do
  echo "== W$w initial sync ($(du -sh "$work/src$w" | cut -f1), $(find "$work/src$w" -type f | wc -l) files)"
  for r in $(seq 1 "$rounds"); do
    for i in "${!tools[@]}"; do
      run_tool "$w" "$r" "${tools[$(((i + r) % ${#tools[@]}))]}"
    done
    # Only the last round's copies stay (W3 starts from them).
    if [ "$r" -lt "$rounds" ]; then
      rm -rf "$work/r$r-w$w"*
      sync
    fi
  done
done
last=$work/r$rounds-w1

echo "== W3: mutate 1 % of W1 (200 modified, 50 created, 50 renamed, 50 deleted), converge"
# georep as it runs: live workers (local and ssh, started on the W1 copies and idle in the
# Changelog Crawl) see the changes as they happen; timed from the first change until each
# worker's last-synced mark (advanced only by the destination's durable Ack) passes the last.
# Then rsync's rescans of the same change, and georep's own full rescan (--once) for reference.
"$georep" worker --source "$work/src1" --destination "$last-georep" \
  --state-dir "$last-georep.state" >/dev/null 2>&1 &
live_local=$!
"$georep" worker --source "$work/src1" --destination "root@127.0.0.1::$last-georep-ssh" \
  --state-dir "$last-georep-ssh.state" "${ssh_args[@]}" >/dev/null 2>&1 &
live_ssh=$!
python3 bench/workloads.py w3 "$work/src1" "$last-georep.state" "$last-georep-ssh.state" \
  >"$work/w3-out"
while read -r state ms scanned after; do
  name=local
  [ "$state" = "$last-georep-ssh.state" ] && name=ssh
  echo "W3 georep live ($name)|$ms|0" >>"$work/w3-live"
  echo "W3 georep live, after the last change ($name)|$after|0" >>"$work/w3-live"
  printf '  %-44s %6d ms  (%d ms after the last change; the last pass looked at %s entries of 20,201)\n' \
    "W3 georep live ($name)" "$ms" "$after" "$scanned"
done <"$work/w3-out"
kill "$live_local" "$live_ssh" 2>/dev/null || true
wait "$live_local" "$live_ssh" 2>/dev/null || true
run "W3 rsync -a --delete (local)" rsync -a --delete "$work/src1/" "$last-rsync/"
run "W3 rsync -a --delete (ssh)" rsync -a --delete -e "$ssh_cmd -p $port" "$work/src1/" \
  "root@127.0.0.1:$last-rsync-ssh/"
run "W3 georep --once rescan (local)" "$georep" worker --once --source "$work/src1" \
  --destination "$last-georep" --state-dir "$last-georep.state"

echo "== results are identical trees:"
for d in "$last-georep" "$last-georep-ssh" "$last-rsync" "$last-rsync-ssh"; do
  if diff -r "$work/src1" "$d" >/dev/null; then echo "  ${d##*/}: identical"; else echo "  ${d##*/}: DIFFERS"; fi
done
if diff -r "$work/src2" "$work/r$rounds-w2-georep" >/dev/null; then echo "  W2 georep: identical"; else echo "  W2 georep: DIFFERS"; fi
rm -rf "$work/r$rounds-w2"*  # 11 GiB the delta's 3 GiB need

echo "== Lag: a running worker; a writer creates 4 KiB files at 1,000 per second for 10 s"
mkdir -p "$work/lag-src" "$work/lag-dst"
"$georep" worker --source "$work/lag-src" --destination "$work/lag-dst" \
  --state-dir "$work/lag-state" >/dev/null 2>&1 &
lag_worker=$!
python3 - "$work" <<'PY'
import json, os, sys, time
work = sys.argv[1]
src, dst = f"{work}/lag-src", f"{work}/lag-dst"
deadline = time.time() + 60
while time.time() < deadline:  # until the worker's first pass is done
    try:
        if json.load(open(f"{work}/lag-state/status.json"))["crawl"] == "Changelog Crawl":
            break
    except (OSError, ValueError, KeyError):
        pass
    time.sleep(0.05)
block = os.urandom(4096)
written, lags = {}, []
def arrivals():  # files under their final name (renamed in only once their hash matched)
    for d in os.listdir(dst):
        if d.startswith("d"):
            for name in os.listdir(f"{dst}/{d}"):
                t = written.pop(f"{d}/{name}", None)
                if t is not None:
                    lags.append(time.time() - t)
rate, seconds, n = 1000, 10, 0
start = time.time()
while n < rate * seconds:
    due = min(int((time.time() - start) * rate) + 1, rate * seconds)
    while n < due:
        d = f"{src}/d{n % 20:02}"
        os.makedirs(d, exist_ok=True)
        with open(f"{d}/f{n}", "wb") as f:
            f.write(block)
        written[f"d{n % 20:02}/f{n}"] = time.time()
        n += 1
    arrivals()
    time.sleep(0.005)
took = time.time() - start
end = time.time() + 30
while written and time.time() < end:
    arrivals()
    time.sleep(0.005)
lags.sort()
pick = lambda q: lags[min(len(lags) - 1, int(q * len(lags)))] * 1000
print(f"  {n} files written in {took:.1f} s; {len(lags)} arrived, {len(written)} missing")
print(f"  lag p50 {pick(0.50):.0f} ms, p99 {pick(0.99):.0f} ms, max {lags[-1] * 1000:.0f} ms"
      " (the script polls the destination: its own delay is part of the figures)")
PY
kill "$lag_worker" 2>/dev/null || true
wait "$lag_worker" 2>/dev/null || true

echo "== Delta: 1 MiB rewritten inside a 1 GiB file, over ssh; bytes on the wire"
mkdir -p "$work/delta-src"
head -c $((1 << 30)) /dev/urandom >"$work/delta-src/disk.img"
"$georep" worker --once --source "$work/delta-src" --destination "root@127.0.0.1::$work/delta-georep" \
  --state-dir "$work/delta-state" "${ssh_args[@]}" >/dev/null
rsync -a -e "$ssh_cmd -p $port" "$work/delta-src/" "root@127.0.0.1:$work/delta-rsync/"
python3 - "$work/delta-src/disk.img" <<'PY'
import os, sys
with open(sys.argv[1], "r+b") as f:
    f.seek(300 * (1 << 20) + 12345)
    f.write(os.urandom(1 << 20))
PY
start=$(date +%s%N)
"$georep" worker --once --source "$work/delta-src" --destination "root@127.0.0.1::$work/delta-georep" \
  --state-dir "$work/delta-state" "${ssh_args[@]}" >/dev/null
end=$(date +%s%N)
python3 - "$work/delta-state/status.json" $(((end - start) / 1000000)) <<'PY'
import json, sys
s = json.load(open(sys.argv[1]))
print(f"  georep: {s['wire_bytes']:,} bytes to the agent ({s['wire_bytes'] / (1 << 20):.3f} MiB), "
      f"{s['delta_copied_bytes'] / (1 << 20):.1f} MiB copied at the destination, {sys.argv[2]} ms")
PY
start=$(date +%s%N)
rsync -a --stats -e "$ssh_cmd -p $port" "$work/delta-src/" "root@127.0.0.1:$work/delta-rsync/" |
  grep -E "Literal data|Total bytes sent|Total bytes received" | sed 's/^/  rsync: /'
end=$(date +%s%N)
echo "  rsync: $(((end - start) / 1000000)) ms"
cmp "$work/delta-src/disk.img" "$work/delta-georep/disk.img" && echo "  georep copy: identical"

echo "== medians of $rounds rounds, max RSS, ratios (other tool's time / georep's: > 1, georep faster)"
{
  for name in "${!times[@]}"; do echo "$name|${times[$name]}|${rss_of[$name]}"; done
  cat "$work/w3-live" 2>/dev/null || true
} | python3 -c '
import statistics, sys
rows = {}
for line in sys.stdin:
    name, ms, rss = line.rstrip("\n").split("|")
    rows[name] = (statistics.median(int(x) for x in ms.split()) / 1000, int(rss))
for name in sorted(rows):
    print(f"  {name:44} {rows[name][0]:8.3f} s  {rows[name][1]:7d} KiB max RSS")
def ratio(w, other, mine):
    a, b = rows.get(f"{w} {other}"), rows.get(f"{w} {mine}")
    if a and b:
        print(f"  {w}: {other} / {mine} = {a[0] / b[0]:5.2f}")
for w in ("W1", "W2"):
    ratio(w, "rsync -a + sync (local)", "georep (local)")
    ratio(w, "rsync -a + sync (ssh)", "georep (ssh)")
    ratio(w, "cp -a + sync", "georep (local)")
    ratio(w, "rsync -a (local)", "georep (local)")
    ratio(w, "rsync -a (local)", "georep durability=none (local)")
    ratio(w, "rsync -a (ssh)", "georep (ssh)")
    ratio(w, "rsync -a (ssh, AES-GCM)", "georep (ssh)")
    ratio(w, "rsync -a (ssh, AES-GCM)", "georep durability=none (ssh)")
    ratio(w, "rsync -a (ssh)", "georep durability=none (ssh)")
    ratio(w, "rsync -a (ssh)", "georep sync-jobs=3 (ssh)")
    ratio(w, "cp -a", "georep (local)")
    ratio(w, "cp -a", "georep durability=none (local)")
ratio("W3", "rsync -a --delete (local)", "georep live (local)")
ratio("W3", "rsync -a --delete (ssh)", "georep live (ssh)")
ratio("W3", "rsync -a --delete (local)", "georep --once rescan (local)")
ratio("W3", "rsync -a --delete (local)", "georep live, after the last change (local)")
ratio("W3", "rsync -a --delete (ssh)", "georep live, after the last change (ssh)")
'
kill "$(cat "$work/sshd/pid")" 2>/dev/null || true
