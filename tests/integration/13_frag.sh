#!/usr/bin/env bash
# SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
# Issue 4 part 3: IP fragments over the real tunnel. A DNS server at home
# (dnsmasq) answers a ~3100-byte TXT query made with dig over UDP to the VPS's
# public address; the home kernel fragments the answer for the 1420-byte
# tunnel, crbpf translates every fragment, and the answer must arrive intact
# (IPv4 and IPv6). Then fragments in reverse order (last first), sent from raw
# sockets by tests/lib/peer.py: client -> home (the home server checks the
# datagram's hash) and home -> client (the client checks it); crbpf must meet
# the last fragment first (frag_early). Then `port del udp 7001`: the next
# reversed datagrams to 7001 reach a server on the VPS whole (the mapping's
# fragment state went with it). Last, the VPS's
# own fragmented traffic keeps working while crbpf is attached: large pings
# both ways, and a fragmented UDP datagram to an unmapped VPS port.
source "$(dirname "$0")/../lib/common.sh"
t_begin frag
need_crbpf
# Only the DNS cases need dnsmasq and dig; the raw-socket cases run anyway.
dns_missing=
for tool in dnsmasq dig; do
	command -v $tool >/dev/null || dns_missing+="${dns_missing:+, }$tool"
done
t_up

# Twelve 254-byte TXT strings: an answer of about 3100 bytes.
txt_strings() {
	local i
	for i in $(seq -w 0 11); do
		printf 's%s-%s\n' "$i" "$(printf '%.0s0123456789' $(seq 25))"
	done
}
TXT_ARG=$(txt_strings | paste -sd, -)
TXT_WANT=$(txt_strings | sed 's/.*/"&"/' | paste -sd' ' -)

# dnsmasq-base: no daemon, no pid file, no config; EDNS answers up to 4096
# bytes (2.90 defaults to 1232, which would make dig see a truncated answer).
if [ -z "$dns_missing" ]; then
	nsx_bg cr-home dnsmasq dnsmasq -k --conf-file=/dev/null --no-resolv --no-hosts \
		--bind-interfaces --listen-address=$TUN_HOME4 --listen-address=$TUN_HOME6 \
		--port=5353 --user=root --group=root --pid-file= --edns-packet-max=4096 \
		--log-facility=- --txt-record="big.test,$TXT_ARG"
	wait_for 5 nsx cr-home sh -c "ss -Hlun | grep -q ':5353 '" ||
		t_fail "dnsmasq did not start: $(tail -n1 "$TOPO_DIR/dnsmasq.log")"
fi
nsx_bg cr-home fsrv4 "$PY" -u "$PEER" frag-serve --bind $TUN_HOME4 --port 7001
nsx_bg cr-home fsrv6 "$PY" -u "$PEER" frag-serve --bind $TUN_HOME6 --port 7001
nsx_bg cr-vps fsrvvps "$PY" -u "$PEER" frag-serve --bind $VPS4 --port 7777
for l in fsrv4 fsrv6 fsrvvps; do
	wait_for 5 grep -q '^listening' "$TOPO_DIR/$l.log" || t_fail "peer.py frag-serve ($l) did not start"
done

must "crbpf attach eth0" vps_crbpf attach eth0 >/dev/null
must "crbpf port add udp 53 10.0.0.2:5353" vps_crbpf port add udp 53 $TUN_HOME4:5353 >/dev/null
must "crbpf port add udp 53 [fd00::2]:5353" vps_crbpf port add udp 53 "[$TUN_HOME6]:5353" >/dev/null
must "crbpf port add udp 7001 10.0.0.2" vps_crbpf port add udp 7001 $TUN_HOME4 >/dev/null
must "crbpf port add udp 7001 [fd00::2]" vps_crbpf port add udp 7001 "[$TUN_HOME6]" >/dev/null
# 7002 onto the same backend port makes 7001 a tracked mapping, whose first
# packet creates its flow and notes the address pair for early fragments.
# A static mapping's UDP flow does that only when a packet is sampled (1 in
# 16, crbpf.8 FLOWS), and the reversed datagrams below follow one HELLO.
must "crbpf port add udp 7002 10.0.0.2:7001" vps_crbpf port add udp 7002 $TUN_HOME4:7001 >/dev/null
must "crbpf port add udp 7002 [fd00::2]:7001" vps_crbpf port add udp 7002 "[$TUN_HOME6]:7001" >/dev/null
must "crbpf home attach wgh" home_crbpf home attach wgh >/dev/null

# dns_case CASE SERVER: the whole TXT answer over UDP, no TCP fallback.
dns_case() {
	local case=$1 server=$2 out
	out=$(nsx cr-cli dig +bufsize=4096 +notcp +ignore +tries=2 +time=3 +short \
		@"$server" big.test TXT 2>&1)
	if [ "$out" = "$TXT_WANT" ]; then
		t_result "$case" PASS
	else
		t_result "$case" FAIL "answer of ${#out} bytes differs from the ${#TXT_WANT}-byte TXT: $(printf '%s' "$out" | head -c 120)"
	fi
}

# frag_case CASE WANT_LINE CMD...: a peer.py frag-send run must print a line
# starting with WANT_LINE.
frag_case() {
	local case=$1 want=$2 out
	shift 2
	out=$("$@" 2>&1)
	if printf '%s\n' "$out" | grep -q "^$want"; then
		t_result "$case" PASS
	else
		t_result "$case" FAIL "$(printf '%s\n' "$out" | tail -n1)"
	fi
}

if [ -n "$dns_missing" ]; then
	for c in dns-v4-fragmented-answer dns-v6-fragmented-answer dns-answers-took-fragment-path; do
		t_result $c SKIP "$dns_missing not installed (scripts/deps.sh)"
	done
else
	first0=$(vps_counter frag_first) follow0=$(vps_counter frag_follow)
	dns_case dns-v4-fragmented-answer $VPS4
	dns_case dns-v6-fragmented-answer $VPS6
	first1=$(vps_counter frag_first) follow1=$(vps_counter frag_follow)
	# Each answer is 3 fragments at 1420 bytes: a first and two that follow.
	if ! nums "$first0" "$follow0" "$first1" "$follow1"; then
		t_result dns-answers-took-fragment-path FAIL "crbpf stats unreadable (frag_first '$first0' '$first1', frag_follow '$follow0' '$follow1')"
	elif [ "$((first1 - first0))" -ge 2 ] && [ "$((follow1 - follow0))" -ge 4 ]; then
		t_result dns-answers-took-fragment-path PASS
	else
		t_result dns-answers-took-fragment-path FAIL "frag_first +$((first1 - first0)), frag_follow +$((follow1 - follow0)); want >= 2 and >= 4"
	fi
fi

# IPv4 from the router namespace: its CGNAT conntrack would reassemble the
# client's fragments in transit (netfilter defrag) and forward them in order.
early0=$(vps_counter frag_early)
for f in 4 6; do
	if [ $f = 4 ]; then vps=$VPS4 ns=cr-rtr; else vps=$VPS6 ns=cr-cli; fi
	out=$(peer $ns frag-send $vps 7001 --bytes 3000 --reply 3500 --seed $f 2>&1)
	for dir in forward reply; do
		if printf '%s\n' "$out" | grep -q "^$dir ok "; then
			t_result "udp-v$f-$dir-fragments-reversed" PASS
		else
			t_result "udp-v$f-$dir-fragments-reversed" FAIL "$(printf '%s\n' "$out" | tail -n1)"
		fi
	done
done
# The home server saw the datagram whole, from the client's own address.
if grep -q "^got 3000 .* 203.0.113.1:" "$TOPO_DIR/fsrv4.log" &&
	grep -q "^got 3000 .* \[$CLI6\]:" "$TOPO_DIR/fsrv6.log"; then
	t_result udp-reversed-home-saw-client PASS
else
	t_result udp-reversed-home-saw-client FAIL "no 'got 3000 ... client' line in the home server logs"
fi
early1=$(vps_counter frag_early) wrong=$(vps_counter frag_early_wrong) amb=$(vps_counter drop_frag_ambiguous)
# In each of the 4 datagrams the last fragment comes first and is sent by
# the address pair; the others then follow it (frag_follow).
if ! nums "$early0" "$early1"; then
	t_result early-fragments-by-address-pair FAIL "crbpf stats unreadable (frag_early '$early0' '$early1')"
elif [ "$((early1 - early0))" -ge 4 ] && [ "$wrong" = 0 ] && [ "$amb" = 0 ]; then
	t_result early-fragments-by-address-pair PASS
else
	t_result early-fragments-by-address-pair FAIL "frag_early +$((early1 - early0)) (want >= 4), frag_early_wrong $wrong, drop_frag_ambiguous $amb"
fi

# port del takes the removed mapping's fragment state with it: 7001 is the
# VPS's own afterwards (a server of its own there), and the clients' next
# datagrams to it, last fragment first, must reach the VPS whole. Before,
# their address pairs still sent the early fragments to the old backend.
early2=$(vps_counter frag_early)
must "crbpf port del udp 7001" vps_crbpf port del udp 7001 >/dev/null
must "crbpf port del udp 7002" vps_crbpf port del udp 7002 >/dev/null
nsx_bg cr-vps fsrvdel4 "$PY" -u "$PEER" frag-serve --bind $VPS4 --port 7001
nsx_bg cr-vps fsrvdel6 "$PY" -u "$PEER" frag-serve --bind $VPS6 --port 7001
for l in fsrvdel4 fsrvdel6; do
	wait_for 5 grep -q '^listening' "$TOPO_DIR/$l.log" || t_fail "peer.py frag-serve ($l) did not start"
done
frag_case port-del-v4-fragments-reach-vps "forward ok 3000 " \
	peer cr-rtr frag-send $VPS4 7001 --bytes 3000 --seed 14
frag_case port-del-v6-fragments-reach-vps "forward ok 3000 " \
	peer cr-cli frag-send $VPS6 7001 --bytes 3000 --seed 16
early3=$(vps_counter frag_early)
if ! nums "$early2" "$early3"; then
	t_result port-del-no-early-fragments FAIL "crbpf stats unreadable (frag_early '$early2' '$early3')"
elif [ "$early3" = "$early2" ]; then
	t_result port-del-no-early-fragments PASS
else
	t_result port-del-no-early-fragments FAIL "frag_early +$((early3 - early2)) after port del: early fragments still sent to the old backend"
fi

# The VPS's own fragmented traffic.
ping_case() {
	local case=$1 ns=$2 dst=$3
	if nsx "$ns" ping -c 2 -i 0.2 -W 3 -s 3000 "$dst" >"$TOPO_DIR/$case.log" 2>&1; then
		t_result "$case" PASS
	else
		t_result "$case" FAIL "ping -s 3000 $dst from $ns: $(tail -n2 "$TOPO_DIR/$case.log" | head -n1)"
	fi
}
ping_case vps-own-ping-v4-to-vps cr-cli $VPS4
ping_case vps-own-ping-v6-to-vps cr-cli $VPS6
ping_case vps-own-ping-v4-from-vps cr-vps $CLI4
ping_case vps-own-ping-v6-from-vps cr-vps $CLI6
# A client of the mapping sends the VPS a fragmented datagram of its own
# (in order, as its kernel fragments it): it reaches the VPS's socket.
frag_case vps-own-udp-fragmented "forward ok 3000 " \
	peer cr-cli frag-send $VPS4 7777 --bytes 3000 --plain
t_done
