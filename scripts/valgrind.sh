#!/usr/bin/env bash
# valgrind memcheck over the unit tests (issue 17). Builds them in ${BUILD_DIR:-build-valgrind}
# without the sanitizers (valgrind and ASan do not mix) and runs every tests/unit/test_*.c binary
# under `valgrind --error-exitcode=1 --leak-check=full`; any invalid access, use of uninitialised
# memory or definite/indirect leak fails the script. Suppressions: scripts/valgrind.supp (each
# entry says why it is there).
#   BUILD_DIR        build directory (default: build-valgrind)
#   VALGRIND_TESTS   which tests, as module names (default: every tests/unit/test_*.c)
#   JOBS             parallel builds and valgrind runs (default: 2)
#
# The values allocator: the normal build allocates with mimalloc, whose pages valgrind does not
# see as heap blocks (no leak or overflow checks on them). Like the sanitizer build, this build
# defines DFLY_SANITIZE (dataplane/zmalloc.c's switch to libc malloc) without any -fsanitize flag,
# so that every allocation is checked.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$ROOT"
BUILD_DIR=${BUILD_DIR:-build-valgrind}
JOBS=${JOBS:-2}
SUPP="$ROOT/scripts/valgrind.supp"

if ! command -v valgrind >/dev/null; then
    echo "valgrind: not installed (apt-get install valgrind)" >&2
    exit 1
fi
if [[ ${DFLY_SKIP_DEPS:-0} != 1 ]]; then
    scripts/deps.sh
fi

modules=${VALGRIND_TESTS:-$(cd tests/unit && ls test_*.c | sed 's/^test_//; s/\.c$//' | tr '\n' ' ')}
targets=()
for m in $modules; do targets+=("test_$m"); done

cmake -S . -B "$BUILD_DIR" -DDFLY_SANITIZE=OFF -DCMAKE_BUILD_TYPE=RelWithDebInfo \
    -DCMAKE_C_FLAGS="-DDFLY_SANITIZE=1 -fno-omit-frame-pointer" >/dev/null
cmake --build "$BUILD_DIR" -j"$JOBS" --target "${targets[@]}" >/dev/null

logs=$(mktemp -d)
trap 'rm -rf "$logs"' EXIT
start=$(date +%s)

run_one() {
    local m=$1
    local t0=$SECONDS
    # definite and indirect leaks are errors; "possibly lost" blocks (interior pointers into
    # arenas and thread stacks) are shown but do not fail.
    if valgrind --error-exitcode=1 --leak-check=full --show-leak-kinds=definite,indirect \
        --errors-for-leak-kinds=definite,indirect --track-origins=yes --num-callers=30 \
        --suppressions="$SUPP" "$BUILD_DIR/tests/unit/test_$m" >"$logs/$m.log" 2>&1; then
        echo "valgrind: $m ok ($((SECONDS - t0)) s)"
    else
        echo "valgrind: $m FAILED ($((SECONDS - t0)) s)"
        grep -E "^==[0-9]+== " "$logs/$m.log" | head -80 || tail -40 "$logs/$m.log"
        return 1
    fi
}
export -f run_one
export BUILD_DIR SUPP logs

failed=0
# shellcheck disable=SC2086
printf '%s\n' $modules | xargs -P "$JOBS" -I{} bash -c 'run_one {}' || failed=1
echo "valgrind: done in $(($(date +%s) - start)) s"
exit $failed
