#!/usr/bin/env bash
# The HTTP front against hostile clients, side by side for each georep binary given (default:
# a fresh release build): an authenticated client's GET /api/v1/sessions latency (p50/p99/max)
# with 1,000 slow-header connections open; GET /api/v1/me's latency while 24 clients post
# logins for unknown users; and the engine's memory when a client sends a 1 GiB
# chunked login body. Prints one JSON line per binary and test.
#   bash bench/http_front_bench.sh [GEOREP_BINARY...]
set -euo pipefail
cd "$(dirname "$0")/.."
source bench/lib.sh
bench_binaries "$@"
slow=${GEOREP_BENCH_SLOW:-1000}
body=${GEOREP_BENCH_BODY:-$((1 << 30))}

for bin in "${binaries[@]}"; do
  work=$(mktemp -d /tmp/georep-http-bench.XXXXXX)
  "$bin" serve --data "$work/data" --listen 127.0.0.1:0 --monitor-interval 0 \
    >"$work/out" 2>"$work/err" &
  pid=$!
  for _ in $(seq 1 300); do
    grep -q "listening on" "$work/out" 2>/dev/null && break
    kill -0 "$pid" 2>/dev/null || { cat "$work/err" >&2; exit 1; }
    sleep 0.1
  done
  port=$(sed -n 's/.*listening on http:\/\/127.0.0.1:\([0-9]*\).*/\1/p' "$work/out")
  password=$(sed -n 's/^  password: //p' "$work/out")
  token=$(curl -s -H 'Content-Type: application/json' \
    -d "{\"username\":\"admin\",\"password\":\"$password\"}" \
    "http://127.0.0.1:$port/api/v1/auth/login" | python3 -c 'import json,sys; print(json.load(sys.stdin)["token"])')
  echo "{\"binary\": \"$bin\", \"test\": \"slow\", \"result\": $(python3 bench/http_front.py slow "$port" "$token" "$slow")}"
  echo "{\"binary\": \"$bin\", \"test\": \"login-flood\", \"result\": $(python3 bench/http_front.py flood "$port" "$token" 20)}"
  echo "{\"binary\": \"$bin\", \"test\": \"chunked\", \"result\": $(python3 bench/http_front.py chunk "$port" "$pid" "$body")}"
  kill "$pid"
  wait "$pid" || true
  rm -rf "$work"
done
