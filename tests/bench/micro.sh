#!/usr/bin/env bash
# SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
#
# The micro-benchmark on its own (make bench-micro), in a private namespace
# of its own (crb-micro-PID: several can run at once; none touches bench.sh's
# topology). Needs root and built binaries.
#
#   bash tests/bench/micro.sh [--passes N] [--repeat N] [--rounds N]
#                             [--many-flows N] [MICROBENCH...]
#
# MICROBENCH: microbench binaries to compare (default build/bench/microbench);
# each embeds the edge.bpf.o of the tree it was built in, so
# `micro.sh /work/main/build/bench/microbench build/bench/microbench` times
# main's datapath and this tree's in one run. They run in turn, --passes
# times (default 1: A B; 3: A B A B A B), since the VM's speed drifts. A
# binary that knows no --tun gets only the Ethernet cases.
#
# The namespace: crbmp (public veth, 203.0.113.10/24, route to the clients
# 198.51.100.0/24), crbmn (Ethernet next hop 10.99.0.1/24, the backend
# 10.99.0.2 a permanent neighbour), crbmt (layer-3 TUN, 10.98.0.1/24, held
# open by tunhold.py); forwarding on, as bench.sh's VPS namespaces.
set -u

HERE=$(cd "$(dirname "$0")" && pwd)
ROOT=$(cd "$HERE/../.." && pwd)
NS=crb-micro-$$
passes=1
args=()
bins=()

while [ $# -gt 0 ]; do
	case "$1" in
	--passes) passes=${2:-}; shift ;;
	--repeat|--rounds|--many-flows) args+=("$1" "${2:-}"); shift ;;
	-h|--help) sed -n '3,21p' "$0"; exit 0 ;;
	-*) echo "micro: unknown option $1" >&2; exit 2 ;;
	*) bins+=("$1") ;;
	esac
	shift
done
case "$passes" in ''|*[!0-9]*|0) echo "micro: --passes wants a positive number" >&2; exit 2 ;; esac
[ ${#bins[@]} -gt 0 ] || bins=("$ROOT/build/bench/microbench")
for b in "${bins[@]}"; do
	[ -x "$b" ] || { echo "micro: $b: no such executable (make bench-bins)" >&2; exit 2; }
done
if [ "$(id -u)" -ne 0 ]; then
	echo "micro: needs root" >&2
	exit 2
fi

holder=
cleanup() {
	[ -n "$holder" ] && kill "$holder" 2>/dev/null && wait "$holder" 2>/dev/null
	ip netns del "$NS" 2>/dev/null
}
trap cleanup EXIT
trap 'exit 130' INT TERM

n() { ip -n "$NS" "$@"; }
x() { nsenter --net=/run/netns/"$NS" "$@"; }
setup() {
	local ready
	ip netns add "$NS" &&
		n link set lo up &&
		n link add crbmp type veth peer name crbmg &&
		n link add crbmn type veth peer name crbms || return 1
	x sysctl -qw net.ipv4.ip_forward=1 net.ipv6.conf.all.disable_ipv6=1
	n addr add 203.0.113.10/24 dev crbmp
	n addr add 10.99.0.1/24 dev crbmn
	for d in crbmp crbmg crbmn crbms; do n link set "$d" up || return 1; done
	n neigh replace 203.0.113.1 lladdr 02:00:00:00:01:01 dev crbmp nud permanent &&
		n route add 198.51.100.0/24 via 203.0.113.1 dev crbmp &&
		n neigh replace 10.99.0.2 lladdr "$(n link show crbms | awk '/link\/ether/ { print $2 }')" \
			dev crbmn nud permanent || return 1
	ready=$(mktemp /tmp/crb-micro.XXXXXX)
	# nsenter itself, not the x function: $! must be the holder's pid
	nsenter --net=/run/netns/"$NS" python3 "$HERE/tunhold.py" crbmt >"$ready" &
	holder=$!
	for _ in $(seq 50); do grep -q ready "$ready" && break; sleep 0.1; done
	grep -q ready "$ready"
	local ok=$?
	rm -f "$ready"
	[ "$ok" = 0 ] && n addr add 10.98.0.1/24 dev crbmt && n link set crbmt up
}
if ! setup; then
	echo "micro: namespace $NS could not be set up" >&2
	exit 1
fi

status=0
for p in $(seq "$passes"); do
	for b in "${bins[@]}"; do
		tun=(--tun crbmt)
		"$b" --help 2>&1 | grep -q -- --tun || tun=()
		out=$(x "$b" --pub crbmp --nh crbmn "${tun[@]}" "${args[@]}")
		rc=$?
		echo "$b: $out"
		[ "$rc" = 0 ] || { echo "micro: $b exited $rc" >&2; status=1; }
	done
done
exit $status
