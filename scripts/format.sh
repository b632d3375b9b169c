#!/usr/bin/env bash
# Formats every C source and header in place per .clang-format.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$ROOT"

CLANG_FORMAT=${CLANG_FORMAT:-clang-format}
DIRS=(common dataplane controlplane api cli terraform tests)

existing=()
for d in "${DIRS[@]}"; do
    [[ -d $d ]] && existing+=("$d")
done
files=()
if ((${#existing[@]})); then
    mapfile -d '' -t files < <(find "${existing[@]}" -type f \( -name '*.c' -o -name '*.h' \) -print0 | sort -z)
fi
if ((${#files[@]} == 0)); then
    echo "format: no C files"
    exit 0
fi

"$CLANG_FORMAT" -i "${files[@]}"
echo "format: formatted ${#files[@]} files"
