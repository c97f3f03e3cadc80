#!/bin/sh
# run_fuzz.sh smoke|run TARGET SECONDS -- run one libFuzzer target of build/
#
# smoke: the seed corpus corpus/<name>/ (TARGET is fuzz_<name>) is copied to
#        a temporary directory, so the repository's corpus is never changed;
#        libFuzzer runs every seed, then fuzzes for SECONDS.
# run:   the same on build/corpus/<name>/, which is kept between runs and
#        seeded from corpus/<name>/.
#
# Prints exactly one summary line, "fuzz: TARGET: N executions clean" or
# "fuzz: TARGET: FAILED"; before a failure it prints the sanitizer or oracle
# report and the path of the saved crash input, and then exits non-zero.
# FUZZ_BUILDDIR (build), FUZZ_MAX_LEN (65536) and FUZZ_ARGS (extra libFuzzer
# flags) come from the environment.
set -u

mode=$1
target=$2
seconds=$3
name=${target#fuzz_}
build=${FUZZ_BUILDDIR:-build}
bin=$build/$target
case $bin in /*) ;; *) bin=./$bin ;; esac
seeds=corpus/$name
artifacts=$build/artifacts

if [ ! -x "$bin" ] || [ ! -d "$seeds" ]; then
	echo "fuzz: $target: FAILED"
	echo "run_fuzz.sh: $bin or $seeds is missing" >&2
	exit 1
fi
mkdir -p "$artifacts"

tmp=$(mktemp -d "${TMPDIR:-/tmp}/nosql-fuzz.XXXXXX")
trap 'rm -rf "$tmp"' EXIT
case $mode in
	smoke)
		corpus=$tmp/corpus
		cp -R "$seeds" "$corpus"
		;;
	run)
		corpus=$build/corpus/$name
		mkdir -p "$corpus"
		cp "$seeds"/* "$corpus"/
		;;
	*)
		echo "usage: run_fuzz.sh smoke|run TARGET SECONDS" >&2
		exit 2
		;;
esac
log=$tmp/log

# Leaks count as failures; UBSan findings stop the run like ASan's.
ASAN_OPTIONS=detect_leaks=1:allocator_may_return_null=1${ASAN_OPTIONS:+:$ASAN_OPTIONS} \
UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1${UBSAN_OPTIONS:+:$UBSAN_OPTIONS} \
	"$bin" -max_total_time="$seconds" -max_len="${FUZZ_MAX_LEN:-65536}" \
	-timeout=10 -rss_limit_mb=2048 -print_final_stats=1 \
	-artifact_prefix="$artifacts/$target-" ${FUZZ_ARGS:-} "$corpus" >"$log" 2>&1
rc=$?

# "Done 123 runs in 30 second(s)", or the final stats when that is missing
runs=$(sed -n 's/^Done \([0-9][0-9]*\) runs in .*/\1/p' "$log" | tail -n 1)
if [ -z "$runs" ]; then
	runs=$(sed -n 's/^stat::number_of_executed_units: *\([0-9][0-9]*\).*/\1/p' "$log" | tail -n 1)
fi

if [ "$rc" -eq 0 ] && [ -n "$runs" ] && ! grep -q 'Test unit written to' "$log"; then
	if [ "$mode" = run ]; then
		echo "fuzz: $target: corpus $corpus holds $(ls "$corpus" | wc -l) inputs"
	fi
	echo "fuzz: $target: $runs executions clean"
	exit 0
fi

# The report without libFuzzer's progress lines
grep -v -e '^#[0-9]' -e '^INFO: ' "$log"
crash=$(sed -n 's/.*Test unit written to \(.*\)$/\1/p' "$log" | tail -n 1)
case $crash in "" | /*) ;; *) crash=$(pwd)/$crash ;; esac
echo "crash input: ${crash:-none saved (libFuzzer exit status $rc)}"
echo "fuzz: $target: FAILED"
exit 1
