#!/usr/bin/env bash
# SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
# Issue 2 case 9: every bad input gets a non-zero exit (2 for usage errors),
# exactly one line on stderr, and leaves the running state as it was: port
# list, pins, XDP/tc attachments, ip rules and crbpf routes.
source "$(dirname "$0")/../lib/common.sh"
t_begin bad-input
need_crbpf
t_up

# leftovers (common.sh) covers XDP and tc in both directions on every
# device crbpf uses (the home's uplink egress too, where crbpf_home_out sits
# on clsact kernels), rules, table 123 and pins; dum0 is this test's own.
state() {
	echo "== port list"
	vps_crbpf port list --json 2>&1
	leftovers
	echo "== cr-vps dum0"
	nsx cr-vps ip -d link show dev dum0 | grep -oE 'xdp[a-z]*|prog/xdp id [0-9]+'
	nsx cr-vps tc filter show dev dum0 ingress 2>/dev/null
	nsx cr-vps tc filter show dev dum0 egress 2>/dev/null
	for ns in cr-vps cr-home; do
		echo "== $ns routes of crbpf's protocol"
		nsx "$ns" ip route show table all proto 203
		nsx "$ns" ip -6 route show table all proto 203
	done
}

# bad CASE WANT_RC HOST ARGS...: WANT_RC is 2 (usage) or "nz" (any failure,
# whose one line must contain BAD_WANT_MSG, the cause).
# HOST is vps, home, nobody (vps, unprivileged) or empty (vps, empty pin root).
bad() {
	local case=$1 want=$2 host=$3 rc lines
	shift 3
	local tool_only=${BAD_TOOL:-}
	[ "$want" = 2 ] && tool_only="a usage error is the tool's argument parsing, refused before any kernel call"
	if [ -n "$tool_only" ] && native_only "bad-input-$case" "$tool_only"; then
		BAD_WANT_MSG= BAD_TOOL=
		return
	fi
	state >"$TOPO_DIR/state.before"
	case "$host" in
	vps) vps_crbpf "$@" >"$TOPO_DIR/out" 2>"$TOPO_DIR/err" ;;
	home) home_crbpf "$@" >"$TOPO_DIR/out" 2>"$TOPO_DIR/err" ;;
	empty)
		nsx cr-vps env CRBPF_PIN_ROOT=$VPS_PIN-empty timeout 60 "$CRBPF" "$@" \
			>"$TOPO_DIR/out" 2>"$TOPO_DIR/err" ;;
	nobody)
		nsx cr-vps env CRBPF_PIN_ROOT=$VPS_PIN setpriv --reuid=65534 --regid=65534 \
			--clear-groups --inh-caps=-all timeout 60 "$NOBODY_DIR/crbpf" "$@" \
			>"$TOPO_DIR/out" 2>"$TOPO_DIR/err" ;;
	esac
	rc=$?
	state >"$TOPO_DIR/state.after"
	lines=$(grep -c . "$TOPO_DIR/err")
	local cmd="crbpf $*"
	if [ "$rc" -eq 0 ]; then
		t_result "bad-input-$case" FAIL "'$cmd' exited 0"
	elif [ "$want" = 2 ] && [ "$rc" -ne 2 ]; then
		t_result "bad-input-$case" FAIL "'$cmd' exited $rc, want 2 (usage)"
	elif [ "$rc" -ge 124 ]; then
		t_result "bad-input-$case" FAIL "'$cmd' exited $rc (timeout or signal)"
	elif [ "$lines" -ne 1 ]; then
		t_result "bad-input-$case" FAIL "'$cmd' wrote $lines lines to stderr, want 1: $(head -c 200 "$TOPO_DIR/err" | tr '\n' '|')"
	elif ! cmp -s "$TOPO_DIR/state.before" "$TOPO_DIR/state.after"; then
		t_result "bad-input-$case" FAIL "'$cmd' changed state: $(diff "$TOPO_DIR/state.before" "$TOPO_DIR/state.after" | grep '^[<>]' | head -n2 | tr '\n' ';')"
	elif [ "$want" = nz ] && [ -z "${BAD_WANT_MSG:-}" ]; then
		t_result "bad-input-$case" FAIL "no BAD_WANT_MSG: a failure must name its cause"
	elif [ -n "${BAD_WANT_MSG:-}" ] && ! grep -qi -- "$BAD_WANT_MSG" "$TOPO_DIR/err"; then
		t_result "bad-input-$case" FAIL "'$cmd': message '$(cat "$TOPO_DIR/err")' does not mention '$BAD_WANT_MSG'"
	else
		t_result "bad-input-$case" PASS
	fi
	BAD_WANT_MSG= BAD_TOOL=
}

# Routes that make a backend unroutable; a device without native XDP.
nsx cr-vps ip route add unreachable 192.0.2.0/24 &&
	nsx cr-vps ip -6 route add unreachable 2001:db8:dead::/48 &&
	nsx cr-vps ip link add dum0 type bridge &&
	nsx cr-vps ip addr add 198.18.0.1/24 dev dum0 &&
	nsx cr-vps ip link set dum0 up || t_fail "extra VPS routes/devices"
# A copy of the tool that an unprivileged user can execute wherever the
# checkout lives (CI's clone may sit under a 0700 home directory).
NOBODY_DIR=$(mktemp -d /tmp/crbpf-nobody.XXXXXX)
chmod 755 "$NOBODY_DIR" && cp "$CRBPF" "$NOBODY_DIR/crbpf" && chmod 755 "$NOBODY_DIR/crbpf" ||
	t_fail "cannot copy crbpf for the unprivileged run"
trap 'rm -rf "$VPS_PIN-empty" "$NOBODY_DIR"; _t_exit' EXIT

# Failures decided by the tool alone, the same on every kernel (run by make
# test, skipped under the kernel matrix's emulation): what the pins say,
# device names, the caller's capabilities.
PINS_ONLY="the tool's reading of its own pins, the same on every kernel"
NAMES_ONLY="a device name that does not resolve, checked before any BPF call"
ROOT_ONLY="the tool's capability check (capget) before it opens anything"

# Nothing attached anywhere yet (the default pin root of this VPS is empty).
BAD_TOOL=$PINS_ONLY BAD_WANT_MSG="nothing is attached" bad nothing-attached nz empty port add tcp 8000 $TUN_HOME4
BAD_TOOL=$PINS_ONLY BAD_WANT_MSG="nothing is attached" bad nothing-attached-list nz empty port del tcp 8000

must "crbpf attach eth0" vps_crbpf attach eth0 >/dev/null
must "crbpf port add tcp 8000 10.0.0.2" vps_crbpf port add tcp 8000 $TUN_HOME4 >/dev/null
must "crbpf home attach wgh --serve docker0" home_crbpf home attach wgh --serve docker0 >/dev/null

bad unknown-command 2 vps frobnicate
bad unknown-port-subcommand 2 vps port frob tcp 80
bad unknown-option 2 vps attach eth0 --frob
bad unknown-option-list 2 vps port list --bogus
bad missing-argument 2 vps port add tcp 8001
bad bad-proto 2 vps port add icmp 8001 $TUN_HOME4
bad bad-mode 2 vps attach eth0 --mode turbo
bad port-0 2 vps port add tcp 0 $TUN_HOME4
bad port-65536 2 vps port add tcp 65536 $TUN_HOME4
bad port-minus-1 2 vps port add tcp -1 $TUN_HOME4
bad port-range-reversed 2 vps port add tcp 80-70 $TUN_HOME4
bad port-abc 2 vps port add tcp abc $TUN_HOME4
bad backend-port-0 2 vps port add tcp 8001 $TUN_HOME4:0
bad backend-port-65536 2 vps port add tcp 8001 $TUN_HOME4:65536
bad range-past-65535 2 vps port add tcp 65530-65535 $TUN_HOME4:65534
bad address-unparsable 2 vps port add tcp 8001 10.0.0.300
bad address-garbage 2 vps port add tcp 8001 home.example
bad address-v4-in-brackets 2 vps port add tcp 8001 "[$TUN_HOME4]"
bad address-v6-no-brackets 2 vps port add tcp 8001 $TUN_HOME6
bad address-v6-unclosed 2 vps port add tcp 8001 "[$TUN_HOME6"
bad home-bad-table 2 home home attach wgh --table abc
bad home-bad-mark 2 home home attach wgh --mark xyz
# A leading 0 is refused, not read as octal (0100 was table 64).
BAD_WANT_MSG="no leading 0" bad home-table-octal 2 home home attach wgh --serve docker0 --table 0100
BAD_WANT_MSG="no leading 0" bad home-mark-octal 2 home home attach wgh --serve docker0 --mark 010
BAD_WANT_MSG="no route to backend 192.0.2.55" bad backend-no-route-v4 nz vps port add tcp 8001 192.0.2.55
BAD_WANT_MSG="no route to backend 2001:db8:dead::1" bad backend-no-route-v6 nz vps port add tcp 8001 "[2001:db8:dead::1]"
BAD_TOOL=$NAMES_ONLY BAD_WANT_MSG="eth9: No such device" bad no-such-interface-attach nz vps attach eth9
BAD_TOOL=$NAMES_ONLY BAD_WANT_MSG="eth9 is not attached" bad no-such-interface-detach nz vps detach eth9
BAD_TOOL=$NAMES_ONLY BAD_WANT_MSG="eth9 is not attached" bad no-such-interface-dev nz vps port add tcp 8001 $TUN_HOME4 --dev eth9
BAD_TOOL=$NAMES_ONLY BAD_WANT_MSG="wg9: No such device" bad no-such-interface-home nz home home attach wg9
BAD_TOOL=$NAMES_ONLY BAD_WANT_MSG="nosuch0: No such device" bad no-such-interface-serve nz home home attach wgh --serve nosuch0
BAD_TOOL=$PINS_ONLY BAD_WANT_MSG="port 8999 is not mapped" bad port-del-missing nz vps port del tcp 8999
BAD_TOOL=$ROOT_ONLY BAD_WANT_MSG=root bad not-root nz nobody port add tcp 8001 $TUN_HOME4
BAD_WANT_MSG=root bad not-root-attach nz nobody attach eth0
# Half-way failure: a bridge has no native XDP (this kernel has no dummy); everything done before
# the XDP step must be rolled back, eth0's attachment stays untouched.
BAD_WANT_MSG="XDP to dum0 in native mode" bad attach-native-rollback nz vps attach dum0 --mode native

# The attached mapping still works after all of that.
serve cr-home homesrv tcp "" 8000 || t_fail "home server did not start"
hello_case bad-input-still-forwarding "$CLI4:" peer cr-cli hello $VPS4 8000
t_done
