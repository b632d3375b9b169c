#!/usr/bin/env bash
# Fails (non-zero) if any C source or header is not formatted per .clang-format.
# scripts/format.sh fixes what this reports.
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
    echo "check-format: no C files"
    exit 0
fi

if "$CLANG_FORMAT" --dry-run --Werror "${files[@]}"; then
    echo "check-format: ${#files[@]} files formatted"
else
    echo "check-format: FAILED; run scripts/format.sh" >&2
    exit 1
fi
