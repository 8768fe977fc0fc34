#!/usr/bin/env bash
# SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
# Issue 3 part 1: a backend behind an Ethernet next hop on the VPS itself (a
# "container" namespace on a veth). By default a veth next hop is forwarded
# in tc: XDP frames redirected into a veth whose peer has neither GRO nor an
# XDP program are dropped by the kernel. With --xdp-veth and GRO on the peer,
# the XDP fast path forwards; the first packet to an unresolved neighbour
# goes through tc, which resolves it, and is not lost. Replies come back
# through crbpf_rev_tc on the next hop. Transfers are hashed both ways.
source "$(dirname "$0")/../lib/common.sh"
t_begin l2-nexthop
need_crbpf
TOPO_NS+=(cr-vctr)
t_up

BE4=10.77.0.2
_veth cr-vps vethv0 cr-vctr eth0 || t_fail "veth to the VPS container failed"
nsx cr-vps ip addr add 10.77.0.1/24 dev vethv0 &&
	nsx cr-vctr ip addr add $BE4/24 dev eth0 &&
	nsx cr-vctr ip route add default via 10.77.0.1 || t_fail "container addressing failed"
# Complete checksums, as from a real wire: XDP leaves partial ones to tc.
nsx cr-cli ethtool -K eth0 tx off >/dev/null &&
	nsx cr-vctr ethtool -K eth0 tx off >/dev/null || t_fail "ethtool tx off failed"

serve cr-vctr vctr tcp "" 80 || t_fail "container tcp server did not start"
serve cr-vctr vctru udp "" 80 || t_fail "container udp server did not start"
must "crbpf attach eth0" vps_crbpf attach eth0 >/dev/null
must "crbpf port add tcp 9090" vps_crbpf port add tcp 9090 $BE4:80 >/dev/null
must "crbpf port add udp 9090" vps_crbpf port add udp 9090 $BE4:80 >/dev/null

# Default: the veth peer has no GRO, so XDP must not redirect into it.
xdp0=$(vps_counter fwd_xdp) tc0=$(vps_counter fwd_tc)
hello_case l2-veth-default-tcp "$CLI4:" peer cr-cli hello $VPS4 9090
hello_case l2-veth-default-udp "$CLI4:" peer cr-cli hello --proto udp $VPS4 9090
xdp1=$(vps_counter fwd_xdp) tc1=$(vps_counter fwd_tc)
if ! nums "$xdp0" "$tc0" "$xdp1" "$tc1"; then
	t_result l2-veth-default-tc-path FAIL "crbpf stats unreadable (fwd_xdp '$xdp0' '$xdp1', fwd_tc '$tc0' '$tc1')"
elif [ "$xdp1" -ne "$xdp0" ]; then
	t_result l2-veth-default-tc-path FAIL "fwd_xdp grew by $((xdp1 - xdp0)) without --xdp-veth"
elif [ "$tc1" -le "$tc0" ]; then
	t_result l2-veth-default-tc-path FAIL "fwd_tc did not grow"
else
	t_result l2-veth-default-tc-path PASS
fi

# Opt in: the peer gets NAPI through GRO; the neighbour starts unresolved.
nsx cr-vctr ethtool -K eth0 gro on >/dev/null || t_fail "ethtool gro on failed"
must "port add --xdp-veth" vps_crbpf port add tcp 9090 $BE4:80 --xdp-veth >/dev/null
# The container must not re-teach the VPS its address before the first
# packet: an ARP probe from it (its own entry for the gateway going stale,
# slow under emulation) makes the VPS learn $BE4. So its gateway entry is
# permanent, and the counters are read before the VPS's entry is flushed.
gwmac=$(nsx cr-vps ip -br link show dev vethv0 | awk '{print $3}')
nsx cr-vctr ip neigh replace 10.77.0.1 lladdr "$gwmac" nud permanent dev eth0 ||
	t_fail "permanent gateway neighbour in the container failed"
xdp0=$(vps_counter fwd_xdp) totc0=$(vps_counter pass_to_tc) rev0=$(vps_counter rev_tc)
nsx cr-vps ip neigh flush dev vethv0
nsx cr-vps ip neigh del $BE4 dev vethv0 2>/dev/null
neigh0=$(nsx cr-vps ip neigh show $BE4 dev vethv0)
# The XDP next-hop cache holds the old answer for up to 1 s (no crbpf
# watch here to renew it on the neighbour event).
sleep 1.1
hello_case l2-xdp-first-packet-unresolved "$CLI4:" peer cr-cli hello $VPS4 9090
totc1=$(vps_counter pass_to_tc)
if ! nums "$totc0" "$totc1"; then
	t_result l2-xdp-unresolved-via-tc FAIL "crbpf stats unreadable (pass_to_tc '$totc0' '$totc1')"
elif [ "$totc1" -le "$totc0" ]; then
	t_result l2-xdp-unresolved-via-tc FAIL "pass_to_tc did not grow for the unresolved neighbour (before the hello: '${neigh0:-no entry}')"
else
	t_result l2-xdp-unresolved-via-tc PASS
fi
out=$(peer cr-cli put $VPS4 9090 --bytes 4000000 --timeout 30 2>&1) &&
	t_result l2-xdp-put-4MB PASS || t_result l2-xdp-put-4MB FAIL "$(printf '%s\n' "$out" | tail -n1)"
out=$(peer cr-cli get $VPS4 9090 --bytes 4000000 --timeout 30 2>&1) &&
	t_result l2-xdp-get-4MB PASS || t_result l2-xdp-get-4MB FAIL "$(printf '%s\n' "$out" | tail -n1)"
xdp1=$(vps_counter fwd_xdp) rev1=$(vps_counter rev_tc)
if ! nums "$xdp0" "$xdp1"; then
	t_result l2-xdp-fast-path-used FAIL "crbpf stats unreadable (fwd_xdp '$xdp0' '$xdp1')"
elif [ "$xdp1" -le "$xdp0" ]; then
	t_result l2-xdp-fast-path-used FAIL "fwd_xdp did not grow with --xdp-veth"
else
	t_result l2-xdp-fast-path-used PASS
fi
if ! nums "$rev0" "$rev1"; then
	t_result l2-reply-direction FAIL "crbpf stats unreadable (rev_tc '$rev0' '$rev1')"
elif [ "$rev1" -le "$rev0" ]; then
	t_result l2-reply-direction FAIL "rev_tc did not grow"
else
	t_result l2-reply-direction PASS
fi
# The XDP next-hop cache's switch (user/nexthop.c): on after attach, off
# while a policy rule exists, renewed by crbpf watch on rule and neighbour
# events.
nh_field() {
	vps_crbpf status --json | python3 -c 'import json,sys; print(json.load(sys.stdin)[sys.argv[1]])' "$1"
}
nh_is() {
	[ "$(nh_field nh_cache)" = "$1" ]
}
if nh_is on; then
	t_result nh-cache-on-after-attach PASS
else
	t_result nh-cache-on-after-attach FAIL "status says nh_cache '$(nh_field nh_cache)'"
fi
nsx_bg cr-vps watch-vps env CRBPF_PIN_ROOT=$VPS_PIN "$CRBPF" -v watch
if ! wait_for 5 grep -q 'watching' "$TOPO_DIR/watch-vps.log"; then
	t_result nh-cache-watch FAIL "crbpf watch did not start: $(tail -n1 "$TOPO_DIR/watch-vps.log")"
else
	nsx cr-vps ip rule add from 198.51.100.0/24 lookup main pref 100
	if wait_for 5 nh_is off; then
		t_result nh-cache-off-with-policy-rule PASS
	else
		t_result nh-cache-off-with-policy-rule FAIL "5 s after ip rule add, nh_cache '$(nh_field nh_cache)'"
	fi
	# Forwarding goes on with the cache off (every packet asks the FIB).
	hello_case nh-cache-off-forwards "$CLI4:" peer cr-cli hello $VPS4 9090
	nsx cr-vps ip rule del from 198.51.100.0/24 lookup main pref 100
	if wait_for 5 nh_is on; then
		t_result nh-cache-on-after-rule-del PASS
	else
		t_result nh-cache-on-after-rule-del FAIL "5 s after ip rule del, nh_cache '$(nh_field nh_cache)'"
	fi
	# A neighbour event renews the cache at once, without a repair pass
	# (the log line is watch's own, at -v).
	gen0=$(nh_field nh_gen)
	renew0=$(grep -c 'neighbour event: renewing' "$TOPO_DIR/watch-vps.log")
	nsx cr-vps ip neigh replace 10.77.0.200 lladdr 02:00:00:00:00:c8 dev vethv0
	if nums "$gen0" && wait_for 5 eval '[ "$(nh_field nh_gen)" -gt "$gen0" ]' &&
		wait_for 5 eval '[ "$(grep -c "neighbour event: renewing" "$TOPO_DIR/watch-vps.log")" -gt "$renew0" ]'; then
		t_result nh-cache-renewed-on-neighbour-event PASS
	else
		t_result nh-cache-renewed-on-neighbour-event FAIL "generation still '$(nh_field nh_gen)' (was '$gen0') 5 s after a neighbour change"
	fi
	nsx cr-vps ip neigh del 10.77.0.200 dev vethv0 2>/dev/null
fi
[ -f "$TOPO_DIR/watch-vps.pid" ] && kill "$(cat "$TOPO_DIR/watch-vps.pid")" 2>/dev/null
t_done
