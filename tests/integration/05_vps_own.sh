#!/usr/bin/env bash
# SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
# Issue 2 case 5: while crbpf is attached, the VPS's own services keep
# working: an SSH-like TCP service on unmapped port 22 (v4, v6), ICMP echo,
# and the WireGuard handshake itself (forced anew). Mapping a port something
# on the VPS listens on (22/tcp, the WireGuard listener 51820/udp) is refused.
source "$(dirname "$0")/../lib/common.sh"
t_begin vps-own
need_crbpf
t_up

serve cr-vps sshd tcp "" 22 || t_fail "VPS port-22 server did not start"
serve cr-home homesrv tcp "" 8000 || t_fail "home server did not start"

must "crbpf attach eth0" vps_crbpf attach eth0 >/dev/null
must "crbpf port add tcp 8000 10.0.0.2" vps_crbpf port add tcp 8000 $TUN_HOME4 >/dev/null
must "crbpf home attach wgh" home_crbpf home attach wgh >/dev/null
expect_hello "mapped port" "$CLI4:" peer cr-cli hello $VPS4 8000

hello_case vps-ssh-v4 "$CLI4:" peer cr-cli hello $VPS4 22
hello_case vps-ssh-v6 "[$CLI6]:" peer cr-cli hello $VPS6 22

if nsx cr-cli ping -c2 -i0.2 -W2 $VPS4 >/dev/null && nsx cr-cli ping -6 -c2 -i0.2 -W2 $VPS6 >/dev/null; then
	t_result vps-ping PASS
else
	t_result vps-ping FAIL "ping $VPS4 / $VPS6 from the client failed"
fi

# A new handshake (wg_rehandshake), then a ping through the tunnel.
ok=0
wg_rehandshake && ok=1
if [ "$ok" -eq 1 ] && nsx cr-home ping -c1 -W2 $TUN_VPS4 >/dev/null; then
	t_result vps-wireguard-handshake PASS
else
	t_result vps-wireguard-handshake FAIL "no new handshake within 10 s (before $WG_T0, now ${WG_T1:-none})"
fi
hello_case tcp-after-rehandshake "$CLI4:" peer cr-cli hello $VPS4 8000

# Refusing to map a port the VPS itself listens on.
before=$(vps_crbpf port list --json 2>&1)
for spec in "tcp 22" "udp 51820"; do
	# shellcheck disable=SC2086
	err=$(vps_crbpf port add $spec $TUN_HOME4 2>&1 >/dev/null)
	rc=$?
	case_name=refuse-listener-${spec/ /-}
	after=$(vps_crbpf port list --json 2>&1)
	if [ "$rc" -ne 1 ]; then
		t_result "$case_name" FAIL "port add $spec: exit $rc, want 1"
	elif [ "$before" != "$after" ]; then
		t_result "$case_name" FAIL "port add $spec changed port list"
	elif [ -z "$err" ]; then
		t_result "$case_name" FAIL "port add $spec: no message"
	else
		t_result "$case_name" PASS
	fi
done
HELLO_TAG=sshd hello_case vps-ssh-after-refusal "$CLI4:" peer cr-cli hello $VPS4 22
# --force maps it anyway; port del gives port 22 back to the VPS.
if vps_crbpf port add tcp 22 $TUN_HOME4:8000 --force >/dev/null 2>"$TOPO_DIR/force.err"; then
	HELLO_TAG=homesrv hello_case force-maps-listener "$CLI4:" peer cr-cli hello $VPS4 22
	must "crbpf port del tcp 22" vps_crbpf port del tcp 22 >/dev/null
	HELLO_TAG=sshd hello_case force-del-restores-vps "$CLI4:" peer cr-cli hello $VPS4 22
else
	t_result force-maps-listener FAIL "port add tcp 22 --force: $(head -n1 "$TOPO_DIR/force.err")"
fi
t_done
