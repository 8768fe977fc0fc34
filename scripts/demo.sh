#!/usr/bin/env bash
# SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
# `make demo`: crbpf's main job in network namespaces. An internet client
# connects to a VPS; crbpf on the VPS forwards the port through a WireGuard
# tunnel (wireguard-go) to a home server behind carrier-grade NAT; the home
# service prints the address it sees: the client's own. Cleans up on exit.
set -u
cd "$(dirname "$0")/.." || exit 1
# shellcheck source=tests/lib/topo.sh
source tests/lib/topo.sh

if [ "$(id -u)" -ne 0 ]; then
	echo "demo: needs root (network namespaces, BPF)" >&2
	exit 1
fi
if [ ! -x "$CRBPF" ]; then
	echo "demo: $CRBPF not built; run make demo" >&2
	exit 1
fi

TOPO_DIR=$(mktemp -d /tmp/crbpf-demo.XXXXXX)
cleanup() {
	topo_down >/dev/null 2>&1
	rm -rf "$TOPO_DIR"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

if [ -t 1 ]; then B=$'\e[1m' D=$'\e[2m' N=$'\e[0m'; else B= D= N=; fi
step() { printf '\n%s== %s%s\n' "$B" "$*" "$N"; }
# run HOST CMD...: show the command as typed on that host, then run it there.
run() {
	local host=$1
	shift
	printf '%s%s#%s %s\n' "$D" "$host" "$N" "$*"
	case "$host" in
	vps) vps_crbpf "${@:2}" ;;
	home) home_crbpf "${@:2}" ;;
	esac
}
die() {
	echo "demo: $*" >&2
	exit 1
}

step "Building the example network (namespaces cr-cli, cr-rtr, cr-vps, cr-home, cr-ctr)"
cat <<'EOF'
  client 198.51.100.10 / 2001:db8:100::10
     |
  router (also the home line's carrier-grade NAT: nothing gets in)
     |                                   |
  VPS eth0 203.0.113.10 / 2001:db8:203::10   home eth0 100.64.0.2 (behind CGNAT)
      wg0 10.0.0.1 <==== WireGuard ====> wgh 10.0.0.2 (home dials out)
                                         docker0 -> container 172.17.0.2:80
EOF
topo_up 2>"$TOPO_DIR/topo.err" || die "topology: $(tail -n1 "$TOPO_DIR/topo.err")"
echo "WireGuard handshake done (wireguard-go, home -> VPS through the NAT)."

step "Home: a web service on port 8000 and one in a container (Docker-style port 8080)"
serve cr-home web tcp "" 8000 home-service || die "home service did not start"
serve cr-ctr ctr tcp "" 80 container-service || die "container service did not start"
echo "Both answer with the client address they see."

step "VPS: attach crbpf to the public NIC and map ports"
run vps crbpf attach eth0 || die "attach failed"
run vps crbpf port add tcp 80 10.0.0.2:8000 || die "port add failed"
run vps crbpf port add tcp 80 '[fd00::2]:8000' || die "port add failed"
run vps crbpf port add tcp 8080 10.0.0.2 || die "port add failed"
run vps crbpf port list

step "Home: answer tunnelled clients through the tunnel"
run home crbpf home attach wgh --serve docker0 || die "home attach failed"
echo "(crbpf has exited; its programs stay attached through pinned links)"

step "Client: requests to the VPS's public address"
for target in "$VPS4 80" "$VPS6 80" "$VPS4 8080"; do
	set -- $target
	printf '%sclient$%s connect %s port %s\n' "$D" "$N" "$1" "$2"
	out=$(peer cr-cli hello "$1" "$2" 2>&1) || die "request failed: $out"
	echo "  service replied: $out"
done
printf '\nThe services saw the client as %s198.51.100.10%s / %s2001:db8:100::10%s,\n' "$B" "$N" "$B" "$N"
echo "not the VPS: crbpf rewrote only the destination (DNAT), never the source."
echo "Home service log:"
sed 's/^/  /' "$TOPO_DIR/web.log"

step "VPS: counters"
printf '%svps#%s crbpf stats\n' "$D" "$N"
# The home_* counters belong to the home side; shown below.
vps_crbpf stats | grep -v '^  home_'
step "Home: counters (flows learned on the tunnel, container replies marked)"
printf '%shome#%s crbpf stats\n' "$D" "$N"
home_crbpf stats | grep -E 'home_|^counters' || true

step "Cleaning up"
run vps crbpf detach eth0
run home crbpf home detach wgh
echo "Removing namespaces and WireGuard daemons."
