#!/usr/bin/env bash
# SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
# Issue 13, per-source limits: one client address floods a UDP mapping with
# a packet limit while another client's paced UDP transfer through the same
# mapping keeps what it delivered without the flood; the flooder's
# delivered rate at home stays near its limit and the drop counters move.
# A new-flow limit holds a burst of connection attempts to its burst (plus
# what refills), other sources and unlimited mappings are untouched, with
# XDP and with --mode tc. port list, stats, Prometheus and crbpf config
# show the limits; config apply sets and changes them; bad values exit 2
# and change nothing.
source "$(dirname "$0")/../lib/common.sh"
t_begin limits
need_crbpf
t_up

FLOOD4=198.51.100.20 # a second client address of cr-cli: the flooder
nsx cr-cli ip addr add $FLOOD4/24 dev eth0 || t_fail "cannot add $FLOOD4"

# Under emulation python sends and receives a few thousand datagrams a
# second at most: limits and rates scaled down by 10.
LIMIT=$(scaled 2000 200)
BURST=$(scaled 200 20)
GOOD_PPS=$(scaled 500 50)
DUR=3 # seconds of the paced transfer
FLOOD_DUR=$(scaled 4 10) # covers the transfer, python's start included
GOOD_DELAY=$(scaled 0.5 4)

serve cr-home conn tcp "" 7401 || t_fail "home server did not start"
serve cr-home bulk tcp "" 8000 || t_fail "home server did not start"

must "crbpf attach eth0" vps_crbpf attach eth0 >/dev/null
must "crbpf port add udp 7400 --limit-pps" vps_crbpf port add udp 7400 $TUN_HOME4 \
	--limit-pps $LIMIT:$BURST >/dev/null
must "crbpf port add tcp 7401 --limit-flows" vps_crbpf port add tcp 7401 $TUN_HOME4 \
	--limit-flows 5:5 >/dev/null
must "crbpf port add tcp 8000" vps_crbpf port add tcp 8000 $TUN_HOME4 >/dev/null
must "crbpf home attach wgh" home_crbpf home attach wgh >/dev/null

# mapping_field PORT FIELD: a field of `stats --json`'s mapping of PORT.
mapping_field() {
	vps_crbpf stats --json 2>/dev/null | "$PY" -c '
import json, sys
for m in json.load(sys.stdin)["mappings"]:
    if m["port"] == int(sys.argv[1]):
        print(m.get(sys.argv[2], "absent"))' "$1" "$2"
}

# count_run NAME FLOOD: the paced transfer from CLI4 (and, with FLOOD=1,
# the flood from FLOOD4 around it) into a per-source counter at home;
# leaves "GOOD_SENT GOOD_GOT FLOOD_SENT FLOOD_GOT" in $TOPO_DIR/NAME.res.
count_run() {
	local name=$1 flood=$2 stop=$TOPO_DIR/stop-$1 fpid=
	rm -f "$stop"
	nsx cr-home "$PY" -u "$PEER" udpcount --port 7400 --until "$stop" \
		>"$TOPO_DIR/$name.count" 2>"$TOPO_DIR/$name.count.log" &
	local cpid=$!
	wait_for 10 grep -q '^listening' "$TOPO_DIR/$name.count.log" ||
		t_fail "udpcount did not start"
	if [ "$flood" = 1 ]; then
		peer cr-cli udpflood $VPS4 7400 --bind $FLOOD4 --duration "$FLOOD_DUR" \
			>"$TOPO_DIR/$name.flood" 2>&1 &
		fpid=$!
		sleep "$GOOD_DELAY"
	fi
	peer cr-cli udpflood $VPS4 7400 --bind $CLI4 --size 1000 --pps "$GOOD_PPS" \
		--duration $DUR >"$TOPO_DIR/$name.good" 2>&1
	[ -n "$fpid" ] && wait "$fpid"
	sleep 1
	touch "$stop"
	wait "$cpid"
	"$PY" - "$TOPO_DIR/$name" "$CLI4" "$FLOOD4" <<'PY' >"$TOPO_DIR/$name.res"
import json, os, sys
p, good, flood = sys.argv[1:]
c = json.load(open(p + ".count"))
def sent(f):
    return int(open(f).read().split()[0]) if os.path.exists(f) else 0
print(sent(p + ".good"), c.get(good, 0), sent(p + ".flood"), c.get(flood, 0))
PY
}

# ---- one source floods, the other's transfer keeps its rate ----
count_run alone 0
read -r gs0 gg0 _ _ <"$TOPO_DIR/alone.res"
d0=$(vps_counter drop_limit_pps)
m0=$(mapping_field 7400 limit_pps_dropped)
count_run flood 1
read -r gs1 gg1 fs1 fg1 <"$TOPO_DIR/flood.res"
d1=$(vps_counter drop_limit_pps)
m1=$(mapping_field 7400 limit_pps_dropped)
echo "    (alone: $gg0 of $gs0; with the flood: $gg1 of $gs1, flooder $fg1 of $fs1 delivered in ${FLOOD_DUR} s, limit $LIMIT/s burst $BURST)"
if ! nums "$gs0" "$gg0" "$gs1" "$gg1" "$fs1" "$fg1" "$d0" "$d1" "$m0" "$m1"; then
	t_result flood-counted FAIL "unreadable: '$gs0 $gg0 $gs1 $gg1 $fs1 $fg1' counters '$d0 $d1 $m0 $m1'"
else
	# The transfer stays within the limit: all of it arrives alone, and
	# with the flood at least 95% of what arrived alone (90% emulated).
	keep=$(scaled 95 90)
	if [ "$gs0" -lt $((GOOD_PPS * DUR * 8 / 10)) ] || [ "$gg0" -lt $((gs0 * 98 / 100)) ]; then
		t_result transfer-alone FAIL "the paced transfer alone delivered $gg0 of $gs0 (want >= 98% of >= $((GOOD_PPS * DUR * 8 / 10)))"
	else
		t_result transfer-alone PASS
	fi
	if [ $((gg1 * 100)) -lt $((gg0 * keep)) ]; then
		t_result transfer-keeps-rate FAIL "with the flood $gg1 datagrams arrived, alone $gg0: below $keep%"
	else
		t_result transfer-keeps-rate PASS
	fi
	# Held to LIMIT a second plus the burst (10% slack for the timing of
	# the count); and near it: the flood must have been far above it.
	hi=$(((LIMIT * FLOOD_DUR + BURST) * 11 / 10))
	if [ "$fs1" -lt $((LIMIT * FLOOD_DUR * 2)) ]; then
		t_result flooder-held FAIL "the flooder sent only $fs1 datagrams in $FLOOD_DUR s: no flood"
	elif [ "$fg1" -gt "$hi" ] || [ "$fg1" -lt $((LIMIT * FLOOD_DUR / 2)) ]; then
		t_result flooder-held FAIL "$fg1 of the flooder's $fs1 datagrams arrived in $FLOOD_DUR s, want $((LIMIT * FLOOD_DUR / 2))-$hi"
	else
		t_result flooder-held PASS
	fi
	# Every datagram sent beyond what arrived was dropped by the limit,
	# bar a few lost elsewhere; the mapping's own counter agrees.
	excess=$((fs1 - fg1))
	if [ $((d1 - d0)) -lt $((excess * 9 / 10)) ] || [ $((d1 - d0)) -gt "$fs1" ]; then
		t_result flood-counted FAIL "drop_limit_pps grew by $((d1 - d0)), the flooder's excess was $excess"
	elif [ $((m1 - m0)) -ne $((d1 - d0)) ]; then
		t_result flood-counted FAIL "udp 7400's limit_pps_dropped grew by $((m1 - m0)), drop_limit_pps by $((d1 - d0))"
	else
		t_result flood-counted PASS
	fi
fi

# ---- new flows per second: a burst of connection attempts ----
# Control: an unlimited mapping takes all 20 at once.
n=$(peer cr-cli connburst $VPS4 8000 --n 20 --wait 0.9)
[ "$n" = 20 ] && t_result unlimited-mapping-untouched PASS ||
	t_result unlimited-mapping-untouched FAIL "$n of 20 connections to tcp 8000 (no limit) established"
# flows_case NAME: 20 SYNs from CLI4 to tcp 7401 (5 new flows/s, burst
# 5): the burst and at most what refills in 0.9 s pass, SYN retransmits
# come after 1 s.
flows_case() {
	local name=$1 f0 f1 n
	f0=$(vps_counter drop_limit_flows)
	n=$(peer cr-cli connburst $VPS4 7401 --bind $CLI4 --n 20 --wait 0.9)
	f1=$(vps_counter drop_limit_flows)
	if ! nums "$n" "$f0" "$f1"; then
		t_result "$name" FAIL "unreadable: '$n' '$f0' '$f1'"
	elif [ "$n" -lt 5 ] || [ "$n" -gt 10 ]; then
		t_result "$name" FAIL "$n of 20 connection attempts established, want 5-10 (5/s, burst 5)"
	elif [ $((f1 - f0)) -lt $((20 - n)) ]; then
		t_result "$name" FAIL "drop_limit_flows grew by $((f1 - f0)), $((20 - n)) attempts failed"
	else
		t_result "$name" PASS
	fi
}
flows_case flows-burst-held
# another source has a bucket of its own
n=$(peer cr-cli connburst $VPS4 7401 --bind $FLOOD4 --n 4 --wait 0.9)
[ "$n" = 4 ] && t_result flows-other-source PASS ||
	t_result flows-other-source FAIL "$n of 4 connections from $FLOOD4 established right after $CLI4 used up its own"
# the bucket refills: a second later CLI4 connects again
sleep 1.2
HELLO_TAG=conn hello_case flows-refilled "$CLI4:" peer cr-cli hello $VPS4 7401

# ---- what the tool shows ----
if vps_crbpf port list | grep -q "^eth0 .* udp .*7400 .*limit pps $LIMIT:$BURST by /32,/64\$"; then
	t_result port-list-shows-limit PASS
else
	t_result port-list-shows-limit FAIL "port list: $(vps_crbpf port list 2>&1 | grep 7400 | head -n1)"
fi
if vps_crbpf stats | grep -q "limit $LIMIT pps (burst $BURST) per /32,/64 source dropped [1-9]"; then
	t_result stats-shows-limit PASS
else
	t_result stats-shows-limit FAIL "stats: $(vps_crbpf stats 2>&1 | grep -A3 ' 7400 ' | tr '\n' '|')"
fi
vps_crbpf stats --json >"$TOPO_DIR/before.json"
vps_crbpf stats --prometheus >"$TOPO_DIR/prom.txt"
vps_crbpf stats --json >"$TOPO_DIR/after.json"
if ! grep -q "^crbpf_limit_dropped_packets_total{.*port=\"7400\".*kind=\"pps\",rate=\"$LIMIT\",burst=\"$BURST\"} [1-9]" "$TOPO_DIR/prom.txt"; then
	t_result prometheus-limit FAIL "no crbpf_limit_dropped_packets_total series for udp 7400 with its rate and burst"
elif ! grep -q "^crbpf_limit_dropped_packets_total{.*port=\"7401\".*kind=\"flows\",rate=\"5\",burst=\"5\"} [1-9]" "$TOPO_DIR/prom.txt"; then
	t_result prometheus-limit FAIL "no crbpf_limit_dropped_packets_total series for tcp 7401's flows"
elif ! "$PY" "$TOPO_LIB/promcheck.py" "$TOPO_DIR/prom.txt" "$TOPO_DIR/before.json" \
	"$TOPO_DIR/after.json" $CLI4 $FLOOD4 >"$TOPO_DIR/prom.err" 2>&1; then
	t_result prometheus-limit FAIL "promcheck: $(head -n1 "$TOPO_DIR/prom.err")"
else
	t_result prometheus-limit PASS
fi

# ---- bad input: exit 2, one line naming what was wrong, nothing changed ----
bad_case() {
	local name=$1 want=$2 before after err rc
	shift 2
	before=$(vps_crbpf port list --json 2>&1; vps_crbpf config 2>&1)
	err=$(vps_crbpf "$@" 2>&1 >/dev/null)
	rc=$?
	after=$(vps_crbpf port list --json 2>&1; vps_crbpf config 2>&1)
	if [ "$rc" -ne 2 ]; then
		t_result "$name" FAIL "crbpf $*: exit $rc, want 2 ($err)"
	elif [ "$(printf '%s\n' "$err" | wc -l)" -ne 1 ] || [[ "$err" != *"$want"* ]]; then
		t_result "$name" FAIL "message '$err', want one line with '$want'"
	elif [ "$before" != "$after" ]; then
		t_result "$name" FAIL "state changed"
	else
		t_result "$name" PASS
	fi
}
bad_case bad-rate-zero "invalid --limit-pps '0'" port add udp 7400 $TUN_HOME4 --limit-pps 0
bad_case bad-burst "invalid --limit-flows '5:x'" port add udp 7400 $TUN_HOME4 --limit-flows 5:x
bad_case bad-rate-big "invalid --limit-pps '10000001'" port add udp 7400 $TUN_HOME4 --limit-pps 10000001
bad_case bad-prefix "invalid --limit-prefix '24,129'" \
	port add udp 7400 $TUN_HOME4 --limit-pps 10 --limit-prefix 24,129
bad_case bad-prefix-alone "--limit-prefix needs --limit-pps or --limit-flows" \
	port add udp 7400 $TUN_HOME4 --limit-prefix 24
bad_case bad-missing "--limit-pps needs RATE[:BURST]" port add udp 7400 $TUN_HOME4 --limit-pps

# ---- config file: crbpf config prints the limits, apply takes them back ----
vps_crbpf config >"$TOPO_DIR/c1.conf" 2>"$TOPO_DIR/cfg.err"
fwd=$(grep '^Forward = udp 7400 ' "$TOPO_DIR/c1.conf")
fwd2=$(grep '^Forward = tcp 7401 ' "$TOPO_DIR/c1.conf")
if [[ "$fwd" == *"--limit-pps $LIMIT:$BURST"* && "$fwd2" == *"--limit-flows 5:5"* &&
	"$fwd" != *"--limit-prefix"* ]]; then
	t_result config-shows-limits PASS
else
	t_result config-shows-limits FAIL "Forward lines: '$fwd' '$fwd2'"
fi
out=$(vps_crbpf apply "$TOPO_DIR/c1.conf" 2>&1)
rc=$?
[ "$rc" = 0 ] && [ -z "$out" ] && t_result config-roundtrip-no-change PASS ||
	t_result config-roundtrip-no-change FAIL "apply of crbpf config's output: exit $rc, '$(printf '%s' "$out" | head -n1)'"
sed -e "s|^Forward = udp 7400 .*|Forward = udp 7400 $TUN_HOME4 --limit-pps 1000:100 --limit-flows 50 --limit-prefix 24|" \
	-e "s|^Forward = tcp 7401 .*|Forward = tcp 7401 $TUN_HOME4|" "$TOPO_DIR/c1.conf" >"$TOPO_DIR/c2.conf"
if ! out=$(vps_crbpf apply "$TOPO_DIR/c2.conf" 2>&1); then
	t_result config-apply-limits FAIL "apply: $(printf '%s' "$out" | tail -n1)"
elif ! vps_crbpf port list | grep -q " 7400 .*limit pps 1000:100 flows 50:50 by /24,/64\$"; then
	t_result config-apply-limits FAIL "port list: $(vps_crbpf port list | grep ' 7400 ')"
elif vps_crbpf port list | grep " 7401 " | grep -q limit; then
	t_result config-apply-limits FAIL "tcp 7401 kept its limit, the file gives none"
elif ! vps_crbpf config | grep -q "^Forward = udp 7400 $TUN_HOME4 --limit-pps 1000:100 --limit-flows 50:50 --limit-prefix 24,64\$"; then
	t_result config-apply-limits FAIL "crbpf config: $(vps_crbpf config | grep 'udp 7400')"
else
	t_result config-apply-limits PASS
fi
sed -e "s|^Forward = udp 7400 .*|Forward = udp 7400 $TUN_HOME4 --limit-pps fast|" \
	"$TOPO_DIR/c1.conf" >"$TOPO_DIR/c3.conf"
bad_case bad-config-limit "invalid --limit-pps 'fast'" apply "$TOPO_DIR/c3.conf"
must "apply c1.conf" vps_crbpf apply "$TOPO_DIR/c1.conf" >/dev/null

# --limit-pps off (and no other limit): the limits go, the flag with them.
must "port add udp 7400 --limit-pps off" vps_crbpf port add udp 7400 $TUN_HOME4 \
	--limit-pps off >/dev/null
[ "$(mapping_field 7400 limit_pps)" = absent ] && ! vps_crbpf port list | grep " 7400 " | grep -q limit &&
	t_result limit-off PASS || t_result limit-off FAIL "udp 7400 still shows a limit"
# A mapping deleted and its id handed out again starts without limits.
must "port del tcp 7401" vps_crbpf port del tcp 7401 >/dev/null
must "port add tcp 7401" vps_crbpf port add tcp 7401 $TUN_HOME4 >/dev/null
n=$(peer cr-cli connburst $VPS4 7401 --bind $CLI4 --n 20 --wait 0.9)
[ "$n" = 20 ] && t_result readd-without-limits PASS ||
	t_result readd-without-limits FAIL "$n of 20 connections established to a re-added tcp 7401 without limits"

# --mode tc: crbpf_edge_tc alone holds the flow limit.
must "attach eth0 --mode tc" vps_crbpf attach eth0 --mode tc >/dev/null
must "port add tcp 7401 --limit-flows" vps_crbpf port add tcp 7401 $TUN_HOME4 \
	--limit-flows 5:5 >/dev/null
flows_case tc-mode-flows-held
t_done
