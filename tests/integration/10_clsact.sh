#!/usr/bin/env bash
# SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
# The pre-tcx path (kernels before 6.6, e.g. Debian 12's 6.1): crbpf built
# with -DCRBPF_FORCE_CLSACT attaches its tc programs through clsact +
# netlink filters instead of tcx links. Forwarding (v4, v6, udp, container)
# must work the same, the filters must be visible in `tc filter show`, and
# detach must remove them (a clsact qdisc left behind is tolerated: tc
# filters, links, XDP, pins and rules are not).
source "$(dirname "$0")/../lib/common.sh"
t_begin clsact
need_crbpf
# Without tcx (before 6.6) the normal build attaches through clsact too, so
# every other file already runs these paths on this kernel.
case "$(CRBPF_PIN_ROOT=/sys/fs/bpf/crbpf-probe-none "$CRBPF" status --json 2>&1)" in
*'"tc_attach":"clsact"'*) t_skip "this kernel has no tcx: crbpf attaches through clsact in every other file" ;;
esac
out=$CR_ROOT/build/clsact
if ! (cd "$CR_ROOT" && CFLAGS="-O2 -g -DCRBPF_FORCE_CLSACT" \
	make -s --no-print-directory OUT="$out" "$out/crbpf") >"$TOPO_DIR/build.log" 2>&1; then
	t_fail "building crbpf with -DCRBPF_FORCE_CLSACT: $(grep -m1 -i error "$TOPO_DIR/build.log")"
fi
CRBPF=$out/crbpf
t_up

serve cr-home homesrv tcp "" 8000 || t_fail "home server did not start"
serve cr-home homeudp udp $TUN_HOME4 5300 || t_fail "home udp server did not start"
serve cr-ctr ctrsrv tcp "" 80 || t_fail "container server did not start"
leftovers_before

must "crbpf attach eth0" vps_crbpf attach eth0 >/dev/null
must "crbpf port add tcp 8000 10.0.0.2" vps_crbpf port add tcp 8000 $TUN_HOME4 >/dev/null
must "crbpf port add tcp 8000 [fd00::2]" vps_crbpf port add tcp 8000 "[$TUN_HOME6]" >/dev/null
must "crbpf port add udp 5300 10.0.0.2" vps_crbpf port add udp 5300 $TUN_HOME4 >/dev/null
must "crbpf port add tcp 8080 10.0.0.2" vps_crbpf port add tcp 8080 $TUN_HOME4 >/dev/null
must "crbpf home attach wgh --serve docker0" home_crbpf home attach wgh --serve docker0 >/dev/null

filters=$(nsx cr-vps tc filter show dev eth0 ingress; nsx cr-vps tc filter show dev wg0 ingress;
	nsx cr-home tc filter show dev wgh ingress; nsx cr-home tc filter show dev docker0 ingress)
n=$(grep -c 'crbpf_' <<<"$filters")
if [ "$n" -ge 4 ]; then
	t_result clsact-filters-visible PASS
else
	t_result clsact-filters-visible FAIL "$n crbpf tc filters on eth0/wg0/wgh/docker0, want 4"
fi
# The home line's egress program (wildcard-UDP replies) too.
if nsx cr-home tc filter show dev eth0 egress | grep -q crbpf_home_out; then
	t_result clsact-egress-visible PASS
else
	t_result clsact-egress-visible FAIL "no crbpf_home_out clsact filter on cr-home eth0 egress"
fi
hello_case clsact-tcp-v4 "$CLI4:" peer cr-cli hello $VPS4 8000
hello_case clsact-tcp-v6 "[$CLI6]:" peer cr-cli hello $VPS6 8000
hello_case clsact-udp-v4 "$CLI4:" peer cr-cli hello --proto udp $VPS4 5300
hello_case clsact-container "$CLI4:" peer cr-cli hello $VPS4 8080
# Re-attach is an in-place upgrade, not a second filter.
must "crbpf attach eth0 (again)" vps_crbpf attach eth0 >/dev/null
n=$(nsx cr-vps tc filter show dev eth0 ingress | grep -c 'crbpf_')
if [ "$n" -eq 1 ]; then
	hello_case clsact-reattach "$CLI4:" peer cr-cli hello $VPS4 8000
else
	t_result clsact-reattach FAIL "$n crbpf filters on eth0 after a second attach, want 1"
fi
detach_case clsact-detach-clean
t_done
