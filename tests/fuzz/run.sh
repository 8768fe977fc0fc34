#!/usr/bin/env bash
# SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
# The fuzzers, bounded: the packet fuzzer (build/unit_tests --fuzz, every
# BPF program through BPF_PROG_TEST_RUN; needs root) and the parser fuzzers
# (build/fuzz/*_fuzz, libFuzzer with ASan/UBSan; no root). Prints
# "[fuzz-packets] PASS|FAIL" and "[fuzz-conf] PASS|FAIL" with counts.
#
#   tests/fuzz/run.sh [--long] [--seconds N] [--seed S] [--packets-only|--conf-only]
#
# Default: what `make test` runs (tests/run.sh calls this): packets
# CRBPF_FUZZ_PACKETS_SECONDS (50), each parser target CRBPF_FUZZ_CONF_SECONDS
# (15); 0 skips that part. --long (make fuzz): 600 s each unless --seconds.
# The seed (--seed, CRBPF_FUZZ_SEED; default: new each run) is printed;
# failing packets are saved in build/fuzz-repro, parser crashes in
# build/fuzz-artifacts (replay: build/fuzz/NAME FILE).
set -u
cd "$(dirname "$0")/../.." || exit 1

psecs=${CRBPF_FUZZ_PACKETS_SECONDS:-50}
csecs=${CRBPF_FUZZ_CONF_SECONDS:-15}
seed=${CRBPF_FUZZ_SEED:-0}
while [ $# -gt 0 ]; do
	case "$1" in
	--long) psecs=600 csecs=600 ;;
	--seconds) shift; psecs=${1:?--seconds needs a number} csecs=$1 ;;
	--seed) shift; seed=${1:?--seed needs a number} ;;
	--packets-only) csecs=0 ;;
	--conf-only) psecs=0 ;;
	*) echo "usage: tests/fuzz/run.sh [--long] [--seconds N] [--seed S] [--packets-only|--conf-only]" >&2
	   exit 2 ;;
	esac
	shift
done
if [ "$csecs" -eq 0 ] && [ "${CRBPF_FUZZ_CONF_SECONDS:-}" = 0 ]; then
	# the kernel matrix: the parsers run no kernel code
	echo "[fuzz-conf] SKIP (CRBPF_FUZZ_CONF_SECONDS=0: the parsers do not depend on the kernel; make test runs them)"
fi
[ "$seed" = 0 ] && seed=$(( $(od -An -N4 -tu4 /dev/urandom) + 1 ))
rc=0

if [ "$psecs" -gt 0 ]; then
	if [ -x build/unit_tests ]; then
		timeout -k 10 $((psecs + 120)) build/unit_tests --fuzz "$psecs" "$seed" 2>&1
		r=$?
		if [ "$r" -ne 0 ] && [ "$r" -ne 1 ]; then
			echo "[fuzz-packets] FAIL (build/unit_tests --fuzz $psecs $seed exited $r)"
		fi
		[ "$r" -eq 0 ] || rc=1
	else
		echo "[fuzz-packets] FAIL (build/unit_tests not built: run make)"
		rc=1
	fi
fi

if [ "$csecs" -gt 0 ]; then
	ok=1 details=()
	for t in tests/fuzz/*_fuzz.c; do
		name=$(basename "$t" .c)
		bin=build/fuzz/$name
		if [ ! -x "$bin" ]; then
			ok=0 details+=("$bin not built (make fuzz-bins)")
			continue
		fi
		# New inputs go to a scratch corpus; the checked-in seeds are read only.
		work=build/fuzz-corpus/$name
		mkdir -p "$work" build/fuzz-artifacts
		log=$(mktemp)
		timeout -k 10 $((csecs + 60)) "$bin" -max_total_time="$csecs" -seed="$seed" \
			-close_fd_mask=2 -artifact_prefix="build/fuzz-artifacts/$name-" \
			-print_final_stats=1 -dict="tests/fuzz/${name%_fuzz}.dict" \
			"$work" "tests/fuzz/corpus/${name%_fuzz}" >"$log" 2>&1
		r=$?
		runs=$(sed -n 's/^Done \([0-9]*\) runs.*/\1/p' "$log" | tail -n1)
		cov=$(grep -o 'cov: [0-9]*' "$log" | tail -n1)
		if [ "$r" -ne 0 ] || [ -z "$runs" ]; then
			ok=0 details+=("$name: exited $r, seed $seed:")
			while IFS= read -r l; do details+=("  $l"); done \
				< <(grep -E 'ERROR|SUMMARY|_fuzz:|runtime error|Test unit written|^#0 |^    #[0-9] ' "$log" | head -n 25)
		else
			details+=("$name: $runs runs in $csecs s, $cov, seed $seed")
		fi
		rm -f "$log"
	done
	if [ "$ok" -eq 1 ]; then
		echo "[fuzz-conf] PASS"
	else
		echo "[fuzz-conf] FAIL (a parser fuzzer found a crash or a broken rule)"
		rc=1
	fi
	for d in "${details[@]}"; do echo "    $d"; done
fi
exit $rc
