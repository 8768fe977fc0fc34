#!/usr/bin/env bash
# SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
# Issue 13, backends with failover: tcp 443 maps to the home server through
# the first tunnel (wg0/wgh, 10.0.0.2) with the same server through a second
# tunnel (wgfo0/wgfoh, 10.1.0.2) as its backup, health by WireGuard handshake
# and a tcp probe, checked by `crbpf watch` every 0.5 s. During traffic the
# first tunnel's home end goes down: new connections must reach the backup
# within a bound; a connection begun on the backup must survive the first
# tunnel's return (fail-back moves no live flow), while new connections go
# back to the first. `crbpf status` says each backend's state and why; bad
# failover options change nothing (exit 2); a config file Forward line with
# --backup applies and `crbpf config` prints it back.
source "$(dirname "$0")/../lib/common.sh"
t_begin failover
need_crbpf
t_up

BE_A=$TUN_HOME4 # 10.0.0.2 through wg0
BE_B=10.1.0.2   # the same home server through the second tunnel
PORT=8500
# Seconds from the tunnel going down until new flows reach the backup:
# two failed probes (0.5 s apart, 0.5 s timeout each) plus a tick.
BOUND=$(scaled 5 15)

# ---- the second tunnel: its own keys, port and addresses ----
keys=$TOPO_DIR/keys
(umask 077 && wg genkey >"$keys/vps2" && wg genkey >"$keys/home2") &&
	wg pubkey <"$keys/vps2" >"$keys/vps2.pub" && wg pubkey <"$keys/home2" >"$keys/home2.pub" ||
	t_fail "wg genkey failed"
_wg_start cr-vps wgfo0 && _wg_start cr-home wgfoh || t_fail "second tunnel did not start"
nsx cr-vps wg set wgfo0 listen-port 51821 private-key "$keys/vps2" \
	peer "$(cat "$keys/home2.pub")" allowed-ips $BE_B/32 &&
	nsx cr-vps ip addr add 10.1.0.1/24 dev wgfo0 &&
	nsx cr-vps ip link set wgfo0 mtu 1420 up &&
	nsx cr-home wg set wgfoh private-key "$keys/home2" \
		peer "$(cat "$keys/vps2.pub")" endpoint $VPS4:51821 \
		allowed-ips 0.0.0.0/0 persistent-keepalive 1 &&
	nsx cr-home ip addr add $BE_B/24 dev wgfoh &&
	nsx cr-home ip link set wgfoh mtu 1420 up || t_fail "second tunnel setup failed"
# Home answers from the address a connection came to, through its tunnel.
home_routes_a() {
	nsx cr-home ip route replace default dev wgh table 123
}
home_routes_a && nsx cr-home ip rule add from $BE_A table 123 &&
	nsx cr-home ip route add default dev wgfoh table 124 &&
	nsx cr-home ip rule add from $BE_B table 124 || t_fail "home policy routing failed"
wait_for 15 sh -c "nsenter --net=/run/netns/cr-vps wg show wgfo0 latest-handshakes | awk '{exit !(\$2 > 0)}'" ||
	t_fail "no handshake on the second tunnel"

serve cr-home srvA tcp $BE_A $PORT A || t_fail "home server A did not start"
serve cr-home srvB tcp $BE_B $PORT B || t_fail "home server B did not start"

must "crbpf attach eth0" vps_crbpf attach eth0 >/dev/null

# ---- bad input: exit 2, nothing changed ----
bad_case() {
	local case=$1 out rc
	shift
	out=$(vps_crbpf port add tcp 443 $BE_A:$PORT "$@" 2>&1)
	rc=$?
	if [ "$rc" -ne 2 ] || [ "$(printf '%s\n' "$out" | wc -l)" -ne 1 ]; then
		t_result "$case" FAIL "exit $rc, want 2 with one line: $out"
	elif vps_crbpf port list | grep -q " 443 "; then
		t_result "$case" FAIL "exit 2, but tcp 443 was mapped"
	else
		t_result "$case" PASS
	fi
}
bad_case bad-backup-family --backup fd00::2
bad_case bad-backup-self --backup $BE_A
bad_case bad-backup-port --backup $BE_B:22
bad_case bad-probe --probe icmp:1 --backup $BE_B
bad_case bad-probe-without-backup --probe tcp:$PORT
bad_case bad-handshake-max --backup $BE_B --handshake-max 0

must "crbpf port add --backup" vps_crbpf port add tcp 443 $BE_A:$PORT --backup $BE_B \
	--probe tcp:$PORT >/dev/null
if vps_crbpf port list | grep -q "443 .*$BE_A:$PORT .* backup $BE_B"; then
	t_result port-list-shows-backup PASS
else
	t_result port-list-shows-backup FAIL "port list: $(vps_crbpf port list 2>&1 | grep 443)"
fi
if vps_crbpf status | grep -q "not checked yet"; then
	t_result status-before-watch PASS
else
	t_result status-before-watch FAIL "$(vps_crbpf status 2>&1 | sed -n '/^failover/,/^home/p' | tr '\n' '|')"
fi

nsx_bg cr-vps watch-vps env CRBPF_PIN_ROOT=$VPS_PIN CRBPF_FO_TICK_MS=500 "$CRBPF" watch
wait_for 5 grep -q 'watching' "$TOPO_DIR/watch-vps.log" || t_fail "crbpf watch did not start"

# backend_state ADDR: "state|why" of ADDR in `status --json`.
backend_state() {
	vps_crbpf status --json 2>/dev/null | "$PY" -c '
import json, sys
for m in json.load(sys.stdin)["failover"]:
    for b in m["backends"]:
        if b["backend"] == sys.argv[1]:
            print("%s|%s|%s" % (b["state"], b["active"], b["why"]))' "$1"
}
wait_for 10 sh -c "[ \"\$(CRBPF_PIN_ROOT=$VPS_PIN nsenter --net=/run/netns/cr-vps $CRBPF status --json | grep -o '\"state\":\"up\"' | wc -l)\" = 2 ]"
st=$(backend_state $BE_A)
if [[ "$st" == "up|True|up: handshake "*" s ago, probe tcp:$PORT answers" ]] ||
	[[ "$st" == "up|true|up: handshake "*" s ago, probe tcp:$PORT answers" ]]; then
	t_result status-up PASS
else
	t_result status-up FAIL "backend A: '$st'"
fi
HELLO_TAG=A hello_case new-flow-first "$CLI4:" peer cr-cli hello $VPS4 443

# ---- health by WireGuard peer: none covers the backup, or no handshake ----
nsx cr-vps wg set wgfo0 peer "$(wg genkey | wg pubkey)" allowed-ips 10.2.0.0/24 &&
	nsx cr-vps ip route add 10.2.0.0/24 dev wgfo0 || t_fail "silent peer setup failed"
must "crbpf port add tcp 444" vps_crbpf port add tcp 444 $BE_A:$PORT --backup 10.2.0.5,10.1.0.9 >/dev/null
for _ in $(seq 50); do
	st5=$(backend_state 10.2.0.5)
	st9=$(backend_state 10.1.0.9)
	[[ "$st5" == down* && "$st9" == down* ]] && break
	sleep 0.1
done
if [[ "$st5" == "down|"*"|down: no handshake yet" && "$st9" == "down|"*"|down: no WireGuard peer allows it" ]]; then
	t_result status-wireguard-why PASS
else
	t_result status-wireguard-why FAIL "10.2.0.5: '$st5', 10.1.0.9: '$st9'"
fi
must "crbpf port del tcp 444" vps_crbpf port del tcp 444 >/dev/null

# The cut during traffic runs natively only: under the 6.1 emulation its
# python clients stalled or lost a connection in 2 of 5 runs (2026-12-07,
# and once in earlier runs; cause not found), and the datapath it relies on is the unit cases' fo_*
# there; the status and WireGuard cases above run on every kernel.
CUT_CASES="failover-time status-down-why status-text-active prometheus-backends failback-new-flows failback-keeps-flow no-failed-connections-after"
if [ "$EMULATED" = 1 ]; then
	for c in $CUT_CASES; do
		native_only "$c" "its clients' timing under emulation failed 2 of 5 runs; make test runs it"
	done
else
	# ---- the first tunnel's home end goes down during traffic ----
	# A client connects every 0.1 s and logs "TIME TAG" (TAG: the server that
	# answered, - for none).
	rm -f "$TOPO_DIR/stop-clients"
	nsx_bg cr-cli clients bash -c '
		while [ ! -e "$1/stop-clients" ]; do
			[ -e "$1/pause-clients" ] && { sleep 0.1; continue; }
			t=$(date +%s.%N)
			r=$("$2" "$3" hello --timeout 1 '"$VPS4"' 443 2>/dev/null | awk "{print \$3}")
			echo "$t ${r:--}"
			sleep 0.1
		done' _ "$TOPO_DIR" "$PY" "$PEER"
	sleep 1
	t_down=$(date +%s.%N)
	nsx cr-home ip link set wgh down
	wait_for "$((BOUND + 5))" grep -q " B$" "$TOPO_DIR/clients.log"
	# The first connection after the cut that reached B, and the last one that
	# still reached A (one begun just before the cut may finish there).
	t_b=$(awk -v t="$t_down" '$1 > t && $2 == "B" {print $1; exit}' "$TOPO_DIR/clients.log")
	secs=$(awk -v a="$t_down" -v b="${t_b:-0}" 'BEGIN {printf "%.1f", b - a}')
	if [ -z "$t_b" ]; then
		t_result failover-time FAIL "no new connection reached the backup within $((BOUND + 5)) s; cut at $t_down; clients: $(tail -n 8 "$TOPO_DIR/clients.log" | tr '\n' '|'); watch: $(grep mapping "$TOPO_DIR/watch-vps.log" | tr '\n' '|')"
	elif awk -v s="$secs" -v m="$BOUND" 'BEGIN {exit !(s <= m)}'; then
		t_result failover-time PASS
		echo "    failover: new connections reach the backup $secs s after the cut (bound $BOUND s)" >&8
	else
		t_result failover-time FAIL "$secs s until new connections reached the backup, bound $BOUND s"
	fi
	st=$(backend_state $BE_A)
	if [[ "$st" == "down|"*"|down: probe tcp:$PORT "* ]]; then
		t_result status-down-why PASS
	else
		t_result status-down-why FAIL "backend A: '$st'"
	fi
	if vps_crbpf status | grep -q "^    \* $BE_B .*up: handshake"; then
		t_result status-text-active PASS
	else
		t_result status-text-active FAIL "$(vps_crbpf status 2>&1 | sed -n '/^failover/,/^home/p' | tr '\n' '|')"
	fi

	prom=$(vps_crbpf stats --prometheus 2>&1)
	if grep -q "^crbpf_failover_backend_up{.*port=\"443\".*backend=\"$BE_A\",active=\"false\"} 0$" <<<"$prom" &&
		grep -q "^crbpf_failover_backend_up{.*port=\"443\".*backend=\"$BE_B\",active=\"true\"} 1$" <<<"$prom"; then
		t_result prometheus-backends PASS
	else
		t_result prometheus-backends FAIL "$(grep failover <<<"$prom" | tr '\n' '|')"
	fi

	# ---- a long flow on the backup, then the first tunnel comes back ----
	# The clients pause while it connects, so that the one connection to B
	# that lasts is the transfer's (python starts slowly under emulation).
	rm -f "$TOPO_DIR/stop-put"
	touch "$TOPO_DIR/pause-clients"
	sleep 1.5
	nsx_bg cr-cli put-b "$PY" "$PEER" put $VPS4 443 --until "$TOPO_DIR/stop-put" \
		--rate 200000 --bytes 1 --timeout 10
	wait_for "$(scaled 5 20)" sh -c "nsenter --net=/run/netns/cr-home ss -Htn state established src $BE_B:$PORT | grep -q ." ||
		t_result put-started FAIL "the transfer did not connect to the backup"
	rm -f "$TOPO_DIR/pause-clients"
	sleep 0.5
	t_up_a=$(date +%s.%N)
	nsx cr-home ip link set wgh up && home_routes_a || t_result tunnel-back FAIL "wgh did not come back"
	wait_for "$((BOUND + 5))" sh -c "awk -v t=$t_up_a '\$1 > t && \$2 == \"A\"' '$TOPO_DIR/clients.log' | grep -q A"
	t_a=$(awk -v t="$t_up_a" '$1 > t && $2 == "A" {print $1; exit}' "$TOPO_DIR/clients.log")
	if [ -n "$t_a" ]; then
		t_result failback-new-flows PASS
		echo "    fail-back: new connections reach the first backend $(awk -v a="$t_up_a" -v b="$t_a" 'BEGIN {printf "%.1f", b - a}') s after its tunnel came back" >&8
	else
		t_result failback-new-flows FAIL "no new connection reached the first backend within $((BOUND + 5)) s of its return"
	fi
	sleep 1 # the long flow runs on while new flows go to A
	touch "$TOPO_DIR/stop-put" "$TOPO_DIR/stop-clients"
	wait_for 15 grep -q "^put ok\|put to\|put:" "$TOPO_DIR/put-b.log"
	sticky=$(vps_counter fo_sticky)
	# the transfer completed, checksummed, on B (server B logged its bytes)
	n=$(awk '/^put ok/ {print $3}' "$TOPO_DIR/put-b.log")
	if [ -n "$n" ] && [ "$n" -gt 1 ] && grep -q "^put $n " "$TOPO_DIR/srvB.log" &&
		nums "$sticky" && [ "$sticky" -gt 0 ]; then
		t_result failback-keeps-flow PASS
	else
		t_result failback-keeps-flow FAIL "put: '$(tail -n1 "$TOPO_DIR/put-b.log")', fo_sticky '$sticky'"
	fi
	# Every connection got an answer from one of the two (none lost after the
	# failover, none answered by neither once A was back).
	lost=$(awk -v b="${t_b:-0}" '$1 > b + 1 && $2 == "-"' "$TOPO_DIR/clients.log" | wc -l)
	if [ "$lost" -eq 0 ]; then
		t_result no-failed-connections-after PASS
	else
		t_result no-failed-connections-after FAIL "$lost connections after the failover got no answer, begun at (s after the cut) $(awk -v b="${t_b:-0}" -v d="$t_down" '$1 > b + 1 && $2 == "-" {printf "%.1f ", $1 - d}' "$TOPO_DIR/clients.log")(backup reached at $secs s, first tunnel back at $(awk -v a="$t_up_a" -v d="$t_down" 'BEGIN {printf "%.1f", a - d}') s)"
	fi
fi

# ---- the config file ----
if ! native_only config-file "apply and config are tool logic over the maps the cases above use"; then
	cat >"$TOPO_DIR/fo.conf" <<EOF
[Edge]
Interface = eth0
Forward = tcp 443 $BE_A:$PORT --backup $BE_B --probe tcp:$PORT --handshake-max 120
EOF
	out=$(vps_crbpf apply "$TOPO_DIR/fo.conf" 2>&1)
	cfg=$(vps_crbpf config 2>&1)
	if [[ "$cfg" == *"Forward = tcp 443 $BE_A:$PORT --backup $BE_B --probe tcp:$PORT --handshake-max 120"* ]] &&
		[ -z "$(vps_crbpf apply "$TOPO_DIR/fo.conf" 2>&1 | grep 'port ')" ]; then
		t_result config-file PASS
	else
		t_result config-file FAIL "apply: $(echo "$out" | tr '\n' '|'); config: $(echo "$cfg" | grep Forward | tr '\n' '|')"
	fi
fi
must "crbpf port del" vps_crbpf port del tcp 443 >/dev/null
# the list goes, and with it the backup tunnel's reverse program
if vps_crbpf status | grep -q "^failover:" && vps_crbpf status | sed -n '/^failover/,/^home/p' | grep -q "(none)" &&
	! vps_crbpf status | sed -n '/^tunnels/,/^lists/p' | grep -q wgfo0; then
	t_result del-clears PASS
else
	t_result del-clears FAIL "$(vps_crbpf status 2>&1 | sed -n '/^failover/,/^home/p' | tr '\n' '|')"
fi
t_done
