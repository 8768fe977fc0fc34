#!/usr/bin/env bash
# SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
# Issue 11 items 7, 8 and 12 over the WireGuard topology.
# Item 8, big ranges under the default `ulimit -n 1024`: tcp 1000-1600, a
# TURN relay range (udp 52000-65535, 13,536 ports), `tcp all --except
# 1-30000`, and apply of a file holding them, each added and removed within
# RANGE_MAX_S seconds (measured and printed); under every fd limit from 6 to
# 40 a port add works or fails naming the real errno (never "Cannot allocate
# memory") and changes nothing.
# Item 7, the ephemeral port range: a mapping overlapping
# net.ipv4.ip_local_port_range is refused (exit 2, one line, nothing changed)
# by port add and by apply, unless --force or ip_local_reserved_ports covers
# it; a real exchange shows why (the VPS's own UDP query from an ephemeral
# port in a mapped range loses its reply; `all` keeps it: socket lookup);
# crbpf config writes --force for such a range.
# Item 12, signals: SIGTERM, SIGINT, SIGHUP and SIGQUIT half way through a
# range port add (held there by the test-only CRBPF_TEST_PAUSE_AT hook, see
# user/undo.c), a port del, and an apply: exit 1, a message, every map as
# before; and without the hook, SIGTERM at several moments of a real range
# add leaves either the state before (exit 1 and the message, or killed by
# SIGTERM before crbpf began changing anything) or the whole range (exit 0).
# kernels: skip, big ranges are the map writes every file makes, many times over; the ephemeral guard and the signals are the tool's, and `all`'s socket lookup is 14_all_addr's
source "$(dirname "$0")/../lib/common.sh"
t_begin ranges
need_crbpf
t_up

RANGE_MAX_S=${RANGE_MAX_S:-2}
d=$TOPO_DIR

# lim N ARGS...: crbpf on the VPS under `ulimit -n N`.
lim() {
	local n=$1
	shift
	nsx cr-vps env CRBPF_PIN_ROOT=$VPS_PIN bash -c 'ulimit -n "$0" && exec timeout -k 5 60 "$@"' \
		"$n" "$CRBPF" "$@"
}

# Every entry of the maps a mapping writes, as bpftool dumps them, and the
# pins (the reverse program on wg0 among them).
maps() {
	local m
	for m in crbpf_ports crbpf_mstats crbpf_rev crbpf_except crbpf_local crbpf_txports; do
		echo "== $m"
		bpftool -j map dump pinned "$VPS_PIN/maps/$m" | "$PY" -c '
import json, sys
for e in sorted(json.dumps(x, sort_keys=True) for x in json.load(sys.stdin)):
    print(e)'
	done
	echo "== pins"
	find "$VPS_PIN" | sort
}

nports() {
	vps_crbpf port list --json | "$PY" -c 'import json, sys; print(len(json.load(sys.stdin)))'
}

# timed CASE WANT_COUNT ARGS...: crbpf ARGS under ulimit -n 1024 must exit 0
# within RANGE_MAX_S seconds and leave WANT_COUNT port list entries.
timed() {
	local case=$1 want=$2 t0 t1 secs rc n
	shift 2
	t0=$(date +%s.%N)
	lim 1024 "$@" >"$d/timed.out" 2>"$d/timed.err"
	rc=$?
	t1=$(date +%s.%N)
	secs=$(awk -v a="$t0" -v b="$t1" 'BEGIN {printf "%.2f", b - a}')
	echo "    $case: crbpf $* took $secs s (ulimit -n 1024)"
	n=$(nports)
	if [ "$rc" -ne 0 ]; then
		t_result "$case" FAIL "exit $rc after $secs s: $(head -n1 "$d/timed.err")"
	elif [ "$n" != "$want" ]; then
		t_result "$case" FAIL "port list has $n entries, want $want"
	elif awk -v s="$secs" -v m="$RANGE_MAX_S" 'BEGIN {exit !(s > m)}'; then
		t_result "$case" FAIL "took $secs s, want at most $RANGE_MAX_S s"
	else
		t_result "$case" PASS
	fi
}

serve cr-cli clidns udp "" 5353 clidns || t_fail "client udp server did not start"
must "crbpf attach eth0" vps_crbpf attach eth0 >/dev/null
# Keeps the reverse program on wg0 in place for the whole file.
must "crbpf port add tcp 8000 10.0.0.2" vps_crbpf port add tcp 8000 $TUN_HOME4 >/dev/null
read -r EPH_LO EPH_HI <<<"$(nsx cr-vps cat /proc/sys/net/ipv4/ip_local_port_range)"
echo "    ephemeral port range of cr-vps: $EPH_LO-$EPH_HI"

# --- item 8: big ranges under ulimit -n 1024 -----------------------------
timed range-1000-1600-add 602 port add tcp 1000-1600 $TUN_HOME4
timed range-1000-1600-del 1 port del tcp 1000-1600
timed turn-range-add 13537 port add udp 52000-65535 $TUN_HOME4 --force
timed turn-range-del 1 port del udp 52000-65535
timed all-except-add 2 port add tcp all $TUN_HOME4 --except 1-30000
x=$(vps_crbpf port list --json | "$PY" -c '
import json, sys
print(",".join(m["except"] for m in json.load(sys.stdin) if m["all"]))')
if [ "$x" = 1-30000 ]; then
	t_result all-except-set PASS
else
	t_result all-except-set FAIL "port list shows except '$x', want 1-30000"
fi
timed all-except-del 1 port del tcp all
cat >"$d/big.conf" <<EOF
[Edge]
Interface = eth0
Forward = tcp 8000 $TUN_HOME4
Forward = udp 52000-65535 $TUN_HOME4 --force
Forward = tcp all $TUN_HOME4 --except 1-30000
EOF
cat >"$d/small.conf" <<EOF
[Edge]
Interface = eth0
Forward = tcp 8000 $TUN_HOME4
EOF
timed apply-big 13538 apply "$d/big.conf"
timed apply-small 1 apply "$d/small.conf"

# Every fd limit: the real errno or success, and nothing changed on failure
# (maps, pins, the reverse program on wg0).
fdstate() {
	maps
	find "$VPS_PIN" | sort
	nsx cr-vps tc filter show dev wg0 ingress
	nsx cr-vps bpftool -j net show dev wg0 2>&1 | "$PY" -c 'import json, sys; print(json.load(sys.stdin)[0].get("tc", []))' 2>&1
}
fdstate >"$d/fd.before"
bad=
worked=0
failed=0
msgs=
for n in $(seq 6 40); do
	if lim "$n" port add tcp 2000-2100 $TUN_HOME4 >/dev/null 2>"$d/fd.err"; then
		worked=$((worked + 1))
		lim 1024 port del tcp 2000-2100 >/dev/null 2>&1 || { bad="ulimit -n $n: port del after the add failed"; break; }
		continue
	fi
	failed=$((failed + 1))
	m=$(head -n1 "$d/fd.err")
	[[ "$msgs" == *"$m"* ]] || msgs="$msgs${msgs:+ | }$m"
	if grep -q "Cannot allocate memory" "$d/fd.err"; then
		bad="ulimit -n $n: $m"
		break
	fi
	fdstate >"$d/fd.after"
	if ! diff -q "$d/fd.before" "$d/fd.after" >/dev/null; then
		bad="ulimit -n $n: failed ($m) but the state changed: $(diff "$d/fd.before" "$d/fd.after" | grep '^[<>]' | head -n2 | tr '\n' ';')"
		break
	fi
done
echo "    fd limits 6-40: $worked worked, $failed failed with: $msgs"
if [ -n "$bad" ]; then
	t_result fd-limit-errno FAIL "$bad"
elif [ "$worked" -eq 0 ]; then
	t_result fd-limit-errno FAIL "port add tcp 2000-2100 failed under every limit up to 40"
else
	t_result fd-limit-errno PASS
fi

# --- item 7: the ephemeral port range -------------------------------------
before=$(vps_crbpf port list --json 2>&1)
want="udp 40000-40100 overlaps the ephemeral port range $EPH_LO-$EPH_HI (net.ipv4.ip_local_port_range): the VPS's own connections would lose replies; use --force to map it anyway"
err=$(vps_crbpf port add udp 40000-40100 $TUN_HOME4 2>&1 >/dev/null)
rc=$?
if [ "$rc" -ne 2 ]; then
	t_result ephemeral-refused FAIL "port add udp 40000-40100: exit $rc, want 2 ($(head -n1 <<<"$err"))"
elif [ "$(vps_crbpf port list --json 2>&1)" != "$before" ]; then
	t_result ephemeral-refused FAIL "port add udp 40000-40100 changed port list"
elif [ "$err" != "crbpf: $want" ] && [ "$err" != "$want" ]; then
	t_result ephemeral-refused FAIL "message '$err', want '$want'"
else
	t_result ephemeral-refused PASS
fi
cat >"$d/eph.conf" <<EOF
[Edge]
Interface = eth0
Forward = tcp 8000 $TUN_HOME4
Forward = udp 40000-40100 $TUN_HOME4
EOF
for mode in apply check; do
	cmd=(apply)
	[ "$mode" = check ] && cmd=(apply --check)
	err=$(vps_crbpf "${cmd[@]}" "$d/eph.conf" 2>&1 >/dev/null)
	rc=$?
	if [ "$rc" -ne 2 ]; then
		t_result "ephemeral-refused-$mode" FAIL "${cmd[*]} of a Forward in the ephemeral range: exit $rc, want 2"
	elif [ "$(vps_crbpf port list --json 2>&1)" != "$before" ]; then
		t_result "ephemeral-refused-$mode" FAIL "apply changed port list"
	elif [[ "$err" != *"$d/eph.conf:4: $want" ]] || [ "$(wc -l <<<"$err")" -ne 1 ]; then
		t_result "ephemeral-refused-$mode" FAIL "message '$err', want FILE:4: $want"
	else
		t_result "ephemeral-refused-$mode" PASS
	fi
done
# Ports the kernel never hands out (ip_local_reserved_ports) are fine.
nsx cr-vps sysctl -qw net.ipv4.ip_local_reserved_ports=40000-40100
if vps_crbpf port add udp 40000-40100 $TUN_HOME4 >/dev/null 2>"$d/res.err"; then
	t_result ephemeral-reserved-ok PASS
	vps_crbpf port del udp 40000-40100 >/dev/null
else
	t_result ephemeral-reserved-ok FAIL "with 40000-40100 reserved: $(head -n1 "$d/res.err")"
fi
nsx cr-vps sysctl -qw net.ipv4.ip_local_reserved_ports=

if ! vps_crbpf port add udp 40000-40100 $TUN_HOME4 --force >/dev/null 2>"$d/force.err"; then
	t_result ephemeral-force FAIL "port add udp 40000-40100 --force: $(head -n1 "$d/force.err")"
else
	t_result ephemeral-force PASS
	# crbpf config must say --force, or apply would refuse its own output.
	if vps_crbpf config | grep -qx "Forward = udp 40000-40100 $TUN_HOME4 --force"; then
		t_result ephemeral-config-force PASS
	else
		t_result ephemeral-config-force FAIL "crbpf config: $(vps_crbpf config | grep 40000 | head -n1)"
	fi
	# Why: the VPS's own UDP query from an ephemeral port in the mapped
	# range (the range narrowed to it) never gets its answer, which goes
	# to the backend; unmapped, the same query is answered.
	nsx cr-vps sysctl -qw net.ipv4.ip_local_port_range="40000 40100"
	out1=$(peer cr-vps hello --proto udp --timeout 3 $CLI4 5353 2>&1)
	rc1=$?
	vps_crbpf port del udp 40000-40100 >/dev/null
	out2=$(peer cr-vps hello --proto udp --timeout 3 $CLI4 5353 2>&1)
	rc2=$?
	must "crbpf port add udp all 10.0.0.2" vps_crbpf port add udp all $TUN_HOME4 >/dev/null
	out3=$(peer cr-vps hello --proto udp --timeout 3 $CLI4 5353 2>&1)
	rc3=$?
	vps_crbpf port del udp all >/dev/null
	nsx cr-vps sysctl -qw net.ipv4.ip_local_port_range="$EPH_LO $EPH_HI"
	echo "    VPS's own UDP query, ephemeral ports 40000-40100: mapped: $out1; unmapped: $out2; udp all: $out3"
	if [ "$rc1" -eq 0 ]; then
		t_result ephemeral-own-reply-lost FAIL "the VPS's own query got its reply through a mapping of its ephemeral ports: $out1"
	elif [ "$rc2" -ne 0 ]; then
		t_result ephemeral-own-reply-lost FAIL "no reply even unmapped: $out2"
	else
		t_result ephemeral-own-reply-lost PASS
	fi
	if [ "$rc3" -eq 0 ]; then
		t_result ephemeral-all-keeps-reply PASS
	else
		t_result ephemeral-all-keeps-reply FAIL "udp all took the VPS's own reply: $out3"
	fi
fi

# --- item 12: signals -----------------------------------------------------
# sig_case CASE SIG PAUSE ARGS...: crbpf ARGS held after PAUSE map entries,
# then SIG: exit 1, "interrupted by SIG...", maps as before.
sig_case() {
	local case=$1 sig=$2 at=$3 pid rc
	shift 3
	maps >"$d/sig.before"
	# nsenter and env exec: $! is crbpf itself. Job control on: a
	# background job would start with SIGINT and SIGQUIT ignored.
	set -m
	nsenter --net=/run/netns/cr-vps -- env CRBPF_PIN_ROOT=$VPS_PIN \
		CRBPF_TEST_PAUSE_AT="$at" "$CRBPF" "$@" >"$d/sig.out" 2>"$d/sig.err" &
	pid=$!
	set +m
	if ! wait_for 10 grep -q "test pause" "$d/sig.err"; then
		kill -KILL "$pid" 2>/dev/null
		wait "$pid"
		t_result "$case" FAIL "crbpf $* never reached the test pause: $(head -n1 "$d/sig.err")"
		return
	fi
	kill -"$sig" "$pid"
	# gone or a zombie waiting for `wait`
	if ! wait_for 10 sh -c "! test -e /proc/$pid || grep -q '^[0-9]* (.*) Z' /proc/$pid/stat"; then
		kill -KILL "$pid" 2>/dev/null
		wait "$pid"
		t_result "$case" FAIL "crbpf $* still running 10 s after SIG$sig"
		return
	fi
	wait "$pid"
	rc=$?
	maps >"$d/sig.after"
	if [ "$rc" -ne 1 ]; then
		t_result "$case" FAIL "exit $rc after SIG$sig, want 1: $(grep -v 'test pause' "$d/sig.err" | head -n1)"
	elif ! grep -q "interrupted by SIG$sig: every change of this command was rolled back" "$d/sig.err"; then
		t_result "$case" FAIL "no message: $(grep -v 'test pause' "$d/sig.err" | head -n1)"
	elif ! diff -q "$d/sig.before" "$d/sig.after" >/dev/null; then
		t_result "$case" FAIL "maps differ after SIG$sig: $(diff "$d/sig.before" "$d/sig.after" | grep -c '^[<>]') lines"
	else
		t_result "$case" PASS
	fi
}
for sig in TERM INT HUP QUIT; do
	sig_case "signal-$sig-port-add" "$sig" 5000 port add udp 52000-65535 $TUN_HOME4 --force
done
if vps_crbpf port add udp 52000-65535 $TUN_HOME4 --force >/dev/null 2>"$d/add.err"; then
	sig_case signal-TERM-port-del TERM 3000 port del udp 52000-65535
	must "crbpf port del udp 52000-65535" vps_crbpf port del udp 52000-65535 >/dev/null
else
	t_result signal-TERM-port-del FAIL "port add udp 52000-65535 first: $(head -n1 "$d/add.err")"
fi
# apply: the dels of tcp 8000 and tcp 9000-9100 (the last mappings through
# wg0: its reverse program must stay for the rollback) are taken back with
# the half-done add.
must "crbpf port add tcp 9000-9100" vps_crbpf port add tcp 9000-9100 $TUN_HOME4 >/dev/null
printf '[Edge]\nInterface = eth0\nForward = udp 52000-65535 %s --force\n' $TUN_HOME4 >"$d/turn.conf"
sig_case signal-TERM-apply TERM 2000 apply "$d/turn.conf"
# (gone already where an apply failed half way)
vps_crbpf port del tcp 9000-9100 >/dev/null 2>&1
vps_crbpf port add tcp 8000 $TUN_HOME4 >/dev/null 2>&1

# Without the hook: SIGTERM at several moments of a real range add (5,000
# ports: the fd limit of the shell is enough for crbpf before this fix too).
maps >"$d/real.before"
bad=
seen=
stopped=0
for delay in 0.01 0.05 0.1 0.15 0.2 0.3 0.5 0.7 1 2; do
	set -m
	nsenter --net=/run/netns/cr-vps -- env CRBPF_PIN_ROOT=$VPS_PIN \
		bash -c 'ulimit -n "$(ulimit -Hn)" && exec "$@"' x \
		"$CRBPF" port add udp 52000-56999 $TUN_HOME4 --force >/dev/null 2>"$d/real.err" &
	pid=$!
	set +m
	sleep "$delay"
	kill -TERM "$pid" 2>/dev/null
	wait "$pid"
	rc=$?
	n=$(nports)
	seen="$seen $delay:exit$rc/$n"
	if [ "$rc" -eq 0 ] && [ "$n" = 5001 ]; then
		lim 1024 port del udp 52000-56999 >/dev/null 2>&1
		continue
	fi
	maps >"$d/real.after"
	# Killed by the signal's default action: it came before the journal
	# opened (a slow start, as under emulation), so nothing may have changed.
	if [ "$rc" -eq 143 ] && diff -q "$d/real.before" "$d/real.after" >/dev/null; then
		continue
	fi
	if [ "$rc" -ne 1 ] || ! diff -q "$d/real.before" "$d/real.after" >/dev/null; then
		bad="$bad${bad:+; }after $delay s: exit $rc, $n entries"
		# back to the state before: the whole range, then none of it
		nsenter --net=/run/netns/cr-vps -- env CRBPF_PIN_ROOT=$VPS_PIN \
			bash -c 'ulimit -n "$(ulimit -Hn)" && "$@" port add udp 52000-56999 10.0.0.2 --force &&
				"$@" port del udp 52000-56999' x "$CRBPF" >/dev/null 2>&1
		continue
	fi
	if ! grep -q "interrupted by SIGTERM" "$d/real.err"; then
		bad="$bad${bad:+; }after $delay s: exit 1 without the message: $(head -n1 "$d/real.err")"
		continue
	fi
	stopped=$((stopped + 1))
done
echo "    SIGTERM during port add udp 52000-56999 (delay:exit/entries):$seen"
if [ -n "$bad" ]; then
	t_result signal-real-all-or-nothing FAIL "SIGTERM (want exit 1 and the state before, or exit 0 and 5001 entries): $bad"
elif [ "$stopped" -eq 0 ]; then
	t_result signal-real-all-or-nothing FAIL "no SIGTERM landed while port add ran: nothing was tested"
else
	t_result signal-real-all-or-nothing PASS
fi
t_done
