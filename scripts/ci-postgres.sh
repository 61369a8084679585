#!/usr/bin/env bash
# Starts a throwaway PostgreSQL server on 127.0.0.1 for rubric's store tests and prints the URL.
#
# Idempotent: installs the Debian `postgresql` package when no server binaries exist, creates a
# private cluster under $RUBRIC_PG_DIR (default /tmp/rubric-pg) owned by the `postgres` user when
# run as root, starts it on $RUBRIC_PG_PORT (default 55432) if it is not running, and creates the
# database `rubric_test`. The last line of output is
#     export RUBRIC_TEST_POSTGRES_URL=postgres://rubric@127.0.0.1:PORT/rubric_test
# so `eval "$(scripts/ci-postgres.sh | tail -n 1)"` sets it for the tests. Stop the server with
# `scripts/ci-postgres.sh stop`.
set -euo pipefail

port="${RUBRIC_PG_PORT:-55432}"
dir="${RUBRIC_PG_DIR:-/tmp/rubric-pg}"

find_bin() {
    ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1
}

bin="$(find_bin)"
if [ -z "$bin" ] || [ ! -x "$bin/initdb" ]; then
    echo "installing the Debian postgresql package" >&2
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -q >&2
    apt-get install -y -q postgresql >&2
    bin="$(find_bin)"
fi

# initdb and postgres refuse to run as root: use the package's `postgres` user then.
as_owner() {
    if [ "$(id -u)" = 0 ]; then
        runuser -u postgres -- "$@"
    else
        "$@"
    fi
}

if [ "${1:-}" = stop ]; then
    as_owner "$bin/pg_ctl" -D "$dir" -m fast stop >&2 || true
    exit 0
fi

if [ ! -f "$dir/PG_VERSION" ]; then
    mkdir -p "$dir"
    [ "$(id -u)" = 0 ] && chown postgres: "$dir"
    # Trust authentication is acceptable only because the server listens on loopback alone
    # and lives for one CI run.
    as_owner "$bin/initdb" -D "$dir" -U rubric --auth=trust -E UTF8 >&2
fi

if ! as_owner "$bin/pg_ctl" -D "$dir" status >/dev/null 2>&1; then
    as_owner "$bin/pg_ctl" -D "$dir" -l "$dir/server.log" -w -t 60 \
        -o "-p $port -k $dir -c listen_addresses=127.0.0.1 -c max_connections=200 -c fsync=off" start >&2
fi

if ! as_owner "$bin/psql" -h 127.0.0.1 -p "$port" -U rubric -d postgres -tAc \
    "SELECT 1 FROM pg_database WHERE datname = 'rubric_test'" | grep -q 1; then
    as_owner "$bin/createdb" -h 127.0.0.1 -p "$port" -U rubric rubric_test
fi

echo "export RUBRIC_TEST_POSTGRES_URL=postgres://rubric@127.0.0.1:$port/rubric_test"
