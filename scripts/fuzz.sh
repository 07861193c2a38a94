#!/usr/bin/env bash
# Fuzzes georep's parsers with libFuzzer for a bounded time each (default 60 s).
#   bash scripts/fuzz.sh [SECONDS] [TARGET|all]    TARGET: gluster_xml, wire, tree_description,
#                                                  http_request (fuzz/CMakeLists.txt lists them)
# Builds build/fuzz with clang (-DGEOREP_FUZZ=ON: ASan, UBSan, coverage), starts each target
# from its seed corpus, prints its executions, and exits non-zero on the first crash. Crashes
# are written to build/fuzz/crash-*: add them to the target's seed directory to keep them.
set -euo pipefail
cd "$(dirname "$0")/.."
seconds=${1:-60}
which=${2:-all}
bash scripts/install-deps.sh >/dev/null
# Debian 12's clang and its libFuzzer runtime.
command -v clang++ >/dev/null && ls /usr/lib/llvm-14/lib/clang/*/lib/linux/libclang_rt.fuzzer-x86_64.a >/dev/null 2>&1 ||
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq clang libclang-rt-14-dev >/dev/null

mapfile -t all < <(sed -n 's/^georep_fuzz_target(\([a-z_]*\)$/\1/p' fuzz/CMakeLists.txt)
if [ "$which" = all ]; then targets=("${all[@]}"); else targets=("$which"); fi

if [ ! -f build/fuzz/build.ninja ]; then
  CC=clang CXX=clang++ cmake -S . -B build/fuzz -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo \
    -DGEOREP_FUZZ=ON -DGEOREP_WERROR=OFF >/dev/null
fi
# shellcheck disable=SC2046
cmake --build build/fuzz --target $(printf 'georep_%s_fuzz ' "${targets[@]}")

cd build/fuzz
for t in "${targets[@]}"; do
  mkdir -p "corpus/$t"
  mapfile -t seeds <"fuzz/$t.seeds"
  echo "== fuzz $t for ${seconds}s"
  "./fuzz/georep_${t}_fuzz" -max_total_time="$seconds" -max_len=65536 -print_final_stats=1 \
    -artifact_prefix="$PWD/crash-$t-" "corpus/$t" "${seeds[@]}" >"fuzz-$t.log" 2>&1 || {
    tail -n 60 "fuzz-$t.log"
    echo "fuzz $t: FAILED (see build/fuzz/fuzz-$t.log and build/fuzz/crash-$t-*)"
    exit 1
  }
  execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "fuzz-$t.log")
  echo "fuzz $t: ${execs:-?} executions in ${seconds}s, corpus $(ls "corpus/$t" | wc -l) units, no crash"
done
