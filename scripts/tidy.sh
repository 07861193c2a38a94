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
# In parallel, each file without the build's precompiled header, skipping files that passed
# before with the same inputs (scripts/tidy_files.py says how).
exec python3 scripts/tidy_files.py "$build" "${files[@]}"
