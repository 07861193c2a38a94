#!/usr/bin/env bash
# The web console's cold first load, side by side for each georep binary given (default: a
# fresh release build): Chromium with an empty cache on loopback and on an emulated 20 Mbit/s,
# 40 ms link (load time, time to the login form, bytes transferred, each file's coding), curl
# file by file as is and --compressed, and the console's JS raw, gzip and brotli as built.
# Prints one JSON document (tests/e2e/console-load.bench.mjs says what is in it).
#   bash bench/console_load.sh [--runs N] [GEOREP_BINARY...]
# The console is the one in web/dist (GEOREP_WEB_ROOT: another); built first if missing.
set -euo pipefail
cd "$(dirname "$0")/.."
source bench/lib.sh
runs=(--runs 5)
if [ "${1:-}" = "--runs" ]; then
  runs=(--runs "$2")
  shift 2
fi
bench_binaries "$@"
for i in "${!binaries[@]}"; do binaries[i]=$(realpath "${binaries[i]}"); done
if [ ! -f "${GEOREP_WEB_ROOT:-web/dist}/index.html" ] || [ ! -d tests/e2e/node_modules/playwright-core ]; then
  bash scripts/build-web.sh --e2e
fi
GEOREP_WEB_ROOT=$(realpath "${GEOREP_WEB_ROOT:-web/dist}")
export GEOREP_WEB_ROOT
cd tests/e2e
node console-load.bench.mjs "${runs[@]}" "${binaries[@]}"
