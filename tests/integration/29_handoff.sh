#!/usr/bin/env bash
# SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
# Issue 12: the XDP -> tc hand-off for tunnel backends (bpf/handoff.h). XDP
# rewrites the packet and marks its Ethernet header; crbpf_edge_tc only
# redirects it into wg0. Traffic flows and fwd_handoff grows. The fail-safe
# is the kernel's: with only crbpf's tc attachment removed, a marked frame is
# PACKET_OTHERHOST and ip_rcv()/ipv6_rcv() drop it (rx_otherhost_dropped of
# eth0 grows), the backend gets nothing and `crbpf doctor` says why; `crbpf
# watch` attaches tc again and traffic resumes. tx checksum offload is off on
# the path, so that the client's packets reach XDP with complete checksums
# (partial-looking ones take the old path through tc).
source "$(dirname "$0")/../lib/common.sh"
t_begin handoff
need_crbpf
t_up
set_tx_csum off || t_fail "ethtool -K tx off failed"

serve cr-home udp4 udp $TUN_HOME4 5300 || t_fail "home udp server did not start"
serve cr-home udp6 udp $TUN_HOME6 5300 || t_fail "home udp6 server did not start"
serve cr-home tcpw tcp "" 8000 || t_fail "home tcp server did not start"
must "crbpf attach eth0" vps_crbpf attach eth0 >/dev/null
must "crbpf port add udp 5300 10.0.0.2" vps_crbpf port add udp 5300 $TUN_HOME4 >/dev/null
must "crbpf port add udp 5300 [fd00::2]" vps_crbpf port add udp 5300 "[$TUN_HOME6]" >/dev/null
must "crbpf port add tcp 8000 10.0.0.2" vps_crbpf port add tcp 8000 $TUN_HOME4 >/dev/null
must "crbpf home attach wgh" home_crbpf home attach wgh >/dev/null

# rx_otherhost_dropped of a device (rtnl_link_stats64, 5.19+; iproute2
# before 6.2 does not print it): IFLA_STATS64 from RTM_GETLINK.
otherhost() {
	nsx cr-vps "$PY" - "$1" <<'EOF'
import socket, struct, sys
s = socket.socket(socket.AF_NETLINK, socket.SOCK_RAW, 0)
idx = socket.if_nametoindex(sys.argv[1])
msg = struct.pack("=BxHiII", socket.AF_UNSPEC, 0, idx, 0, 0)
s.send(struct.pack("=IHHII", 16 + len(msg), 18, 1, 1, 0) + msg)  # RTM_GETLINK
data = s.recv(65536)
off = 16 + 16
while off + 4 <= len(data):
    alen, atype = struct.unpack_from("=HH", data, off)
    if alen < 4:
        break
    if atype == 23 and alen - 4 >= 25 * 8:  # IFLA_STATS64 with rx_otherhost_dropped
        print(struct.unpack_from("=25Q", data, off + 4)[24])
        sys.exit(0)
    off += (alen + 3) & ~3
sys.exit(1)
EOF
}

h0=$(vps_counter fwd_handoff) m0=$(vps_counter handoff_meta)
hello_case handoff-udp-v4 "$CLI4:" peer cr-cli hello --proto udp $VPS4 5300
hello_case handoff-udp-v6 "[$CLI6]:" peer cr-cli hello --proto udp $VPS6 5300
hello_case handoff-tcp-v4 "$CLI4:" peer cr-cli hello $VPS4 8000
h1=$(vps_counter fwd_handoff)
if ! nums "$h0" "$h1"; then
	t_result handoff-counted FAIL "fwd_handoff unreadable ('$h0' '$h1')"
elif [ "$h1" -lt $((h0 + 5)) ]; then
	# at least the two datagrams and the three TCP packets of the client
	t_result handoff-counted FAIL "fwd_handoff grew by $((h1 - h0)), want >= 5"
else
	t_result handoff-counted PASS
fi
# Where the kernel allows bpf_xdp_adjust_meta (status: kernel.xdp_meta),
# veth keeps XDP metadata up to tc, and every hand-off takes its target
# from it; elsewhere none does.
m1=$(vps_counter handoff_meta)
meta=$(vps_crbpf status --json | python3 -c 'import json,sys; print(json.load(sys.stdin)["kernel"]["xdp_meta"])')
if ! nums "$m0" "$m1" "$h0" "$h1"; then
	t_result handoff-metadata FAIL "handoff_meta unreadable ('$m0' '$m1')"
elif [ "$meta" = True ] && [ $((m1 - m0)) -ne $((h1 - h0)) ]; then
	t_result handoff-metadata FAIL "XDP metadata allowed, but handoff_meta grew by $((m1 - m0)) for $((h1 - h0)) hand-offs"
elif [ "$meta" != True ] && [ "$m1" -ne "$m0" ]; then
	t_result handoff-metadata FAIL "no XDP metadata here, yet handoff_meta grew by $((m1 - m0))"
else
	t_result handoff-metadata PASS
	echo "    (xdp_meta $meta: handoff_meta +$((m1 - m0)) of fwd_handoff +$((h1 - h0)))"
fi

# Remove crbpf's tc attachment only, as a stray `tc filter del` or
# `bpftool link detach` would; XDP stays and keeps marking.
pin=$VPS_PIN/links/edge_eth0
[ -e "$pin" ] || t_fail "no pinned tc attachment at $pin"
if id=$(bpftool link show pinned "$pin" 2>/dev/null | sed -n 's/^\([0-9]*\):.*/\1/p' | head -n1) && [ -n "$id" ]; then
	nsx cr-vps bpftool link detach id "$id" || t_fail "bpftool link detach id $id failed"
else
	# clsact (no tcx before 6.6): crbpf's filter is prio/handle 0xcb
	nsx cr-vps tc filter del dev eth0 ingress pref 203 handle 0xcb bpf ||
		t_fail "tc filter del of crbpf's filter failed"
fi

d0=$(otherhost eth0) || t_fail "rx_otherhost_dropped of eth0 unreadable"
out=$(peer cr-cli hello --proto udp --timeout 2 $VPS4 5300 2>&1)
rc=$?
out6=$(peer cr-cli hello --proto udp --timeout 2 $VPS6 5300 2>&1)
rc6=$?
d1=$(otherhost eth0)
if [ "$rc" -eq 0 ] || [ "$rc6" -eq 0 ]; then
	t_result handoff-no-tc-backend-gets-nothing FAIL "a reply came without crbpf's tc: '$out' '$out6'"
elif ! nums "$d0" "$d1" || [ "$d1" -lt $((d0 + 2)) ]; then
	t_result handoff-no-tc-backend-gets-nothing FAIL "rx_otherhost_dropped of eth0 went from '$d0' to '$d1', want +2 or more"
else
	t_result handoff-no-tc-backend-gets-nothing PASS
fi

doc=$(vps_crbpf doctor 2>&1)
if [[ "$doc" == *"without crbpf_edge_tc"* ]]; then
	t_result handoff-doctor-warns PASS
else
	t_result handoff-doctor-warns FAIL "doctor said: $(tr '\n' ';' <<<"$doc" | cut -c1-300)"
fi

# Repair: watch's periodic pass attaches the pinned programs again.
nsx_bg cr-vps watch-vps env CRBPF_PIN_ROOT=$VPS_PIN "$CRBPF" -v watch
if wait_for 25 peer cr-cli hello --proto udp --timeout 1 $VPS4 5300; then
	hello_case handoff-repaired-udp-v6 "[$CLI6]:" peer cr-cli hello --proto udp $VPS6 5300
	hello_case handoff-repaired-tcp-v4 "$CLI4:" peer cr-cli hello $VPS4 8000
else
	t_result handoff-repaired FAIL "no reply 25 s after watch started: $(tail -n2 "$TOPO_DIR/watch-vps.log" | tr '\n' ';')"
fi
kill "$(cat "$TOPO_DIR/watch-vps.pid")" 2>/dev/null
sleep 0.3
t_done
