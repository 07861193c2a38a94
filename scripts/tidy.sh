#!/usr/bin/env bash
# clang-tidy with the repository's .clang-tidy over georep's sources (tests excluded); any
# finding is an error. Needs a configured build directory (its compile_commands.json) but not a
# built one: no header is generated, so it can run beside the build.
#
#   bash scripts/tidy.sh [BUILD_DIR]            every file (what CI runs)
#   bash scripts/tidy.sh --changed [BUILD_DIR]  only the files changed since the merge base with
#                                               main, committed or not (the inner loop)
set -euo pipefail
cd "$(dirname "$0")/.."
changed=false
if [ "${1:-}" = --changed ]; then
  changed=true
  shift
fi
build=${1:-build/asan}
if [ ! -f "$build/compile_commands.json" ]; then
  echo "tidy: $build/compile_commands.json is missing: configure a preset first" >&2
  exit 2
fi
if $changed; then
  base=$(git merge-base HEAD main 2>/dev/null || git rev-parse HEAD)
  mapfile -t files < <({ git diff --name-only "$base" -- 'src/*.cc'; git ls-files --others --exclude-standard -- 'src/*.cc'; } |
    sort -u | grep -v '_test\.cc$' | while read -r f; do [ -f "$f" ] && echo "$f"; done)
else
  mapfile -t files < <(git ls-files 'src/*.cc' | grep -v '_test\.cc$')
fi
if [ "${#files[@]}" -eq 0 ]; then
  echo "tidy: no source changed"
  exit 0
fi
echo "tidy: ${#files[@]} files"
# Each file as written, without the precompiled header the build forces in first (CMake's
# `-include .../cmake_pch.hxx`, GEOREP_PCH): clang cannot read GCC's PCH, the PCH may not be
# built yet (this runs beside the build), and a file that leans on it for an include it does
# not make itself fails here.
db=$(mktemp -d)
trap 'rm -rf "$db"' EXIT
sed -E -e 's# -Winvalid-pch##g' -e 's# -include [^ ]*/cmake_pch\.hxx##g' \
  -e 's# -Xclang -include-pch -Xclang [^ ]*/cmake_pch\.hxx\.pch##g' \
  -e 's# -Xclang -include -Xclang [^ ]*/cmake_pch\.hxx##g' \
  "$build/compile_commands.json" >"$db/compile_commands.json"
printf '%s\n' "${files[@]}" | xargs -P "$(nproc)" -n 1 clang-tidy -p "$db" --quiet 2>/dev/null
