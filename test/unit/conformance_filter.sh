#!/bin/sh
# conformance_filter.sh [-v] [-a AREA_PREFIX]... [CASES_FILE]
#
# Build and run the filter-only conformance driver (conformance_filter.c)
# over the recorded MongoDB cases.  CASES_FILE defaults to
# $CONFORMANCE_CASES, else ../../../shared/conformance/functional-tests.jsonl
# relative to test/unit.  Prints per-area counts, the reasons cases were
# skipped, and "conformance-filter: N passed, N failed (N skipped)".
#
#   test/unit/conformance_filter.sh -a core/operator/query
#   test/unit/conformance_filter.sh -v -a core/operator/query/misc/regex
set -eu
cd "$(dirname "$0")"
make -s PG_CONFIG="${PG_CONFIG:-/usr/lib/postgresql/15/bin/pg_config}" build/conformance_filter
exec ./build/conformance_filter "$@"
