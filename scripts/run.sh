#!/usr/bin/env bash
# The main job: installs what is needed, builds georep, starts the engine (`georep serve`)
# with an embedded SQLite database, and sets up a demo so there is something to look at.
# Prints the URL and, on first start, the administrator's credentials. Ctrl-C stops it.
#
#   GEOREP_DATA    data directory        (default /var/lib/georep)
#   GEOREP_LISTEN  HOST:PORT to listen on (default 127.0.0.1:8470)
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD
data=${GEOREP_DATA:-/var/lib/georep}
listen=${GEOREP_LISTEN:-127.0.0.1:8470}

bash scripts/install-deps.sh
echo "== building georep (release)"
bash scripts/build.sh release >/dev/null
georep="$root/build/release/src/georep"
ln -sf "$georep" /usr/local/bin/georep 2>/dev/null || true

out=$(mktemp)
"$georep" serve --data "$data" --listen "$listen" >"$out" &
pid=$!
trap 'kill -TERM $pid 2>/dev/null; wait $pid 2>/dev/null; rm -f "$out"' EXIT INT TERM

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
  "$georep" session create --destination "$dest" --volume "$vol" \
    --remote-volume /srv/georep-demo/replica >/dev/null
  echo "Demo: cluster 'demo' with a session /srv/georep-demo/source -> localhost::/srv/georep-demo/replica"
else
  echo "(The admin password was shown at first start. Forgot it? georep admin reset-password --data $data)"
fi
cat <<TXT

Try:
  georep session list
  georep session status <ID>
  georep config <ID>
  georep event list
  curl -s $url/api/v1/health

The engine is running; Ctrl-C stops it.
TXT
wait $pid
