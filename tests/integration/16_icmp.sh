#!/usr/bin/env bash
# SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
# Issue 4 parts 2 and 7: ICMP errors cross the edge translated, both ways,
# and a wildcard-bound UDP service at home answers through the tunnel.
#  - UDP to a closed home port (host and container): the client's connected
#    socket gets "connection refused" from a port unreachable that went back
#    through the tunnel and was rewritten to the public address (the quoted
#    packet must match the client's socket). The VPS's own stack would
#    refuse too if nothing were forwarded, so the counters must show where
#    the datagram was refused and that crbpf sent the error back.
#  - A client that went away: its port unreachable, sent to the public
#    address, reaches the home server's connected socket as "refused".
#  - An MTU error the home host itself sends about a datagram it forwards
#    to the container (whose link is smaller than the tunnel) reaches the
#    client as if from the public address: the client learns the MTU.
#  - A UDP server on home's wildcard address answers v4 and v6 clients
#    through the tunnel although the main table would send the reply out of
#    the home line from the line's address (home gets an IPv6 line here).
source "$(dirname "$0")/../lib/common.sh"
t_begin icmp
need_crbpf
t_up

# An IPv6 home line too, so that a wildcard v6 reply has a wrong way to go.
nsx cr-rtr ip addr add 2001:db8:64::1/64 dev home0 nodad &&
	nsx cr-home ip addr add 2001:db8:64::2/64 dev eth0 nodad &&
	nsx cr-home ip -6 route add default via 2001:db8:64::1 ||
	t_fail "cannot give home an IPv6 line"

serve cr-home udpwild udp "" 5402 || t_fail "home udp wildcard server did not start"

must "crbpf attach eth0" vps_crbpf attach eth0 >/dev/null
for p in 5400 5401 5402; do
	must "crbpf port add udp $p 10.0.0.2" vps_crbpf port add udp $p $TUN_HOME4 >/dev/null
	must "crbpf port add udp $p [fd00::2]" vps_crbpf port add udp $p "[$TUN_HOME6]" >/dev/null
done
# An error the client sends about a reply goes to the backend only with the
# flow it belongs to. A static mapping records a UDP flow only from a
# sampled packet (1 in 16, crbpf.8 FLOWS), and client-gone-refused sends one
# datagram: 5411 onto home's 5401 makes 5401 tracked, its flows recorded at
# once.
must "crbpf port add udp 5411 10.0.0.2:5401" vps_crbpf port add udp 5411 $TUN_HOME4:5401 >/dev/null
must "crbpf port add udp 5411 [fd00::2]:5401" vps_crbpf port add udp 5411 "[$TUN_HOME6]:5401" >/dev/null
# Public 5403 -> home 8080, which home's Docker rules send to the container's
# port 80, where no UDP server listens.
must "crbpf port add udp 5403 10.0.0.2:8080" vps_crbpf port add udp 5403 $TUN_HOME4:8080 >/dev/null
must "crbpf home attach wgh --serve docker0" home_crbpf home attach wgh --serve docker0 >/dev/null

# rev_errors: crbpf's reverse redirects; a translated error is one of them.
rev_errors() {
	local t n
	t=$(vps_counter rev_tc) n=$(vps_counter rev_neigh)
	nums "$t" "$n" && echo $((t + n))
}

# refused_case CASE HOST PORT NS: the client must see ECONNREFUSED, and it
# must come from NS (home or the container) through crbpf: if crbpf forwarded
# nothing, the VPS's own stack would answer port unreachable just the same.
# So NS's stack counts the datagram, the VPS's does not, and crbpf sent the
# error back.
refused_case() {
	local case=$1 ns=$4 out rc be0 be1 vps0 vps1 rev0 rev1
	be0=$(noports "$ns") vps0=$(noports cr-vps) rev0=$(rev_errors)
	out=$(peer cr-cli refused "$2" "$3" 2>&1)
	rc=$?
	be1=$(noports "$ns") vps1=$(noports cr-vps) rev1=$(rev_errors)
	if [ "$rc" -ne 0 ] || [ "$out" != refused ]; then
		t_result "$case" FAIL "$(printf '%s\n' "$out" | tail -n1)"
	elif ! nums "$be0" "$be1" "$vps0" "$vps1" "$rev0" "$rev1"; then
		t_result "$case" FAIL "counters unreadable ($ns NoPorts '$be0' '$be1', cr-vps '$vps0' '$vps1', crbpf rev '$rev0' '$rev1')"
	elif [ "$vps1" -ne "$vps0" ]; then
		t_result "$case" FAIL "refused by the VPS's own stack (its UdpNoPorts +$((vps1 - vps0))), not by $ns"
	elif [ "$be1" -le "$be0" ]; then
		t_result "$case" FAIL "$ns's UdpNoPorts did not grow: the datagram never reached it"
	elif [ "$rev1" -le "$rev0" ]; then
		t_result "$case" FAIL "crbpf redirected nothing back (rev_tc + rev_neigh +0)"
	else
		t_result "$case" PASS
	fi
}
refused_case closed-port-refused-v4 $VPS4 5400 cr-home
refused_case closed-port-refused-v6 $VPS6 5400 cr-home
refused_case closed-port-refused-container-v4 $VPS4 5403 cr-ctr

# backrefuse_case CASE BIND HOST: a home server's connected socket must learn
# that the client went away.
backrefuse_case() {
	local case=$1 bind=$2 host=$3 log=$TOPO_DIR/back-$1.log
	nsx_bg cr-home "back-$case" "$PY" -u "$PEER" backrefuse --bind "$bind" --port 5401
	if ! wait_for 5 grep -q '^listening' "$log"; then
		t_result "$case" FAIL "home server did not start"
		return
	fi
	# One datagram from a socket that is closed at once.
	nsx cr-cli "$PY" -c "
import socket, sys
h = sys.argv[1]
s = socket.socket(socket.AF_INET6 if ':' in h else socket.AF_INET, socket.SOCK_DGRAM)
s.sendto(b'bye\n', (h, 5401))
s.close()" "$host"
	wait_for 10 grep -qE '^(refused|no error)' "$log"
	if grep -q '^refused' "$log"; then
		t_result "$case" PASS
	else
		t_result "$case" FAIL "home server: $(tail -n1 "$log")"
	fi
}
backrefuse_case client-gone-refused-v4 $TUN_HOME4 $VPS4
backrefuse_case client-gone-refused-v6 $TUN_HOME6 $VPS6

# The container's link shrinks below the tunnel's 1420: a 1400-byte DF
# datagram passes the tunnel and draws a fragmentation-needed from home.
nsx cr-ctr ip link set eth0 mtu 1300 && nsx cr-home ip link set vethc0 mtu 1300 ||
	t_fail "cannot lower the container link MTU"
# (1372 bytes of payload: 1400 of IP; above 1420 the VPS itself answers)
out=$(peer cr-cli pmtu $VPS4 5403 --size 1372 2>&1)
if [ "$out" = "mtu 1300" ]; then
	t_result home-mtu-error-v4 PASS
else
	t_result home-mtu-error-v4 FAIL "client: $(printf '%s\n' "$out" | tail -n1), want mtu 1300"
fi

hello_case udp-wildcard-listener-v4 "$CLI4:" peer cr-cli hello --proto udp $VPS4 5402
hello_case udp-wildcard-listener-v6 "[$CLI6]:" peer cr-cli hello --proto udp $VPS6 5402
t_done
