#!/usr/bin/env bash
# get/set throughput of dfly-server's memcached listener against Debian's memcached, with the
# same number of server threads, measured by memaslap (libmemcached-tools: memcaslap) in one run.
#
#   tests/bench/bench_memcached.sh [path/to/dfly-server]
#
#   THREADS       server threads for both (default 2)
#   DURATION      seconds per workload (default 10)
#   CONCURRENCY   memaslap's simulated clients (default 64)
#   LOAD_THREADS  memaslap's threads (default 2)
#   VALUE_SIZE    bytes per value (default 100)
#   PROTOCOL      ascii or binary (default ascii)
#
# Workloads: set only, and 90% get / 10% set over keys the set phase wrote. Prints a Markdown
# table (ops/s and dfly/memcached) for docs/benchmarks.md. Everything runs on 127.0.0.1 and
# stops by itself; the load generator shares the machine with the server under test.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
DFLY=${1:-${DFLY_SERVER:-$ROOT/build/dataplane/dfly-server}}
THREADS=${THREADS:-2}
DURATION=${DURATION:-10}
CONCURRENCY=${CONCURRENCY:-64}
LOAD_THREADS=${LOAD_THREADS:-2}
VALUE_SIZE=${VALUE_SIZE:-100}
PROTOCOL=${PROTOCOL:-ascii}
MEMCACHED=/usr/bin/memcached
MEMASLAP=$(command -v memcaslap || command -v memaslap || true)
START_WAIT=50 # tenths of a second to wait for a server's port

[[ -x $DFLY ]] || { echo "no dfly-server at $DFLY (build first)" >&2; exit 1; }
[[ -x $MEMCACHED ]] || { echo "memcached is not installed (scripts/deps.sh)" >&2; exit 1; }
[[ -n $MEMASLAP ]] || { echo "memaslap is not installed (libmemcached-tools)" >&2; exit 1; }

work=$(mktemp -d)
pids=()
cleanup() {
    for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
    wait 2>/dev/null || true
    rm -rf "$work"
}
trap cleanup EXIT

free_port() {
    python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
}

wait_port() {
    for _ in $(seq "$START_WAIT"); do
        if (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; then return 0; fi
        sleep 0.1
    done
    echo "server on port $1 did not start" >&2
    return 1
}

# memaslap's workload file: key and value sizes, then the share of set (0) and get (1).
workload() { # name set_share get_share
    cat >"$work/$1.cfg" <<EOF
key
32 32 1
value
$VALUE_SIZE $VALUE_SIZE 1
cmd
0 $2
1 $3
EOF
}
workload set 1.0 0.0
workload mixed 0.1 0.9

run_load() { # port workload -> ops/s
    local flags=()
    [[ $PROTOCOL == binary ]] && flags+=(--binary)
    "$MEMASLAP" -s "127.0.0.1:$1" -T "$LOAD_THREADS" -c "$CONCURRENCY" -t "${DURATION}s" \
        -F "$work/$2.cfg" "${flags[@]}" >"$work/$1-$2.out" 2>&1 || true
    awk '/TPS:/ { for (i = 1; i <= NF; i++) if ($i == "TPS:") tps = $(i + 1) } END { print tps + 0 }' \
        "$work/$1-$2.out"
}

measure() { # label -> "set mixed"
    local port=$1
    echo "$(run_load "$port" set) $(run_load "$port" mixed)"
}

mc_port=$(free_port)
"$MEMCACHED" -p "$mc_port" -U 0 -l 127.0.0.1 -t "$THREADS" -m 1024 -u nobody &
pids+=($!)
wait_port "$mc_port"
read -r mc_set mc_mixed < <(measure "$mc_port")
kill "${pids[-1]}"

dfly_port=$(free_port)
dfly_mc_port=$(free_port)
mkdir -p "$work/dfly"
"$DFLY" --port "$dfly_port" --memcached_port "$dfly_mc_port" --threads "$THREADS" \
    --dir "$work/dfly" --save "" --logfile "$work/dfly/log" &
pids+=($!)
wait_port "$dfly_mc_port"
read -r df_set df_mixed < <(measure "$dfly_mc_port")

ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (b > 0) printf "%.2f", a / b; else print "n/a" }'; }

echo "memaslap: $CONCURRENCY clients on $LOAD_THREADS threads, ${DURATION}s per workload," \
    "32-byte keys, $VALUE_SIZE-byte values, $PROTOCOL protocol; servers with $THREADS threads"
echo
echo "| workload | memcached ops/s | dfly ops/s | dfly / memcached |"
echo "| --- | ---: | ---: | ---: |"
echo "| set | $mc_set | $df_set | $(ratio "$df_set" "$mc_set") |"
echo "| 90% get, 10% set | $mc_mixed | $df_mixed | $(ratio "$df_mixed" "$mc_mixed") |"
