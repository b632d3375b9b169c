#!/usr/bin/env bash
# Builds dfly (Release, in build/) and runs the service in the foreground: dfly-control, the
# control plane, with its embedded defaults (REST API on 127.0.0.1:8080, state in ./var, nodes
# on ports 17000-17999). It provisions dfly-server instances on request; see README.md.
# Extra arguments go to dfly-control, e.g. scripts/run.sh --listen 127.0.0.1:9090.
# `scripts/run.sh server [args]` runs a single dfly-server instead (e.g. --port 6380).
# Set DFLY_SKIP_DEPS=1 to skip the package check.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$ROOT"

if [[ ${DFLY_SKIP_DEPS:-0} != 1 ]]; then
    scripts/deps.sh
fi

cmake -S . -B build -DCMAKE_BUILD_TYPE=Release
cmake --build build -j"${JOBS:-2}" --target dfly-server dfly-control

if [[ ${1:-} == server ]]; then
    shift
    SERVER=build/dataplane/dfly-server
    echo "run: starting $SERVER $* (it logs the address it listens on; Ctrl-C stops it)"
    exec "$SERVER" "$@"
fi

CONTROL=build/controlplane/dfly-control
echo "run: starting $CONTROL $* (the operator token is in var/operator.token; Ctrl-C stops" \
    "the daemon, its nodes keep running and the next start adopts them)"
exec "$CONTROL" "$@"
