#!/usr/bin/env bash
# SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
# Issue 2 case 6: `port add` on an attached VPS forwards a new port at once,
# `port del` stops it, and a paced transfer (>= 24 MB, hashed at both ends)
# on another mapping goes through 20 add/del cycles (5 under emulation)
# without loss.
source "$(dirname "$0")/../lib/common.sh"
t_begin live-ports
need_crbpf
t_up

serve cr-home bulk tcp "" 8000 || t_fail "home server did not start"
serve cr-home extra tcp "" 7000 || t_fail "home server did not start"
serve cr-home other tcp "" 7001 || t_fail "home server did not start"

must "crbpf attach eth0" vps_crbpf attach eth0 >/dev/null
must "crbpf port add tcp 8000 10.0.0.2" vps_crbpf port add tcp 8000 $TUN_HOME4 >/dev/null
must "crbpf home attach wgh" home_crbpf home attach wgh >/dev/null
expect_hello "mapped port" "$CLI4:" peer cr-cli hello $VPS4 8000

# TCP repairs every loss, so the intact hash alone would hide one. crbpf's
# own verdicts say whether it lost anything: every drop is counted, and a
# reply that misses the reverse translation (pass_rev_miss) never reaches
# the client. The kernel's repair counters (retransmissions other than tail
# loss probes, which a paced sender fires on its own, and segments home had
# to queue out of order) are reported, not judged: on a loaded 2-CPU machine
# the veth path itself can drop.
crbpf_losses() {
	vps_crbpf stats --json 2>/dev/null | "$PY" -c '
import json, sys
c = json.load(sys.stdin)["counters"]
print(sum(v for k, v in c.items() if k.startswith("drop_") or k == "pass_rev_miss"))'
}
tcp_repairs() {
	{
		nsx cr-cli nstat -az TcpRetransSegs TcpExtTCPLossProbes
		nsx cr-home nstat -az TcpExtTCPOFOQueue
	} | awk '{v[$1] = $2} END {print v["TcpRetransSegs"] - v["TcpExtTCPLossProbes"] + v["TcpExtTCPOFOQueue"]}'
}
lost0=$(crbpf_losses)
rep0=$(tcp_repairs)
nsx cr-cli nstat -az >"$TOPO_DIR/nstat-cli.before"
nsx cr-home nstat -az >"$TOPO_DIR/nstat-home.before"
stopfile=$TOPO_DIR/stop
# ~4 MB/s: the transfer outlives the cycles below.
peer cr-cli put $VPS4 8000 --bytes 24000000 --until "$stopfile" --rate 4000000 \
	--timeout 30 >"$TOPO_DIR/put.out" 2>&1 &
putpid=$!
sleep 0.5

add_fail=0 del_fail=0 reason=
# 20 cycles; 5 under emulation, where one takes seconds.
for i in $(seq "$(scaled 20 5)"); do
	if ! vps_crbpf port add tcp 7000 $TUN_HOME4 >/dev/null 2>"$TOPO_DIR/cmd.err"; then
		reason="cycle $i: port add failed: $(head -n1 "$TOPO_DIR/cmd.err")"
		add_fail=1
		break
	fi
	out=$(peer cr-cli hello --timeout 3 $VPS4 7000 2>&1)
	if [[ "$out" != *"hello $CLI4:"* ]]; then
		reason="cycle $i: new port 7000 not forwarded right after port add: $out"
		add_fail=1
		break
	fi
	if ! vps_crbpf port del tcp 7000 >/dev/null 2>"$TOPO_DIR/cmd.err"; then
		reason="cycle $i: port del failed: $(head -n1 "$TOPO_DIR/cmd.err")"
		del_fail=1
		break
	fi
	# Unmapped, the SYN is the VPS's own: nothing listens there, so its
	# stack refuses it (a timeout would be crbpf losing the packet).
	nm0=$(vps_counter pass_no_mapping)
	if out=$(peer cr-cli hello --timeout 2 $VPS4 7000 2>&1); then
		reason="cycle $i: port 7000 still forwarded after port del: $out"
		del_fail=1
		break
	fi
	nm1=$(vps_counter pass_no_mapping)
	if [[ "$out" != *"Connection refused"* ]]; then
		reason="cycle $i: after port del, want refused by the VPS, got: $out"
		del_fail=1
		break
	elif ! nums "$nm0" "$nm1" || [ "$nm1" -le "$nm0" ]; then
		reason="cycle $i: after port del, crbpf's pass_no_mapping went from '$nm0' to '$nm1', want growth"
		del_fail=1
		break
	fi
done
touch "$stopfile"
wait "$putpid"
putrc=$?
lost1=$(crbpf_losses)
rep1=$(tcp_repairs)
nsx cr-cli nstat -az >"$TOPO_DIR/nstat-cli.after"
nsx cr-home nstat -az >"$TOPO_DIR/nstat-home.after"

if [ "$add_fail" -eq 0 ]; then t_result live-port-add PASS; else t_result live-port-add FAIL "$reason"; fi
if [ "$add_fail" -eq 1 ]; then
	t_result live-port-del SKIP "not reached"
elif [ "$del_fail" -eq 0 ]; then
	t_result live-port-del PASS
else
	t_result live-port-del FAIL "$reason"
fi
if [ "$putrc" -ne 0 ]; then
	t_result live-transfer-intact FAIL "$(tail -n1 "$TOPO_DIR/put.out")"
elif [ -z "$lost0" ] || [ -z "$lost1" ]; then
	t_result live-transfer-intact FAIL "crbpf stats --json unreadable"
elif [ $((lost1 - lost0)) -gt 0 ]; then
	t_result live-transfer-intact FAIL "transfer intact but crbpf dropped or missed $((lost1 - lost0)) packets (drop_*, pass_rev_miss)"
else
	t_result live-transfer-intact PASS
	[ $((rep1 - rep0)) -gt 0 ] && echo "    note: TCP repaired $((rep1 - rep0)) segments (retransmits, out-of-order); crbpf counted no drop"
fi
# Re-adding a mapped port with another backend replaces it.
must "crbpf port add tcp 7000 10.0.0.2" vps_crbpf port add tcp 7000 $TUN_HOME4 >/dev/null
HELLO_TAG=extra hello_case port-replace-before "$CLI4:" peer cr-cli hello $VPS4 7000
if vps_crbpf port add tcp 7000 $TUN_HOME4:7001 >/dev/null 2>"$TOPO_DIR/cmd.err"; then
	n=$(vps_crbpf port list --json | "$PY" -c '
import json, sys
print(sum(1 for m in json.load(sys.stdin) if m["proto"] == "tcp" and m["port"] == 7000))')
	if [ "$n" = 1 ]; then
		HELLO_TAG=other hello_case port-replace "$CLI4:" peer cr-cli hello $VPS4 7000
	else
		t_result port-replace FAIL "port list shows $n mappings of tcp 7000 after re-adding, want 1"
	fi
else
	t_result port-replace FAIL "port add tcp 7000 10.0.0.2:7001 over tcp 7000: $(head -n1 "$TOPO_DIR/cmd.err")"
fi
t_done
