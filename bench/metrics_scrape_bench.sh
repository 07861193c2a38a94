#!/usr/bin/env bash
# The cost of one Prometheus scrape (GET /api/v1/metrics) with many sessions, for each georep
# binary given (default: a fresh release build): the page's bytes and series, the scrape's
# latency and the engine's CPU time per scrape (bench/metrics_scrape.py). One JSON line per
# binary and case: 50 started directory sessions (each Active with its node's figures), and
# 50 created but never started.
#   bash bench/metrics_scrape_bench.sh [GEOREP_BINARY...]
set -euo pipefail
cd "$(dirname "$0")/.."
source bench/lib.sh
bench_binaries "$@"
sessions=${GEOREP_BENCH_SESSIONS:-50}
scrapes=${GEOREP_BENCH_SCRAPES:-200}

for bin in "${binaries[@]}"; do
  python3 bench/metrics_scrape.py "$bin" "$sessions" "$scrapes"
  python3 bench/metrics_scrape.py "$bin" "$sessions" "$scrapes" --stopped
done
