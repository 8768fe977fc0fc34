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
# notice a bad one.
source "$(dirname "$0")/../lib/common.sh"
t_begin checksum
need_crbpf
MB=10000000

for mode in auto generic tc; do
	topo_down
	t_up
	serve cr-home homesrv tcp "" 8000 || t_fail "home server did not start"
	serve cr-ctr ctrsrv tcp "" 80 || t_fail "container server did not start"
	must "crbpf attach eth0 --mode $mode" vps_crbpf attach eth0 --mode $mode >/dev/null
	must "crbpf port add tcp 8000 10.0.0.2" vps_crbpf port add tcp 8000 $TUN_HOME4 >/dev/null
	must "crbpf port add tcp 8000 [fd00::2]" vps_crbpf port add tcp 8000 "[$TUN_HOME6]" >/dev/null
	must "crbpf port add tcp 8080 10.0.0.2" vps_crbpf port add tcp 8080 $TUN_HOME4 >/dev/null
	must "crbpf home attach wgh --serve docker0" home_crbpf home attach wgh --serve docker0 >/dev/null
	for tx in on off; do
		set_tx_csum $tx || t_fail "ethtool -K tx $tx failed"
		csum_start cr-vps wg0 && csum_start cr-cli eth0 || t_fail "checksum capture did not start"
		bad=
		for dst in "$VPS4 8000 v4" "$VPS6 8000 v6" "$VPS4 8080 ctr"; do
			set -- $dst
			out=$(peer cr-cli put --timeout 20 --bytes $MB "$1" "$2" 2>&1) ||
				bad="$bad; put $3: $(tail -n1 <<<"$out")"
			out=$(peer cr-cli get --timeout 20 --bytes $MB --seed 7 "$1" "$2" 2>&1) ||
				bad="$bad; get $3: $(tail -n1 <<<"$out")"
		done
		sleep 0.2
		v=$(csum_stop cr-vps wg0) || bad="$bad; $(tail -n1 <<<"$v")"
		c=$(csum_stop cr-cli eth0) || bad="$bad; $(tail -n1 <<<"$c")"
		echo "$mode tx $tx: $v / $c" >>"$TOPO_DIR/csum-summary"
		if [ -z "$bad" ]; then
			t_result "checksum-$mode-tx-$tx" PASS
		else
			t_result "checksum-$mode-tx-$tx" FAIL "${bad#; }"
		fi
	done
	# Checksum errors counted by any receiving stack on the path.
	errs=$(for ns in cr-cli cr-home cr-ctr; do
		nsx $ns nstat -az TcpInCsumErrors UdpInCsumErrors Udp6InCsumErrors 2>/dev/null |
			awk -v ns=$ns '$2 > 0 {print ns, $1, $2}'
	done)
	[ -n "$errs" ] && t_result "checksum-$mode-stack-counters" FAIL "$(tr '\n' ';' <<<"$errs")"
done
t_done
