#!/usr/bin/env bash
# Static check of all C code with cppcheck; non-zero exit on any finding.
# Suppress a justified finding at its line with: // cppcheck-suppress <id>
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$ROOT"

CPPCHECK=${CPPCHECK:-cppcheck}
DIRS=(common dataplane controlplane api cli terraform tests)

existing=()
for d in "${DIRS[@]}"; do
    [[ -d $d ]] && existing+=("$d")
done
files=()
if ((${#existing[@]})); then
    mapfile -d '' -t files < <(find "${existing[@]}" -type f -name '*.c' -print0 | sort -z)
fi
if ((${#files[@]} == 0)); then
    echo "lint: no C files"
    exit 0
fi

includes=()
for d in common dataplane; do
    [[ -d $d ]] && includes+=(-I "$d")
done

if "$CPPCHECK" --error-exitcode=1 --enable=warning,portability --inline-suppr \
    --suppress=missingIncludeSystem --std=c11 --library=posix -q -j"${JOBS:-2}" \
    "${includes[@]}" "${files[@]}"; then
    echo "lint: ${#files[@]} files clean"
else
    echo "lint: FAILED" >&2
    exit 1
fi
