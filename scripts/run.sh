#!/usr/bin/env bash
# Builds dfly (Release, in build/) and runs dfly-server in the foreground.
# Extra arguments go to the server, e.g. scripts/run.sh --port 6380 --threads 2.
# Set DFLY_SKIP_DEPS=1 to skip the package check.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$ROOT"

if [[ ${DFLY_SKIP_DEPS:-0} != 1 ]]; then
    scripts/deps.sh
fi

cmake -S . -B build -DCMAKE_BUILD_TYPE=Release
cmake --build build -j"${JOBS:-2}"

SERVER=build/dataplane/dfly-server
echo "run: starting $SERVER $* (it logs the address it listens on; Ctrl-C stops it)"
exec "$SERVER" "$@"
