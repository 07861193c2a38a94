#!/usr/bin/env bash
# The main job: installs what is needed, builds georep, starts the engine (`georep serve`)
# with an embedded SQLite database, and sets up a live demo: two directory volumes on this
# machine, a started session between them (georep's own replication engine), and a small
# writer that keeps changing files in the source, so status, lag and verify have something
# to show. Prints the URL and, on first start, the administrator's credentials. Ctrl-C stops
# it (and the writer).
#
#   GEOREP_DATA    data directory        (default /var/lib/georep)
#   GEOREP_LISTEN  HOST:PORT to listen on (default 127.0.0.1:8470)
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD
data=${GEOREP_DATA:-/var/lib/georep}
listen=${GEOREP_LISTEN:-127.0.0.1:8470}

bash scripts/install-deps.sh
echo "== building the web console"
bash scripts/build-web.sh
echo "== building georep (release)"
bash scripts/build.sh release >/dev/null
georep="$root/build/release/src/georep"
ln -sf "$georep" /usr/local/bin/georep 2>/dev/null || true

out=$(mktemp)
"$georep" serve --data "$data" --listen "$listen" --monitor-interval 2 \
  --volume-root /srv/georep-demo >"$out" &
pid=$!
writer=""
trap 'kill -TERM $pid $writer 2>/dev/null; wait $pid 2>/dev/null; rm -f "$out"' EXIT INT TERM

for _ in $(seq 1 100); do
  grep -q "listening on" "$out" && break
  kill -0 $pid 2>/dev/null || { cat "$out"; echo "georep serve failed to start" >&2; exit 1; }
  sleep 0.1
done
cat "$out"
url=$(sed -n 's/.*listening on //p' "$out")
password=$(sed -n 's/^  password: //p' "$out")

if [ -n "$password" ]; then
  # First start: log the CLI in (token saved 0600 in ~/.config/georep) and create the demo.
  printf '%s\n' "$password" | "$georep" login --server "$url" --user admin --password-stdin
  mkdir -p /srv/georep-demo/source /srv/georep-demo/replica
  "$georep" cluster create demo --description "directory volumes on this machine" >/dev/null
  host=$("$georep" --json host add demo localhost --transport local | sed -n 's/^  "id": "\(.*\)".*/\1/p')
  vol=$("$georep" --json volume add demo source --host "$host" --path /srv/georep-demo/source \
        | sed -n 's/^  "id": "\(.*\)".*/\1/p')
  dest=$("$georep" --json destination create demo localhost --local --source-host "$host" \
         | sed -n 's/^  "id": "\(.*\)".*/\1/p')
  session=$("$georep" --json session create --destination "$dest" --volume "$vol" \
    --remote-volume /srv/georep-demo/replica | sed -n 's/^  "id": "\(.*\)".*/\1/p')
  "$georep" session start "$session" >/dev/null
  echo "Demo: cluster 'demo', session $session:"
  echo "      /srv/georep-demo/source -> localhost::/srv/georep-demo/replica (started)"
else
  echo "(The admin password was shown at first start. Forgot it? georep admin reset-password --data $data)"
fi

# The demo's writer: every 2 s it rewrites one of 50 small files in the source (bounded:
# 50 files of at most 64 KiB), while the engine runs.
(
  i=0
  while kill -0 $pid 2>/dev/null; do
    mkdir -p /srv/georep-demo/source/notes
    head -c $((RANDOM % 65536)) /dev/urandom >"/srv/georep-demo/source/notes/note-$((i % 50)).bin"
    date -u +%FT%TZ >/srv/georep-demo/source/last-write.txt
    i=$((i + 1))
    sleep 2
  done
) &
writer=$!
cat <<TXT

Open the web console: $url/ (user admin), or try:
  georep session list
  georep session status <ID>       (lag, throughput, last synced)
  georep verify <ID>               (compares source and replica, content included)
  georep config <ID>
  georep event list
  curl -s $url/api/v1/health

The engine is running; Ctrl-C stops it.
TXT
wait $pid
