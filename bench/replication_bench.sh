#!/usr/bin/env bash
# Side-by-side benchmark of georep's own replication engine against rsync and cp, in one run
# (ratios are what to compare; absolute times on a shared machine are noisy):
#   W1  20,000 files x 4 KiB in 200 directories, initial sync
#   W2  4 files x 256 MiB, initial sync
#   W3  after W1, 1 % of the files mutated (modified, created, renamed, deleted), converge
# Each is run with: georep worker --once (local path, and over ssh to a private sshd on
# 127.0.0.1), rsync -a (local, and over the same ssh), cp -a (initial syncs only). Caches are
# not dropped: every tool reads the same warm source. Max RSS from GNU time.
#
#   bash bench/replication_bench.sh [WORKDIR]      (default /var/tmp/georep-bench; root)
set -euo pipefail
cd "$(dirname "$0")/.."
work=${1:-/var/tmp/georep-bench}
bash scripts/install-deps.sh
command -v /usr/bin/time >/dev/null || { apt-get install -y time >/dev/null; }
bash scripts/build.sh release >/dev/null
georep=$PWD/build/release/src/georep

kill "$(cat "$work/sshd/pid")" 2>/dev/null || true
rm -rf "$work"
mkdir -p "$work"/{src1,src2,keys,sshd}
ssh-keygen -q -t ed25519 -N "" -f "$work/keys/id"
ssh-keygen -q -t ed25519 -N "" -f "$work/sshd/host"
cp "$work/keys/id.pub" "$work/sshd/authorized_keys"
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
/usr/sbin/sshd -f /dev/null -o ListenAddress=127.0.0.1 -o Port="$port" \
  -o HostKey="$work/sshd/host" -o AuthorizedKeysFile="$work/sshd/authorized_keys" \
  -o PidFile="$work/sshd/pid" -o StrictModes=no -o UsePAM=no -o PermitRootLogin=yes
trap 'kill "$(cat "$work/sshd/pid" 2>/dev/null)" 2>/dev/null || true' EXIT
ssh_cmd="ssh -i $work/keys/id -o StrictHostKeyChecking=no -o UserKnownHostsFile=/dev/null -o LogLevel=error"
for _ in $(seq 1 50); do $ssh_cmd -p "$port" root@127.0.0.1 true 2>/dev/null && break; sleep 0.1; done

echo "== making the workloads in $work"
python3 - "$work" <<'PY'
import os, sys
work = sys.argv[1]
block = os.urandom(4096)
for d in range(200):
    p = f"{work}/src1/d{d:03}"
    os.makedirs(p)
    for f in range(100):
        with open(f"{p}/f{f:03}", "wb") as out:
            out.write(block[: (d * 100 + f) % 4096] + block[(d * 100 + f) % 4096 :])
for i in range(4):
    with open(f"{work}/src2/big{i}", "wb") as out:
        for _ in range(256):
            out.write(os.urandom(1 << 20))
PY

results=()
run() {  # run NAME COMMAND...: wall seconds and max RSS of one command
  local name=$1
  shift
  local start end rss secs
  start=$(date +%s%N)
  /usr/bin/time -f "%M" -o "$work/rss" "$@" >/dev/null 2>"$work/err" || {
    echo "$name failed:" >&2
    cat "$work/err" >&2
    exit 1
  }
  end=$(date +%s%N)
  rss=$(tail -1 "$work/rss")
  secs=$(printf '%d.%03d' $(((end - start) / 1000000000)) $((((end - start) / 1000000) % 1000)))
  results+=("$name $secs $rss")
  printf '  %-34s %8s s  %7d KiB max RSS\n' "$name" "$secs" "$rss"
}
# georep's worker, one full pass; local, or through the private sshd.
ssh_args=(--ssh-command "$ssh_cmd" --ssh-port "$port" --remote-command "$georep agent")

for w in 1 2; do
  src=$work/src$w
  echo "== W$w initial sync ($(du -sh "$src" | cut -f1), $(find "$src" -type f | wc -l) files)"
  run "W$w georep (local)" "$georep" worker --once --source "$src" \
    --destination "$work/w$w-georep" --state-dir "$work/w$w-state"
  run "W$w georep (ssh)" "$georep" worker --once --source "$src" \
    --destination "root@127.0.0.1::$work/w$w-georep-ssh" --state-dir "$work/w$w-state-ssh" \
    "${ssh_args[@]}"
  run "W$w rsync -a (local)" rsync -a "$src/" "$work/w$w-rsync/"
  run "W$w rsync -a (ssh)" rsync -a -e "$ssh_cmd -p $port" "$src/" "root@127.0.0.1:$work/w$w-rsync-ssh/"
  run "W$w cp -a" cp -a "$src" "$work/w$w-cp"
done

echo "== W3: mutate 1 % of W1 (200 modified, 50 created, 50 renamed, 50 deleted), converge"
python3 - "$work/src1" <<'PY'
import os, random, sys
root = sys.argv[1]
rng = random.Random(3)
files = sorted(os.path.join(d, f) for d, _, fs in os.walk(root) for f in fs)
picked = rng.sample(files, 350)
for p in picked[:200]:
    with open(p, "r+b") as f:
        f.seek(rng.randrange(4096)); f.write(os.urandom(64))
for i, p in enumerate(picked[200:250]):
    os.rename(p, p + f".renamed{i}")
for p in picked[250:300]:
    os.remove(p)
for i in range(50):
    with open(os.path.join(root, f"d{i:03}", f"new{i}"), "wb") as f:
        f.write(os.urandom(4096))
PY
run "W3 georep (local)" "$georep" worker --once --source "$work/src1" \
  --destination "$work/w1-georep" --state-dir "$work/w1-state"
run "W3 georep (ssh)" "$georep" worker --once --source "$work/src1" \
  --destination "root@127.0.0.1::$work/w1-georep-ssh" --state-dir "$work/w1-state-ssh" \
  "${ssh_args[@]}"
run "W3 rsync -a --delete (local)" rsync -a --delete "$work/src1/" "$work/w1-rsync/"
run "W3 rsync -a --delete (ssh)" rsync -a --delete -e "$ssh_cmd -p $port" "$work/src1/" \
  "root@127.0.0.1:$work/w1-rsync-ssh/"

echo "== results are identical trees:"
for d in w1-georep w1-georep-ssh w1-rsync w1-rsync-ssh; do
  diff -r "$work/src1" "$work/$d" >/dev/null && echo "  $d: identical" || echo "  $d: DIFFERS"
done
diff -r "$work/src2" "$work/w2-georep" >/dev/null && echo "  w2-georep: identical"

echo "== ratios (rsync time / georep time; > 1: georep faster)"
python3 - "${results[@]}" <<'PY'
import sys
rows = {}
for r in sys.argv[1:]:
    parts = r.rsplit(" ", 2)
    rows[parts[0]] = float(parts[1])
for w in ("W1", "W2", "W3"):
    for where in ("local", "ssh"):
        g = rows.get(f"{w} georep ({where})")
        r = rows.get(f"{w} rsync -a ({where})") or rows.get(f"{w} rsync -a --delete ({where})")
        if g and r:
            print(f"  {w} {where:5}: rsync/georep = {r / g:5.2f}")
    c = rows.get(f"{w} cp -a")
    g = rows.get(f"{w} georep (local)")
    if c and g:
        print(f"  {w} local: cp/georep    = {c / g:5.2f}")
PY
kill "$(cat "$work/sshd/pid")" 2>/dev/null || true
rm -rf "$work"
