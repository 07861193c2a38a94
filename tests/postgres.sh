#!/usr/bin/env bash
# Starts or stops a throw-away PostgreSQL server for the tests, on a free loopback port.
#   tests/postgres.sh start STATE_DIR   -> writes STATE_DIR/url
#   tests/postgres.sh stop STATE_DIR
# The server runs as the 'postgres' system user (PostgreSQL refuses root), with its data in a
# private temporary directory, listening on 127.0.0.1 only, trust auth for that address only.
set -euo pipefail
cmd=${1:?start or stop}
state=${2:?state directory}
mkdir -p "$state"

pg_bin() {
  local d
  d=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1)
  [ -n "$d" ] || { echo "postgresql server binaries not found (apt-get install postgresql)" >&2; exit 1; }
  echo "$d"
}

case "$cmd" in
start)
  bin=$(pg_bin)
  "$0" stop "$state" >/dev/null 2>&1 || true
  data=$(mktemp -d /tmp/georep-pg.XXXXXX)
  chown postgres:postgres "$data"
  echo "$data" > "$state/datadir"
  runuser -u postgres -- "$bin/initdb" -D "$data/db" -U georep --auth=trust -E UTF8 --locale=C >"$state/initdb.log" 2>&1
  # A free loopback port: one nothing answers on.
  port=""
  for _ in $(seq 1 50); do
    candidate=$((20000 + RANDOM % 40000))
    if ! (exec 3<>"/dev/tcp/127.0.0.1/$candidate") 2>/dev/null; then port=$candidate; break; fi
  done
  [ -n "$port" ] || { echo "no free port found" >&2; exit 1; }
  cat >> "$data/db/postgresql.conf" <<CONF
listen_addresses = '127.0.0.1'
port = $port
unix_socket_directories = '$data'
fsync = off
max_connections = 50
CONF
  printf 'local all all trust\nhost all all 127.0.0.1/32 trust\n' > "$data/db/pg_hba.conf"
  runuser -u postgres -- "$bin/pg_ctl" -D "$data/db" -l "$data/server.log" -w -t 60 start >/dev/null
  runuser -u postgres -- "$bin/createdb" -h 127.0.0.1 -p "$port" -U georep georep
  echo "postgresql://georep@127.0.0.1:$port/georep" > "$state/url"
  echo "PostgreSQL ready: $(cat "$state/url")"
  ;;
stop)
  [ -f "$state/datadir" ] || exit 0
  data=$(cat "$state/datadir")
  if [ -d "$data/db" ]; then
    runuser -u postgres -- "$(pg_bin)/pg_ctl" -D "$data/db" -m immediate -w stop >/dev/null 2>&1 || true
  fi
  rm -rf "$data" "$state/datadir" "$state/url"
  ;;
*) echo "usage: $0 start|stop STATE_DIR" >&2; exit 2 ;;
esac
