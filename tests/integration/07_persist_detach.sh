#!/usr/bin/env bash
# SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
# Issue 2 case 7: forwarding runs on after the crbpf process has exited (every
# request below is made after crbpf returned), and `detach` / `home detach`
# leave nothing behind: no crbpf links or programs (bpftool; tcx links show as
# "type 11" and never in tc), no tc filters, no XDP, no pins, no ip rules, no
# routes in table 123.
source "$(dirname "$0")/../lib/common.sh"
t_begin persist-detach
need_crbpf
t_up

serve cr-home homesrv tcp "" 8000 || t_fail "home server did not start"
serve cr-ctr ctrsrv tcp "" 80 || t_fail "container server did not start"
leftovers_before

must "crbpf attach eth0" vps_crbpf attach eth0 >/dev/null
must "crbpf port add tcp 8000 10.0.0.2" vps_crbpf port add tcp 8000 $TUN_HOME4 >/dev/null
must "crbpf port add tcp 8000 [fd00::2]" vps_crbpf port add tcp 8000 "[$TUN_HOME6]" >/dev/null
must "crbpf port add tcp 8080 10.0.0.2" vps_crbpf port add tcp 8080 $TUN_HOME4 >/dev/null
must "crbpf home attach wgh --serve docker0" home_crbpf home attach wgh --serve docker0 >/dev/null

# crbpf has exited; nothing of it runs in any namespace.
for ns in cr-vps cr-home; do
	if ip netns pids "$ns" | xargs -r ps -o comm= -p | grep -q crbpf; then
		t_fail "a crbpf process is still running in $ns"
	fi
done
hello_case persist-tcp-v4 "$CLI4:" peer cr-cli hello $VPS4 8000
hello_case persist-tcp-v6 "[$CLI6]:" peer cr-cli hello $VPS6 8000
hello_case persist-container "$CLI4:" peer cr-cli hello $VPS4 8080
# The attachments this configuration makes, pinned; those that are links
# (all with tcx, the XDP one always) must be in bpftool's list of crbpf links.
# Only our own pins count: other crbpf users may attach at the same time.
PINS_WANT="crbpf-test-home/links/homefwd_docker0 crbpf-test-home/links/homeout_eth0
crbpf-test-home/links/homesrv_docker0
crbpf-test-home/links/hometun_wgh crbpf-test-vps/links/edge_eth0
crbpf-test-vps/links/tun_wg0 crbpf-test-vps/links/xdp_eth0"
links_case() {
	local case=$1 objs=$2 pinned=$3 pins id missing=
	if ! bpf_objs >"$objs"; then
		t_result "$case" FAIL "$(cat "$objs")"
		return 1
	fi
	if ! pinned_links >"$pinned" 2>"$TOPO_DIR/pinned.err"; then
		t_result "$case" FAIL "$(head -n1 "$TOPO_DIR/pinned.err")"
		return 1
	fi
	pins=$(cd /sys/fs/bpf && find crbpf-test-vps crbpf-test-home -type f -path '*/links/*' | sort | paste -sd' ' -)
	if [ "$pins" != "$(tr '\n' ' ' <<<"$PINS_WANT" | sed 's/ $//')" ]; then
		t_result "$case" FAIL "pinned attachments '$pins', want '$(tr '\n' ' ' <<<"$PINS_WANT")'"
		return 1
	fi
	if ! grep -q 'xdp_eth0 ' "$pinned"; then
		t_result "$case" FAIL "the XDP attachment is no pinned link"
		return 1
	fi
	while read -r _ id; do
		grep -q "^link $id " "$objs" || missing+=" $id"
	done <"$pinned"
	if [ -n "$missing" ]; then
		t_result "$case" FAIL "pinned links not among bpftool's crbpf links:$missing"
		return 1
	fi
}
leftovers >"$TOPO_DIR/left.attached"
if cmp -s "$TOPO_DIR/left.before" "$TOPO_DIR/left.attached"; then
	t_result attach-visible FAIL "no XDP, tc filter or pin visible while attached"
elif links_case attach-visible "$TOPO_DIR/bpf.attached" "$TOPO_DIR/pinned.attached"; then
	t_result attach-visible PASS
fi

# attach on an attached device: an in-place upgrade, not a second copy: the
# same links (ids), their programs replaced.
must "crbpf attach eth0 (again)" vps_crbpf attach eth0 >/dev/null
if links_case reattach-in-place "$TOPO_DIR/bpf.reattached" "$TOPO_DIR/pinned.reattached"; then
	if ! cmp -s "$TOPO_DIR/pinned.attached" "$TOPO_DIR/pinned.reattached"; then
		t_result reattach-in-place FAIL "pinned links before/after the second attach: $(paste -sd' ' "$TOPO_DIR/pinned.attached") / $(paste -sd' ' "$TOPO_DIR/pinned.reattached")"
	else
		hello_case reattach-in-place "$CLI4:" peer cr-cli hello $VPS4 8000
	fi
fi

detach_case detach-clean
# Detached, port 8000 is the VPS's own, where nothing listens: its stack
# refuses the SYN. The home server is still up (so a forwarding leftover
# would be answered), and a timeout would be a packet lost on the way.
rst0=$(tcp_rsts cr-vps)
if out=$(peer cr-cli hello --timeout 2 $VPS4 8000 2>&1); then
	t_result detach-stops-forwarding FAIL "port 8000 still forwarded after detach: $out"
elif [[ "$out" != *"Connection refused"* ]]; then
	t_result detach-stops-forwarding FAIL "want refused by the VPS's own stack, got: $out"
elif rst1=$(tcp_rsts cr-vps) && ! nums "$rst0" "$rst1"; then
	t_result detach-stops-forwarding FAIL "VPS TcpOutRsts unreadable ('$rst0' '$rst1')"
elif [ "$rst1" -le "$rst0" ]; then
	t_result detach-stops-forwarding FAIL "refused, but not by the VPS (its TcpOutRsts did not grow)"
elif ! out=$(peer cr-vps hello --timeout 2 $TUN_HOME4 8000 2>&1) || [[ "$out" != *hello* ]]; then
	t_result detach-stops-forwarding FAIL "home server gone, so the check proves nothing: $out"
else
	t_result detach-stops-forwarding PASS
fi
t_done
