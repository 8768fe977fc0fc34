#!/usr/bin/env bash
# SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
# Runs the unit tests (build/unit_tests, build/model_tests) and every
# tests/integration/*.sh, counts their "[name] PASS|FAIL|SKIP" lines and ends
# with exactly one line "N passed, N failed, N skipped"; skipped cases are
# also listed. Exits non-zero if anything failed. Optional arguments:
# substrings selecting integration test files (e.g. `tests/run.sh tcp udp`);
# --no-unit skips the unit tests and the bounded fuzzer runs
# (tests/fuzz/run.sh), --no-fuzz only the fuzzers, --unit-last runs them
# after the integration files (the kernel matrix: a guest up for long
# enough needs no wait before the unit flow cases). Each integration file gets
# CRBPF_TEST_TIMEOUT seconds (default 900: a test may first wait for a
# concurrent run to release the topology lock).
set -u
cd "$(dirname "$0")/.." || exit 1

unit=1
unit_last=0
fuzz=1
filters=()
for a in "$@"; do
	case "$a" in
	--no-unit) unit=0 ;;
	--unit-last) unit_last=1 ;;
	--no-fuzz) fuzz=0 ;;
	*) filters+=("$a") ;;
	esac
done

pass=0
fail=0
skip=0
skipped=()
failed=()
start=$(date +%s)

# count PREFIX: read a test's output on stdin, echo it, tally result lines.
count() {
	local line seen=0 name status
	while IFS= read -r line; do
		printf '%s\n' "$line"
		if [[ "$line" =~ ^\[([^]]+)\]\ (PASS|FAIL|SKIP)([[:space:]]|$) ]]; then
			seen=1
			name=${BASH_REMATCH[1]}
			status=${BASH_REMATCH[2]}
			case "$status" in
			PASS) pass=$((pass + 1)) ;;
			FAIL) fail=$((fail + 1)); failed+=("$name") ;;
			SKIP) skip=$((skip + 1)); skipped+=("$name") ;;
			esac
		fi
	done
	return $((1 - seen))
}

# run_counted NAME SECONDS CMD...: runs a test program, tallies its result
# lines, and fails NAME when it exits non-zero without naming a failure
# (crashed, or failed without naming a case).
run_counted() {
	local name=$1 secs=$2 out rc
	shift 2
	if [ ! -x "$1" ] && [ "$1" != bash ]; then
		echo "[$name] FAIL"
		echo "    $1 not built (run make)"
		fail=$((fail + 1)); failed+=("$name")
		return
	fi
	out=$(timeout -k 10 "$secs" "$@" 2>&1)
	rc=$?
	count <<<"$out"
	if [ "$rc" -ne 0 ] && ! grep -q '] FAIL' <<<"$out"; then
		echo "[$name] FAIL"
		echo "    $* exited $rc"
		fail=$((fail + 1)); failed+=("$name")
	fi
}

run_units() {
	run_counted unit 600 build/unit_tests
	# Again with a CHECKSUM_COMPLETE skb->csum that the kernel checks
	# after every tc run (one SKIP line on kernels before 6.11).
	run_counted unit/csum_complete 600 build/unit_tests --csum-complete
	# The mapping model's cases: no kernel, no root.
	run_counted unit/model 60 build/model_tests
	# The fuzzers, bounded: packets through every program (about a
	# minute), the parsers under libFuzzer (15 s per target).
	[ "$fuzz" -eq 1 ] && run_counted fuzz 600 bash tests/fuzz/run.sh
}
[ "$unit" -eq 1 ] && [ "$unit_last" -eq 0 ] && run_units

# The kernel's WireGuard where it can be loaded, wireguard-go otherwise
# (tests/lib/topo.sh); decided once for every test file.
CRBPF_WG=$(source tests/lib/topo.sh && topo_wg_kind)
export CRBPF_WG
echo "integration tests use WireGuard: $([ "$CRBPF_WG" = kernel ] && echo "kernel module" || echo wireguard-go)"

for t in tests/integration/*.sh; do
	[ -e "$t" ] || continue
	if [ "${#filters[@]}" -gt 0 ]; then
		sel=0
		for f in "${filters[@]}"; do
			[[ "$t" == *"$f"* ]] && sel=1
		done
		[ "$sel" -eq 1 ] || continue
	fi
	name=$(basename "$t" .sh)
	t0=$(date +%s)
	out=$(timeout -k 15 "${CRBPF_TEST_TIMEOUT:-900}" bash "$t" 2>&1)
	rc=$?
	count <<<"$out"
	seen=$?
	if [ "$seen" -ne 0 ] || { [ "$rc" -ne 0 ] && ! grep -q '] FAIL' <<<"$out"; }; then
		echo "[integration/$name] FAIL"
		echo "    $t exited $rc without a result line$([ "$rc" -eq 124 ] && echo ' (timed out)')"
		fail=$((fail + 1)); failed+=("integration/$name")
	fi
	[ -n "${CRBPF_TEST_TIMES:-}" ] && echo "    ($name: $(($(date +%s) - t0)) s)"
done
if [ "$unit" -eq 1 ] && [ "$unit_last" -eq 1 ]; then
	t0=$(date +%s)
	run_units
	[ -n "${CRBPF_TEST_TIMES:-}" ] && echo "    (unit tests and fuzzers: $(($(date +%s) - t0)) s)"
fi

echo
echo "runtime: $(($(date +%s) - start)) s"
[ "${#skipped[@]}" -gt 0 ] && echo "skipped: ${skipped[*]}"
[ "${#failed[@]}" -gt 0 ] && echo "failed: ${failed[*]}"
echo "$pass passed, $fail failed, $skip skipped"
[ "$fail" -eq 0 ]
