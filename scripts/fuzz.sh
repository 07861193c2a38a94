#!/usr/bin/env bash
# Fuzzes a parser with libFuzzer for a bounded time (default 60 s): the gluster XML parsers
# (default), the replication wire decoder or the tree description decoder (verify over ssh).
#   bash scripts/fuzz.sh [SECONDS] [xml|wire|tree]
# Crashes are written to build/fuzz/crash-*; add them to src/gluster/testdata (xml) or
# src/replication/testdata/wire (wire) or src/replication/testdata/tree (tree) to keep them.
set -euo pipefail
cd "$(dirname "$0")/.."
seconds=${1:-60}
target=${2:-xml}
bash scripts/install-deps.sh
command -v clang++ >/dev/null || apt-get install -y -qq clang libclang-rt-14-dev >/dev/null
flags="-std=c++20 -g -O1 -fsanitize=fuzzer,address,undefined -Isrc"
if [ "$target" = wire ]; then
  mkdir -p build/fuzz/wire_corpus
  cp src/replication/testdata/wire/*.bin build/fuzz/wire_corpus/
  clang++ $flags fuzz/wire_fuzz.cc src/replication/wire.cc src/replication/content_hash.cc \
    src/base/status.cc -lxxhash -lzstd -lfmt -o build/fuzz/wire_fuzz
  cd build/fuzz
  exec ./wire_fuzz -max_total_time="$seconds" -max_len=65536 wire_corpus
fi
if [ "$target" = tree ]; then
  mkdir -p build/fuzz/tree_corpus
  cp src/replication/testdata/tree/*.bin build/fuzz/tree_corpus/
  clang++ $flags fuzz/tree_description_fuzz.cc src/replication/tree_description.cc \
    src/replication/content_hash.cc src/base/status.cc -lxxhash -lfmt -o build/fuzz/tree_fuzz
  cd build/fuzz
  exec ./tree_fuzz -max_total_time="$seconds" -max_len=65536 tree_corpus
fi
mkdir -p build/fuzz/corpus
cp src/gluster/testdata/*.xml src/gluster/testdata/*.out build/fuzz/corpus/
clang++ $flags fuzz/gluster_xml_fuzz.cc src/gluster/cli_xml.cc src/model/names.cc src/base/status.cc \
  -lpugixml -lfmt -o build/fuzz/gluster_xml_fuzz
cd build/fuzz
./gluster_xml_fuzz -max_total_time="$seconds" -max_len=65536 corpus
