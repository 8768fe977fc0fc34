#!/usr/bin/env bash
# SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
# `crbpf doctor`: clean (exit 0) on a healthy VPS and home; then each thing
# users get wrong is broken in turn, and doctor must exit 1, name the
# problem and print its fix; after the restore it must be clean again.
# WireGuard peers are read over genetlink (kernel module) or the UAPI socket
# (wireguard-go): the suite runs both, depending on the machine.
source "$(dirname "$0")/../lib/common.sh"
t_begin doctor
need_crbpf
t_up

must "crbpf attach eth0" vps_crbpf attach eth0 >/dev/null
must "crbpf port add tcp 8000 10.0.0.2" vps_crbpf port add tcp 8000 "$TUN_HOME4" >/dev/null
must "crbpf port add tcp 8000 [fd00::2]" vps_crbpf port add tcp 8000 "[$TUN_HOME6]" >/dev/null
must "crbpf port add udp 5300 10.0.0.2" vps_crbpf port add udp 5300 "$TUN_HOME4" >/dev/null
must "crbpf home attach wgh --serve docker0" home_crbpf home attach wgh --serve docker0 >/dev/null
VPS_KEY=$(cat "$TOPO_DIR/keys/vps.pub")
HOME_KEY=$(cat "$TOPO_DIR/keys/home.pub")

# doc CASE SIDE WANT_RC [TEXT...]: `crbpf doctor` on SIDE (vps, home, or a
# command) exits WANT_RC and its output contains every TEXT.
doc() {
	local case=$1 side=$2 want=$3 out rc t
	shift 3
	case "$side" in
	vps | home) out=$("${side}_crbpf" doctor 2>&1) ;;
	*) out=$(eval "$side" 2>&1) ;;
	esac
	rc=$?
	printf '== %s (exit %s)\n%s\n' "$case" "$rc" "$out" >>"$TOPO_DIR/doctor.log"
	if [ "$rc" != "$want" ]; then
		t_result "$case" FAIL "doctor exited $rc, want $want: $(head -n2 <<<"$out" | tr '\n' '|')"
		return 1
	fi
	for t in "$@"; do
		if ! grep -qF -- "$t" <<<"$out"; then
			t_result "$case" FAIL "output lacks '$t': $(head -n2 <<<"$out" | tr '\n' '|')"
			return 1
		fi
	done
	# Every problem is one line with its fix.
	if [ "$want" = 1 ] && grep '^\[' <<<"$out" | grep -qv '; fix: '; then
		t_result "$case" FAIL "a problem line without '; fix: '"
		return 1
	fi
	t_result "$case" PASS
}

# clean CASE SIDE: doctor is clean again (WireGuard may need a moment).
clean() {
	local _
	for _ in 1 2 3 4 5 6 7 8 9 10; do
		"${2}_crbpf" doctor >/dev/null 2>&1 && break
		sleep 1
	done
	doc "$1" "$2" 0 "no problems found"
}

doc doctor-healthy-vps vps 0 "no problems found" "tunnel wg0 (WireGuard via"
doc doctor-healthy-home home 0 "no problems found" "home tunnel wgh (WireGuard via"
out=$(vps_crbpf doctor --json)
if "$PY" -c 'import json, sys; d = json.loads(sys.argv[1]); assert d["problems"] == [] and d["roles"]["vps"] and not d["roles"]["home"], d' "$out" 2>"$TOPO_DIR/json.err"; then
	t_result doctor-json PASS
else
	t_result doctor-json FAIL "$(tail -n1 "$TOPO_DIR/json.err")"
fi

# home: the VPS peer without ::/0
nsx cr-home wg set wgh peer "$VPS_KEY" allowed-ips 0.0.0.0/0
doc doctor-home-allowed-ips home 1 "[allowed-ips]" "lack ::/0" \
	"wg set wgh peer $VPS_KEY allowed-ips 0.0.0.0/0,::/0"
nsx cr-home wg set wgh peer "$VPS_KEY" allowed-ips 0.0.0.0/0,::/0
clean doctor-home-allowed-ips-fixed home

# home: half the internet through the tunnel in the main table; then
# wg-quick's Table = auto rule
nsx cr-home ip route add 0.0.0.0/1 dev wgh
doc doctor-home-main-route home 1 "[tunnel-route]" "route 0.0.0.0/1 dev wgh in the main table" \
	"ip route del 0.0.0.0/1 dev wgh" "Table = 123"
nsx cr-home ip route del 0.0.0.0/1 dev wgh
nsx cr-home ip -6 route add default dev wgh table 51820
nsx cr-home ip -6 rule add not fwmark 0xca6c table 51820
doc doctor-home-wgquick-rule home 1 "[tunnel-route]" "rule 'not fwmark 0xca6c lookup 51820'" \
	"ip -6 rule del not fwmark 0xca6c table 51820" "Table = 123"
nsx cr-home ip -6 rule del not fwmark 0xca6c table 51820
nsx cr-home ip -6 route del default dev wgh table 51820
clean doctor-home-routes-fixed home

# forwarding: the VPS tunnel, the home's served bridge
nsx cr-vps sysctl -qw net.ipv4.conf.wg0.forwarding=0
doc doctor-vps-forwarding vps 1 "[forwarding]" "IPv4 forwarding is off on wg0" \
	"sysctl -w net.ipv4.conf.wg0.forwarding=1"
nsx cr-vps sysctl -qw net.ipv4.conf.wg0.forwarding=1
nsx cr-home sysctl -qw net.ipv4.ip_forward=0
doc doctor-home-forwarding home 1 "[forwarding]" "docker0" "sysctl -w net.ipv4.ip_forward=1"
nsx cr-home sysctl -qw net.ipv4.ip_forward=1
clean doctor-forwarding-fixed-vps vps
clean doctor-forwarding-fixed-home home

# strict rp_filter on the home tunnel, then on all (the kernel takes the
# larger of the two: all=2 would make the tunnel's 1 loose)
nsx cr-home sysctl -qw net.ipv4.conf.all.rp_filter=0 net.ipv4.conf.wgh.rp_filter=1
doc doctor-home-rp-filter home 1 "[rp-filter]" "net.ipv4.conf.wgh.rp_filter=1" \
	"sysctl -w net.ipv4.conf.wgh.rp_filter=2"
nsx cr-home sysctl -qw net.ipv4.conf.wgh.rp_filter=0 net.ipv4.conf.all.rp_filter=1
doc doctor-home-rp-filter-all home 1 "[rp-filter]" "net.ipv4.conf.all.rp_filter=1" \
	"sysctl -w net.ipv4.conf.wgh.rp_filter=2"
nsx cr-home sysctl -qw net.ipv4.conf.wgh.rp_filter=2 net.ipv4.conf.all.rp_filter=2
clean doctor-rp-filter-fixed home

# tunnel MTU too large for the public MTU (1500 + 60 > 1500), attached and
# with nothing attached (another pin root: only the WireGuard devices)
unattached="nsx cr-vps env CRBPF_PIN_ROOT=$VPS_PIN-none timeout 60 $CRBPF doctor"
doc doctor-unattached-clean "$unattached" 0 "nothing attached: WireGuard wg0"
nsx cr-vps ip link set wg0 mtu 1500
doc doctor-vps-mtu vps 1 "[mtu]" "wg0 has MTU 1500" "ip link set dev wg0 mtu 1440" "MTU = 1440"
doc doctor-unattached-mtu "$unattached" 1 "[mtu]" "ip link set dev wg0 mtu 1440"
nsx cr-vps ip link set wg0 mtu 1420
clean doctor-mtu-fixed vps

# a local listener on a mapped port
serve cr-vps vps-listener tcp "" 8000 || t_fail "VPS listener did not start"
doc doctor-vps-listener vps 1 "[listener]" "tcp port 8000 of eth0 is mapped" \
	"python3 pid" "crbpf port del tcp 8000 --dev eth0"
kill "$(cat "$TOPO_DIR/vps-listener.pid")" 2>/dev/null
wait_for 5 sh -c "! nsx cr-vps ss -Htln 'sport = :8000' | grep -q ."
clean doctor-listener-fixed vps

# pin root writable by others; a pin root that is not on bpffs
chmod 0777 "$VPS_PIN"
doc doctor-pin-mode vps 1 "[pin-mode]" "writable by others" "chmod 700 $VPS_PIN"
chmod 0700 "$VPS_PIN"
mkdir -p "$TOPO_DIR/notbpf"
doc doctor-not-bpffs "nsx cr-vps env CRBPF_PIN_ROOT=$TOPO_DIR/notbpf/crbpf timeout 60 $CRBPF doctor" 1 \
	"[bpffs]" "not on a bpf filesystem" "mount -t bpf -o mode=0700 bpf $TOPO_DIR/notbpf/crbpf"
clean doctor-pins-fixed vps

# a peer that backs a mapping and never shook hands; a backend that no
# peer's AllowedIPs covers
NEW_KEY=$(wg genkey | wg pubkey)
nsx cr-vps wg set wg0 peer "$NEW_KEY" allowed-ips 10.0.0.3/32
must "crbpf port add tcp 9003 10.0.0.3" vps_crbpf port add tcp 9003 10.0.0.3 >/dev/null
doc doctor-vps-handshake vps 1 "[handshake]" "wg0 peer $NEW_KEY: no handshake ever" \
	"PersistentKeepalive = 25"
must "crbpf port del tcp 9003" vps_crbpf port del tcp 9003 >/dev/null
nsx cr-vps wg set wg0 peer "$NEW_KEY" remove
must "crbpf port add tcp 9004 10.0.0.4" vps_crbpf port add tcp 9004 10.0.0.4 >/dev/null
doc doctor-vps-allowed-ips vps 1 "[allowed-ips]" "backend 10.0.0.4 is not in the AllowedIPs" \
	"wg set wg0 peer $HOME_KEY allowed-ips " ",10.0.0.4/32"
must "crbpf port del tcp 9004" vps_crbpf port del tcp 9004 >/dev/null
clean doctor-vps-peers-fixed vps

# home: the VPS peer removed and re-added without its endpoint
nsx cr-home wg set wgh peer "$VPS_KEY" remove
nsx cr-home wg set wgh peer "$VPS_KEY" allowed-ips 0.0.0.0/0,::/0
doc doctor-home-handshake home 1 "[handshake]" "wgh peer $VPS_KEY: no handshake ever" \
	"Endpoint = <this host>"
nsx cr-home wg set wgh peer "$VPS_KEY" endpoint "$VPS4:51820" persistent-keepalive 1
clean doctor-home-handshake-fixed home

# a device deleted with its pins left; then re-created (the old links see
# nothing); `crbpf detach` removes them
nsx cr-vps ip link add vx0 type veth peer name vx1 &&
	nsx cr-vps ip link set vx0 up && nsx cr-vps ip link set vx1 up || t_fail "veth vx0"
must "crbpf attach vx0" vps_crbpf attach vx0 >/dev/null
nsx cr-vps ip link del vx0
doc doctor-stale-gone vps 1 "[stale-pin]" "edge_vx0 but vx0 no longer exists" "crbpf detach vx0" "crbpf watch"
nsx cr-vps ip link add vx0 type veth peer name vx1
doc doctor-stale-recreated vps 1 "[stale-pin]" "no longer attached to vx0" "crbpf detach vx0"
must "crbpf detach vx0" vps_crbpf detach vx0 >/dev/null
nsx cr-vps ip link del vx0
clean doctor-stale-fixed vps
# home: a served bridge deleted; attaching again without it is the fix
nsx cr-home ip link add br1 type bridge && nsx cr-home ip link set br1 up || t_fail "bridge br1"
must "crbpf home attach wgh --serve docker0 --serve br1" \
	home_crbpf home attach wgh --serve docker0 --serve br1 >/dev/null
nsx cr-home ip link del br1
doc doctor-stale-served home 1 "[stale-pin]" "served bridge of br1" \
	"to stop serving it: crbpf home attach wgh --serve docker0"
must "crbpf home attach wgh --serve docker0" home_crbpf home attach wgh --serve docker0 >/dev/null
clean doctor-final-home home
t_done
