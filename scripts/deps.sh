#!/usr/bin/env bash
# Installs the Debian packages needed to build and test dfly. Idempotent: asks
# dpkg which packages are missing and runs apt-get only when some are.
set -euo pipefail

PACKAGES=(
    # toolchain
    build-essential cmake pkg-config
    # libraries (see docs/architecture.md for what each is for)
    libuv1-dev libmimalloc-dev libssl-dev libjansson-dev libsqlite3-dev
    libmicrohttpd-dev libcurl4-openssl-dev liblua5.1-0-dev lua-cjson-dev lua-bitop-dev
    # the Terraform provider: HTTP/2, protobuf (and its compiler), msgpack
    libnghttp2-dev libprotobuf-c-dev protobuf-c-compiler libmsgpack-dev
    # time zone files for cron schedules in a zone (common/tz.c)
    tzdata
    # real servers and clients the integration tests drive or compare against
    redis-server redis-tools memcached libmemcached-tools
    python3-pytest python3-redis python3-pymemcache python3-requests
    # the control plane: its OpenAPI document is YAML (build step) checked with JSON Schema (tests)
    python3-yaml python3-jsonschema openssl
    # format and static checks; clang and its runtime for the libFuzzer targets (scripts/fuzz.sh)
    clang-format cppcheck clang libclang-rt-14-dev
    # valgrind memcheck over the unit tests (scripts/valgrind.sh, part of .ci/run)
    valgrind
    # the web console's end-to-end tests: headless Chromium driven by playwright-core (npm)
    chromium nodejs
)

# The web console's test driver (web/package.json, pinned by web/package-lock.json). The console
# itself needs none of it (its one library is vendored in web/vendor/), but the tests do.
npm_ci_web() {
    local web
    web="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)/web"
    if [[ -d $web/node_modules/playwright-core &&
        ! $web/package-lock.json -nt $web/node_modules/.package-lock.json ]]; then
        return 0
    fi
    echo "deps: npm ci in web/"
    if ! (cd "$web" && npm ci --no-audit --no-fund --loglevel=error); then
        echo "deps: npm ci in web/ failed: the web console's browser tests need playwright-core" >&2
        exit 1
    fi
}

is_installed() {
    local status
    status=$(dpkg-query -W -f='${Status}' "$1" 2>/dev/null) || return 1
    [[ $status == "install ok installed" ]]
}

missing=()
for pkg in "${PACKAGES[@]}"; do
    is_installed "$pkg" || missing+=("$pkg")
done
# Debian's npm conflicts with a NodeSource nodejs (which brings its own npm): only when missing.
command -v npm >/dev/null 2>&1 || missing+=(npm)

if ((${#missing[@]} == 0)); then
    echo "deps: all ${#PACKAGES[@]} packages installed"
    npm_ci_web
    exit 0
fi

if ((EUID == 0)); then
    SUDO=()
elif command -v sudo >/dev/null 2>&1; then
    SUDO=(sudo)
else
    echo "deps: missing ${missing[*]}; run as root or install sudo" >&2
    exit 1
fi

echo "deps: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
"${SUDO[@]}" env DEBIAN_FRONTEND=noninteractive apt-get update -q
"${SUDO[@]}" env DEBIAN_FRONTEND=noninteractive \
    apt-get install -y -q --no-install-recommends "${missing[@]}"
echo "deps: done"
npm_ci_web
