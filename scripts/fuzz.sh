#!/usr/bin/env bash
# Builds the libFuzzer targets (clang, ASan+UBSan) in ${BUILD_DIR:-build-fuzz} and runs each for
# FUZZ_SECONDS (default 60) from the seed corpus in tests/fuzz/corpus/<target>. A crash, leak or
# sanitizer report fails the script and leaves the reproducer in ${FUZZ_ARTIFACTS:-fuzz-artifacts}/.
#   FUZZ_TARGETS   which targets (default: all of tests/fuzz/fuzz_*.c)
#   FUZZ_SECONDS   seconds per target (CI uses a short run; long runs: FUZZ_SECONDS=3600)
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$ROOT"
BUILD_DIR=${BUILD_DIR:-build-fuzz}
SECONDS_PER=${FUZZ_SECONDS:-60}
ARTIFACTS=${FUZZ_ARTIFACTS:-$ROOT/fuzz-artifacts}
JOBS=${JOBS:-2}

if [[ ${DFLY_SKIP_DEPS:-0} != 1 ]]; then
    scripts/deps.sh
fi
CC=clang cmake -S . -B "$BUILD_DIR" -DDFLY_FUZZ=ON -DCMAKE_BUILD_TYPE=Debug >/dev/null
targets=${FUZZ_TARGETS:-$(cd tests/fuzz && ls fuzz_*.c | sed 's/\.c$//' | tr '\n' ' ')}
# shellcheck disable=SC2086
cmake --build "$BUILD_DIR" -j"$JOBS" --target $targets >/dev/null

mkdir -p "$ARTIFACTS"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
failed=0
for t in $targets; do
    name=${t#fuzz_}
    corpus="$work/$name"
    mkdir -p "$corpus"
    if [[ -d tests/fuzz/corpus/$name ]]; then
        cp tests/fuzz/corpus/"$name"/* "$corpus"/ 2>/dev/null || true
    fi
    dict=()
    if [[ -f tests/fuzz/$name.dict ]]; then
        dict=(-dict="tests/fuzz/$name.dict") # tokens the parser looks for
    fi
    echo "fuzz: $t for ${SECONDS_PER}s"
    if ! "$BUILD_DIR/tests/fuzz/$t" -max_total_time="$SECONDS_PER" -max_len=65536 "${dict[@]}" \
        -artifact_prefix="$ARTIFACTS/$t-" -print_final_stats=1 "$corpus" >"$work/$t.log" 2>&1; then
        echo "fuzz: $t FAILED"
        tail -40 "$work/$t.log"
        failed=$((failed + 1))
    else
        grep -E "stat::number_of_executed_units|Done" "$work/$t.log" | tail -2 || true
    fi
done
ran=$(echo "$targets" | wc -w)
echo "fuzz: $((ran - failed)) passed, $failed failed"
exit $((failed > 0))
