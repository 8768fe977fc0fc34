#!/usr/bin/env bash
# SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
# Issue 10, reboot: forwarding set up from config files, then everything
# gone (pins, namespaces, devices: what a reboot leaves), the topology
# rebuilt with the tunnels coming up only after crbpf started (the boot race
# with wg-quick), and nothing run but the boot entry point: the ExecStart
# line of scripts/systemd/crbpf.service.in, with the test's binary and
# config file. Every mapping must forward again: TCP and UDP over IPv4,
# TCP over IPv6, a container behind the served bridge.
# kernels: skip, its restarts and the clsact paths are 21_watch's on every kernel; this adds only the tool's boot logic
source "$(dirname "$0")/../lib/common.sh"
t_begin reboot
need_crbpf

unit=scripts/systemd/crbpf.service.in
entry=$(sed -n 's/^ExecStart=//p' "$unit")
[[ "$entry" == "@SBINDIR@/crbpf watch /etc/crbpf/crbpf.conf" ]] ||
	t_fail "$unit: unexpected ExecStart '$entry' (this test runs it with its own paths)"

vps_conf=$TOPO_DIR/vps.conf
home_conf=$TOPO_DIR/home.conf
cat >"$vps_conf" <<EOF
# the VPS of the test topology
[Edge]
Interface = eth0
Forward = tcp 9001 $TUN_HOME4
Forward = udp 9000 $TUN_HOME4
Forward = tcp 9001 [$TUN_HOME6]
Forward = udp 8080 $TUN_HOME4
EOF
cat >"$home_conf" <<EOF
[Home]
Tunnel = wgh
Serve = docker0
EOF

# boot NS: run the unit's entry point in NS (background), as systemd would.
boot() {
	local ns=$1 conf=$2 pin=$3 cmd
	cmd=${entry//@SBINDIR@\/crbpf/$CRBPF}
	cmd=${cmd//\/etc\/crbpf\/crbpf.conf/$conf}
	# shellcheck disable=SC2086
	nsx_bg "$ns" "boot-$ns" env CRBPF_PIN_ROOT="$pin" $cmd
}
boot_stop() {
	local f
	for f in "$TOPO_DIR"/boot-*.pid; do
		[ -f "$f" ] && kill "$(cat "$f")" 2>/dev/null
	done
	sleep 0.3
}
trap 'boot_stop; _t_exit' EXIT

servers() {
	serve cr-home tcp9001 tcp "" 9001 &&
		serve cr-home udp9000 udp "" 9000 &&
		serve cr-ctr ctr80 udp "" 80
}

# all_forward PREFIX: every mapping, one case each.
all_forward() {
	local p=$1
	hello_case "$p-tcp-v4" "$CLI4:" peer cr-cli hello --timeout 3 $VPS4 9001
	hello_case "$p-udp-v4" "$CLI4:" peer cr-cli hello --proto udp --timeout 3 $VPS4 9000
	hello_case "$p-tcp-v6" "[$CLI6]:" peer cr-cli hello --timeout 3 $VPS6 9001
	hello_case "$p-container" "$CLI4:" peer cr-cli hello --proto udp --timeout 3 $VPS4 8080
}

# Before: applied by hand, working.
t_up
servers || t_fail "servers did not start"
must "crbpf apply (VPS)" vps_crbpf apply "$vps_conf" >/dev/null
must "crbpf apply (home)" home_crbpf apply "$home_conf" >/dev/null
all_forward reboot-before

# The reboot: nothing of it survives.
topo_down
[ ! -e "$VPS_PIN" ] && [ ! -e "$HOME_PIN" ] || t_fail "pins survived the simulated reboot"
t_up
servers || t_fail "servers did not start after the reboot"
# crbpf starts before wg-quick: the tunnels are not there yet.
topo_wg_del cr-vps wg0 >/dev/null 2>&1 && topo_wg_del cr-home wgh >/dev/null 2>&1 ||
	t_fail "could not take the tunnels down"
boot cr-vps "$vps_conf" "$VPS_PIN"
boot cr-home "$home_conf" "$HOME_PIN"
sleep 1
for ns in cr-vps cr-home; do
	kill -0 "$(cat "$TOPO_DIR/boot-$ns.pid")" 2>/dev/null ||
		t_fail "the entry point in $ns exited before the tunnel came up: $(tail -n1 "$TOPO_DIR/boot-$ns.log")"
done
# Meanwhile the backends' only route is the VPS's default route: crbpf must
# not send them out of the public NIC to its gateway (nor hook its reverse
# program there), and says why it waits.
# (Its first pass may come later than the 1 s above on a loaded machine.)
wait_for 10 grep -q 'is its tunnel up' "$TOPO_DIR/boot-cr-vps.log"
tuns=$(vps_crbpf status --json | "$PY" -c 'import json, sys; print(" ".join(t["dev"] for t in json.load(sys.stdin)["tunnels"]))')
if [ -z "$tuns" ] && grep -q 'is its tunnel up' "$TOPO_DIR/boot-cr-vps.log"; then
	t_result reboot-no-backend-via-public-gateway PASS
else
	t_result reboot-no-backend-via-public-gateway FAIL "reverse programs on '$tuns'; log: $(tail -n1 "$TOPO_DIR/boot-cr-vps.log")"
fi
# wg-quick up, later in the boot.
topo_wg_vps_up >/dev/null && topo_wg_home_up >/dev/null || t_fail "tunnels did not come up"
wait_handshake 15 || t_fail "no handshake after the tunnels came up"
if wait_for 2 peer cr-cli hello --proto udp --timeout 0.3 $VPS4 9000; then
	t_result reboot-forwarding-within-2s PASS
else
	t_result reboot-forwarding-within-2s FAIL "nothing forwarded 2 s after the handshake: $(tail -n2 "$TOPO_DIR/boot-cr-vps.log" | tr '\n' ';')"
fi
all_forward reboot-after
boot_stop
t_done
