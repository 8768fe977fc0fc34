#!/usr/bin/env bash
# SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
# Issue 4 part 1: path MTU through the tunnel (wg0 at 1420, client and home
# links at 1500).
#  a) MSS: the SYN-ACK the client captures carries a clamped MSS (home's tunnel
#     raised to 1500 for these cases so that home announces more than the
#     VPS's tunnel carries; the container announces 1460 anyway); --mss N,
#     --mss off and back to auto by re-running attach.
#  b) PMTUD: the router's link to the client shrinks to 1280. The clamped MSS
#     (1380 / 1360) still makes 1420-byte packets, so a 20 MB download from
#     home and from the container only completes if the router's ICMP errors
#     reach the sender translated. Control: with the router's errors dropped
#     the same download must stall.
#  c) A client sending more than the tunnel carries with DF learns 1420: a TCP
#     upload with --mss off (the route cache shows mtu 1420) and DF UDP
#     (EMSGSIZE, IP_MTU 1420), v4 and v6.
#  d) IPv4 UDP without DF above the tunnel MTU reaches home whole (hash):
#     1480 bytes over the 1500 links, and 3000 bytes with the client side of
#     the path raised to 3200 (the VPS's outer packets then cross the home
#     line fragmented).
source "$(dirname "$0")/../lib/common.sh"
t_begin pmtu
need_crbpf
t_up

serve cr-home tcp4 tcp $TUN_HOME4 5500 || t_fail "home tcp server did not start"
serve cr-home tcp6 tcp $TUN_HOME6 5500 || t_fail "home tcp6 server did not start"
serve cr-ctr ctrtcp tcp "" 80 || t_fail "container tcp server did not start"
serve cr-home udp4 udp $TUN_HOME4 5511 || t_fail "home udp server did not start"
serve cr-home udp6 udp $TUN_HOME6 5511 || t_fail "home udp6 server did not start"
for f in 4 6; do
	[ $f = 4 ] && b=$TUN_HOME4 || b=$TUN_HOME6
	nsx_bg cr-home "sink$f" "$PY" -u "$PEER" udpsink --bind "$b" --port 5510
	wait_for 5 grep -q '^listening' "$TOPO_DIR/sink$f.log" || t_fail "udp sink $f did not start"
done

must "crbpf attach eth0" vps_crbpf attach eth0 >/dev/null
for p in 5500 5510 5511; do
	proto=tcp
	[ $p = 5500 ] || proto=udp
	must "crbpf port add $proto $p 10.0.0.2" vps_crbpf port add $proto $p $TUN_HOME4 >/dev/null
	must "crbpf port add $proto $p [fd00::2]" vps_crbpf port add $proto $p "[$TUN_HOME6]" >/dev/null
done
must "crbpf port add tcp 5501 10.0.0.2:8080" vps_crbpf port add tcp 5501 $TUN_HOME4:8080 >/dev/null
must "crbpf home attach wgh --serve docker0" home_crbpf home attach wgh --serve docker0 >/dev/null

# ---- a) MSS ----------------------------------------------------------------

# synack_mss HOST PORT: the MSS option of the first SYN-ACK from PORT the
# client receives while it says hello (empty when none was captured).
synack_mss() {
	local host=$1 port=$2 filter log=$TOPO_DIR/synack.log pid
	if [[ $host == *:* ]]; then
		# no extension headers: TCP flags at 40 + 13
		filter="ip6 and tcp src port $port and ip6[53] & 0x12 == 0x12"
	else
		filter="ip and tcp src port $port and tcp[13] & 0x12 == 0x12"
	fi
	nsx cr-cli timeout 15 tcpdump -i eth0 -nn -v -l -c 1 "$filter" >"$log" 2>&1 &
	pid=$!
	wait_for 5 grep -q "listening on" "$log"
	peer cr-cli hello "$host" "$port" >/dev/null 2>&1
	wait "$pid"
	grep -o 'mss [0-9]*' "$log" | head -n1 | cut -d' ' -f2
}

mss_case() {
	local case=$1 want=$2 got
	got=$(synack_mss "$3" "$4")
	if [ "$got" = "$want" ]; then
		t_result "$case" PASS
	else
		t_result "$case" FAIL "SYN-ACK at the client has MSS '${got:-none}', want $want"
	fi
}

clamped0=$(vps_counter mss_clamped)
# The container's stack announces 1460 (its link is 1500); the VPS's wg0 is 1420.
mss_case mss-auto-container-v4 1380 $VPS4 5501
# Home announces what its own tunnel device allows: raise it past wg0.
nsx cr-home ip link set wgh mtu 1500 || t_fail "cannot raise wgh's MTU"
mss_case mss-auto-home-v4 1380 $VPS4 5500
mss_case mss-auto-home-v6 1360 $VPS6 5500
if [ "$(vps_counter mss_clamped)" -ge $((clamped0 + 6)) ]; then
	t_result mss-counter PASS
else
	t_result mss-counter FAIL "mss_clamped grew from $clamped0 to $(vps_counter mss_clamped), want +6 (SYN and SYN-ACK x 3)"
fi
must "crbpf attach eth0 --mss 1300" vps_crbpf attach eth0 --mss 1300 >/dev/null
mss_case mss-fixed-1300-v4 1300 $VPS4 5500
mss_case mss-fixed-1300-v6 1300 $VPS6 5500
must "crbpf attach eth0 --mss off" vps_crbpf attach eth0 --mss off >/dev/null
# Bad values: exit 2, one line naming the value, setting unchanged (the
# mss-off cases below still see "off").
for bad in 100 65496 12x ""; do
	out=$(vps_crbpf attach eth0 --mss "$bad" 2>&1)
	rc=$?
	if [ $rc -eq 2 ] && [ "$(printf '%s\n' "$out" | wc -l)" -eq 1 ] &&
		[[ $out == *"--mss '$bad'"* ]]; then
		t_result "mss-bad-value-${bad:-empty}" PASS
	else
		t_result "mss-bad-value-${bad:-empty}" FAIL "exit $rc: $out"
	fi
done
mss_case mss-off-v4 1460 $VPS4 5500
mss_case mss-off-v6 1440 $VPS6 5500

# ---- c) a client above the tunnel MTU with DF learns it -----------------------

# Still --mss off and home announcing 1460: the client's TCP segments are
# 1500 bytes until the VPS's frag-needed / packet-too-big arrives.
upload_case() {
	local case=$1 host=$2 out route
	nsx cr-cli ip route flush cache >/dev/null 2>&1
	nsx cr-cli ip -6 route flush cache >/dev/null 2>&1
	out=$(peer cr-cli put "$host" 5500 --bytes 2000000 --timeout 10 2>&1)
	if [ $? -ne 0 ]; then
		t_result "$case" FAIL "upload: $(printf '%s\n' "$out" | tail -n1)"
		return
	fi
	route=$(nsx cr-cli ip route get "$host" 2>&1)
	if grep -q "mtu 1420" <<<"$route"; then
		t_result "$case" PASS
	else
		t_result "$case" FAIL "upload ok but the client's route has no mtu 1420: $(head -n1 <<<"$route")"
	fi
}
toobig0=$(vps_counter icmp_too_big)
upload_case tcp-df-learns-1420-v4 $VPS4
upload_case tcp-df-learns-1420-v6 $VPS6
nsx cr-home ip link set wgh mtu 1420 || t_fail "cannot restore wgh's MTU"
must "crbpf attach eth0 --mss auto" vps_crbpf attach eth0 --mss auto >/dev/null

pmtu_case() {
	local case=$1 out
	nsx cr-cli ip route flush cache >/dev/null 2>&1
	nsx cr-cli ip -6 route flush cache >/dev/null 2>&1
	out=$(peer cr-cli pmtu "$2" 5511 --size "$3" 2>&1)
	if [ "$out" = "mtu 1420" ]; then
		t_result "$case" PASS
	else
		t_result "$case" FAIL "client: $(printf '%s\n' "$out" | tail -n1), want mtu 1420"
	fi
}
pmtu_case udp-df-learns-1420-v4 $VPS4 1472
pmtu_case udp-df-learns-1420-v6 $VPS6 1452
toobig1=$(vps_counter icmp_too_big)
if [ "$toobig1" -ge $((toobig0 + 4)) ]; then
	t_result icmp-too-big-counter PASS
else
	t_result icmp-too-big-counter FAIL "icmp_too_big went from $toobig0 to $toobig1, want +4 at least"
fi

# ---- b) PMTUD through a 1280-byte hop ---------------------------------------

# 20 MB per download, 4 under emulation: the path learns 1280 on the first
# full-sized segments either way.
DL=$(scaled 20000000 4000000)
download_case() {
	local case=$1 host=$2 port=$3 out
	out=$(peer cr-cli get "$host" "$port" --bytes $DL --seed 7 --timeout 15 2>&1)
	if [ $? -eq 0 ] && [[ $out == "get ok $DL "* ]]; then
		t_result "$case" PASS
	else
		t_result "$case" FAIL "$(printf '%s\n' "$out" | tail -n1)"
	fi
}
nsx cr-cli ip route flush cache >/dev/null 2>&1
nsx cr-cli ip -6 route flush cache >/dev/null 2>&1
nsx cr-rtr ip link set cli0 mtu 1280 || t_fail "cannot shrink the router's link to the client"
# Control first, while home has learned nothing about the client: without
# the router's errors the clamped MSS alone does not fit.
nsx cr-rtr iptables -I OUTPUT -p icmp --icmp-type fragmentation-needed -j DROP ||
	t_fail "cannot drop the router's frag-needed"
# The stall must be the data's: connected, the request sent, the server
# sending (and resending: home's retransmissions grow), then nothing. A dead
# server or a lost SYN fails in connect, not here.
retx0=$(nsx cr-home nstat -asz TcpRetransSegs | awk '/^TcpRetransSegs / {print $2}')
out=$(peer cr-cli get $VPS4 5500 --bytes 20000000 --seed 8 --timeout 4 2>&1)
rc=$?
retx1=$(nsx cr-home nstat -asz TcpRetransSegs | awk '/^TcpRetransSegs / {print $2}')
if [ "$rc" -eq 0 ]; then
	t_result pmtud-control-no-icmp-stalls FAIL "download completed without the router's ICMP: $out"
elif ! [[ "$out" =~ ^get\ from\ .*\ after\ ([0-9]+)\ bytes:\ timed\ out$ ]]; then
	t_result pmtud-control-no-icmp-stalls FAIL "want a stall after connecting, got: $(printf '%s\n' "$out" | tail -n1)"
elif got=${BASH_REMATCH[1]} && ! nums "$retx0" "$retx1"; then
	t_result pmtud-control-no-icmp-stalls FAIL "home's TcpRetransSegs unreadable ('$retx0' '$retx1')"
elif [ "$retx1" -le "$retx0" ]; then
	t_result pmtud-control-no-icmp-stalls FAIL "stalled after $got bytes, but home resent nothing: the server was not sending"
else
	t_result pmtud-control-no-icmp-stalls PASS
	echo "    stalled after $got bytes, home resent $((retx1 - retx0)) segments"
fi
nsx cr-rtr iptables -D OUTPUT -p icmp --icmp-type fragmentation-needed -j DROP
download_case pmtud-1280-home-v4 $VPS4 5500
download_case pmtud-1280-home-v6 $VPS6 5500
download_case pmtud-1280-container-v4 $VPS4 5501
# The sender learned 1280 from the router's error, translated by the VPS.
route=$(nsx cr-home ip route get $CLI4 from $TUN_HOME4 2>&1)
if grep -q "mtu 1280" <<<"$route"; then
	t_result pmtud-home-learned-1280-v4 PASS
else
	t_result pmtud-home-learned-1280-v4 FAIL "home's route to the client: $(head -n1 <<<"$route")"
fi
route=$(nsx cr-home ip -6 route get $CLI6 from $TUN_HOME6 2>&1)
if grep -q "mtu 1280" <<<"$route"; then
	t_result pmtud-home-learned-1280-v6 PASS
else
	t_result pmtud-home-learned-1280-v6 FAIL "home's route to the client: $(head -n1 <<<"$route")"
fi
nsx cr-rtr ip link set cli0 mtu 1500

# ---- d) IPv4 without DF above the tunnel MTU arrives whole --------------------

# whole_case CASE SIZE [TRIES]: a datagram of SIZE bytes of IP (28 of
# headers) must reach home whole, sent up to TRIES times like an application
# would retry.
whole_case() {
	local case=$1 size=$(($2 - 28)) tries=${3:-1} sent i
	for i in $(seq "$tries"); do
		sent=$(peer cr-cli udpsend $VPS4 5510 --size "$size" --seed "$size" 2>&1) ||
			{ t_result "$case" FAIL "client: $sent"; return; }
		set -- $sent
		if wait_for 3 grep -q "^got $2 $3 $CLI4:" "$TOPO_DIR/sink4.log"; then
			t_result "$case" PASS
			[ "$i" = 1 ] || echo "    (arrived on try $i)"
			return
		fi
	done
	t_result "$case" FAIL "home got: $(grep '^got' "$TOPO_DIR/sink4.log" | tail -n1 | cut -c1-40), sent $2 ${3:0:16} $tries times"
}
oversize0=$(vps_counter fwd_oversize)
whole_case udp-nodf-1480-whole-v4 1480
if [ "$(vps_counter fwd_oversize)" -gt "$oversize0" ]; then
	t_result udp-nodf-counter PASS
else
	t_result udp-nodf-counter FAIL "fwd_oversize did not grow"
fi
# The client side of the path at 3200, so 3000 bytes reach the VPS
# unfragmented (a veth with XDP caps its peer's MTU near 3500).
nsx cr-cli ip link set eth0 mtu 3200 && nsx cr-rtr ip link set cli0 mtu 3200 &&
	nsx cr-rtr ip link set vps0 mtu 3200 && nsx cr-vps ip link set eth0 mtu 3200 ||
	t_fail "cannot raise the client side's MTU"
# wireguard-go sends its UDP with DF: the first outer packet above the home
# line's 1500 dies at the router, whose frag-needed teaches the VPS's kernel
# to fragment the next ones (the 1480 case above never exceeds the VPS's own
# 1500 link, so its outer packets are fragmented from the start).
whole_case udp-nodf-3000-whole-v4 3000 3
nsx cr-cli ip link set eth0 mtu 1500
nsx cr-rtr ip link set cli0 mtu 1500
nsx cr-rtr ip link set vps0 mtu 1500
nsx cr-vps ip link set eth0 mtu 1500
t_done
