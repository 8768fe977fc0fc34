#!/usr/bin/env bash
# SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
#
# crbpf benchmark: what each forwarding path costs per packet, every row in
# the same run. Each row gets its own VPS namespace (crb-ROW) wired to one
# generator namespace (crb-gen) and one backend namespace (crb-sink), so all
# rows stay configured and trials interleave across rows (A B C A B C ...).
# Needs root, a built tree (make all) and bpffs.
#
#   bash tests/bench/bench.sh [--quick] [--check] [--rows LIST] [--trials N]
#                             [--seconds S] [--sizes LIST] [--flows LIST]
#                             [--ops N] [--gen trafgen|live]
#
#   --quick     64-byte frames, 1 and 65,536 flows, 5 trials x 0.3 s, 100
#               live-update ops, short micro-benchmark (make bench-quick,
#               the test suite's smoke run); implies --check
#   --check     exit 1 unless every row produced a number (no speed asserted)
#   --rows L    comma list (default all): rxlimit,redirect,iptables,nftables,
#               xdp,tc,tun-iptables,tun-crbpf,tun-floor,reply-flows,
#               reply-static
#   --trials N  interleaved trials per figure (default 5); --seconds S
#               measured per trial (default 1)
#   --sizes L, --flows L   space or comma lists (default "64 1500",
#               "1 65536 1000000")
#   --ops N     live-update port add/del operations (default 2000)
#   --gen G     trafgen (default: netsniff-ng's PACKET_TX_RING sender) or
#               live (gen: BPF_PROG_TEST_RUN live frames; where the kernel
#               refuses them, the bench says so and uses trafgen)
#
# Topology (documentation and private ranges, traffic only between these
# namespaces; row number i = the row's place in the default list):
#   crb-gen   crbg<i>  clients 198.51.100.10+ (raw frames, no addresses)
#   crb-ROW   crbp<i>  203.0.113.10/24 public NIC (GRO on: NAPI for veth)
#             crbn<i>  10.99.0.1/24    Ethernet next hop
#             crbt<i>  10.98.0.1/24    layer-3 TUN held open, never read
#   crb-sink  crbs<i>  backend 10.99.0.2 (counting XDP sink)
# Mapping in every forwarding row: udp 203.0.113.10:7000 -> 10.99.0.2:9000
# (10.98.0.2:9000 in the tun rows).
#
# The generator and the whole receive/forward path share CPU 0: the path
# runs to completion in the softirq after each batch the generator sends,
# so a row's rate is 1 / (generator cost + path cost). The report gives
# each row's cost above the receive-limit row, 1e9/rate(row) -
# 1e9/rate(rxlimit) ns, which removes the generator whatever its speed.
#
# Output: one table on stdout; JSON in build/bench/results-<ts>.json and
# build/bench/latest.json; every trial in build/bench/bench-<ts>.log.
set -u

HERE=$(cd "$(dirname "$0")" && pwd)
ROOT=$(cd "$HERE/../.." && pwd)
B=$ROOT/build/bench
CRBPF=$ROOT/build/crbpf
PINS=/sys/fs/bpf/crb-bench

ALL_ROWS=(rxlimit redirect iptables nftables xdp tc tun-iptables tun-crbpf tun-floor reply-flows reply-static)
ARGS="$*"
quick=0
check=0
rows=$(IFS=,; echo "${ALL_ROWS[*]}")
trials=5
seconds=1
sizes="64 1500"
flowsets="1 65536 1000000"
ops=2000
micro_repeat=5000000
gen_kind=trafgen
# Warm-up: two passes over all flows, and never fewer packets than this.
WARM_MIN=100000

while [ $# -gt 0 ]; do
	case "$1" in
	--quick) quick=1; check=1 ;;
	--check) check=1 ;;
	--rows) rows=$2; shift ;;
	--trials) trials=$2; shift ;;
	--seconds) seconds=$2; shift ;;
	--sizes) sizes=${2//,/ }; shift ;;
	--flows) flowsets=${2//,/ }; shift ;;
	--ops) ops=$2; shift ;;
	--gen) gen_kind=$2; shift ;;
	-h|--help) sed -n '3,43p' "$0"; exit 0 ;;
	*) echo "bench: unknown option $1" >&2; exit 2 ;;
	esac
	shift
done
if [ "$quick" = 1 ]; then
	sizes=64
	flowsets="1 65536"
	trials=5
	seconds=0.3
	ops=${ops/2000/100}
	micro_repeat=200000
	WARM_MIN=20000
fi
case "$gen_kind" in trafgen|live) ;; *) echo "bench: --gen trafgen|live" >&2; exit 2 ;; esac
for r in ${rows//,/ }; do
	case " ${ALL_ROWS[*]} " in *" $r "*) ;; *) echo "bench: unknown row '$r'" >&2; exit 2 ;; esac
done

if [ "$(id -u)" -ne 0 ]; then
	echo "bench: needs root" >&2
	exit 2
fi
# One bench at a time: a second one (the test suite's smoke run) would tear
# down this one's namespaces in its setup.
exec 9>/run/crb-bench.lock
if ! flock -w 1500 9; then
	echo "bench: another bench.sh still holds /run/crb-bench.lock" >&2
	exit 1
fi
make -s -C "$ROOT" bench-bins >&2 || { echo "bench: build failed" >&2; exit 1; }
mountpoint -q /sys/fs/bpf || mount -t bpf -o mode=0700 bpf /sys/fs/bpf
if ! command -v trafgen >/dev/null; then
	echo "bench: trafgen missing (Debian package netsniff-ng; make deps installs it)" >&2
	exit 1
fi

ncpu=$(nproc)
GEN_CPU=0
OPS_CPU=$((ncpu > 1 ? 1 : 0))
TS=$(date -u +%Y%m%dT%H%M%SZ)
RAW=$(mktemp /tmp/crb-bench.XXXXXX)
TMPD=$(mktemp -d /tmp/crb-bench-cfg.XXXXXX)
mkdir -p "$B"
LOG=$B/bench-$TS.log
: >"$LOG"

ns() { local n=$1; shift; nsenter --net=/run/netns/"$n" "$@"; }
log() { printf '%s\n' "$*" >>"$LOG"; }
say() { printf '%s\n' "$*" >&2; log "$*"; }
mac() { ip -n "$1" link show "$2" | awk '/link\/ether/ { print $2 }'; }
idx() { local i; for i in "${!ALL_ROWS[@]}"; do [ "${ALL_ROWS[$i]}" = "$1" ] && echo $((i + 1)); done; }

# result ROW SIZE FLOWS KEY VALUE: one raw record; report.py builds the rest.
result() { printf '%s\t%s\t%s\t%s\t%s\n' "$@" >>"$RAW"; }

namespaces() { echo crb-gen crb-sink; local r; for r in "${ALL_ROWS[@]}"; do echo "crb-$r"; done; }

teardown() {
	local n p
	for n in $(namespaces); do
		for p in $(ip netns pids "$n" 2>/dev/null); do kill "$p" 2>/dev/null; done
	done
	for n in $(namespaces); do
		ip netns del "$n" 2>/dev/null
	done
	rm -rf "$PINS"
}

cleanup() {
	teardown
	rm -rf "$RAW" "$TMPD"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# Per-row globals, set by setup_ROW: where the generator sends (GEN_NS,
# GEN_DEV, GEN_DST_MAC, GEN_SRC, GEN_DST, GEN_VARY) and what counts arrivals
# (COUNT: "sink PIN" or "tun NS DEV").
declare -A GEN_NS GEN_DEV GEN_DST_MAC GEN_SRC GEN_DST GEN_VARY COUNT

# vps_base ROW: the row's VPS namespace, its public veth to crb-gen and a
# counting sink on the generator's end (replies arrive there).
vps_base() {
	local row=$1 i v
	i=$(idx "$row")
	v=crb-$row
	ip netns add "$v" || return 1
	ip link add "crbg$i" netns crb-gen type veth peer name "crbp$i" netns "$v" || return 1
	ip -n "$v" link set lo up
	ns "$v" sysctl -qw net.ipv6.conf.all.disable_ipv6=1
	ns "$v" sysctl -qw net.ipv4.ip_forward=1
	ns "$v" sysctl -qw net.ipv4.conf.all.rp_filter=0
	ns "$v" sysctl -qw net.ipv4.conf.default.rp_filter=0
	ip -n "$v" addr add 203.0.113.10/24 dev "crbp$i"
	ip -n crb-gen link set "crbg$i" up
	ip -n "$v" link set "crbp$i" up
	ns "$v" sysctl -qw "net.ipv4.conf.crbp$i.rp_filter=0"
	ip -n "$v" neigh replace 203.0.113.1 lladdr "$(mac crb-gen "crbg$i")" dev "crbp$i" nud permanent
	ip -n "$v" route add 198.51.100.0/24 via 203.0.113.1 dev "crbp$i"
	# veth delivers XDP_TX/redirected frames only through NAPI, which
	# exists when the receiver has XDP attached or GRO on: GRO on the VPS
	# side (what a real NIC has), counting XDP sinks on the far ends.
	ns "$v" ethtool -K "crbp$i" gro on >/dev/null
	ns crb-gen "$B/sink" attach --dev "crbg$i" --pin "$PINS/g$i" || return 1
	GEN_NS[$row]=crb-gen GEN_DEV[$row]=crbg$i GEN_DST_MAC[$row]=$(mac "$v" "crbp$i")
	GEN_SRC[$row]=198.51.100.10:1024 GEN_DST[$row]=203.0.113.10:7000 GEN_VARY[$row]=
	COUNT[$row]="sink $PINS/s$i"
}

# vps_eth ROW: an Ethernet next hop to the backend's counting sink.
vps_eth() {
	local row=$1 i v
	i=$(idx "$row")
	v=crb-$row
	ip link add "crbn$i" netns "$v" type veth peer name "crbs$i" netns crb-sink || return 1
	ip -n "$v" addr add 10.99.0.1/24 dev "crbn$i"
	ip -n "$v" link set "crbn$i" up
	ip -n crb-sink link set "crbs$i" up
	ns "$v" sysctl -qw "net.ipv4.conf.crbn$i.rp_filter=0"
	ns "$v" ethtool -K "crbn$i" gro on >/dev/null
	ip -n "$v" neigh replace 10.99.0.2 lladdr "$(mac crb-sink "crbs$i")" dev "crbn$i" nud permanent
	ns crb-sink "$B/sink" attach --dev "crbs$i" --pin "$PINS/s$i" || return 1
}

# vps_tun ROW: a layer-3 TUN next hop held open by a process that never
# reads it (wg0 without the crypto); arrivals are its tx packets + drops.
vps_tun() {
	local row=$1 i v ready
	i=$(idx "$row")
	v=crb-$row
	ready=$TMPD/tun$i
	ns "$v" python3 "$HERE/tunhold.py" "crbt$i" >"$ready" 2>>"$LOG" &
	for _ in $(seq 50); do grep -q ready "$ready" 2>/dev/null && break; sleep 0.1; done
	grep -q ready "$ready" || { say "bench: TUN crbt$i not created"; return 1; }
	ip -n "$v" addr add 10.98.0.1/24 dev "crbt$i" &&
		ip -n "$v" link set "crbt$i" up || return 1
	COUNT[$row]="tun $v crbt$i"
}

# crbpf_up ROW MODE BACKEND: crbpf on the row's public veth, its own pins.
crbpf_up() {
	local row=$1 i
	i=$(idx "$row")
	if [ ! -x "$CRBPF" ]; then
		say "bench: $CRBPF missing (make all)"
		return 1
	fi
	CRBPF_PIN_ROOT=$PINS/crbpf-$row ns "crb-$row" "$CRBPF" attach "crbp$i" --mode "$2" --flows "$crbpf_flows" >>"$LOG" 2>&1 &&
		CRBPF_PIN_ROOT=$PINS/crbpf-$row ns "crb-$row" "$CRBPF" port add udp 7000 "$3" --xdp-veth >>"$LOG" 2>&1 || {
		say "bench: $row: crbpf attach --mode $2 / port add failed (see $LOG)"
		tail -n 5 "$LOG" >&2
		return 1
	}
}

iptables_dnat() {
	ns "crb-$1" iptables -t nat -A PREROUTING -i "crbp$(idx "$1")" -p udp --dport 22 -j ACCEPT &&
		ns "crb-$1" iptables -t nat -A PREROUTING -i "crbp$(idx "$1")" -p udp --dport 7000 \
			-j DNAT --to-destination "$2"
}

setup_rxlimit() {
	local i
	i=$(idx rxlimit)
	vps_base rxlimit || return 1
	ns crb-rxlimit "$B/sink" attach --dev "crbp$i" --pin "$PINS/p$i" || return 1
	COUNT[rxlimit]="sink $PINS/p$i"
}

setup_redirect() {
	local i
	i=$(idx redirect)
	vps_base redirect && vps_eth redirect || return 1
	ns crb-redirect "$B/sink" redirect --dev "crbp$i" --to "crbn$i" --pin "$PINS/r$i"
}

setup_iptables() {
	vps_base iptables && vps_eth iptables && iptables_dnat iptables 10.99.0.2:9000 || return 1
	log "iptables: $(ns crb-iptables iptables -V)"
}

setup_nftables() {
	vps_base nftables && vps_eth nftables || return 1
	ns crb-nftables nft -f - <<-EOF
	table ip crbbench {
		chain prerouting {
			type nat hook prerouting priority dstnat; policy accept;
			iif "crbp$(idx nftables)" udp dport 7000 dnat to 10.99.0.2:9000
		}
	}
	EOF
}

setup_xdp() { vps_base xdp && vps_eth xdp && crbpf_up xdp auto 10.99.0.2:9000; }
setup_tc() { vps_base tc && vps_eth tc && crbpf_up tc tc 10.99.0.2:9000; }
setup_tun-iptables() { vps_base tun-iptables && vps_tun tun-iptables && iptables_dnat tun-iptables 10.98.0.2:9000; }
setup_tun-crbpf() { vps_base tun-crbpf && vps_tun tun-crbpf && crbpf_up tun-crbpf auto 10.98.0.2:9000; }
# The skb path's floor into the TUN: an XDP program that passes, a tc
# program that redirects every packet, untouched (no parse, no rewrite).
setup_tun-floor() {
	local i
	i=$(idx tun-floor)
	vps_base tun-floor && vps_tun tun-floor &&
		ns crb-tun-floor "$B/sink" tcredirect --dev "crbp$i" --to "crbt$i" --pin "$PINS/f$i"
}

# Replies from the backend to many clients: the generator sits on the
# backend's veth, the count on the client's.
reply_gen() {
	local row=$1 i
	i=$(idx "$row")
	GEN_NS[$row]=crb-sink GEN_DEV[$row]=crbs$i GEN_DST_MAC[$row]=$(mac "crb-$row" "crbn$i")
	GEN_SRC[$row]=10.99.0.2:9000 GEN_DST[$row]=198.51.100.10:1024 GEN_VARY[$row]=--vary-dst
	COUNT[$row]="sink $PINS/g$i"
}
setup_reply-flows() { vps_base reply-flows && vps_eth reply-flows && crbpf_up reply-flows auto 10.99.0.2:9000 && reply_gen reply-flows; }
setup_reply-static() { vps_base reply-static && vps_eth reply-static && crbpf_up reply-static auto 10.99.0.2:9000 && reply_gen reply-static; }

setup() {
	local r
	teardown
	mkdir -p "$PINS" && chmod 700 "$PINS"
	ip netns add crb-gen && ip netns add crb-sink || return 1
	for n in crb-gen crb-sink; do
		ip -n "$n" link set lo up
		ns "$n" sysctl -qw net.ipv6.conf.all.disable_ipv6=1
	done
	for r in ${rows//,/ }; do
		if ! "setup_$r"; then
			say "bench: row $r could not be set up"
			result "$r" 0 0 error 1
			ROW_DEAD[$r]=1
		fi
	done
}
declare -A ROW_DEAD

# count ROW: packets that arrived where the row's path ends.
count() {
	local kind a b
	read -r kind a b <<<"${COUNT[$1]}"
	case "$kind" in
	sink) "$B/sink" read --pin "$a" 2>/dev/null | sed -n 's/^packets=\([0-9]*\).*/\1/p' ;;
	tun) echo $(($(link_stat "$a" "$b" TX packets) + $(link_stat "$a" "$b" TX dropped))) ;;
	esac
}

# sent NS DEV: frames the generator's veth has transmitted.
# link_stat NS DEV RX|TX packets|dropped: one of DEV's counters.
link_stat() {
	ip -n "$1" -s link show "$2" |
		awk -v dir="$3:" -v col="$([ "$4" = packets ] && echo 2 || echo 4)" \
			'f { print $col; exit } $1 == dir { f = 1 }'
}

sent() { link_stat "$1" "$2" TX packets; }

# gen_start ROW SIZE FLOWS [RATE] [forward]: start the generator for ROW in
# the background (forward: the client-to-VPS flows even for a reply row).
gen_start() {
	local row=$1 size=$2 flows=$3 rate=${4:-} dir=${5:-} i nsn dev dmac src dst vary cfg
	i=$(idx "$row")
	nsn=${GEN_NS[$row]} dev=${GEN_DEV[$row]} dmac=${GEN_DST_MAC[$row]}
	src=${GEN_SRC[$row]} dst=${GEN_DST[$row]} vary=${GEN_VARY[$row]}
	if [ "$dir" = forward ]; then
		nsn=crb-gen dev=crbg$i dmac=$(mac "crb-$row" "crbp$i")
		src=198.51.100.10:1024 dst=203.0.113.10:7000 vary=
	fi
	if [ "$GEN_USED" = live ]; then
		local a=(--dev "$dev" --cpu "$GEN_CPU" --size "$size" --flows "$flows" --duration 3600
			--dst "$dst" --dst-mac "$dmac" --src "${src%:*}" --sport "${src#*:}")
		[ -n "$vary" ] && a+=(--vary-dst)
		[ -n "$rate" ] && a+=(--rate "$rate")
		nsenter --net=/run/netns/"$nsn" "$B/gen" "${a[@]}" >"$TMPD/gen.out" 2>>"$LOG" &
		GEN_PID=$!
		return 0
	fi
	cfg=$TMPD/$dev-$size-$flows-${dir:-row}.cfg
	if [ ! -s "$cfg" ]; then
		python3 "$HERE/tgcfg.py" --dst-mac "$dmac" --src-mac "$(mac "$nsn" "$dev")" \
			--src "$src" --dst "$dst" --flows "$flows" --size "$size" $vary >"$cfg" || return 1
	fi
	# -P 1: one sender process, pinned to CPU 0 by trafgen itself;
	# Leave socket memory and IRQ affinity alone (0.6.8 knows no -A).
	nsenter --net=/run/netns/"$nsn" trafgen -o "$dev" -i "$cfg" -P 1 --no-sock-mem -Q -C \
		${rate:+-b "${rate}pps"} >"$TMPD/gen.out" 2>&1 &
	GEN_PID=$!
}

# gen_pids: generators running in the generator namespaces (only those: a
# trafgen of someone else's is none of the bench's business).
gen_pids() {
	local n p
	for n in crb-gen crb-sink; do
		for p in $(ip netns pids "$n" 2>/dev/null); do
			case "$(cat /proc/"$p"/comm 2>/dev/null)" in
			trafgen|gen) echo "$p" ;;
			esac
		done
	done
}

# gen_stop: stop every generator (trafgen forks its sender) and wait.
gen_stop() {
	local left
	kill -INT $(gen_pids) 2>/dev/null
	[ -n "${GEN_PID:-}" ] && wait "$GEN_PID" 2>/dev/null
	GEN_PID=
	for _ in $(seq 50); do
		left=$(gen_pids)
		[ -z "$left" ] && return 0
		sleep 0.1
	done
	log "gen_stop: generators still running: $left"
	kill -KILL $left 2>/dev/null
}

# warm ROW FLOWS [forward]: wait until the generator has sent two passes
# over all flows (and at least WARM_MIN frames); 1 if it sends nothing.
warm() {
	local row=$1 flows=$2 nsn dev s0 s want deadline
	nsn=${GEN_NS[$row]} dev=${GEN_DEV[$row]}
	[ "${3:-}" = forward ] && nsn=crb-gen dev=crbg$(idx "$row")
	s0=$(sent "$nsn" "$dev")
	want=$((2 * flows > WARM_MIN ? 2 * flows : WARM_MIN))
	# Generous: the generator shares its CPU with the path, and a slow
	# path (conntrack at 1M flows) on a busy VM sent 30 kpps.
	deadline=$(($(date +%s) + 10 + want / 20000))
	while [ "$(date +%s)" -le "$deadline" ]; do
		if ! kill -0 "$GEN_PID" 2>/dev/null; then
			log "warm $row: the generator exited: $(cat "$TMPD/gen.out")"
			return 1
		fi
		s=$(sent "$nsn" "$dev")
		[ $((s - s0)) -ge "$want" ] && return 0
		sleep 0.02
	done
	log "warm $row: sent $((s - s0)) of $want frames within the deadline"
	return 1
}

# trial ROW SIZE FLOWS: one measurement; records pps and the load average.
trial() {
	local row=$1 size=$2 flows=$3 c0 c1 t0 t1 pps
	if [ "$row" = reply-flows ]; then
		# Flows established by forward traffic first: two passes.
		gen_start "$row" "$size" "$flows" "" forward && warm "$row" "$flows" forward
		gen_stop
	fi
	gen_start "$row" "$size" "$flows" || return 1
	if ! warm "$row" "$flows"; then
		gen_stop
		log "trial $row: the generator did not start: $(cat "$TMPD/gen.out")"
		return 1
	fi
	c0=$(count "$row") t0=$(date +%s%N)
	sleep "$seconds"
	c1=$(count "$row") t1=$(date +%s%N)
	gen_stop
	[ -n "$c0" ] && [ -n "$c1" ] || return 1
	pps=$(((c1 - c0) * 1000000000 / (t1 - t0)))
	log "trial $row size=$size flows=$flows received=$((c1 - c0)) ns=$((t1 - t0)) pps=$pps load=$(cut -d' ' -f1 /proc/loadavg)"
	[ "$pps" -gt 0 ] || return 1
	result "$row" "$size" "$flows" pps "$pps"
	result "$row" "$size" "$flows" load "$(cut -d' ' -f1 /proc/loadavg)"
}

# Which path did the packets take? Recorded, so a row cannot silently
# measure the wrong thing (e.g. XDP passing everything to tc).
crbpf_paths() {
	local row=$1
	[ -d "$PINS/crbpf-$row" ] || return 0
	log "crbpf stats after the trials, $row:"
	CRBPF_PIN_ROOT=$PINS/crbpf-$row ns "crb-$row" "$CRBPF" stats >>"$LOG" 2>&1
}

# probe_gen: the generator this kernel allows. Live frames need
# BPF_PROG_TEST_RUN with BPF_F_TEST_XDP_LIVE_FRAMES, which hardened
# kernels refuse (EPERM on 6.18.44-fc); trafgen needs only AF_PACKET.
probe_gen() {
	local out
	GEN_USED=trafgen
	[ "$gen_kind" = live ] || return 0
	out=$(ns crb-gen "$B/gen" --dev "crbg$(idx "${rows%%,*}")" --dst 203.0.113.10:7000 --dst-mac 02:00:00:00:00:01 \
		--duration 0.05 2>&1)
	if sed -n 's/.*sent=\([0-9]*\).*/\1/p' <<<"$out" | grep -qv '^0*$'; then
		GEN_USED=live
	else
		say "bench: live frames refused here ($(tr '\n' ' ' <<<"$out" | cut -c1-120)); using trafgen"
	fi
}

# Micro-benchmark of the edge programs (BPF_PROG_TEST_RUN, no traffic): the
# Ethernet cases in the xdp row's namespace, the tunnel case in tun-crbpf's
# (its TUN). A case that fails its checks prints why and gives no figure.
microbench() {
	local out i k v where
	for where in xdp tun-crbpf; do
		[[ ",$rows," == *,$where,* ]] && [ -z "${ROW_DEAD[$where]:-}" ] || continue
		i=$(idx "$where")
		if [ "$where" = xdp ]; then
			out=$(ns crb-xdp "$B/microbench" --pub "crbp$i" --nh "crbn$i" --repeat "$micro_repeat" \
				--many-flows "$([ "$quick" = 1 ] && echo 65536 || echo 1000000)" 2>"$TMPD/micro.err")
		else
			out=$(ns crb-tun-crbpf "$B/microbench" --pub "crbp$i" --tun "crbt$i" \
				--repeat "$micro_repeat" 2>"$TMPD/micro.err")
		fi
		[ -s "$TMPD/micro.err" ] && say "$(sed 's/^/bench: /' "$TMPD/micro.err")"
		log "microbench ($where): $out"
		for k in hit_ns hit_many_ns miss_ns rev_ns acl_ns limit_ns tc_ns tun_ns tun_xdp_ns tun_tc_ns many_flows; do
			v=$(sed -n "s/.*\b$k=\([0-9.]*\).*/\1/p" <<<"$out")
			[ -n "$v" ] && result micro 0 0 "$k" "$v"
		done
	done
}

# Live update under load: the xdp row's port paced at half its best 64-byte
# one-flow rate, N port add/del on other ports meanwhile.
live_update() {
	local cap rate before after sent0 sent1 drops0 drops1 i port fails=0 t0 t1 p
	p=$(idx xdp)
	cap=$(awk -F'\t' '$1=="xdp" && $2==64 && $3==1 && $4=="pps" {print $5}' "$RAW" | sort -n | tail -n1)
	if [ -z "$cap" ] || [ "$cap" = 0 ]; then
		say "bench: live update skipped: no crbpf capacity measured (64-byte frames, 1 flow)"
		return 1
	fi
	rate=$((cap / 2))
	before=$(count xdp) sent0=$(sent crb-gen "crbg$p")
	drops0=$(link_stat crb-xdp "crbp$p" RX dropped)
	gen_start xdp 64 1 "$rate" || return 1
	warm xdp 1
	t0=$(date +%s.%N)
	for ((i = 0; i < ops / 2; i++)); do
		port=$((20000 + i % 1000))
		CRBPF_PIN_ROOT=$PINS/crbpf-xdp ns crb-xdp taskset -c "$OPS_CPU" "$CRBPF" port add udp "$port" 10.99.0.2:9000 --xdp-veth >>"$LOG" 2>&1 || fails=$((fails + 1))
		CRBPF_PIN_ROOT=$PINS/crbpf-xdp ns crb-xdp taskset -c "$OPS_CPU" "$CRBPF" port del udp "$port" >>"$LOG" 2>&1 || fails=$((fails + 1))
	done
	t1=$(date +%s.%N)
	sleep 0.3
	gen_stop
	sleep 0.3
	after=$(count xdp) sent1=$(sent crb-gen "crbg$p")
	drops1=$(link_stat crb-xdp "crbp$p" RX dropped)
	log "live update: ops=$ops failed=$fails sent=$((sent1 - sent0)) received=$((after - before))"
	result live 64 1 rate "$rate"
	result live 64 1 ops "$ops"
	result live 64 1 ops_failed "$fails"
	result live 64 1 ops_seconds "$(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.2f", b - a }')"
	result live 64 1 sent "$((sent1 - sent0))"
	result live 64 1 received "$((after - before))"
	result live 64 1 lost "$((sent1 - sent0 - (after - before)))"
	result live 64 1 veth_drops "$((drops1 - drops0))"
}

# Debugging aid: build the topology and leave it standing.
if [ -n "${BENCH_SETUP_ONLY:-}" ]; then
	trap - EXIT
	crbpf_flows=1048576
	setup && echo "topology up; remove with: for n in $(namespaces | tr '\n' ' '); do ip netns del \$n; done; rm -rf $PINS"
	exit
fi

# The flow tables hold the largest flow set with LRU slack; conntrack keeps
# the kernel default (nf_conntrack_max), as a user of the recipe would.
maxflows=$(tr ' ' '\n' <<<"$flowsets" | sort -n | tail -n1)
crbpf_flows=1048576
while [ "$crbpf_flows" -lt $((2 * maxflows)) ]; do crbpf_flows=$((crbpf_flows * 2)); done

say "crbpf bench $TS: $(uname -r), $ncpu CPUs ($(lscpu | sed -n 's/^Model name: *//p' | head -1))"
say "rows: $rows; sizes: $sizes; flows: $flowsets; $trials interleaved trials x ${seconds}s; load average $(cut -d' ' -f1-3 /proc/loadavg)"
setup || { say "bench: setup failed"; exit 1; }
probe_gen
say "generator: $GEN_USED$([ "$GEN_USED" = trafgen ] && echo " ($(trafgen -v | head -n1 | cut -d' ' -f1-2), PACKET_TX_RING, qdisc bypass)" || echo " (BPF_PROG_TEST_RUN live frames)")"
for size in $sizes; do
	for flows in $flowsets; do
		for t in $(seq "$trials"); do
			for r in ${rows//,/ }; do
				[ -n "${ROW_DEAD[$r]:-}" ] && continue
				trial "$r" "$size" "$flows" ||
					say "bench: $r size=$size flows=$flows trial $t: no measurement"
			done
		done
		say "  ${size}B $flows flows done (load average $(cut -d' ' -f1 /proc/loadavg))"
	done
done
for r in ${rows//,/ }; do crbpf_paths "$r"; done
if [[ ",$rows," == *,xdp,* ]] && [ -z "${ROW_DEAD[xdp]:-}" ]; then
	live_update
fi
microbench

python3 "$HERE/report.py" --raw "$RAW" --json "$B/results-$TS.json" \
	--meta "ts=$TS" --meta "kernel=$(uname -r)" --meta "cpus=$ncpu" \
	--meta "cpu_model=$(lscpu | sed -n 's/^Model name: *//p' | head -1)" \
	--meta "quick=$quick" --meta "trials=$trials" --meta "seconds=$seconds" \
	--meta "generator=$GEN_USED" --meta "rows=$rows" --meta "sizes=$sizes" --meta "flows=$flowsets" \
	--meta "command=bash tests/bench/bench.sh $ARGS" \
	$([ "$check" = 1 ] && echo --check)
status=$?
cp "$B/results-$TS.json" "$B/latest.json" 2>/dev/null
exit $status
