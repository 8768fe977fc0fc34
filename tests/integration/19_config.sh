#!/usr/bin/env bash
# SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
# Issue 10, declarative configuration: `crbpf apply [--check] FILE` and
# `crbpf config`. A bad file is refused with FILE:LINE and exit 2 and
# changes nothing; --check touches nothing; apply brings up the edge, the
# forwards and the home side; a changed file changes exactly the mappings
# that differ, while a UDP stream through a kept mapping loses nothing; the
# live state printed by `config` and applied back changes nothing at all (no
# map write, no program load, flows kept), for ranges, `all --except`,
# --addr and IPv6 backends too.
# kernels: skip, apply and config are tool logic over maps and programs the other files test on each kernel
source "$(dirname "$0")/../lib/common.sh"
t_begin config
need_crbpf
t_up

d=$TOPO_DIR
serve cr-home t8000 tcp "" 8000 || t_fail "home server did not start"
serve cr-home t7000 tcp "" 7000 || t_fail "home server did not start"
serve cr-home t7001 tcp "" 7001 || t_fail "home server did not start"
serve cr-home u5300 udp "" 5300 || t_fail "home server did not start"
serve cr-home u5400 udp "" 5400 || t_fail "home server did not start"
serve cr-ctr ctr80 tcp "" 80 || t_fail "container server did not start"

# Forwards as a set of lines "proto port family addr backend:port".
mappings() {
	vps_crbpf port list --json | "$PY" -c '
import json, sys
for m in json.load(sys.stdin):
    port = "all" if m["all"] else m["port"]
    print(m["proto"], port, m["family"], m["addr"], "%s:%s" % (m["backend"], m["backend_port"]), m.get("except", ""))
' | sort
}
# Everything a refused file must leave alone, both ends.
state() {
	echo "== vps port list"
	vps_crbpf port list --json 2>&1
	echo "== vps config"
	vps_crbpf config 2>&1
	echo "== home config"
	home_crbpf config 2>&1
	echo "== pins"
	find "$VPS_PIN" "$HOME_PIN" 2>/dev/null | sort
	echo "== home rules"
	nsx cr-home ip rule show
}
# maps: the pinned maps apply may write (not the flow table: traffic moves it).
maps() {
	local m
	for m in crbpf_ports crbpf_rev crbpf_except crbpf_local crbpf_txports crbpf_mss crbpf_timeouts; do
		echo "== $m"
		bpftool -j map dump pinned "$VPS_PIN/maps/$m" 2>&1 | "$PY" -c '
import json, sys
print("\n".join(sorted(json.dumps(e, sort_keys=True) for e in json.load(sys.stdin))))'
	done
}
# traced HOST ARGS...: crbpf on HOST (vps|home) under strace; stdout in
# $d/traced.out, the bpf() commands that change something counted in
# $d/traced.writes.
traced() {
	local host=$1 root=$VPS_PIN ns=cr-vps
	shift
	[ "$host" = home ] && root=$HOME_PIN ns=cr-home
	nsx "$ns" env CRBPF_PIN_ROOT="$root" timeout -k 5 60 strace -f -qq -e trace=bpf \
		-o "$d/strace.log" "$CRBPF" "$@" >"$d/traced.out" 2>"$d/traced.err"
	local rc=$?
	grep -cE 'BPF_MAP_(UPDATE|DELETE)_ELEM|BPF_PROG_LOAD|BPF_LINK_(CREATE|UPDATE)|BPF_OBJ_PIN|BPF_PROG_ATTACH' \
		"$d/strace.log" >"$d/traced.writes"
	return $rc
}

# --- apply brings everything up from nothing ---------------------------
cat >"$d/a.conf" <<EOF
# the VPS
[Edge]
Interface = eth0
Forward = tcp 8000 $TUN_HOME4
forward = tcp 8000 [$TUN_HOME6]      # keys are case-insensitive
Forward = udp 5300 $TUN_HOME4
Forward = tcp 7000-7001 $TUN_HOME4
Forward = tcp 7100 $TUN_HOME4:7000
Forward = tcp 8080 $TUN_HOME4
EOF
cat >"$d/home.conf" <<EOF
[Home]
Tunnel = wgh
Serve = docker0
EOF
if vps_crbpf apply "$d/a.conf" >"$d/apply.out" 2>"$d/apply.err" &&
	home_crbpf apply "$d/home.conf" >>"$d/apply.out" 2>>"$d/apply.err"; then
	t_result config-apply-up PASS
else
	t_fail "apply of a.conf / home.conf failed: $(head -n1 "$d/apply.err")"
fi
hello_case config-apply-tcp "$CLI4:" peer cr-cli hello $VPS4 8000
hello_case config-apply-tcp6 "[$CLI6]:" peer cr-cli hello $VPS6 8000
hello_case config-apply-udp "$CLI4:" peer cr-cli hello --proto udp $VPS4 5300
HELLO_TAG=t7000 hello_case config-apply-range-offset "$CLI4:" peer cr-cli hello $VPS4 7100
# The container answers only if home attach marks docker0's replies.
if home_crbpf status --json | "$PY" -c '
import json, sys
h = json.load(sys.stdin)["home"]
sys.exit(not any(t["tunnel"] == "wgh" and [s["dev"] for s in t["serve"]] == ["docker0"] for t in h))'; then
	HELLO_TAG=ctr80 hello_case config-apply-home "$CLI4:" peer cr-cli hello $VPS4 8080
else
	t_result config-apply-home FAIL "home status does not show wgh serving docker0: $(home_crbpf status 2>&1 | tail -n2 | tr '\n' ';')"
fi

# --- bad files: FILE:LINE, exit 2, one line, nothing changed -------------
state >"$d/state.before"
# bad CASE LINE TEXT: the file's good lines would change a lot if applied.
bad() {
	local name=$1 line=$2 text=$3 f=$d/bad-$1.conf out rc
	printf '%s\n' "$4" >"$f"
	out=$(vps_crbpf apply "$f" 2>&1 >/dev/null)
	rc=$?
	state >"$d/state.after"
	if [ "$rc" -ne 2 ]; then
		t_result "config-bad-$name" FAIL "exit $rc, want 2: $out"
	elif [ "$(grep -c . <<<"$out")" != 1 ] || [[ "$out" != "$f:$line: "*"$text"* ]]; then
		t_result "config-bad-$name" FAIL "message '$out', want '$f:$line: ...$text...'"
	elif ! diff -q "$d/state.before" "$d/state.after" >/dev/null; then
		t_result "config-bad-$name" FAIL "state changed: $(diff "$d/state.before" "$d/state.after" | grep '^[<>]' | head -n2 | tr '\n' ';')"
	else
		t_result "config-bad-$name" PASS
	fi
}
good="[Edge]
Interface = eth0
Forward = tcp 9999 $TUN_HOME4
Forward = udp all $TUN_HOME4"
bad port 5 "invalid port '70000'" "$good
Forward = tcp 70000 $TUN_HOME4"
bad overlap 6 "overlaps the Forward on line 5" "$good
Forward = tcp 8000-8010 $TUN_HOME4
Forward = tcp 8005 $TUN_HOME4:80"
bad key 5 "unknown key 'Port'" "$good
Port = 80"
bad no-interface 5 "[Edge] without Interface" "$good
[Edge]
Forward = tcp 80 $TUN_HOME4"
bad backend6 5 "brackets" "$good
Forward = tcp 80 $TUN_HOME6"
bad except 5 "--except applies to 'tcp all' only" "$good
Forward = tcp 80 $TUN_HOME4 --except 22"
bad home-table 7 "invalid --table '254'" "$good
[Home]
Tunnel = wgh
Table = 254"
bad section 1 "unknown section [Peer]" "[Peer]
$good"

# --- --check: validates, changes nothing, needs no root nor devices ------
cat >"$d/check.conf" <<EOF
[Edge]
Interface = nosuchdev0
Mode = tc
Timeout = tcp=60, udp=5
Forward = tcp 1-65535 $TUN_HOME4 --force
[Home]
Tunnel = nosuchtun0
EOF
nobody=$(mktemp -d /tmp/crbpf-nobody.XXXXXX)
trap 'rm -rf "$nobody"; _t_exit' EXIT
chmod 755 "$nobody" && cp "$CRBPF" "$d/check.conf" "$nobody/" && chmod 755 "$nobody/crbpf" &&
	chmod 644 "$nobody/check.conf"
out=$(nsx cr-vps env CRBPF_PIN_ROOT=$VPS_PIN setpriv --reuid=65534 --regid=65534 --clear-groups \
	--inh-caps=-all "$nobody/crbpf" apply --check "$nobody/check.conf" 2>&1)
rc=$?
out2=$(vps_crbpf apply --check "$d/check.conf" 2>&1)
rc2=$?
state >"$d/state.after"
if [ "$rc" -ne 0 ] || [ "$rc2" -ne 0 ]; then
	t_result config-check FAIL "apply --check of a good file: exit $rc as nobody ($out), $rc2 as root ($out2)"
elif ! diff -q "$d/state.before" "$d/state.after" >/dev/null; then
	t_result config-check FAIL "state changed: $(diff "$d/state.before" "$d/state.after" | grep '^[<>]' | head -n2 | tr '\n' ';')"
else
	t_result config-check PASS
fi

# --- round trip: config -> apply changes nothing -------------------------
# A TCP transfer through tcp 8000 holds an established flow across it.
stopfile=$d/stop
peer cr-cli put $VPS4 8000 --bytes 1000000 --until "$stopfile" --rate 500000 \
	--timeout 40 >"$d/put.out" 2>&1 &
putpid=$!
flows_est() {
	vps_crbpf flows --json | "$PY" -c '
import json, sys
for f in json.load(sys.stdin)["flows"]:
    if f["state"] == "established" and f["public_port"] == 8000:
        print(f["client_port"], f["age"])'
}
wait_for 5 test -n "$(flows_est)"
vps_crbpf config >"$d/rt.conf" 2>"$d/rt.err" || t_fail "crbpf config failed: $(head -n1 "$d/rt.err")"
home_crbpf config >"$d/rt-home.conf" 2>"$d/rt.err" || t_fail "crbpf config (home) failed: $(head -n1 "$d/rt.err")"
maps >"$d/maps.before"
flows_est >"$d/flows.before"
sleep 1
if ! traced vps apply "$d/rt.conf"; then
	t_result config-roundtrip FAIL "apply of crbpf config output: $(head -n1 "$d/traced.err")"
elif [ -s "$d/traced.out" ] || [ "$(cat "$d/traced.writes")" != 0 ]; then
	t_result config-roundtrip FAIL "changed something: $(head -n2 "$d/traced.out" | tr '\n' ';') $(cat "$d/traced.writes") bpf writes"
elif ! maps >"$d/maps.after" || ! diff -q "$d/maps.before" "$d/maps.after" >/dev/null; then
	t_result config-roundtrip FAIL "maps differ: $(diff "$d/maps.before" "$d/maps.after" | grep '^[<>]' | head -n2 | tr '\n' ';')"
else
	t_result config-roundtrip PASS
fi
flows_est >"$d/flows.after"
# flows_kept BEFORE AFTER: every established flow of BEFORE is in AFTER with
# the same client port and an age that went on (not a re-learned entry).
flows_kept() {
	[ -s "$1" ] && "$PY" - "$1" "$2" <<'EOF'
import sys
before = dict(l.split() for l in open(sys.argv[1]))
after = dict(l.split() for l in open(sys.argv[2]))
sys.exit(not all(p in after and int(after[p]) >= int(a) + 1 for p, a in before.items()))
EOF
}
if flows_kept "$d/flows.before" "$d/flows.after"; then
	t_result config-roundtrip-flows PASS
else
	t_result config-roundtrip-flows FAIL "established flows before: $(tr '\n' ' ' <"$d/flows.before"); after: $(tr '\n' ' ' <"$d/flows.after")"
fi
if ! traced home apply "$d/rt-home.conf"; then
	t_result config-roundtrip-home FAIL "home apply of its config: $(head -n1 "$d/traced.err")"
elif [ -s "$d/traced.out" ] || [ "$(cat "$d/traced.writes")" != 0 ]; then
	t_result config-roundtrip-home FAIL "changed something: $(head -n2 "$d/traced.out" | tr '\n' ';') $(cat "$d/traced.writes") bpf writes"
elif ! grep -qx 'Tunnel = wgh' "$d/rt-home.conf" || ! grep -qx 'Serve = docker0' "$d/rt-home.conf"; then
	t_result config-roundtrip-home FAIL "home config lacks wgh / docker0: $(tr '\n' ';' <"$d/rt-home.conf")"
else
	t_result config-roundtrip-home PASS
fi

# --- a changed file changes exactly what differs, under traffic ----------
# b.conf: tcp 7001 and the IPv6 tcp 8000 go, tcp 7100 moves to 7001, tcp
# 7200 is new, and the MSS changes (an in-place re-attach of eth0).
cat >"$d/b.conf" <<EOF
[Edge]
Interface = eth0
MSS = 1300
Forward = tcp 8000 $TUN_HOME4
Forward = udp 5300 $TUN_HOME4
Forward = tcp 7000 $TUN_HOME4
Forward = tcp 7100 $TUN_HOME4:7001
Forward = tcp 7200 $TUN_HOME4:7000
Forward = tcp 8080 $TUN_HOME4
EOF
mappings >"$d/map.a"
lost0=$(vps_crbpf stats --json | "$PY" -c '
import json, sys
c = json.load(sys.stdin)["counters"]
print(sum(v for k, v in c.items() if k.startswith("drop_") or k == "pass_rev_miss"))')
# A UDP stream through udp 5300 (kept): every datagram answered.
nsx cr-cli "$PY" -c '
import os, socket, sys, threading, time
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.connect((sys.argv[1], int(sys.argv[2])))
got = 0
def rx():
    global got
    while True:
        try:
            s.recv(2048)
        except OSError:
            return
        got += 1
threading.Thread(target=rx, daemon=True).start()
sent = 0
while not os.path.exists(sys.argv[3]):
    s.send(b"seq %d\n" % sent)
    sent += 1
    time.sleep(0.002)
time.sleep(1.5)
print("sent", sent, "got", got)
' $VPS4 5300 "$d/udpstop" >"$d/udp.out" 2>&1 &
udppid=$!
flows_est >"$d/flows.a"
sleep 1
ok=1 reason=
if ! vps_crbpf apply "$d/b.conf" >"$d/apply-b.out" 2>"$d/apply.err"; then
	ok=0 reason="apply b.conf: $(head -n1 "$d/apply.err")"
fi
mappings >"$d/map.b"
flows_est >"$d/flows.b"
# Back and forth while the stream runs: each apply changes other mappings.
for i in 1 2; do
	vps_crbpf apply "$d/a.conf" >/dev/null 2>"$d/apply.err" &&
		vps_crbpf apply "$d/b.conf" >/dev/null 2>>"$d/apply.err" ||
		{ ok=0 reason="apply a/b round $i: $(head -n1 "$d/apply.err")"; }
done
sleep 0.5
touch "$d/udpstop"
wait "$udppid"
lost1=$(vps_crbpf stats --json | "$PY" -c '
import json, sys
c = json.load(sys.stdin)["counters"]
print(sum(v for k, v in c.items() if k.startswith("drop_") or k == "pass_rev_miss"))')
want_del=$(printf '%s\n' "tcp 7001 ipv4 None 10.0.0.2:7001 " "tcp 7100 ipv4 None 10.0.0.2:7000 " \
	"tcp 8000 ipv6 None fd00::2:8000 " | sort)
want_add=$(printf '%s\n' "tcp 7100 ipv4 None 10.0.0.2:7001 " "tcp 7200 ipv4 None 10.0.0.2:7000 " | sort)
got_del=$(comm -23 "$d/map.a" "$d/map.b")
got_add=$(comm -13 "$d/map.a" "$d/map.b")
if [ "$ok" = 0 ]; then
	t_result config-change FAIL "$reason"
elif [ "$got_del" != "$want_del" ] || [ "$got_add" != "$want_add" ]; then
	t_result config-change FAIL "removed '$(tr '\n' ';' <<<"$got_del")' added '$(tr '\n' ';' <<<"$got_add")'"
elif [ "$(grep -c . "$d/apply-b.out")" != 5 ] || ! grep -q '^attach eth0' "$d/apply-b.out"; then
	t_result config-change FAIL "apply said: $(tr '\n' ';' <"$d/apply-b.out"), want 2 del, 2 add, 1 attach"
else
	t_result config-change PASS
fi
# b.conf drops the IPv6 tcp 8000 mapping: the IPv4 one keeps its flows.
if flows_kept "$d/flows.a" "$d/flows.b"; then
	t_result config-change-flows-kept PASS
else
	t_result config-change-flows-kept FAIL "established tcp 8000 flows before: $(tr '\n' ' ' <"$d/flows.a"); after: $(tr '\n' ' ' <"$d/flows.b")"
fi
HELLO_TAG=t7001 hello_case config-change-moved "$CLI4:" peer cr-cli hello $VPS4 7100
HELLO_TAG=t7000 hello_case config-change-new "$CLI4:" peer cr-cli hello $VPS4 7200
if out=$(peer cr-cli hello --timeout 2 $VPS4 7001 2>&1); then
	t_result config-change-removed FAIL "tcp 7001 still forwarded: $out"
else
	t_result config-change-removed PASS
fi
read -r _ sent _ got <<<"$(tail -n1 "$d/udp.out")"
if ! nums "$sent" "$got" || [ "$sent" -lt 500 ]; then
	t_result config-change-no-loss FAIL "UDP stream: $(tail -n1 "$d/udp.out")"
elif [ "$got" -ne "$sent" ]; then
	t_result config-change-no-loss FAIL "UDP stream through the kept udp 5300: sent $sent, answered $got"
elif ! nums "$lost0" "$lost1" || [ "$lost1" -ne "$lost0" ]; then
	t_result config-change-no-loss FAIL "crbpf drop counters went from '$lost0' to '$lost1'"
else
	t_result config-change-no-loss PASS
fi
touch "$stopfile"
if wait "$putpid"; then
	t_result config-established-transfer PASS
else
	t_result config-established-transfer FAIL "transfer through the kept tcp 8000: $(tail -n1 "$d/put.out")"
fi

# --- ranges, all --except, --addr, IPv6 backends round-trip -------------
cat >"$d/c.conf" <<EOF
[Edge]
Interface = eth0
Mode = tc
Timeout = tcp=3600, udp=60
MSS = off
Forward = tcp 9000-9005 $TUN_HOME4:7000
Forward = tcp 9006-9010 $TUN_HOME4:7006
Forward = udp all $TUN_HOME4 --except 22,60000-60100,51820
Forward = tcp 8000 [$TUN_HOME6]
Forward = tcp 8000 $TUN_HOME4
Forward = tcp 8001 $TUN_HOME4:8001
Forward = tcp 8002 $TUN_HOME4
Forward = tcp 8443 $TUN_HOME4:8000 --addr $VPS4
Forward = tcp 8444 [$TUN_HOME6]:8000 --addr $VPS6
Forward = tcp 8500 $TUN_HOME4:8000
Forward = tcp 8501 $TUN_HOME4:8000
EOF
# Canonical: sorted, consecutive ports with one backend offset merged
# (8500 and 8501 both go to 8000: two lines), defaults left out.
cat >"$d/c.want" <<EOF
[Edge]
Interface = eth0
Mode = tc
Timeout = tcp=3600, udp=60
MSS = off
Forward = tcp 8000-8002 $TUN_HOME4
Forward = tcp 8000 [$TUN_HOME6]
Forward = tcp 8443 $TUN_HOME4:8000 --addr $VPS4
Forward = tcp 8444 [$TUN_HOME6]:8000 --addr $VPS6
Forward = tcp 8500 $TUN_HOME4:8000
Forward = tcp 8501 $TUN_HOME4:8000
Forward = tcp 9000-9010 $TUN_HOME4:7000
Forward = udp all $TUN_HOME4 --except 22,51820,60000-60100
EOF
if ! vps_crbpf apply "$d/c.conf" >/dev/null 2>"$d/apply.err"; then
	t_result config-forms FAIL "apply c.conf: $(head -n1 "$d/apply.err")"
else
	vps_crbpf config 2>&1 | grep -v '^#' >"$d/c.got"
	if diff -q "$d/c.want" "$d/c.got" >/dev/null; then
		t_result config-forms PASS
	else
		t_result config-forms FAIL "config printed: $(diff "$d/c.want" "$d/c.got" | grep '^[<>]' | head -n3 | tr '\n' ';')"
	fi
fi
HELLO_TAG=t7000 hello_case config-forms-range "$CLI4:" peer cr-cli hello $VPS4 9000
HELLO_TAG=u5400 hello_case config-forms-all "$CLI4:" peer cr-cli hello --proto udp $VPS4 5400
HELLO_TAG=t8000 hello_case config-forms-addr "$CLI4:" peer cr-cli hello $VPS4 8443
HELLO_TAG=t8000 hello_case config-forms-addr6 "[$CLI6]:" peer cr-cli hello $VPS6 8444
maps >"$d/maps.before"
if ! traced vps apply "$d/c.got"; then
	t_result config-forms-roundtrip FAIL "apply of its config: $(head -n1 "$d/traced.err")"
elif [ -s "$d/traced.out" ] || [ "$(cat "$d/traced.writes")" != 0 ]; then
	t_result config-forms-roundtrip FAIL "changed something: $(head -n2 "$d/traced.out" | tr '\n' ';') $(cat "$d/traced.writes") bpf writes"
elif ! maps >"$d/maps.after" || ! diff -q "$d/maps.before" "$d/maps.after" >/dev/null; then
	t_result config-forms-roundtrip FAIL "maps differ: $(diff "$d/maps.before" "$d/maps.after" | grep '^[<>]' | head -n2 | tr '\n' ';')"
else
	t_result config-forms-roundtrip PASS
fi

# --- a Forward line is one mapping: grown, it is written whole ----------
# 9000-9010 (two mappings until now: two port adds) grows to 9000-9012:
# one row in crbpf stats, one counters id, not the old rows plus 9011-9012.
sed "s/^Forward = tcp 9000-9010 /Forward = tcp 9000-9012 /" "$d/c.got" >"$d/c2.conf"
if ! vps_crbpf apply "$d/c2.conf" >/dev/null 2>"$d/apply.err"; then
	t_result config-grown-line-one-mapping FAIL "apply c2.conf: $(head -n1 "$d/apply.err")"
else
	rows=$(vps_crbpf stats --json | "$PY" -c '
import json, sys
print(" ".join(m["ports"] for m in json.load(sys.stdin)["mappings"]
    if m["proto"] == "tcp" and m["port"] >= 9000))')
	if [ "$rows" = "9000-9012" ]; then
		t_result config-grown-line-one-mapping PASS
	else
		t_result config-grown-line-one-mapping FAIL "tcp mappings from 9000 in crbpf stats: '$rows', want '9000-9012'"
	fi
fi

# --- an empty file takes everything down ---------------------------------
: >"$d/empty.conf"
if vps_crbpf apply "$d/empty.conf" >/dev/null 2>"$d/apply.err" &&
	home_crbpf apply "$d/empty.conf" >/dev/null 2>>"$d/apply.err" &&
	[ -z "$(find "$VPS_PIN" "$HOME_PIN" -type f 2>/dev/null)" ] &&
	[ -z "$(nsx cr-home ip rule show | grep -v -E 'lookup (local|main|default)')" ]; then
	t_result config-empty-down PASS
else
	t_result config-empty-down FAIL "after applying an empty file: $(head -n1 "$d/apply.err") $(find "$VPS_PIN" "$HOME_PIN" -type f 2>/dev/null | head -n2 | tr '\n' ' ')"
fi
t_done
