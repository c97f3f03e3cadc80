#!/usr/bin/env bash
# test/conformance/run_suite.sh CASES RATCHET [run.py options...]
# Start a private temporary PostgreSQL (nosql preloaded, the extension
# created), run the recorded MongoDB cases through nosql.run_command with
# the ratchet, fuzz run_command with mutated commands for a while, stop the
# server.  Run as an unprivileged user, from the
# build tree, after "make install".  Exit status: run.py's (1 when a case
# listed in the ratchet fails now).
set -euo pipefail
CASES=$1; RATCHET=$2; shift 2
PG_CONFIG=${PG_CONFIG:-pg_config}
BIN=$("$PG_CONFIG" --bindir)
DIR=$(mktemp -d "${TMPDIR:-/tmp}/nosql-conformance.XXXXXX")
PORT=$((20000 + RANDOM % 20000))
cleanup() {
    "$BIN/pg_ctl" -D "$DIR/data" -m immediate -w stop >/dev/null 2>&1 || true
    rm -rf "$DIR"
}
trap cleanup EXIT
"$BIN/initdb" -D "$DIR/data" -A trust -U nosql_test >/dev/null
cat >>"$DIR/data/postgresql.conf" <<CONF
shared_preload_libraries = 'nosql'
port = $PORT
listen_addresses = ''
unix_socket_directories = '$DIR'
fsync = off
max_connections = 20
# no TTL round in the middle of a case (MongoDB's monitor runs once a minute)
nosql.ttl_interval = '1h'
CONF
"$BIN/pg_ctl" -D "$DIR/data" -l "$DIR/log" -w start >/dev/null
"$BIN/psql" -X -q -h "$DIR" -p "$PORT" -U nosql_test postgres -c 'CREATE EXTENSION nosql'
status=0
/usr/bin/python3 "$(dirname "$0")/run.py" --cases "$CASES" --ratchet "$RATCHET" \
    --dsn "host=$DIR port=$PORT dbname=postgres user=nosql_test" "$@" || status=$?
# mutated commands: every reply well-formed, the server never down
/usr/bin/python3 "$(dirname "$0")/fuzz_commands.py" --cases "$CASES" --seconds "${NOSQL_FUZZ_COMMANDS_SECONDS:-20}" \
    --dsn "host=$DIR port=$PORT dbname=postgres user=nosql_test" || status=1
# the key-value store against a model of etcd's rules (random operations)
/usr/bin/python3 "$(dirname "$0")/model_kv.py" --steps "${NOSQL_MODEL_KV_STEPS:-3000}" \
    --dsn "host=$DIR port=$PORT dbname=postgres user=nosql_test" || status=1
# mutated key-value txn requests: clean errors only, no partial write
/usr/bin/python3 "$(dirname "$0")/fuzz_kv_txn.py" --seconds "${NOSQL_FUZZ_KV_SECONDS:-10}" \
    --dsn "host=$DIR port=$PORT dbname=postgres user=nosql_test" || status=1
if grep -q 'terminated by signal' "$DIR/log"; then
    echo "conformance: the server crashed during the run:"
    grep -B2 -A3 'terminated by signal' "$DIR/log" | head -40
    status=1
fi
exit $status
