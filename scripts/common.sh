# Shared by scripts/run and scripts/test: dependencies, the unprivileged
# user, and the build.  Sourced, not run.

NOSQL_ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
PG_MAJOR=${PG_MAJOR:-15}
PG_BIN=/usr/lib/postgresql/$PG_MAJOR/bin
PG_CONFIG=${PG_CONFIG:-$PG_BIN/pg_config}
# The account that owns clusters and runs tests when a script starts as root
NOSQL_USER=${NOSQL_USER:-nosql}

# Everything the build, the server, the tests and the benchmarks use.
NOSQL_PACKAGES=(
    postgresql-$PG_MAJOR postgresql-server-dev-$PG_MAJOR
    libbson-dev libpcre2-dev libicu-dev libzstd-dev pkg-config make gcc libc6-dev
    libipc-run-perl
    clang libclang-rt-14-dev
    python3 python3-psycopg2 python3-pymongo
)

log() { printf '==> %s\n' "$*" >&2; }
die() { printf 'error: %s\n' "$*" >&2; exit 1; }

is_root() { [ "$(id -u)" -eq 0 ]; }

# Run a command as root: directly, or through sudo.
as_root() {
    if is_root; then "$@"; else sudo "$@"; fi
}

# What one benchmark needs beyond NOSQL_PACKAGES (bench/run installs it;
# the build, the tests and CI do not need it): the peer server and the
# client's toolchain.
bench_packages() {
    case $1 in
        # etcd's server, and the offline Go build of bench/kv/kvbench.go:
        # the compiler, etcd's client v3 and pgx sources (raft: the same,
        # for a 3-member etcd and three raft members of ours)
        kv|raft) echo etcd-server etcd-client golang-go golang-etcd-server-dev \
                 golang-github-jackc-pgx-v4-dev ;;
        # the peer output plugin (pgoutput is part of the server)
        cdc) echo "postgresql-${PG_MAJOR:-15}-wal2json" ;;
    esac
}

# Install the Debian packages that are missing.
install_dependencies() {
    install_packages "${NOSQL_PACKAGES[@]}"
}

# Install those of the Debian packages named that are missing.
install_packages() {
    local missing=() p
    for p in "$@"; do
        dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' ||
            missing+=("$p")
    done
    [ ${#missing[@]} -eq 0 ] && return 0
    log "installing Debian packages: ${missing[*]}"
    as_root env DEBIAN_FRONTEND=noninteractive apt-get update -qq
    as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
        "${missing[@]}" >/dev/null
}

# initdb refuses root: make sure the unprivileged account exists.
ensure_user() {
    id -u "$NOSQL_USER" >/dev/null 2>&1 ||
        useradd --system --create-home --shell /bin/bash "$NOSQL_USER"
}

# Run a command as the account that owns servers: ourselves, or
# $NOSQL_USER when we are root.
as_user() {
    if is_root; then
        runuser -u "$NOSQL_USER" -- env PATH="$PATH" LANG=C.UTF-8 "$@"
    else
        "$@"
    fi
}

# Whether $NOSQL_USER can reach a directory (a checkout under /root cannot).
user_can_reach() {
    runuser -u "$NOSQL_USER" -- test -x "$1" 2>/dev/null
}

# Build in $1 (as the current user) and install into PostgreSQL (as root).
build_and_install() {
    local dir=$1; shift
    log "building in $dir"
    make -C "$dir" -s PG_CONFIG="$PG_CONFIG" "$@" >/dev/null
    if [ -w "$($PG_CONFIG --pkglibdir)" ]; then
        make -C "$dir" -s PG_CONFIG="$PG_CONFIG" "$@" install >/dev/null
    else
        as_root make -C "$dir" -s PG_CONFIG="$PG_CONFIG" "$@" install >/dev/null
    fi
}
