#!/usr/bin/env bash
# Fuzzes the gluster XML parsers with libFuzzer for a bounded time (default 60 s).
#   bash scripts/fuzz.sh [SECONDS]
# Crashes are written to build/fuzz/crash-*; add them to src/gluster/testdata to keep them.
set -euo pipefail
cd "$(dirname "$0")/.."
seconds=${1:-60}
bash scripts/install-deps.sh
command -v clang++ >/dev/null || apt-get install -y -qq clang libclang-rt-14-dev >/dev/null
mkdir -p build/fuzz/corpus
cp src/gluster/testdata/*.xml src/gluster/testdata/*.out build/fuzz/corpus/
flags="-std=c++20 -g -O1 -fsanitize=fuzzer,address,undefined -Isrc"
clang++ $flags fuzz/gluster_xml_fuzz.cc src/gluster/cli_xml.cc src/model/names.cc src/base/status.cc \
  -lpugixml -lfmt -o build/fuzz/gluster_xml_fuzz
cd build/fuzz
./gluster_xml_fuzz -max_total_time="$seconds" -max_len=65536 corpus
