#!/usr/bin/env bash
# SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
# Issue 10, boot and restarts: `crbpf watch` on both ends keeps forwarding
# working while devices are deleted and re-created under traffic (the VPS
# tunnel, the home tunnel, the served bridge, the public NIC), the public
# NIC gains an address, and the home's default route moves to another
# device. A UDP probe (100 datagrams a second through a mapped port,
# each echoed by the home server) measures every outage: the case passes
# when forwarding is back within 2 s of the device being usable again.
# Control: without watch a re-created tunnel stays broken.
source "$(dirname "$0")/../lib/common.sh"
t_begin watch
need_crbpf
t_up

serve cr-home udp9000 udp "" 9000 || t_fail "home UDP server did not start"
serve cr-home tcp9001 tcp "" 9001 || t_fail "home TCP server did not start"
serve cr-ctr ctr80 udp "" 80 || t_fail "container UDP server did not start"
leftovers_before
must "crbpf attach eth0" vps_crbpf attach eth0 >/dev/null
must "port add udp 9000" vps_crbpf port add udp 9000 $TUN_HOME4 >/dev/null
must "port add tcp 9001" vps_crbpf port add tcp 9001 $TUN_HOME4 >/dev/null
must "port add udp 8080" vps_crbpf port add udp 8080 $TUN_HOME4 >/dev/null
must "home attach wgh --serve docker0" home_crbpf home attach wgh --serve docker0 >/dev/null
expect_hello "udp 9000 before" "$CLI4:" peer cr-cli hello --proto udp $VPS4 9000
expect_hello "container before" "$CLI4:" peer cr-cli hello --proto udp $VPS4 8080

watch_start() {
	nsx_bg cr-vps watch-vps env CRBPF_PIN_ROOT=$VPS_PIN "$CRBPF" -v watch
	nsx_bg cr-home watch-home env CRBPF_PIN_ROOT=$HOME_PIN "$CRBPF" -v watch
	wait_for 5 grep -q 'watching' "$TOPO_DIR/watch-vps.log" &&
		wait_for 5 grep -q 'watching' "$TOPO_DIR/watch-home.log"
}
watch_stop() {
	local f
	for f in watch-vps watch-home; do
		[ -f "$TOPO_DIR/$f.pid" ] && kill "$(cat "$TOPO_DIR/$f.pid")" 2>/dev/null
	done
	sleep 0.3
}

# tunnel_ready: the tunnel carries packets again (a ping from the VPS to
# home through it); prints nothing, fails after 25 s.
tunnel_ready() {
	wait_for 25 nsx cr-vps ping -c1 -W0.3 -q $TUN_HOME4
}

# outage PROBE_JSON T_DOWN T_UP: "lost=N out=S back=S steady=0|1": the
# outage runs from the first probe lost after T_DOWN to the first answered
# one after the last loss; back is its end minus T_UP (the device usable
# again; 0 if forwarding was back first), back=none if it never ended;
# steady=1 if the last second of probes was answered.
outage() {
	"$PY" - "$@" <<'EOF'
import json, sys
p = json.load(open(sys.argv[1]))
down, up = float(sys.argv[2]), float(sys.argv[3])
sent, ans = p["sent"], set(p["answered"])
flight = len(sent) - 5  # the last few may still be on their way
lost = [i for i in range(flight) if i not in ans]
after = [i for i in lost if sent[i] > down]
if not after:
    out, back = 0.0, "0.00"
else:
    ends = [i for i in range(lost[-1] + 1, len(sent)) if i in ans]
    out = (sent[ends[0]] if ends else sent[-1]) - sent[after[0]]
    back = "%.2f" % max(0.0, sent[ends[0]] - up) if ends else "none"
steady = all(i in ans for i in range(flight) if sent[i] > sent[-1] - 1.0)
print("lost=%d out=%.2f back=%s steady=%d sent=%d"
      % (len(sent) - len(ans), out, back, steady, len(sent)))
EOF
}

# recreate_case CASE PORT DOWN_CMD UP_CMD [READY_CMD]: probe PORT, run
# DOWN_CMD, keep the device away 1 s, run UP_CMD, wait for READY_CMD (the
# device usable), then judge the outage.
recreate_case() {
	local case=$1 port=$2 down=$3 up=$4 ready=${5:-true} t_down t_up res back
	rm -f "$TOPO_DIR/stop"
	peer cr-cli probe --until "$TOPO_DIR/stop" $VPS4 "$port" >"$TOPO_DIR/$case.json" &
	local ppid=$!
	sleep 1
	t_down=$(date +%s.%N)
	if ! eval "$down" >"$TOPO_DIR/$case.down" 2>&1; then
		touch "$TOPO_DIR/stop"; wait $ppid
		t_result "$case" FAIL "could not take the device down: $(tail -n1 "$TOPO_DIR/$case.down")"
		return
	fi
	sleep 1
	if ! eval "$up" >"$TOPO_DIR/$case.up" 2>&1 || ! eval "$ready"; then
		touch "$TOPO_DIR/stop"; wait $ppid
		t_result "$case" FAIL "could not bring the device back: $(tail -n1 "$TOPO_DIR/$case.up")"
		return
	fi
	t_up=$(date +%s.%N)
	sleep 3
	touch "$TOPO_DIR/stop"
	wait $ppid
	res=$(outage "$TOPO_DIR/$case.json" "$t_down" "$t_up")
	echo "$case: $res (down $t_down, up $t_up)" >>"$TOPO_DIR/outages"
	back=$(sed -E 's/.*back=([^ ]+).*/\1/' <<<"$res")
	if [ "$back" = none ]; then
		t_result "$case" FAIL "forwarding did not come back ($res)"
	elif ! "$PY" -c "import sys; sys.exit(not float(sys.argv[1]) <= 2.0)" "$back" ||
		[[ "$res" != *steady=1* ]]; then
		t_result "$case" FAIL "forwarding back $back s after the device ($res)"
	else
		t_result "$case" PASS
		echo "    $res"
	fi
}

# The VPS end of the tunnel as wg-quick down/up makes it. Its peer's
# endpoint is given back (wg-quick would learn it from home's next
# handshake, up to WireGuard's rekey timeout later; that wait is
# WireGuard's, not crbpf's).
vps_tunnel_down() {
	nsx cr-vps wg show wg0 endpoints | awk '{print $2}' >"$TOPO_DIR/wg0.endpoint"
	topo_wg_del cr-vps wg0
}
vps_tunnel_up() {
	topo_wg_vps_up &&
		nsx cr-vps wg set wg0 peer "$(cat "$TOPO_DIR/keys/home.pub")" \
			endpoint "$(cat "$TOPO_DIR/wg0.endpoint")"
}

# Control first: without watch nothing brings a re-created tunnel back.
vps_tunnel_down >/dev/null 2>&1 && vps_tunnel_up >/dev/null 2>&1 && tunnel_ready ||
	t_fail "could not re-create wg0 for the control case"
if out=$(peer cr-cli hello --proto udp --timeout 2 $VPS4 9000 2>&1); then
	t_result watch-control-no-watch-stays-broken FAIL "forwarded without watch: $out"
else
	t_result watch-control-no-watch-stays-broken PASS
fi
# watch started late repairs what it finds broken.
watch_start || t_fail "crbpf watch did not start: $(tail -n1 "$TOPO_DIR/watch-vps.log")"
if wait_for 2 peer cr-cli hello --proto udp --timeout 0.5 $VPS4 9000; then
	t_result watch-start-repairs PASS
else
	t_result watch-start-repairs FAIL "not forwarding 2 s after watch started: $(tail -n2 "$TOPO_DIR/watch-vps.log" | tr '\n' ';')"
fi

# A TCP connection established before the restarts outlives them all.
peer cr-cli put $VPS4 9001 --bytes 4000000 --rate 200000 --until "$TOPO_DIR/tcpstop" \
	--timeout 60 >"$TOPO_DIR/put.out" 2>&1 &
putpid=$!

recreate_case watch-vps-tunnel 9000 vps_tunnel_down vps_tunnel_up tunnel_ready
recreate_case watch-home-tunnel 9000 "topo_wg_del cr-home wgh" topo_wg_home_up tunnel_ready

bridge_down() { nsx cr-home ip link del docker0; }
bridge_up() {
	nsx cr-home ip link add docker0 type bridge &&
		nsx cr-home ip addr add 172.17.0.1/16 dev docker0 &&
		nsx cr-home ip addr add fd00:17::1/64 dev docker0 nodad &&
		nsx cr-home ip link set docker0 up &&
		nsx cr-home ip link set vethc0 master docker0
}
recreate_case watch-served-bridge 8080 bridge_down bridge_up

nic_down() { nsx cr-vps ip link del eth0; }
nic_up() {
	ip link add vps0 netns cr-rtr type veth peer name eth0 netns cr-vps &&
		nsx cr-rtr ip link set vps0 up && nsx cr-vps ip link set eth0 up &&
		nsx cr-rtr ip addr add 203.0.113.1/24 dev vps0 &&
		nsx cr-rtr ip addr add 2001:db8:203::1/64 dev vps0 nodad &&
		nsx cr-vps ip addr add $VPS4/24 dev eth0 &&
		nsx cr-vps ip addr add $VPS6/64 dev eth0 nodad &&
		nsx cr-vps ip route add default via 203.0.113.1 &&
		nsx cr-vps ip -6 route add default via 2001:db8:203::1
}
recreate_case watch-public-nic 9000 nic_down nic_up

# The TCP transfer survived: every byte arrived, hashed at both ends.
touch "$TOPO_DIR/tcpstop"
if wait $putpid && grep -q '^put ok' "$TOPO_DIR/put.out"; then
	t_result watch-tcp-survives-restarts PASS
else
	t_result watch-tcp-survives-restarts FAIL "$(tail -n1 "$TOPO_DIR/put.out")"
fi

# A new address on the public NIC is forwarded within 2 s.
nsx cr-vps ip addr add 203.0.113.20/24 dev eth0
if wait_for 2 peer cr-cli hello --proto udp --timeout 0.3 203.0.113.20 9000; then
	t_result watch-new-public-address PASS
else
	t_result watch-new-public-address FAIL "203.0.113.20:9000 not forwarded 2 s after the address was added"
fi
nsx cr-vps ip addr del 203.0.113.20/24 dev eth0

# The home's default route moves to another device (a second line): replies
# of the wildcard-bound UDP server would leave through it; the egress
# program follows and puts them into the tunnel.
nsx cr-home sh -e -c "
	ip link add eth9 type veth peer name eth9p
	ip link set eth9p up
	ip link set eth9 up
	ip addr add 192.0.2.1/24 dev eth9
	ip neigh add 192.0.2.2 lladdr 02:00:00:00:00:02 dev eth9 nud permanent
	ip route add $VPS4/32 via 100.64.0.1 dev eth0
	ip route replace default via 192.0.2.2 dev eth9
" || t_fail "could not move the home default route"
line=
wait_for 2 sh -c "nsenter --net=/run/netns/cr-home env CRBPF_PIN_ROOT=$HOME_PIN $CRBPF status --json | grep -q '\"line\":\[\"eth9\"\]'" &&
	line=eth9
if [ "$line" = eth9 ] && peer cr-cli hello --proto udp --timeout 2 $VPS4 9000 >/dev/null 2>&1; then
	t_result watch-home-default-route-moves PASS
else
	t_result watch-home-default-route-moves FAIL "home line devices: $(home_crbpf status --json | grep -o '"line":\[[^]]*\]')"
fi

# watch leaves on SIGTERM with status 0, forwarding in place.
kill "$(cat "$TOPO_DIR/watch-vps.pid")"
if wait_for 3 sh -c "! kill -0 $(cat "$TOPO_DIR/watch-vps.pid") 2>/dev/null" &&
	grep -q 'stopping' "$TOPO_DIR/watch-vps.log" &&
	peer cr-cli hello --proto udp --timeout 2 $VPS4 9000 >/dev/null 2>&1; then
	t_result watch-sigterm PASS
else
	t_result watch-sigterm FAIL "$(tail -n1 "$TOPO_DIR/watch-vps.log")"
fi
watch_stop

# crbpf down (the unit's stop) on both ends, after all those re-creations:
# nothing of crbpf is left (the eth9 line device is the test's own).
nsx cr-home ip route replace default via 100.64.0.1 dev eth0
nsx cr-home ip link del eth9
if vps_crbpf down >/dev/null 2>"$TOPO_DIR/down.err" &&
	home_crbpf down >/dev/null 2>>"$TOPO_DIR/down.err"; then
	leftovers >"$TOPO_DIR/left.after"
	ldiff=$(diff "$TOPO_DIR/left.before" "$TOPO_DIR/left.after" | grep '^[<>]' | head -n3 | tr '\n' ';')
	if [ -z "$ldiff" ] && [ ! -e "$VPS_PIN" ] && [ ! -e "$HOME_PIN" ]; then
		t_result watch-down-leaves-nothing PASS
	else
		t_result watch-down-leaves-nothing FAIL "left behind: ${ldiff:-pin roots $(ls -d "$VPS_PIN" "$HOME_PIN" 2>/dev/null)}"
	fi
else
	t_result watch-down-leaves-nothing FAIL "crbpf down: $(head -n1 "$TOPO_DIR/down.err")"
fi
sed 's/^/    /' "$TOPO_DIR/outages"
t_done
