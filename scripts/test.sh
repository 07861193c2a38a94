#!/usr/bin/env bash
# The whole test suite, as CI runs it: installs dependencies, checks formatting, builds with
# AddressSanitizer + UndefinedBehaviorSanitizer and -Werror, and runs every test with CTest
# (unit tests, the store conformance suite on SQLite and on a throw-away PostgreSQL server,
# the integration tests that start the real engine, and the web console's end-to-end tests in
# Debian's chromium), then runs every fuzz target for 15 s (clang's libFuzzer, build/fuzz).
#
#   bash scripts/test.sh --quick   the inner loop: the unit and store tiers only (CTest labels
#                                  `unit`, `store`), built without sanitizers (preset dev)
set -euo pipefail
cd "$(dirname "$0")/.."

if [ "${1:-}" = --quick ]; then
  bash scripts/install-deps.sh
  if [ ! -f build/dev/build.ninja ]; then cmake --preset dev >/dev/null; fi
  mapfile -t replays < <(sed -n 's/^georep_fuzz_target(\([a-z_]*\)$/georep_\1_replay/p' fuzz/CMakeLists.txt)
  cmake --build --preset dev --target georep_unit_tests georep_store_tests "${replays[@]}"
  ctest --preset dev
  bash scripts/check-shape.sh
  exec bash scripts/tidy.sh --changed build/dev
fi

# Each phase's wall time, so a slow one shows.
phase_start=$SECONDS
phase() {
  echo "   (took $((SECONDS - phase_start)) s)"
  phase_start=$SECONDS
  echo "== $1"
}

echo "== install dependencies"
bash scripts/install-deps.sh --browser

phase "format check (clang-format) and shape limits"
mapfile -t sources < <(git ls-files '*.cc' '*.h' '*.c' 2>/dev/null || find src tests bench -name '*.cc' -o -name '*.h' -o -name '*.c')
clang-format --dry-run -Werror "${sources[@]}"
bash scripts/check-shape.sh

phase "web console (npm ci, type check, build) and its end-to-end tests' packages"
bash scripts/build-web.sh --e2e

phase "build (asan preset) and, beside it, static analysis (clang-tidy; findings are errors)"
if [ ! -f build/asan/build.ninja ]; then cmake --preset asan >/dev/null; fi
tidy_log=$(mktemp)
bash scripts/tidy.sh build/asan >"$tidy_log" 2>&1 &
tidy_pid=$!
bash scripts/build.sh asan
if ! wait "$tidy_pid"; then
  cat "$tidy_log"
  echo "clang-tidy found problems (above)" >&2
  exit 1
fi
rm -f "$tidy_log"

phase "build (release preset: the main job's binary; -O2 finds warnings -O0 does not)"
if [ ! -f build/release/build.ninja ]; then cmake --preset release >/dev/null; fi
cmake --build --preset release --target georep

phase "tests"
ctest --preset asan

phase "fuzz smoke (each libFuzzer target 15 s from its seeds; clang build in build/fuzz)"
bash scripts/fuzz.sh 15 all
phase "done in $SECONDS s"
