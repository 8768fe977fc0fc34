#!/usr/bin/env bash
# SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
# Issue 2 case 8: 10 MB transfers both ways (upload hashed by the server,
# download of known bytes hashed by the client), IPv4, IPv6 and to the
# container, with tx checksum offload on (CHECKSUM_PARTIAL, like a container)
# and off (complete checksums, like a wire) on every sending veth, with XDP
# in native (auto on veth) and generic mode and with --mode tc. Besides the
# hashes, every client-flow packet entering the tunnel on the VPS (wg0) and
# arriving at the client (eth0) has its checksum verified from scratch:
# WireGuard marks decrypted packets CHECKSUM_UNNECESSARY, so home would never
# notice a bad one. A backend behind wg0 is rewritten by XDP and only
# redirected by tc (the hand-off: fwd_handoff must grow in native XDP with
# tx off); the XDP redirect is checked on its own path: a backend behind
# an Ethernet next hop on the VPS (a veth with --xdp-veth and GRO, as in
# 11_l2_nexthop), where fwd_xdp must grow in the XDP modes with complete
# checksums (tx off) and stay flat with --mode tc, and its checksums are
# verified on arrival. Each capture must have checked a minimum of packets.
source "$(dirname "$0")/../lib/common.sh"
t_begin checksum
need_crbpf
TOPO_NS+=(cr-vctr)
# 10 MB per transfer; 2 MB under emulation (the minimums of checked
# packets scale with it).
MB=$(scaled 10000000 2000000)
MIN_TUN=$(scaled 1000 200)
MIN_NH=$(scaled 200 40)
BE4=10.77.0.2

# nexthop_up: the VPS's own "container" on a veth, GRO on its side.
nexthop_up() {
	_veth cr-vps vethv0 cr-vctr eth0 &&
		nsx cr-vps ip addr add 10.77.0.1/24 dev vethv0 &&
		nsx cr-vctr ip addr add $BE4/24 dev eth0 &&
		nsx cr-vctr ip route add default via 10.77.0.1 &&
		nsx cr-vctr ethtool -K eth0 gro on >/dev/null
}

for mode in auto generic tc; do
	# A fresh topology for each mode; under emulation, where building it
	# takes half a minute, crbpf leaves eth0 and comes back in the next mode.
	if [ "$mode" = auto ] || [ "$EMULATED" != 1 ]; then
		topo_down
		t_up
		nexthop_up || t_fail "Ethernet next hop on the VPS failed"
		serve cr-home homesrv tcp "" 8000 || t_fail "home server did not start"
		serve cr-ctr ctrsrv tcp "" 80 || t_fail "container server did not start"
		serve cr-vctr vctrsrv tcp "" 80 || t_fail "VPS container server did not start"
	else
		must "crbpf detach eth0" vps_crbpf detach eth0 >/dev/null
	fi
	must "crbpf attach eth0 --mode $mode" vps_crbpf attach eth0 --mode $mode >/dev/null
	must "crbpf port add tcp 8000 10.0.0.2" vps_crbpf port add tcp 8000 $TUN_HOME4 >/dev/null
	must "crbpf port add tcp 8000 [fd00::2]" vps_crbpf port add tcp 8000 "[$TUN_HOME6]" >/dev/null
	must "crbpf port add tcp 8080 10.0.0.2" vps_crbpf port add tcp 8080 $TUN_HOME4 >/dev/null
	must "crbpf port add tcp 9000 $BE4:80 --xdp-veth" vps_crbpf port add tcp 9000 $BE4:80 --xdp-veth >/dev/null
	must "crbpf home attach wgh --serve docker0" home_crbpf home attach wgh --serve docker0 >/dev/null
	for tx in on off; do
		set_tx_csum $tx && nsx cr-vctr ethtool -K eth0 tx $tx >/dev/null 2>&1 ||
			t_fail "ethtool -K tx $tx failed"
		csum_start cr-vps wg0 && csum_start cr-cli eth0 && csum_start cr-vctr eth0 ||
			t_fail "checksum capture did not start"
		bad=
		xdp0=$(vps_counter fwd_xdp)
		ho0=$(vps_counter fwd_handoff)
		for dst in "$VPS4 8000 v4" "$VPS6 8000 v6" "$VPS4 8080 ctr" "$VPS4 9000 nexthop"; do
			set -- $dst
			out=$(peer cr-cli put --timeout 20 --bytes $MB "$1" "$2" 2>&1) ||
				bad="$bad; put $3: $(tail -n1 <<<"$out")"
			out=$(peer cr-cli get --timeout 20 --bytes $MB --seed 7 "$1" "$2" 2>&1) ||
				bad="$bad; get $3: $(tail -n1 <<<"$out")"
		done
		xdp1=$(vps_counter fwd_xdp)
		ho1=$(vps_counter fwd_handoff)
		sleep 0.2
		# 60 MB each way through the tunnel (12 under emulation):
		# thousands of segments. The next hop's 20 MB (4) arrive
		# GRO-merged, and with tx on its replies leave as GSO segments:
		# hundreds.
		v=$(csum_stop cr-vps wg0 $MIN_TUN) || bad="$bad; $(tail -n1 <<<"$v")"
		c=$(csum_stop cr-cli eth0 $MIN_TUN) || bad="$bad; $(tail -n1 <<<"$c")"
		n=$(csum_stop cr-vctr eth0 $MIN_NH) || bad="$bad; $(tail -n1 <<<"$n")"
		echo "$mode tx $tx: $v / $c / $n" >>"$TOPO_DIR/csum-summary"
		if ! nums "$xdp0" "$xdp1"; then
			bad="$bad; fwd_xdp unreadable ('$xdp0' '$xdp1')"
		elif [ "$mode" != tc ] && [ "$tx" = off ] && [ "$xdp1" -le "$xdp0" ]; then
			# (with tx on the client's packets arrive CHECKSUM_PARTIAL,
			# which XDP may leave to tc)
			bad="$bad; fwd_xdp did not grow: XDP forwarded nothing to the next hop"
		elif [ "$mode" = tc ] && [ "$xdp1" -ne "$xdp0" ]; then
			bad="$bad; fwd_xdp grew by $((xdp1 - xdp0)) in --mode tc"
		fi
		# The tunnel's XDP hand-off (bpf/handoff.h): native XDP sees
		# complete checksums with tx off; --mode tc has no XDP.
		if ! nums "$ho0" "$ho1"; then
			bad="$bad; fwd_handoff unreadable ('$ho0' '$ho1')"
		elif [ "$mode" = auto ] && [ "$tx" = off ] && [ "$ho1" -le "$ho0" ]; then
			bad="$bad; fwd_handoff did not grow: XDP handed nothing to tc for the tunnel"
		elif [ "$mode" = tc ] && [ "$ho1" -ne "$ho0" ]; then
			bad="$bad; fwd_handoff grew by $((ho1 - ho0)) in --mode tc"
		fi
		if [ -z "$bad" ]; then
			t_result "checksum-$mode-tx-$tx" PASS
		else
			t_result "checksum-$mode-tx-$tx" FAIL "${bad#; }"
		fi
	done
	# Checksum errors counted by any receiving stack on the path.
	errs=$(for ns in cr-cli cr-home cr-ctr cr-vctr; do
		nsx $ns nstat -az TcpInCsumErrors UdpInCsumErrors Udp6InCsumErrors 2>/dev/null |
			awk -v ns=$ns '$2 > 0 {print ns, $1, $2}'
	done)
	[ -n "$errs" ] && t_result "checksum-$mode-stack-counters" FAIL "$(tr '\n' ';' <<<"$errs")"
done
t_done
