#!/usr/bin/env bash
# Builds dfly in ${BUILD_DIR:-build} and runs every test with ctest.
#   BUILD_DIR   build directory (default: build)
#   CMAKE_ARGS  extra configure arguments, split on spaces
#               (e.g. CMAKE_ARGS=-DDFLY_SANITIZE=ON BUILD_DIR=build-asan)
#   DFLY_SKIP_DEPS=1  skip the package check
# Extra arguments go to ctest, e.g. scripts/test.sh -R integration.smoke
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$ROOT"

BUILD_DIR=${BUILD_DIR:-build}
read -r -a cmake_args <<<"${CMAKE_ARGS:-}"
# build/ is shared with scripts/run.sh, so configure it the same way (Release)
# unless the caller chose a build type.
if [[ $BUILD_DIR == build && ${CMAKE_ARGS:-} != *CMAKE_BUILD_TYPE* ]]; then
    cmake_args=(-DCMAKE_BUILD_TYPE=Release "${cmake_args[@]}")
fi

if [[ ${DFLY_SKIP_DEPS:-0} != 1 ]]; then
    scripts/deps.sh
fi

cmake -S . -B "$BUILD_DIR" "${cmake_args[@]}"
cmake --build "$BUILD_DIR" -j"${JOBS:-2}"

# Python must not write __pycache__ into the source tree.
export PYTHONDONTWRITEBYTECODE=1
exec ctest --test-dir "$BUILD_DIR" --output-on-failure --no-tests=error -j"${JOBS:-2}" "$@"
