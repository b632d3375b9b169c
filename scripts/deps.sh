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
# terraform (the provider's tests drive the real binary) is not packaged by Debian: it comes
# from HashiCorp's apt repository, set up below when no terraform is on PATH.
need_terraform=0
command -v terraform >/dev/null 2>&1 || need_terraform=1

if ((${#missing[@]} == 0 && need_terraform == 0)); then
    echo "deps: all ${#PACKAGES[@]} packages installed"
    npm_ci_web
    exit 0
fi

if ((EUID == 0)); then
    SUDO=()
elif command -v sudo >/dev/null 2>&1; then
    SUDO=(sudo)
else
    echo "deps: missing ${missing[*]}$( ((need_terraform)) && echo ' terraform'); run as root or" \
        "install sudo" >&2
    exit 1
fi

apt_install() {
    "${SUDO[@]}" env DEBIAN_FRONTEND=noninteractive \
        apt-get install -y -q --no-install-recommends "$@"
}

# HashiCorp's documented setup for Debian: its signing key, its repository, then the package.
HASHICORP_URL=https://apt.releases.hashicorp.com
HASHICORP_KEYRING=/usr/share/keyrings/hashicorp-archive-keyring.gpg
HASHICORP_LIST=/etc/apt/sources.list.d/hashicorp.list
install_terraform() {
    local codename
    codename=$(. /etc/os-release && echo "$VERSION_CODENAME")
    echo "deps: installing terraform from $HASHICORP_URL ($codename)"
    apt_install ca-certificates curl gnupg
    curl -fsSL "$HASHICORP_URL/gpg" |
        "${SUDO[@]}" gpg --batch --yes --dearmor -o "$HASHICORP_KEYRING"
    echo "deb [signed-by=$HASHICORP_KEYRING] $HASHICORP_URL $codename main" |
        "${SUDO[@]}" tee "$HASHICORP_LIST" >/dev/null
    "${SUDO[@]}" env DEBIAN_FRONTEND=noninteractive apt-get update -q
    apt_install terraform
}

export DEBIAN_FRONTEND=noninteractive
if ((${#missing[@]})); then
    echo "deps: installing ${missing[*]}"
    "${SUDO[@]}" env DEBIAN_FRONTEND=noninteractive apt-get update -q
    apt_install "${missing[@]}"
fi
if ((need_terraform)); then
    install_terraform
fi
echo "deps: done"
npm_ci_web
