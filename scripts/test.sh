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
  exec ctest --preset dev
fi

bash scripts/install-deps.sh --browser

echo "== format check (clang-format)"
mapfile -t sources < <(git ls-files '*.cc' '*.h' '*.c' 2>/dev/null || find src tests bench -name '*.cc' -o -name '*.h' -o -name '*.c')
clang-format --dry-run -Werror "${sources[@]}"

echo "== web console (npm ci, type check, build) and its end-to-end tests' packages"
bash scripts/build-web.sh --e2e

echo "== build (asan preset)"
bash scripts/build.sh asan

echo "== static analysis (clang-tidy with .clang-tidy; findings are errors)"
git ls-files 'src/*.cc' | grep -v '_test\.cc$' |
  xargs -P "$(nproc)" -n 1 clang-tidy -p build/asan --quiet 2>/dev/null

echo "== build (release preset: the main job's binary; -O2 finds warnings -O0 does not)"
if [ ! -f build/release/build.ninja ]; then cmake --preset release >/dev/null; fi
cmake --build --preset release --target georep

echo "== tests"
ctest --preset asan

echo "== fuzz smoke (each libFuzzer target 15 s from its seeds; clang build in build/fuzz)"
bash scripts/fuzz.sh 15 all
