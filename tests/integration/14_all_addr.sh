#!/usr/bin/env bash
# SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
# Issue 4 parts 4 and 6 over the WireGuard topology.
# Forward-everything: `port add tcp all 10.0.0.2 --except ...` and `udp all`
# (v4 and v6): random ports reach the home server with the client's address;
# an SSH-like service on the VPS and the WireGuard listener stay the VPS's
# (socket lookup), an --except port is left to the VPS's stack; the VPS's own
# outgoing connections (an HTTP download with curl from a server on the client
# side) and UDP query/answer keep working while both are on; port del ends it.
# Several public addresses: a second address on the VPS NIC, the same public
# port mapped to different backends per address (home service vs container),
# an address mapping winning over a wildcard one, UDP replies leaving from
# the address the client used, crbpf_rev unambiguous per address, and the
# `all` markers in crbpf_rev while `all` is on (issue 11 item 3). Bad input
# for the new syntax: exit 2, one line, nothing changed.
source "$(dirname "$0")/../lib/common.sh"
t_begin all-addr
need_crbpf
t_up

VPS4_2=203.0.113.20 VPS6_2=2001:db8:203::20

# Random ports for `all` (distinct, away from anything the topology uses).
mapfile -t RP < <(shuf -i 20000-29999 -n 4)
RU=$(shuf -i 30000-30499 -n 1)
RU6=$(shuf -i 30500-30999 -n 1)

for p in "${RP[@]}"; do
	serve cr-home "home$p" tcp "" "$p" homesrv || t_fail "home server on $p did not start"
done
# UDP over IPv6 to home: servers bound to the tunnel address (home's ip rule
# from fd00::2 routes their replies into the tunnel; the home line has no
# IPv6, so a wildcard-bound server could not even send).
serve cr-home homeu udp "" "$RU" homeudp || t_fail "home udp server did not start"
serve cr-home homeu6 udp $TUN_HOME6 "$RU6" homeudp || t_fail "home udp6 server did not start"
serve cr-home homex tcp "" 3000 homesrv || t_fail "home server on 3000 did not start"
serve cr-home home8000 tcp "" 8000 homesrv || t_fail "home server on 8000 did not start"
serve cr-home home8001 tcp "" 8001 homesrv2 || t_fail "home server on 8001 did not start"
serve cr-home homeu1 udp "" 8002 homeudp1 || t_fail "home udp server 8002 did not start"
serve cr-home homeu2 udp "" 8003 homeudp2 || t_fail "home udp server 8003 did not start"
serve cr-home homeu26 udp $TUN_HOME6 8004 homeudp2 || t_fail "home udp6 server 8004 did not start"
serve cr-ctr ctrsrv tcp "" 80 ctrsrv || t_fail "container server did not start"
serve cr-vps sshd tcp "" 2222 sshd || t_fail "VPS ssh-like server did not start"
# a VPS service on a port no --except names: the socket lookup keeps it
serve cr-vps vpsweb tcp "" 2400 vpsweb || t_fail "VPS server on 2400 did not start"
# The client side: an HTTP server the VPS downloads from, a UDP "DNS" server.
head -c 300000 /dev/urandom >"$TOPO_DIR/blob"
nsx_bg cr-cli http "$PY" -m http.server --bind :: --directory "$TOPO_DIR" 8081
wait_for 5 nsx cr-cli sh -c "ss -ltn | grep -q ':8081 '" || t_fail "http server did not start"
serve cr-cli clidns udp "" 5353 clidns || t_fail "client udp server did not start"

must "crbpf attach eth0" vps_crbpf attach eth0 >/dev/null
must "crbpf home attach wgh --serve docker0" home_crbpf home attach wgh --serve docker0 >/dev/null
must "crbpf port add tcp all 10.0.0.2" \
	vps_crbpf port add tcp all $TUN_HOME4 --except 2222,3000-3001 >/dev/null
must "crbpf port add tcp all [fd00::2]" \
	vps_crbpf port add tcp all "[$TUN_HOME6]" --except 2222 --except 3000 >/dev/null
must "crbpf port add udp all 10.0.0.2" vps_crbpf port add udp all $TUN_HOME4 >/dev/null
must "crbpf port add udp all [fd00::2]" vps_crbpf port add udp all "[$TUN_HOME6]" >/dev/null

# ---- forward-everything ----
for fam in 4 6; do
	if [ $fam = 4 ]; then vps=$VPS4 want="$CLI4:" ru=$RU; else vps=$VPS6 want="[$CLI6]:" ru=$RU6; fi
	bad_ports=
	for p in "${RP[@]}"; do
		out=$(peer cr-cli hello "$vps" "$p" 2>&1)
		[[ "$out" == *"hello $want"*" homesrv" ]] || bad_ports+=" $p ($out)"
	done
	if [ -z "$bad_ports" ]; then
		t_result "all-tcp-v$fam-random-ports" PASS
	else
		t_result "all-tcp-v$fam-random-ports" FAIL "not home:$bad_ports"
	fi
	HELLO_TAG=homeudp hello_case "all-udp-v$fam-random-port" "$want" \
		peer cr-cli hello --proto udp "$vps" "$ru"
	HELLO_TAG=sshd hello_case "all-ssh-like-stays-on-vps-v$fam" "$want" \
		peer cr-cli hello "$vps" 2222
	HELLO_TAG=vpsweb hello_case "all-local-listener-stays-on-vps-v$fam" "$want" \
		peer cr-cli hello "$vps" 2400
	# 3000 is excepted: the VPS's stack answers (nothing listens: refused),
	# the home server on 3000 must not.
	out=$(peer cr-cli hello --timeout 3 "$vps" 3000 2>&1)
	if [[ "$out" == *homesrv* ]]; then
		t_result "all-except-v$fam" FAIL "excepted port 3000 reached home: $out"
	elif [[ "$out" == *"refused"* ]]; then
		t_result "all-except-v$fam" PASS
	else
		t_result "all-except-v$fam" FAIL "want connection refused from the VPS, got: $out"
	fi
done

# The VPS's own traffic while tcp all and udp all are on.
sock0=$(vps_counter pass_local_sock)
for fam in 4 6; do
	if [ $fam = 4 ]; then url="http://$CLI4:8081/blob" cli=$CLI4; else url="http://[$CLI6]:8081/blob" cli=$CLI6; fi
	if nsx cr-vps curl -sS -g --max-time 20 -o "$TOPO_DIR/got$fam" "$url" 2>"$TOPO_DIR/curl$fam.err" &&
		cmp -s "$TOPO_DIR/blob" "$TOPO_DIR/got$fam"; then
		t_result "all-vps-own-http-v$fam" PASS
	else
		t_result "all-vps-own-http-v$fam" FAIL "curl $url from the VPS: $(head -n1 "$TOPO_DIR/curl$fam.err")"
	fi
	HELLO_TAG=clidns hello_case "all-vps-own-udp-v$fam" "" peer cr-vps hello --proto udp "$cli" 5353
done
# The replies to the VPS's own connections find their local sockets.
sock1=$(vps_counter pass_local_sock)
if ! nums "$sock0" "$sock1"; then
	t_result all-socket-lookup-counted FAIL "pass_local_sock unreadable ('$sock0' '$sock1')"
elif [ "$sock1" -gt "$sock0" ]; then
	t_result all-socket-lookup-counted PASS
else
	t_result all-socket-lookup-counted FAIL "pass_local_sock stayed at $sock0 through the VPS's own traffic"
fi

# The tunnel still works: a fresh handshake to the WireGuard listener, which
# `udp all` must leave alone, then traffic through it.
ok=0
wg_rehandshake && ok=1
if [ "$ok" -eq 1 ]; then
	HELLO_TAG=homesrv hello_case all-tunnel-after-rehandshake "$CLI4:" peer cr-cli hello $VPS4 "${RP[0]}"
else
	t_result all-tunnel-after-rehandshake FAIL "no new handshake within 10 s with udp all on"
fi

# port list shows the entries and their exceptions.
if vps_crbpf port list --json | "$PY" -c '
import json, sys
m = [e for e in json.load(sys.stdin) if e["all"]]
want = {("tcp", "ipv4", "2222,3000-3001"), ("tcp", "ipv6", "2222,3000"),
        ("udp", "ipv4", ""), ("udp", "ipv6", "")}
got = {(e["proto"], e["family"], e["except"]) for e in m}
sys.exit(0 if got == want and all(e["addr"] is None for e in m) else 1)'; then
	t_result all-port-list PASS
else
	t_result all-port-list FAIL "port list --json: $(vps_crbpf port list --json | head -c 300)"
fi

# ---- several public addresses ----
nsx cr-vps ip addr add $VPS4_2/24 dev eth0 &&
	nsx cr-vps ip addr add $VPS6_2/64 dev eth0 nodad ||
	t_fail "second VPS address"
cleanup_addrs() {
	nsx cr-vps ip addr del $VPS4_2/24 dev eth0 2>/dev/null
	nsx cr-vps ip addr del $VPS6_2/64 dev eth0 2>/dev/null
}
trap 'cleanup_addrs; _t_exit' EXIT

must "port add tcp 7000 --addr $VPS4" vps_crbpf port add tcp 7000 $TUN_HOME4:8000 --addr $VPS4 >/dev/null
must "port add tcp 7000 --addr $VPS4_2" vps_crbpf port add tcp 7000 $TUN_HOME4:8080 --addr $VPS4_2 >/dev/null
must "port add tcp 7000 --addr $VPS6" vps_crbpf port add tcp 7000 "[$TUN_HOME6]:8000" --addr $VPS6 >/dev/null
must "port add tcp 7000 --addr $VPS6_2" vps_crbpf port add tcp 7000 "[$TUN_HOME6]:8001" --addr $VPS6_2 >/dev/null
must "port add udp 7001 --addr $VPS4" vps_crbpf port add udp 7001 $TUN_HOME4:8002 --addr $VPS4 >/dev/null
must "port add udp 7001 --addr $VPS4_2" vps_crbpf port add udp 7001 $TUN_HOME4:8003 --addr $VPS4_2 >/dev/null
must "port add udp 7001 --addr $VPS6_2" vps_crbpf port add udp 7001 "[$TUN_HOME6]:8004" --addr $VPS6_2 >/dev/null
# a wildcard mapping and an address one on the same port
must "port add tcp 7002 (any address)" vps_crbpf port add tcp 7002 $TUN_HOME4:8000 >/dev/null
must "port add tcp 7002 --addr $VPS4_2" vps_crbpf port add tcp 7002 $TUN_HOME4:8080 --addr $VPS4_2 >/dev/null

HELLO_TAG=homesrv hello_case addr-v4-first "$CLI4:" peer cr-cli hello $VPS4 7000
HELLO_TAG=ctrsrv hello_case addr-v4-second-container "$CLI4:" peer cr-cli hello $VPS4_2 7000
HELLO_TAG=homesrv hello_case addr-v6-first "[$CLI6]:" peer cr-cli hello $VPS6 7000
HELLO_TAG=homesrv2 hello_case addr-v6-second "[$CLI6]:" peer cr-cli hello $VPS6_2 7000
# peer.py's UDP hello fails unless the reply comes from the address it asked.
HELLO_TAG=homeudp1 hello_case addr-udp-v4-reply-from-first "$CLI4:" peer cr-cli hello --proto udp $VPS4 7001
HELLO_TAG=homeudp2 hello_case addr-udp-v4-reply-from-second "$CLI4:" peer cr-cli hello --proto udp $VPS4_2 7001
HELLO_TAG=homeudp2 hello_case addr-udp-v6-reply-from-second "[$CLI6]:" peer cr-cli hello --proto udp $VPS6_2 7001
# udp 7001 on VPS6 has no address mapping: `udp all [fd00::2]` keeps port
# 7001, where nothing listens at home: no reply, and certainly none from
# a 700x server.
# The datagrams must still reach home (its stack finds no socket for them).
np0=$(noports cr-home)
out=$(peer cr-cli hello --proto udp --timeout 2 $VPS6 7001 2>&1)
np1=$(noports cr-home)
if [[ "$out" == *homeudp* ]]; then
	t_result addr-udp-v6-only-on-its-address FAIL "udp 7001 --addr $VPS6_2 answered on $VPS6: $out"
elif [[ "$out" != *"no reply"* ]]; then
	t_result addr-udp-v6-only-on-its-address FAIL "want no reply, got: $out"
elif ! nums "$np0" "$np1"; then
	t_result addr-udp-v6-only-on-its-address FAIL "home's UdpNoPorts unreadable ('$np0' '$np1')"
elif [ "$np1" -le "$np0" ]; then
	t_result addr-udp-v6-only-on-its-address FAIL "the datagrams never reached home (its Udp6NoPorts stayed at $np0)"
else
	t_result addr-udp-v6-only-on-its-address PASS
fi
HELLO_TAG=homesrv hello_case addr-wildcard-on-other-address "$CLI4:" peer cr-cli hello $VPS4 7002
HELLO_TAG=ctrsrv hello_case addr-specific-beats-wildcard "$CLI4:" peer cr-cli hello $VPS4_2 7002
# `all` applies to the second address too.
HELLO_TAG=homesrv hello_case addr-all-on-second-address "$CLI4:" peer cr-cli hello $VPS4_2 "${RP[1]}"

# port del --addr removes only that address's mapping.
must "port del tcp 7002 --addr $VPS4_2" vps_crbpf port del tcp 7002 --addr $VPS4_2 >/dev/null
HELLO_TAG=homesrv hello_case addr-del-falls-back-to-wildcard "$CLI4:" peer cr-cli hello $VPS4_2 7002
HELLO_TAG=ctrsrv hello_case addr-del-leaves-others "$CLI4:" peer cr-cli hello $VPS4_2 7000

# ---- bad input: exit 2, one line, nothing changed ----
# state: what a bad command must leave alone; fails (1) if it cannot be read
# (two equal error messages would hide any change).
state() {
	local m out
	vps_crbpf port list --json || return 1
	for m in crbpf_except crbpf_local; do
		out=$(bpftool -j map dump pinned "$VPS_PIN/maps/$m") || return 1
		md5sum <<<"$out"
	done
}
bad() {
	local case=$1 want=$2 rc lines
	shift 2
	native_only "all-bad-$case" "a usage error is the tool's argument parsing, refused before any map write" &&
		return
	if ! state >"$TOPO_DIR/state.before" 2>"$TOPO_DIR/state.err"; then
		t_result "all-bad-$case" FAIL "state unreadable: $(head -n1 "$TOPO_DIR/state.err")"
		return
	fi
	vps_crbpf "$@" >"$TOPO_DIR/out" 2>"$TOPO_DIR/err"
	rc=$?
	if ! state >"$TOPO_DIR/state.after" 2>"$TOPO_DIR/state.err"; then
		t_result "all-bad-$case" FAIL "state unreadable: $(head -n1 "$TOPO_DIR/state.err")"
		return
	fi
	lines=$(grep -c . "$TOPO_DIR/err")
	if [ "$rc" -ne 2 ]; then
		t_result "all-bad-$case" FAIL "'crbpf $*' exited $rc, want 2"
	elif [ "$lines" -ne 1 ]; then
		t_result "all-bad-$case" FAIL "'crbpf $*' wrote $lines lines to stderr"
	elif ! cmp -s "$TOPO_DIR/state.before" "$TOPO_DIR/state.after"; then
		t_result "all-bad-$case" FAIL "'crbpf $*' changed state"
	elif ! grep -qi -- "$want" "$TOPO_DIR/err"; then
		t_result "all-bad-$case" FAIL "'crbpf $*': '$(cat "$TOPO_DIR/err")' does not mention '$want'"
	else
		t_result "all-bad-$case" PASS
	fi
}
bad backend-port "without a port" port add tcp all $TUN_HOME4:80
bad backend-port-v6 "without a port" port add udp all "[$TUN_HOME6]:80"
bad except-without-all "all" port add tcp 4000 $TUN_HOME4 --except 22
bad except-port-0 "invalid port" port add tcp all $TUN_HOME4 --except 0
bad except-trailing-comma "--except" port add tcp all $TUN_HOME4 --except 22,
bad except-reversed "below the first" port add tcp all $TUN_HOME4 --except 30-20
bad except-missing "--except" port add tcp all $TUN_HOME4 --except
bad except-on-del "--except" port del tcp all --except 22
bad addr-not-on-dev "192.0.2.99" port add tcp 4000 $TUN_HOME4 --addr 192.0.2.99
bad addr-v6-not-on-dev "2001:db8:203::99" port add tcp 4000 "[$TUN_HOME6]" --addr 2001:db8:203::99
bad addr-family "famil" port add tcp 4000 $TUN_HOME4 --addr $VPS6
bad addr-garbage "not-an-address" port add tcp 4000 $TUN_HOME4 --addr not-an-address
bad addr-missing "--addr" port add tcp 4000 $TUN_HOME4 --addr
bad all-uppercase "invalid port" port add tcp ALL $TUN_HOME4

# crbpf_rev: one static rule per backend port, answering from its address
# (match 1: the mapping is keyed on it). A backend port that two public
# ports lead to (10.0.0.2:8000: tcp 7000 --addr VPS4 and tcp 7002) is
# ambiguous, and so is every port of a backend address an `all` entry leads
# to; port del of the `all` entries makes the --addr rules unambiguous again.
rev_check() {
	bpftool -j map dump pinned "$VPS_PIN/maps/crbpf_rev" | "$PY" -c '
import ipaddress, json, sys
rows = {}
for e in json.load(sys.stdin):
    k, v = e["formatted"]["key"], e["formatted"]["value"]
    if k["family"] != 4:
        continue
    port = int.from_bytes(k["port"].to_bytes(2, "little"), "big")
    addr = str(ipaddress.IPv4Address(k["addr"][0].to_bytes(4, "little")))
    pub = str(ipaddress.IPv4Address(v["public_addr"][0].to_bytes(4, "little")))
    rows[(addr, port, k["proto"])] = (pub, v["refs"], v["match"])
refs = int(sys.argv[1])
want = {("10.0.0.2", 8002, 17): ("203.0.113.10", refs, 1),
        ("10.0.0.2", 8003, 17): ("203.0.113.20", refs, 1)}
bad = [(k, rows.get(k), v) for k, v in want.items() if rows.get(k) != v]
if rows.get(("10.0.0.2", 8000, 6), ("", 0, 0))[1] < 2:
    bad.append(("10.0.0.2:8000/tcp", rows.get(("10.0.0.2", 8000, 6)), "refs >= 2"))
print(bad)
sys.exit(1 if bad else 0)' "$1"
}
if out=$(rev_check 2 2>&1); then
	t_result addr-rev-ambiguous-with-all PASS
else
	t_result addr-rev-ambiguous-with-all FAIL "crbpf_rev (got, want): $out"
fi
# all_markers ON: crbpf_rev holds the `all` marker (port 0: no static rule
# for any port of the backend address, replies without a flow are dropped)
# for tcp and udp over both families while `all` is on (1), none after (0).
all_markers() {
	bpftool -j map dump pinned "$VPS_PIN/maps/crbpf_rev" | "$PY" -c '
import json, sys
got = sorted({(e["formatted"]["key"]["family"], e["formatted"]["key"]["proto"])
              for e in json.load(sys.stdin) if e["formatted"]["key"]["port"] == 0})
want = [(4, 6), (4, 17), (6, 6), (6, 17)] if sys.argv[1] == "1" else []
print(got)
sys.exit(0 if got == want else 1)' "$1"
}
if out=$(all_markers 1 2>&1); then
	t_result all-rev-markers PASS
else
	t_result all-rev-markers FAIL "(family, proto) of port-0 crbpf_rev entries: $out"
fi

# ---- port del ends forward-everything ----
must "port del tcp all" vps_crbpf port del tcp all >/dev/null
must "port del udp all" vps_crbpf port del udp all >/dev/null
if out=$(rev_check 1 2>&1); then
	t_result addr-rev-unambiguous PASS
else
	t_result addr-rev-unambiguous FAIL "crbpf_rev (got, want): $out"
fi
if out=$(all_markers 0 2>&1); then
	t_result all-rev-markers-gone PASS
else
	t_result all-rev-markers-gone FAIL "port-0 crbpf_rev entries left: $out"
fi
for fam in 4 6; do
	if [ $fam = 4 ]; then vps=$VPS4; else vps=$VPS6; fi
	out=$(peer cr-cli hello --timeout 3 "$vps" "${RP[2]}" 2>&1)
	if [[ "$out" == *refused* ]]; then
		t_result "all-del-v$fam" PASS
	else
		t_result "all-del-v$fam" FAIL "after port del tcp all: $out"
	fi
done
HELLO_TAG=homesrv hello_case all-del-keeps-port-mappings "$CLI4:" peer cr-cli hello $VPS4 7000
t_done
