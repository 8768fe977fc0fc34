#!/usr/bin/env bash
# SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
# `crbpf stats --prometheus`: the text exposition parses (python3-prometheus-
# client's parser, not crbpf's), every sample agrees with `stats --json` read
# around it, no client address becomes a label; a range is one mapping (one
# series, its ports in the port label, the text a row "udp 5299-5301 ->
# BACKEND"); `--output FILE` replaces the file whole and leaves no
# temporary behind; bad use changes nothing.
# kernels: skip, it checks the tool's text exposition of counters that the other files read through stats on every kernel
source "$(dirname "$0")/../lib/common.sh"
t_begin metrics
need_crbpf
t_up

serve cr-home wild tcp "" 8000 || t_fail "home server did not start"
serve cr-home udp4 udp $TUN_HOME4 5300 || t_fail "home udp server did not start"
must "crbpf attach eth0" vps_crbpf attach eth0 >/dev/null
must "crbpf port add tcp 8000 10.0.0.2" vps_crbpf port add tcp 8000 $TUN_HOME4 >/dev/null
must "crbpf port add tcp 8000 [fd00::2]" vps_crbpf port add tcp 8000 "[$TUN_HOME6]" >/dev/null
must "crbpf port add udp 5299-5301 10.0.0.2" vps_crbpf port add udp 5299-5301 $TUN_HOME4 >/dev/null
must "crbpf home attach wgh" home_crbpf home attach wgh >/dev/null
hello_case metrics-traffic-tcp "$CLI4:" peer cr-cli hello $VPS4 8000
hello_case metrics-traffic-tcp6 "[$CLI6]:" peer cr-cli hello $VPS6 8000
hello_case metrics-traffic-udp "$CLI4:" peer cr-cli hello --proto udp $VPS4 5300

d=$TOPO_DIR
# check NAME PROMFILE: parse and compare with --json read around it.
check() {
	local out
	if out=$("$PY" "$(dirname "$0")/../lib/promcheck.py" "$2" "$d/before.json" "$d/after.json" \
		"$CLI4" "$CLI6" 2>&1); then
		t_result "$1" PASS
	else
		t_result "$1" FAIL "$(head -n3 <<<"$out" | tr '\n' ';')"
	fi
}

vps_crbpf stats --json >"$d/before.json" &&
	vps_crbpf stats --prometheus >"$d/stdout.prom" &&
	vps_crbpf stats --json >"$d/after.json" || t_fail "crbpf stats failed"
check metrics-stdout "$d/stdout.prom"
# The traffic above must show: a mapping's in and out packets are non-zero.
if grep -qE '^crbpf_mapping_packets_total\{interface="eth0",family="ipv4",protocol="tcp",port="8000",address="\*",direction="out"\} [1-9]' "$d/stdout.prom" &&
	grep -qE '^crbpf_outcomes_total\{outcome="fwd_tc"\} [1-9]' "$d/stdout.prom"; then
	t_result metrics-traffic-counted PASS
else
	t_result metrics-traffic-counted FAIL "no translated packets in: $(grep -E 'port="8000".*direction|fwd_tc' "$d/stdout.prom" | head -n3 | tr '\n' ';')"
fi

# The UDP traffic to 5300 counts for the range 5299-5301: one series per
# direction, none per port.
range_in=$(grep -cE '^crbpf_mapping_packets_total\{interface="eth0",family="ipv4",protocol="udp",port="5299-5301",address="\*",direction="in"\} [1-9]' "$d/stdout.prom")
per_port=$(grep -cE '^crbpf_mapping_[a-z_]*\{.*port="(5299|5300|5301)"' "$d/stdout.prom")
series=$(grep -c '^crbpf_mapping_packets_total{.*port="5299-5301"' "$d/stdout.prom")
if [ "$range_in" = 1 ] && [ "$per_port" = 0 ] && [ "$series" = 2 ]; then
	t_result metrics-range-one-series PASS
else
	t_result metrics-range-one-series FAIL "range in-series with packets: $range_in, per-port series: $per_port, range packet series: $series (want 1, 0, 2)"
fi
row=$(vps_crbpf stats | grep -c "^  eth0 *udp 5299-5301 -> $TUN_HOME4  ipv4 \*  in [1-9]")
if [ "$row" = 1 ]; then
	t_result metrics-range-text-row PASS
else
	t_result metrics-range-text-row FAIL "crbpf stats: $(vps_crbpf stats | grep -A9 -i mapping | tr '\n' ';')"
fi

# --output: a file node_exporter's textfile collector reads.
mkdir -p "$d/textfile"
echo "stale" >"$d/textfile/crbpf.prom"
vps_crbpf stats --json >"$d/before.json" &&
	vps_crbpf stats --prometheus --output "$d/textfile/crbpf.prom" &&
	vps_crbpf stats --json >"$d/after.json" || t_fail "crbpf stats --output failed"
check metrics-output-file "$d/textfile/crbpf.prom"
left=$(ls -A "$d/textfile" | grep -vx crbpf.prom)
if [ -z "$left" ] && [ "$(stat -c %a "$d/textfile/crbpf.prom")" = 644 ]; then
	t_result metrics-output-atomic PASS
else
	t_result metrics-output-atomic FAIL "left in the directory: ${left:-none}; mode $(stat -c %a "$d/textfile/crbpf.prom")"
fi

# Bad use: exit 2 and one line naming the problem; a failed write exit 1,
# the old file untouched, no temporary left.
bad_case() { # NAME WANT_RC WANT_TEXT ARGS...
	local name=$1 rc_want=$2 text=$3 out rc
	shift 3
	out=$(vps_crbpf stats "$@" 2>&1 >/dev/null)
	rc=$?
	if [ "$rc" = "$rc_want" ] && [ "$(wc -l <<<"$out")" = 1 ] && grep -q -- "$text" <<<"$out"; then
		t_result "$name" PASS
	else
		t_result "$name" FAIL "exit $rc, want $rc_want; message '$out' should say '$text'"
	fi
}
bad_case metrics-bad-json-and-prom 2 "not both" --json --prometheus
bad_case metrics-bad-output-alone 2 "goes with --prometheus" --output "$d/x.prom"
bad_case metrics-bad-output-missing 2 "needs a file name" --prometheus --output
bad_case metrics-bad-output-no-dir 1 "Failed to write" --prometheus --output "$d/nodir/crbpf.prom"
# A rename that fails (onto a directory) removes its temporary file.
bad_case metrics-bad-output-onto-dir 1 "Failed to write" --prometheus --output "$d/textfile"
left=$(ls -A "$d" | grep '\.tmp\.')
if [ -d "$d/textfile" ] && [ ! -e "$d/nodir" ] && [ -z "$left" ]; then
	t_result metrics-bad-output-changes-nothing PASS
else
	t_result metrics-bad-output-changes-nothing FAIL "left behind: ${left:-nothing}; nodir $([ -e "$d/nodir" ] && echo created)"
fi
t_done
