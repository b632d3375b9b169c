#!/usr/bin/env bash
# dfly-server against Redis, side by side, in one run (see tests/bench/README.md).
#
# Starts Debian's redis-server (no persistence), then dfly-server with --threads 1, then with
# the default thread count (nproc), one at a time on free 127.0.0.1 ports, and for each:
#   - redis-benchmark -t set / -t get, -c 50 -r 100000, at -P 1 and at -P 16:
#     requests per second, p50 and p99 latency (--csv), and the server's CPU seconds
#     (utime+stime from /proc/PID/stat) per million requests;
#   - bytes per key: used_memory (INFO memory) grown by DEBUG POPULATE 1000000 key 16.
# Prints one table with every figure side by side and the ratio dfly/redis.
#
# Environment (all optional):
#   BENCH_N_P1        requests per test at -P 1           (default 200000)
#   BENCH_N_P16       requests per test at -P 16          (default 1000000)
#   BENCH_CLIENTS     redis-benchmark -c                  (default 50)
#   BENCH_KEYSPACE    redis-benchmark -r                  (default 100000)
#   BENCH_POPULATE    keys for the memory figure          (default 1000000)
#   BENCH_VALUE_SIZE  value size for DEBUG POPULATE       (default 16)
#   BENCH_THREADS     dfly's default thread count         (default: nproc)
#   BENCH_RUN_TIMEOUT seconds one redis-benchmark may run (default 600)
#   BENCH_OUT         keep raw results in this directory  (default: a temp dir, removed)
#   DFLY_SERVER       dfly-server binary                  (default: build/dataplane/dfly-server)
#   REDIS_SERVER      redis-server binary                 (default: /usr/bin/redis-server)
#   PYTHON            python3 for the report              (default: /usr/bin/python3)
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
HERE="$ROOT/tests/bench"

N_P1=${BENCH_N_P1:-200000}
N_P16=${BENCH_N_P16:-1000000}
CLIENTS=${BENCH_CLIENTS:-50}
KEYSPACE=${BENCH_KEYSPACE:-100000}
POPULATE=${BENCH_POPULATE:-1000000}
VALUE_SIZE=${BENCH_VALUE_SIZE:-16}
THREADS=${BENCH_THREADS:-$(nproc)}
RUN_TIMEOUT=${BENCH_RUN_TIMEOUT:-600}
DFLY_SERVER=${DFLY_SERVER:-$ROOT/build/dataplane/dfly-server}
REDIS_SERVER=${REDIS_SERVER:-/usr/bin/redis-server}
PYTHON=${PYTHON:-/usr/bin/python3}
HOST=127.0.0.1
START_TIMEOUT_S=10    # until a started server answers PING
STOP_TIMEOUT_S=10     # between SIGTERM and SIGKILL
CLI_TIMEOUT_S=120     # one redis-cli call (DEBUG POPULATE of 1M keys takes a few seconds)
PIPELINES=(1 16)
TESTS=(set get)

for tool in redis-benchmark redis-cli timeout "$PYTHON"; do
    command -v "$tool" >/dev/null || { echo "bench: $tool not found" >&2; exit 2; }
done
[[ -x $DFLY_SERVER ]] || { echo "bench: $DFLY_SERVER not found: build it first" >&2; exit 2; }
if [[ ! -x $REDIS_SERVER ]]; then
    echo "bench: $REDIS_SERVER not found (apt-get install redis-server)" >&2
    exit 2
fi

WORK=$(mktemp -d /tmp/dfly-bench.XXXXXX)
OUT=${BENCH_OUT:-$WORK/results}
mkdir -p "$OUT"
RESULTS="$OUT/results.tsv"
: >"$RESULTS"

# --- server life cycle ----------------------------------------------------------------------

PIDS=()     # servers running
BENCH_PID=  # redis-benchmark running

stop_pid() {
    local pid=$1
    kill -0 "$pid" 2>/dev/null || return 0
    kill -TERM "$pid" 2>/dev/null || true
    local waited=0
    while kill -0 "$pid" 2>/dev/null && ((waited < STOP_TIMEOUT_S * 10)); do
        sleep 0.1
        waited=$((waited + 1))
    done
    if kill -0 "$pid" 2>/dev/null; then
        kill -KILL "$pid" 2>/dev/null || true
    fi
    wait "$pid" 2>/dev/null || true
}

cleanup() {
    local pid
    [[ -z $BENCH_PID ]] || stop_pid "$BENCH_PID"
    for pid in "${PIDS[@]}"; do
        stop_pid "$pid"
    done
    PIDS=()
    rm -rf "$WORK" # the servers' directories, and the results unless BENCH_OUT keeps them
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

free_port() {
    "$PYTHON" -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0))
print(s.getsockname()[1])'
}

cli() { # cli PORT args...
    local port=$1
    shift
    timeout "$CLI_TIMEOUT_S" redis-cli -h "$HOST" -p "$port" "$@"
}

wait_ready() { # wait_ready PID PORT
    local pid=$1 port=$2 i
    for ((i = 0; i < START_TIMEOUT_S * 10; i++)); do
        kill -0 "$pid" 2>/dev/null || return 1
        [[ $(cli "$port" PING 2>/dev/null) == PONG ]] && return 0
        sleep 0.1
    done
    return 1
}

# Starts a server in the background; sets SERVER_PID and SERVER_PORT.
start_server() { # start_server LABEL
    local label=$1 dir="$WORK/$1" port
    mkdir -p "$dir"
    port=$(free_port)
    case $label in
    redis)
        "$REDIS_SERVER" --port "$port" --bind "$HOST" --save '' --appendonly no \
            --dir "$dir" --logfile "$dir/server.log" --enable-debug-command local \
            >"$dir/stdout" 2>&1 &
        ;;
    dfly-t*)
        "$DFLY_SERVER" --port "$port" --bind "$HOST" --threads "${label#dfly-t}" \
            --dir "$dir" --logfile "$dir/server.log" >"$dir/stdout" 2>&1 &
        ;;
    esac
    SERVER_PID=$!
    SERVER_PORT=$port
    PIDS+=("$SERVER_PID")
    if ! wait_ready "$SERVER_PID" "$port"; then
        echo "bench: $label did not start on port $port; its log:" >&2
        cat "$dir/server.log" "$dir/stdout" >&2 2>/dev/null || true
        exit 1
    fi
}

stop_server() {
    stop_pid "$SERVER_PID"
    local keep=() pid
    for pid in "${PIDS[@]}"; do
        [[ $pid == "$SERVER_PID" ]] || keep+=("$pid")
    done
    PIDS=("${keep[@]+"${keep[@]}"}")
}

# utime+stime of a process in clock ticks (fields 14 and 15 of /proc/PID/stat; the name in
# parentheses may contain spaces, so count from the closing parenthesis).
cpu_ticks() {
    local stat
    stat=$(</proc/"$1"/stat)
    stat=${stat##*) }
    local -a f
    read -r -a f <<<"$stat"
    echo $((f[11] + f[12]))
}

# --- measurements ---------------------------------------------------------------------------

# One redis-benchmark run of one test; appends a "run" row to the results.
bench_run() { # bench_run LABEL PIPELINE TEST REQUESTS
    local label=$1 pipeline=$2 test=$3 n=$4
    local csv="$OUT/$label-P$pipeline-$test.csv" before after
    before=$(cpu_ticks "$SERVER_PID")
    # In the background, so that a signal reaches our trap at once and the trap can end it.
    timeout "$RUN_TIMEOUT" redis-benchmark -h "$HOST" -p "$SERVER_PORT" -t "$test" \
        -c "$CLIENTS" -r "$KEYSPACE" -n "$n" -P "$pipeline" --csv >"$csv" 2>"$csv.err" &
    BENCH_PID=$!
    if ! wait "$BENCH_PID"; then
        echo "bench: redis-benchmark failed or timed out ($label -P $pipeline $test)" >&2
        cat "$csv.err" >&2
    fi
    BENCH_PID=
    after=$(cpu_ticks "$SERVER_PID")
    printf 'run\t%s\t%s\t%s\t%s\t%s\t%s\n' "$label" "$pipeline" "$test" "$n" \
        "$((after - before))" "$csv" >>"$RESULTS"
}

used_memory() { # used_memory PORT: bytes, or empty when INFO memory has no used_memory
    cli "$1" INFO memory 2>/dev/null | tr -d '\r' | sed -n 's/^used_memory://p'
}

# Bytes per key grown by DEBUG POPULATE; "n/a" where the server lacks INFO or DEBUG POPULATE.
bench_memory() { # bench_memory LABEL
    local label=$1 before after reply value=n/a
    cli "$SERVER_PORT" FLUSHALL >/dev/null 2>&1 || true
    before=$(used_memory "$SERVER_PORT")
    reply=$(cli "$SERVER_PORT" DEBUG POPULATE "$POPULATE" key "$VALUE_SIZE" 2>&1 || true)
    if [[ $reply == OK && -n $before ]]; then
        after=$(used_memory "$SERVER_PORT")
        if [[ -n $after ]]; then
            value=$(((after - before) * 100 / POPULATE))                 # hundredths
            value=$(printf '%d.%02d' $((value / 100)) $((value % 100)))
        fi
    else
        echo "bench: $label: no memory figure (INFO used_memory: '${before:-none}'," \
            "DEBUG POPULATE: $reply)" >&2
    fi
    printf 'mem\t%s\t%s\n' "$label" "$value" >>"$RESULTS"
}

bench_server() { # bench_server LABEL
    local label=$1 p t n
    start_server "$label"
    echo "bench: $label (pid $SERVER_PID, port $SERVER_PORT)" >&2
    for p in "${PIPELINES[@]}"; do
        n=$N_P1
        ((p == 1)) || n=$N_P16
        for t in "${TESTS[@]}"; do
            bench_run "$label" "$p" "$t" "$n"
        done
    done
    bench_memory "$label"
    stop_server
}

LABELS=(redis dfly-t1)
((THREADS == 1)) || LABELS+=("dfly-t$THREADS")

{
    echo "bench: $(nproc) CPUs, $(uname -r); redis: $("$REDIS_SERVER" --version | cut -d' ' -f3);" \
        "load average at start: $(cut -d' ' -f1-3 /proc/loadavg)"
    echo "bench: -c $CLIENTS -r $KEYSPACE, -n $N_P1 at -P 1 and $N_P16 at -P 16;" \
        "memory: DEBUG POPULATE $POPULATE key $VALUE_SIZE"
} >&2
for label in "${LABELS[@]}"; do
    bench_server "$label"
done

"$PYTHON" "$HERE/bench_report.py" "$RESULTS" "$(getconf CLK_TCK)" "${LABELS[@]}"
