#!/usr/bin/env bash
# The shape limits georep's code keeps (docs/architecture.md): no source file over 800 lines.
# (No function over 150 lines is checked by clang-tidy's readability-function-size.)
set -euo pipefail
cd "$(dirname "$0")/.."
limit=800
status=0
while read -r lines file; do
  if [ "$file" != total ] && [ "$lines" -gt "$limit" ]; then
    echo "shape: $file has $lines lines (limit $limit): split it by concept" >&2
    status=1
  fi
done < <(git ls-files '*.cc' '*.h' '*.ts' '*.tsx' | grep -v '\.d\.ts$' | xargs wc -l)
exit $status
