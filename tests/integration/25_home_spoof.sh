#!/usr/bin/env bash
# SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
# Issue 11 item 2: one packet from a "DNS server" (198.51.100.53:53, a
# namespace on the internet side) to a mapped port must not pull the
# container's own DNS queries to that server into the tunnel, where they were
# lost: only replies of the flow that came in are steered. The host's own
# query and a tunnelled client of the container still work after it.
source "$(dirname "$0")/../lib/common.sh"
t_begin home-spoof
need_crbpf
t_up

DNS4=198.51.100.53
must "dns address" nsx cr-cli ip addr add $DNS4/24 dev eth0 >/dev/null

must "crbpf attach eth0" vps_crbpf attach eth0 >/dev/null
must "crbpf port add udp 8080 10.0.0.2" vps_crbpf port add udp 8080 $TUN_HOME4 >/dev/null
must "crbpf home attach wgh --serve docker0" home_crbpf home attach wgh --serve docker0 >/dev/null

# The packet: from the server's address and port 53 to the public port that
# Docker's DNAT hands to the container (nobody listens there: the container
# answers with a port unreachable, which goes back through the tunnel).
before=$(noports cr-ctr)
nums "$before" || t_fail "cannot read UdpNoPorts in cr-ctr"
must "datagram from $DNS4:53" nsx cr-cli "$PY" -c '
import socket, sys
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.bind((sys.argv[1], 53))
s.sendto(b"not a query\n", (sys.argv[2], 8080))
' $DNS4 $VPS4
ctr_noports_grew() {
	local n
	n=$(noports cr-ctr)
	nums "$n" && [ "$n" -gt "$before" ]
}
if wait_for 5 ctr_noports_grew; then
	t_result spoof-reached-container PASS
else
	t_result spoof-reached-container FAIL "the datagram from $DNS4:53 never reached the container"
fi

# The server the container and the host ask, on that very endpoint.
serve cr-cli dns udp $DNS4 53 dns || t_fail "dns server did not start"
# Their queries leave through the home line: the server sees the CGNAT address.
HELLO_TAG=dns hello_case container-own-query "$RTR_CLI4:" peer cr-ctr hello --proto udp $DNS4 53
HELLO_TAG=dns hello_case host-own-query "$RTR_CLI4:" peer cr-home hello --proto udp $DNS4 53

# Tunnelled clients of the container are still answered through the tunnel.
serve cr-ctr ctrudp udp "" 80 || t_fail "container udp server did not start"
HELLO_TAG=ctrudp hello_case tunnelled-client "$CLI4:" peer cr-cli hello --proto udp $VPS4 8080
t_done
