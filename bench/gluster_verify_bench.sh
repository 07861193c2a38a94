#!/usr/bin/env bash
# Times `georep verify` of a gluster session on the real GlusterFS lab (tests/gluster/cluster.sh:
# source gv0, replica 2 on src1+src2; destination gv1 on dst1): N small files (default 10,000
# of 1-4 KiB in 100 directories) made identical on both volumes through their mounts -- only
# verify is timed, so they are not replicated --, then `georep verify` full and with
# `--sample 10`, each RUNS times (each run mounts both volumes on their nodes afresh).
# Every verify must say "identical". As root; the lab's lock is held throughout.
#
#   bash bench/gluster_verify_bench.sh [GEOREP_BINARY]      (default: a fresh release build)
#   GEOREP_BENCH_FILES=N GEOREP_BENCH_RUNS=R ...
set -Eeuo pipefail
cd "$(dirname "$0")/.."
root=$PWD
# shellcheck source=bench/lib.sh
source bench/lib.sh
bench_binaries "$@"
georep=${binaries[0]}
files=${GEOREP_BENCH_FILES:-10000}
runs=${GEOREP_BENCH_RUNS:-3}
state=/var/tmp/grgc

exec 9>/var/tmp/georep-lab.lock
flock 9
work=$(mktemp -d /var/tmp/georep-verify-bench.XXXXXX)
serve=""
cleanup() {
  [ -n "$serve" ] && kill -TERM "$serve" 2>/dev/null && wait "$serve" 2>/dev/null
  bash "$root/tests/gluster/cluster.sh" down "$state" >/dev/null 2>&1 || true
  rm -rf "$work"
}
trap cleanup EXIT

on() {  # on NODE COMMAND...: in the lab node's namespaces
  local node=$1
  shift
  nsenter --net="/run/netns/$node" --mount="$state/$node/mnt.ns" -- "$@"
}

export GEOREP_CONFIG_DIR=$work/cli
"$georep" serve --data "$work/engine" --listen 127.0.0.1:0 --log-level warning \
  >"$work/serve.out" 2>"$work/serve.log" &
serve=$!
for _ in $(seq 1 100); do
  grep -q "listening on" "$work/serve.out" && break
  sleep 0.1
done
url=$(sed -n 's/.*listening on //p' "$work/serve.out")
sed -n 's/^  password: //p' "$work/serve.out" |
  "$georep" login --server "$url" --user admin --password-stdin >/dev/null
"$georep" engine ssh-key | grep '^ssh-' >"$work/engine.pub"
bash tests/gluster/cluster.sh up "$state" "$work/engine.pub" >/dev/null
fingerprint() { awk -v n="$1" '$1 == n { print $3 }' "$state/nodes"; }

# json FILE EXPRESSION: EXPRESSION (Python, over the document `j`) of the JSON in FILE.
json() { python3 -c 'import json, sys; j = json.load(open(sys.argv[1])); print(eval(sys.argv[2]))' "$@"; }
id() { python3 -c 'import json, sys; print(json.load(sys.stdin)["id"])'; }
"$georep" --json cluster import src 10.77.0.1 --fingerprint "$(fingerprint src1)" >"$work/import.json"
src1=$(json "$work/import.json" '[h["id"] for h in j["hosts"] if h["address"] == "10.77.0.1"][0]')
volume=$(json "$work/import.json" 'j["volumes"][0]["id"]')
dest=$("$georep" --json destination create src 10.77.0.11 --source-host "$src1" \
  --fingerprint "$(fingerprint dst1)" --copy-keys | id)

# The same tree on both volumes, written once on a scratch directory and copied in with its
# times; then the session (forced: its destination is not empty), never started.
tree=$work/tree
python3 - "$tree" "$files" <<'PY'
import os, random, sys
root, n = sys.argv[1], int(sys.argv[2])
rnd = random.Random(7)
for i in range(n):
    d = os.path.join(root, f"d{i % 100:03d}")
    os.makedirs(d, exist_ok=True)
    p = os.path.join(d, f"f{i:06d}")
    with open(p, "wb") as f:
        f.write(rnd.randbytes(rnd.randint(1024, 4096)))
    os.utime(p, (1577934245, 1577934245))
PY
for side in src1:gv0 dst1:gv1; do
  node=${side%%:*} vol=${side##*:}
  on "$node" mkdir -p "/mnt/bench-$vol"
  on "$node" mount -t glusterfs "localhost:/$vol" "/mnt/bench-$vol"
  on "$node" cp -a "$tree/." "/mnt/bench-$vol/"
  on "$node" umount "/mnt/bench-$vol"
done
session=$("$georep" --json session create --destination "$dest" --volume "$volume" \
  --remote-volume gv1 --force --sync-method tarssh | id)

printf '%-12s %5s %10s %16s\n' verify run seconds "files hashed"
for sample in 100 10; do
  for run in $(seq 1 "$runs"); do
    start=$(date +%s%N)
    "$georep" --json verify "$session" --sample "$sample" >"$work/report.json"
    ms=$((($(date +%s%N) - start) / 1000000))
    [ "$(json "$work/report.json" 'j["identical"]')" = True ] || { cat "$work/report.json"; exit 1; }
    printf '%-12s %5s %6d.%02d %16s\n' "$([ "$sample" = 100 ] && echo full || echo "sample $sample%")" \
      "$run" $((ms / 1000)) $((ms % 1000 / 10)) "$(json "$work/report.json" 'j["content_checked"]')"
  done
done
