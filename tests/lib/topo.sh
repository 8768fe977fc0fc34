# SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
# shellcheck shell=bash
# Test topology (DESIGN.md "Test topology"), sourced by the integration tests
# and the demo. Five network namespaces:
#
#   cr-cli  eth0 198.51.100.10/24 2001:db8:100::10/64            "internet" client
#   cr-rtr  cli0 198.51.100.1 2001:db8:100::1 | vps0 203.0.113.1 2001:db8:203::1
#           | home0 100.64.0.1/24: the home line's CGNAT (MASQUERADE, nothing inbound)
#   cr-vps  eth0 203.0.113.10/24 2001:db8:203::10/64, wg0 10.0.0.1/24 fd00::1/64 :51820
#   cr-home eth0 100.64.0.2/24 (IPv4 only, like most CGNAT lines), wgh 10.0.0.2/24
#           fd00::2/64 dialing 203.0.113.10:51820; docker0 172.17.0.1/16 with
#           Docker-style DNAT tcp/udp 8080 -> 172.17.0.2:80 and MASQUERADE
#   cr-ctr  eth0 172.17.0.2/16 via docker0                       "container"
#
# Commands run in a namespace through nsenter --net (not ip netns exec) so the
# one bpffs at /sys/fs/bpf stays visible. Everything is torn down by topo_down,
# which is idempotent and also cleans what a crashed run left behind.

TOPO_LIB=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
CR_ROOT=$(cd "$TOPO_LIB/../.." && pwd)
CRBPF=${CRBPF:-$CR_ROOT/build/crbpf}
PEER=$TOPO_LIB/peer.py
if [ -z "${PY:-}" ]; then
	# The distribution's interpreter: starts fast and has no user shims.
	if [ -x /usr/bin/python3 ]; then PY=/usr/bin/python3; else PY=python3; fi
fi

TOPO_NS=(cr-cli cr-rtr cr-vps cr-home cr-ctr)
VPS_PIN=/sys/fs/bpf/crbpf-test-vps
HOME_PIN=/sys/fs/bpf/crbpf-test-home
TOPO_LOCK=/run/lock/crbpf-topo.lock

CLI4=198.51.100.10 CLI6=2001:db8:100::10
RTR_CLI4=198.51.100.1
VPS4=203.0.113.10 VPS6=2001:db8:203::10
HOME_LINE4=100.64.0.2
TUN_VPS4=10.0.0.1 TUN_VPS6=fd00::1
TUN_HOME4=10.0.0.2 TUN_HOME6=fd00::2
CTR4=172.17.0.2

: "${TOPO_DIR:=}"

nsx() {
	local ns=$1
	shift
	nsenter --net="/run/netns/$ns" -- "$@"
}

# Start a long-running command in a namespace; output goes to
# $TOPO_DIR/LOG.log. The lock fd is closed so a leftover daemon cannot hold
# the topology lock.
nsx_bg() {
	local ns=$1 logname=$2
	shift 2
	nsenter --net="/run/netns/$ns" -- "$@" >"$TOPO_DIR/$logname.log" 2>&1 9>&- &
	echo $! >"$TOPO_DIR/$logname.pid"
}

# wait_for SECONDS CMD...: poll CMD every 0.1 s until it succeeds.
wait_for() {
	local t=$(($1 * 10))
	shift
	while [ "$t" -gt 0 ]; do
		"$@" >/dev/null 2>&1 && return 0
		sleep 0.1
		t=$((t - 1))
	done
	return 1
}

# serve NS LOGNAME PROTO BIND PORT [TAG]: a peer.py server that reports the
# client address it sees (BIND "" = dual-stack wildcard).
serve() {
	local ns=$1 logname=$2 proto=$3 bind=$4 port=$5 tag=${6:-$2}
	nsx_bg "$ns" "$logname" "$PY" -u "$PEER" serve --proto "$proto" \
		--bind "$bind" --port "$port" --tag "$tag"
	wait_for 5 grep -q '^listening' "$TOPO_DIR/$logname.log"
}

# peer NS SUBCOMMAND ARGS...: run a peer.py client in a namespace.
peer() {
	local ns=$1
	shift
	nsx "$ns" "$PY" "$PEER" "$@"
}

_topo_kill_ns() {
	local ns=$1 pids i
	[ -e "/run/netns/$ns" ] || return 0
	for i in 1 2 3 4 5 6 7 8 9 10; do
		pids=$(ip netns pids "$ns" 2>/dev/null)
		[ -n "$pids" ] || break
		# shellcheck disable=SC2086
		if [ "$i" -lt 5 ]; then kill $pids 2>/dev/null; else kill -9 $pids 2>/dev/null; fi
		sleep 0.1
	done
	ip netns del "$ns" 2>/dev/null
}

# topo_down [--force]: remove everything topo_up (or a crashed run) made.
# Idempotent. Without --force it does nothing unless this shell holds the
# topology lock: a test that ends before topo_up (skipped, build failed) must
# not tear down the topology another run is using.
topo_down() {
	local ns f
	[ "${TOPO_HELD:-0}" = 1 ] || [ "${1:-}" = --force ] || return 0
	# Unpinning drops crbpf's links before the devices go away.
	rm -rf "$VPS_PIN" "$HOME_PIN" 2>/dev/null
	for ns in "${TOPO_NS[@]}"; do
		_topo_kill_ns "$ns"
	done
	# wireguard-go daemons started by this shell, if they escaped their netns.
	for f in "${TOPO_DIR:-/nonexistent}"/wg-*.pid; do
		[ -f "$f" ] && kill -9 "$(cat "$f")" 2>/dev/null
	done
	rm -f /var/run/wireguard/wg0.sock /var/run/wireguard/wgh.sock
	rm -rf "$VPS_PIN" "$HOME_PIN" 2>/dev/null
	return 0
}

_topo_ns_add() {
	local ns=$1
	ip netns add "$ns" || return 1
	nsx "$ns" ip link set lo up
	# Deterministic sysctls: IPv4 conf/all is inherited from the host,
	# IPv6 starts from kernel defaults. No DAD: addresses usable at once.
	nsx "$ns" sysctl -qw net.ipv6.conf.all.accept_dad=0 \
		net.ipv6.conf.default.accept_dad=0 \
		net.ipv4.conf.all.rp_filter=2 net.ipv4.conf.default.rp_filter=2 \
		net.ipv4.ip_forward=0 net.ipv6.conf.all.forwarding=0
}

# _veth NS1 DEV1 NS2 DEV2
_veth() {
	ip link add "$2" netns "$1" type veth peer name "$4" netns "$3" &&
		nsx "$1" ip link set "$2" up && nsx "$3" ip link set "$4" up
}

# topo_wg_kind: "kernel" when the kernel's WireGuard is usable (built in, or
# `modprobe wireguard` works), else "go" (wireguard-go). CRBPF_WG=kernel|go
# forces one; the choice is made once and exported so every test uses it.
topo_wg_kind() {
	if [ -z "${CRBPF_WG:-}" ] || [ "$CRBPF_WG" = auto ]; then
		if [ -d /sys/module/wireguard ] || modprobe -q wireguard 2>/dev/null; then
			CRBPF_WG=kernel
		else
			CRBPF_WG=go
		fi
		export CRBPF_WG
	fi
	echo "$CRBPF_WG"
}

_wg_start() {
	local ns=$1 dev=$2
	if [ "$(topo_wg_kind)" = kernel ]; then
		nsx "$ns" ip link add "$dev" type wireguard
		return
	fi
	rm -f "/var/run/wireguard/$dev.sock"
	TOPO_DIR=$TOPO_DIR nsx_bg "$ns" "wg-$dev" env \
		WG_I_PREFER_BUGGY_USERSPACE_TO_POLISHED_KMOD=1 LOG_LEVEL=error \
		wireguard-go -f "$dev"
	wait_for 5 test -S "/var/run/wireguard/$dev.sock" &&
		wait_for 5 nsx "$ns" ip link show "$dev"
}

# topo_wg_vps_up / topo_wg_home_up: start and configure one end of the
# tunnel (what wg-quick up does); topo_up runs both, tests that re-create a
# tunnel run one after topo_wg_del.
topo_wg_vps_up() {
	local keys=$TOPO_DIR/keys
	_wg_start cr-vps wg0 || { echo "topo: WireGuard ($(topo_wg_kind)) did not start wg0" >&2; return 1; }
	nsx cr-vps wg set wg0 listen-port 51820 private-key "$keys/vps" \
		peer "$(cat "$keys/home.pub")" allowed-ips 10.0.0.2/32,fd00::2/128 &&
		nsx cr-vps ip addr add $TUN_VPS4/24 dev wg0 &&
		nsx cr-vps ip addr add $TUN_VPS6/64 dev wg0 nodad &&
		nsx cr-vps ip link set wg0 mtu 1420 up || { echo "topo: wg0 setup failed" >&2; return 1; }
}

topo_wg_home_up() {
	local keys=$TOPO_DIR/keys
	_wg_start cr-home wgh || { echo "topo: WireGuard ($(topo_wg_kind)) did not start wgh" >&2; return 1; }
	nsx cr-home wg set wgh private-key "$keys/home" \
		peer "$(cat "$keys/vps.pub")" endpoint $VPS4:51820 \
		allowed-ips 0.0.0.0/0,::/0 persistent-keepalive 1 &&
		nsx cr-home ip addr add $TUN_HOME4/24 dev wgh &&
		nsx cr-home ip addr add $TUN_HOME6/64 dev wgh nodad &&
		nsx cr-home ip link set wgh mtu 1420 up || { echo "topo: wgh setup failed" >&2; return 1; }
}

# topo_wg_del NS DEV: the tunnel device gone (wg-quick down): the link
# deleted and, for wireguard-go, its daemon stopped.
topo_wg_del() {
	local ns=$1 dev=$2 pidf=$TOPO_DIR/wg-$2.pid
	nsx "$ns" ip link del "$dev" 2>/dev/null
	if [ -f "$pidf" ]; then
		kill "$(cat "$pidf")" 2>/dev/null
		wait_for 5 sh -c "! kill -0 $(cat "$pidf") 2>/dev/null"
		rm -f "$pidf"
	fi
	rm -f "/var/run/wireguard/$dev.sock"
	wait_for 5 sh -c "! nsenter --net=/run/netns/$ns ip link show $dev" && return 0
	echo "topo: $dev still there" >&2
	return 1
}

# wg_handshake_time: epoch of the VPS's last handshake with home (0 = none).
wg_handshake_time() {
	nsx cr-vps wg show wg0 latest-handshakes 2>/dev/null | awk '{print $2; exit}'
}

# wg_rehandshake: home handshakes with the VPS anew (its VPS peer dropped
# and added again; keepalive 1 s makes wireguard-go initiate at once).
# 0 once the VPS sees a handshake newer than before, within 10 s; WG_T0 and
# WG_T1 hold the VPS's handshake times before and at the end.
wg_rehandshake() {
	local vpspub
	WG_T0=$(wg_handshake_time)
	sleep 1.1
	vpspub=$(cat "$TOPO_DIR/keys/vps.pub")
	nsx cr-home wg set wgh peer "$vpspub" remove &&
		nsx cr-home wg set wgh peer "$vpspub" endpoint $VPS4:51820 \
			allowed-ips 0.0.0.0/0,::/0 persistent-keepalive 1
	for _ in $(seq 100); do
		WG_T1=$(wg_handshake_time)
		[ "${WG_T1:-0}" -gt "${WG_T0:-0}" ] && return 0
		sleep 0.1
	done
	return 1
}

wait_handshake() {
	local i=$((${1:-15} * 10)) v
	while [ "$i" -gt 0 ]; do
		v=$(wg_handshake_time)
		[ "${v:-0}" -gt 0 ] && return 0
		sleep 0.1
		i=$((i - 1))
	done
	return 1
}

# topo_up: build the whole topology and wait for the tunnel. Returns non-zero
# (with a message on stderr) if any step fails; the caller tears down.
topo_up() {
	local ns keys
	if [ "${TOPO_HELD:-0}" != 1 ]; then
		mkdir -p "${TOPO_LOCK%/*}" && exec 9>"$TOPO_LOCK" || return 1
		if ! flock -w 900 9; then
			echo "topo: another test run holds $TOPO_LOCK" >&2
			return 1
		fi
	fi
	TOPO_HELD=1
	[ -n "$TOPO_DIR" ] || TOPO_DIR=$(mktemp -d /tmp/crbpf-topo.XXXXXX)
	mkdir -p "$TOPO_DIR"
	topo_down
	mountpoint -q /sys/fs/bpf || mount -t bpf -o mode=0700 bpf /sys/fs/bpf || return 1

	for ns in "${TOPO_NS[@]}"; do
		_topo_ns_add "$ns" || { echo "topo: cannot create $ns" >&2; return 1; }
	done

	_veth cr-cli eth0 cr-rtr cli0 &&
		_veth cr-rtr vps0 cr-vps eth0 &&
		_veth cr-rtr home0 cr-home eth0 || { echo "topo: veth setup failed" >&2; return 1; }

	# client
	nsx cr-cli ip addr add $CLI4/24 dev eth0 &&
		nsx cr-cli ip addr add $CLI6/64 dev eth0 nodad &&
		nsx cr-cli ip route add default via $RTR_CLI4 &&
		nsx cr-cli ip -6 route add default via 2001:db8:100::1 || return 1

	# router + CGNAT for the home line
	nsx cr-rtr ip addr add $RTR_CLI4/24 dev cli0 &&
		nsx cr-rtr ip addr add 2001:db8:100::1/64 dev cli0 nodad &&
		nsx cr-rtr ip addr add 203.0.113.1/24 dev vps0 &&
		nsx cr-rtr ip addr add 2001:db8:203::1/64 dev vps0 nodad &&
		nsx cr-rtr ip addr add 100.64.0.1/24 dev home0 &&
		nsx cr-rtr sysctl -qw net.ipv4.ip_forward=1 net.ipv6.conf.all.forwarding=1 &&
		nsx cr-rtr iptables -t nat -A POSTROUTING -s 100.64.0.0/24 ! -o home0 -j MASQUERADE &&
		nsx cr-rtr iptables -A FORWARD -o home0 -m conntrack --ctstate ESTABLISHED,RELATED -j ACCEPT &&
		nsx cr-rtr iptables -A FORWARD -o home0 -j DROP || { echo "topo: router setup failed" >&2; return 1; }

	# VPS: a plain host, forwarding off as on a fresh Debian install
	nsx cr-vps ip addr add $VPS4/24 dev eth0 &&
		nsx cr-vps ip addr add $VPS6/64 dev eth0 nodad &&
		nsx cr-vps ip route add default via 203.0.113.1 &&
		nsx cr-vps ip -6 route add default via 2001:db8:203::1 || return 1

	# home: IPv4 line behind CGNAT; forwarding on as Docker sets it
	nsx cr-home ip addr add $HOME_LINE4/24 dev eth0 &&
		nsx cr-home ip route add default via 100.64.0.1 &&
		nsx cr-home sysctl -qw net.ipv4.ip_forward=1 || return 1

	# container behind docker0
	nsx cr-home ip link add docker0 type bridge &&
		nsx cr-home ip addr add 172.17.0.1/16 dev docker0 &&
		nsx cr-home ip addr add fd00:17::1/64 dev docker0 nodad &&
		nsx cr-home ip link set docker0 up &&
		_veth cr-home vethc0 cr-ctr eth0 &&
		nsx cr-home ip link set vethc0 master docker0 &&
		nsx cr-ctr ip addr add $CTR4/16 dev eth0 &&
		nsx cr-ctr ip addr add fd00:17::2/64 dev eth0 nodad &&
		nsx cr-ctr ip route add default via 172.17.0.1 || { echo "topo: container setup failed" >&2; return 1; }
	nsx cr-home sh -e -c '
		iptables -t nat -N DOCKER
		iptables -t nat -A PREROUTING -m addrtype --dst-type LOCAL -j DOCKER
		iptables -t nat -A OUTPUT ! -d 127.0.0.0/8 -m addrtype --dst-type LOCAL -j DOCKER
		iptables -t nat -A POSTROUTING -s 172.17.0.0/16 ! -o docker0 -j MASQUERADE
		iptables -t nat -A DOCKER -i docker0 -j RETURN
		iptables -t nat -A DOCKER ! -i docker0 -p tcp --dport 8080 -j DNAT --to-destination 172.17.0.2:80
		iptables -t nat -A DOCKER ! -i docker0 -p udp --dport 8080 -j DNAT --to-destination 172.17.0.2:80
	' || { echo "topo: docker rules failed" >&2; return 1; }

	# WireGuard (kernel module or wireguard-go): wg0 on the VPS, wgh at home. `wg set` adds
	# no routes: home's 0.0.0.0/0,::/0 stays out of the main table.
	keys=$TOPO_DIR/keys
	mkdir -p "$keys" && chmod 700 "$keys"
	(umask 077 && wg genkey >"$keys/vps" && wg genkey >"$keys/home") || return 1
	wg pubkey <"$keys/vps" >"$keys/vps.pub" && wg pubkey <"$keys/home" >"$keys/home.pub" || return 1
	topo_wg_kind >"$TOPO_DIR/wg-kind"
	topo_wg_vps_up && topo_wg_home_up || return 1
	if ! wait_handshake 15; then
		echo "topo: no WireGuard handshake within 15 s" >&2
		return 1
	fi
	return 0
}

# --- the iptables recipe (DESIGN.md "The problem"), for the baseline test ---

# recipe_vps_map PROTO PORT BACKEND4 [BACKEND6]: VPS DNAT of one port.
recipe_vps_map() {
	local proto=$1 port=$2 be4=$3 be6=${4:-}
	nsx cr-vps sysctl -qw net.ipv4.ip_forward=1 net.ipv6.conf.all.forwarding=1 &&
		nsx cr-vps iptables -t nat -A PREROUTING -i eth0 -p "$proto" --dport "$port" \
			-j DNAT --to-destination "$be4" || return 1
	if [ -n "$be6" ]; then
		nsx cr-vps ip6tables -t nat -A PREROUTING -i eth0 -p "$proto" --dport "$port" \
			-j DNAT --to-destination "$be6" || return 1
	fi
}

# recipe_home_up: CONNMARK + fwmark policy routing into table 123 via wgh.
recipe_home_up() {
	nsx cr-home sh -e -c '
		iptables -t mangle -A PREROUTING -i wgh -m conntrack --ctstate NEW -j CONNMARK --set-mark 1
		iptables -t mangle -A PREROUTING ! -i wgh -m connmark --mark 1 -j MARK --set-mark 1
		ip route add default dev wgh table 123
		ip rule add fwmark 1 table 123
		ip rule add from 10.0.0.2 table 123
		ip -6 route add default dev wgh table 123
		ip -6 rule add from fd00::2 table 123
	'
}

# --- crbpf in the topology ---

vps_crbpf() {
	nsx cr-vps env CRBPF_PIN_ROOT=$VPS_PIN timeout -k 5 60 "$CRBPF" "$@"
}

home_crbpf() {
	nsx cr-home env CRBPF_PIN_ROOT=$HOME_PIN timeout -k 5 60 "$CRBPF" "$@"
}

# vps_counter NAME: one crbpf_stats counter of the VPS (`crbpf stats`).
vps_counter() {
	vps_crbpf stats --json | "$PY" -c 'import json, sys; print(json.load(sys.stdin)["counters"][sys.argv[1]])' "$1"
}

# set_tx_csum on|off: tx checksum offload on every sender veth of the path.
set_tx_csum() {
	local v=$1
	nsx cr-cli ethtool -K eth0 tx "$v" >/dev/null 2>&1 &&
		nsx cr-ctr ethtool -K eth0 tx "$v" >/dev/null 2>&1 &&
		nsx cr-home ethtool -K eth0 tx "$v" >/dev/null 2>&1 &&
		nsx cr-home ethtool -K vethc0 tx "$v" >/dev/null 2>&1 &&
		nsx cr-rtr ethtool -K vps0 tx "$v" >/dev/null 2>&1 &&
		nsx cr-rtr ethtool -K cli0 tx "$v" >/dev/null 2>&1 &&
		nsx cr-vps ethtool -K eth0 tx "$v" >/dev/null 2>&1
}
