#!/usr/bin/env bash
# SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
# Issue 11 item 11, upgrades: state pinned by earlier crbpf builds, built
# from this repository's history, is taken over by this build with the
# mappings kept and forwarding working:
#   8b19e22 (edge)  8-byte port keys, crbpf_frags of 24-byte values, no
#                   crbpf_unreplied (attach failed: "Invalid argument")
#   d412a7d (home)  a home record without the line devices (status and
#                   home detach read past its end)
#   c8f9e41 (both)  the last layout before BPF_F_NO_PREALLOC and the
#                   --flows-sized tables (the maps kept their 189 MiB)
#   9d6ac53 (edge)  the last build before the `all` marker in crbpf_rev: its
#                   `all` mapping gets the marker from the upgrade (before,
#                   only at the next port add/del; until then a reply no
#                   flow translated left untranslated)
#   82b3345 (both)  layout 2, the last before mapping ids: 24-byte backends
#                   and 72-byte flows. Each range becomes one mapping (one
#                   id), the flows are converted with the id of their
#                   mapping (not dropped), forwarding goes on, and the
#                   per-mapping counters restart with a warning
# Each old tree is built once (git archive, make build/crbpf) and cached
# under build/old/. status and home detach over the old home record run
# under valgrind. A layout newer than this build's is refused.
# kernels: skip, it tests the tool's conversion of pinned maps; the programs it loads are the other tests' on every kernel
source "$(dirname "$0")/../lib/common.sh"
t_begin upgrade
need_crbpf

OLD_EDGE=8b19e22
OLD_HOME=d412a7d
OLD_MAIN=c8f9e41
OLD_ALL=9d6ac53
OLD_L2=82b3345

# old_build COMMIT: path of that commit's crbpf, built if not cached.
old_build() {
	local c=$1 dir=$CR_ROOT/build/old/$1
	if [ ! -x "$dir/src/build/crbpf" ]; then
		git -C "$CR_ROOT" cat-file -e "$c^{commit}" 2>/dev/null || return 2
		rm -rf "$dir" && mkdir -p "$dir/src" &&
			git -C "$CR_ROOT" archive "$c" | tar -x -C "$dir/src" &&
			make -C "$dir/src" build/crbpf >"$dir/build.log" 2>&1 || return 1
	fi
	echo "$dir/src/build/crbpf"
}
for c in $OLD_EDGE $OLD_HOME $OLD_MAIN $OLD_ALL $OLD_L2; do
	old_build "$c" >/dev/null
	case $? in
	0) ;;
	2) t_skip "commit $c is not in this clone's history (shallow?)" ;;
	*) t_fail "building crbpf at $c failed (build/old/$c/build.log)" ;;
	esac
done
command -v valgrind >/dev/null || t_fail "valgrind not installed (deps)"

t_up
serve cr-home tcp9001 tcp "" 9001 || t_fail "home server did not start"
serve cr-home udp9000 udp "" 9000 || t_fail "home server did not start"
serve cr-ctr ctr80 udp "" 80 || t_fail "container server did not start"

check() { # check CASE COND MESSAGE
	if eval "$2"; then t_result "$1" PASS; else t_result "$1" FAIL "$3"; fi
}
mappings() {
	vps_crbpf port list --json | "$PY" -c '
import json, sys
print(" ".join(sorted("%s/%s/%s->%s:%s" % (m["proto"], m["port"], m["family"],
    m["backend"], m["backend_port"]) for m in json.load(sys.stdin))))'
}
# forwards PREFIX [old-home]: every mapping carries traffic (a home side
# from before crbpf_home_out (7f095f1) sends a wildcard-bound UDP service's
# replies out of the home line: not checked through it)
forwards() {
	hello_case "$1-tcp-v4" "$CLI4:" peer cr-cli hello --timeout 3 $VPS4 9001
	hello_case "$1-tcp-v6" "[$CLI6]:" peer cr-cli hello --timeout 3 $VPS6 9001
	[ "${2:-}" = old-home ] ||
		hello_case "$1-udp-v4" "$CLI4:" peer cr-cli hello --proto udp --timeout 3 $VPS4 9000
	hello_case "$1-container" "$CLI4:" peer cr-cli hello --proto udp --timeout 3 $VPS4 8080
}
kernel_mem() {
	local m sum=0 b
	for m in "$VPS_PIN"/maps/*; do
		b=$(bpftool -j map show pinned "$m" | "$PY" -c 'import json,sys; print(json.load(sys.stdin)["bytes_memlock"])') ||
			return 1
		sum=$((sum + b))
	done
	echo "$sum"
}
# vg NAME CMD...: CMD (home_crbpf ...) under valgrind, clean and exit 0.
vg() {
	local name=$1 log=$TOPO_DIR/vg-$1.log
	shift
	printf '#!/bin/sh\nexec valgrind -q --error-exitcode=99 --track-origins=yes --suppressions=%s --log-file=%s %s "$@"\n' \
		"$TOPO_LIB/valgrind-libbpf.supp" "$log" "$CRBPF" >"$TOPO_DIR/vg-$name.sh"
	chmod +x "$TOPO_DIR/vg-$name.sh"
	CRBPF=$TOPO_DIR/vg-$name.sh "$@" >"$TOPO_DIR/$name.out" 2>&1
	local rc=$?
	# valgrind's own warnings ("--PID--": a bpf command it does not
	# model) are no errors; its error reports start with "==PID==".
	if [ "$rc" -eq 0 ] && ! grep -q '^==' "$log"; then
		t_result "$name" PASS
	else
		t_result "$name" FAIL "exit $rc: $(grep -m3 '^==' "$log" | tr '\n' ' ') $(head -n2 "$TOPO_DIR/$name.out" | tr '\n' ' ')"
	fi
}

# round NAME EDGE_COMMIT HOME_COMMIT [old-home]
round() {
	local name=$1 edge home before after
	edge=$(old_build "$2") && home=$(old_build "$3") || t_fail "old builds vanished"
	CRBPF=$edge must "$name: old attach eth0" vps_crbpf attach eth0 >/dev/null
	CRBPF=$edge must "$name: old port add tcp 9001" vps_crbpf port add tcp 9001 $TUN_HOME4 >/dev/null
	CRBPF=$edge must "$name: old port add tcp 9001 v6" vps_crbpf port add tcp 9001 "[$TUN_HOME6]" >/dev/null
	CRBPF=$edge must "$name: old port add udp 9000" vps_crbpf port add udp 9000 $TUN_HOME4 >/dev/null
	CRBPF=$edge must "$name: old port add udp 8080" vps_crbpf port add udp 8080 $TUN_HOME4 >/dev/null
	CRBPF=$home must "$name: old home attach wgh" home_crbpf home attach wgh --serve docker0 >/dev/null
	forwards "$name-old" "$4"
	before=$(mappings)

	# The home record of the old build, read by this one.
	vg "$name-home-status" home_crbpf status
	check "$name-home-status-lists-wgh" 'grep -q "^  wgh .*table 123" "$TOPO_DIR/$name-home-status.out"' \
		"status does not list wgh: $(tr '\n' ' ' <"$TOPO_DIR/$name-home-status.out")"

	if vps_crbpf attach eth0 >"$TOPO_DIR/$name-attach.out" 2>&1; then
		t_result "$name-attach-over-old" PASS
	else
		t_result "$name-attach-over-old" FAIL "$(grep -v warning "$TOPO_DIR/$name-attach.out" | head -n2 | tr '\n' ' ')"
	fi
	after=$(mappings)
	check "$name-mappings-kept" '[ -n "$before" ] && [ "$before" = "$after" ]' \
		"before: $before; after: $after"
	check "$name-layout-recorded" '[ -e "$VPS_PIN/layout" ]' "no $VPS_PIN/layout"
	mem=$(kernel_mem)
	check "$name-memory-converted" '[ -n "$mem" ] && [ "$mem" -le $((24 * 1024 * 1024)) ]' \
		"map memory after the upgrade: $mem bytes"
	vg "$name-home-detach" home_crbpf home detach wgh
	must "$name: home attach wgh" home_crbpf home attach wgh --serve docker0 >/dev/null
	forwards "$name-new"

	must "$name: vps down" vps_crbpf down >/dev/null
	must "$name: home down" home_crbpf down >/dev/null
	check "$name-down-clean" '[ ! -e "$VPS_PIN" ] && [ ! -e "$HOME_PIN" ]' \
		"left: $(find "$VPS_PIN" "$HOME_PIN" 2>/dev/null | head -n3 | tr '\n' ' ')"
}

round r1 $OLD_EDGE $OLD_HOME old-home
round r2 $OLD_MAIN $OLD_MAIN
round r3 $OLD_L2 $OLD_L2

# ---- layout 2 -> 3: mapping ids ----
# flow_list: "proto client public backend" of every listed flow, sorted.
flow_list() {
	vps_crbpf flows --json | "$PY" -c '
import json, sys
print(" ".join(sorted("%s/%s:%s/%s:%s/%s:%s" % (f["proto"], f["client"], f["client_port"],
    f["public"], f["public_port"], f["backend"], f["backend_port"])
    for f in json.load(sys.stdin)["flows"])))'
}
# flow_ids: the mapping id (value bytes 72-75) of every entry of both flow
# tables, space separated.
flow_ids() {
	local m
	for m in crbpf_flows crbpf_unreplied; do
		bpftool -j map dump pinned "$VPS_PIN/maps/$m" | "$PY" -c '
import json, sys
for e in json.load(sys.stdin):
    v = [int(b, 16) for b in e["value"]]
    print(v[72] | v[73] << 8 | v[74] << 16 | v[75] << 24)'
	done | tr '\n' ' '
}
# stat_rows: "ports->backend:in_packets" of each `crbpf stats` mapping.
stat_rows() {
	vps_crbpf stats --json | "$PY" -c '
import json, sys
print(" ".join("%s/%s->%s:%d" % (m["proto"], m["ports"], m["backend"], m["in_packets"])
    for m in json.load(sys.stdin)["mappings"]))'
}
old=$(old_build $OLD_L2) || t_fail "old builds vanished"
CRBPF=$old must "ids: old attach eth0" vps_crbpf attach eth0 >/dev/null
CRBPF=$old must "ids: old port add udp 9000" vps_crbpf port add udp 9000 $TUN_HOME4 >/dev/null
CRBPF=$old must "ids: old port add tcp 9001" vps_crbpf port add tcp 9001 $TUN_HOME4 >/dev/null
CRBPF=$old must "ids: old port add udp 61000-61010" vps_crbpf port add udp 61000-61010 $TUN_HOME4 >/dev/null
CRBPF=$old must "ids: old home attach wgh" home_crbpf home attach wgh >/dev/null
hello_case ids-old-udp "$CLI4:" peer cr-cli hello --proto udp --timeout 3 $VPS4 9000
hello_case ids-old-tcp "$CLI4:" peer cr-cli hello --timeout 3 $VPS4 9001
fbefore=$(flow_list)
if vps_crbpf attach eth0 >"$TOPO_DIR/ids-attach.out" 2>&1; then
	t_result ids-attach-over-layout2 PASS
else
	t_result ids-attach-over-layout2 FAIL "$(grep -v warning "$TOPO_DIR/ids-attach.out" | head -n2 | tr '\n' ' ')"
fi
check ids-counters-restart-warned 'grep -q "warning: per-mapping counters (crbpf stats) start again from 0" "$TOPO_DIR/ids-attach.out"' \
	"attach said: $(tr '\n' ' ' <"$TOPO_DIR/ids-attach.out")"
fafter=$(flow_list)
check ids-flows-converted '[ -n "$fbefore" ] && [ "$fbefore" = "$fafter" ]' \
	"flows before: '$fbefore'; after: '$fafter'"
ids=$(flow_ids)
check ids-flows-have-ids '[ -n "$ids" ] && ! grep -qw 0 <<<"$ids"' "flow mapping ids: '$ids'"
rows=$(stat_rows)
check ids-one-row-per-range '[ "$rows" = "tcp/9001->$TUN_HOME4:0 udp/9000->$TUN_HOME4:0 udp/61000-61010->$TUN_HOME4:0" ]' \
	"stats mappings after the upgrade: '$rows'"
hello_case ids-new-udp "$CLI4:" peer cr-cli hello --proto udp --timeout 3 $VPS4 9000
hello_case ids-new-tcp "$CLI4:" peer cr-cli hello --timeout 3 $VPS4 9001
rows=$(stat_rows)
check ids-counted-after '[[ "$rows" == *"udp/9000->$TUN_HOME4:"[1-9]* ]] && [[ "$rows" == *"tcp/9001->$TUN_HOME4:"[1-9]* ]]' \
	"stats mappings after traffic: '$rows'"
must "ids: vps down" vps_crbpf down >/dev/null
must "ids: home down" home_crbpf down >/dev/null

# all_markers: "PROTO:REFS" of each crbpf_rev entry with port 0 (the marker).
all_markers() {
	bpftool -j map dump pinned "$VPS_PIN/maps/crbpf_rev" | "$PY" -c '
import json, sys
for e in json.load(sys.stdin):
    k = [int(b, 16) for b in e["key"]]
    v = [int(b, 16) for b in e["value"]]
    if k[16] == 0 and k[17] == 0:
        print("%d:%d" % (k[19], v[18] | v[19] << 8))'
}
old=$(old_build $OLD_ALL) || t_fail "old builds vanished"
CRBPF=$old must "all: old attach eth0" vps_crbpf attach eth0 >/dev/null
CRBPF=$old must "all: old port add udp all" vps_crbpf port add udp all $TUN_HOME4 >/dev/null
before=$(all_markers)
must "all: attach eth0" vps_crbpf attach eth0 >/dev/null
after=$(all_markers)
check all-marker-upgraded '[ -z "$before" ] && [ "$after" = "17:1" ]' \
	"markers before the upgrade: '$before', after: '$after' (want none, then 17:1)"
must "all: vps down" vps_crbpf down >/dev/null

# A layout from a newer crbpf is refused, nothing changed.
must "attach eth0" vps_crbpf attach eth0 >/dev/null
rm -f "$VPS_PIN/layout"
bpftool map create "$VPS_PIN/layout" type array key 4 value 4 entries 1 name crbpf_layout &&
	bpftool map update pinned "$VPS_PIN/layout" key 0 0 0 0 value 99 0 0 0 ||
	t_fail "could not pin a layout record"
out=$(vps_crbpf attach eth0 --flows 65536 2>&1)
rc=$?
flows=$(bpftool -j map show pinned "$VPS_PIN/maps/crbpf_flows" | "$PY" -c 'import json,sys; print(json.load(sys.stdin)["max_entries"])')
check newer-layout-refused '[ "$rc" -eq 1 ] && [[ "$out" == *"layout 99 from a newer crbpf"* ]] && [ "$flows" = 32768 ]' \
	"exit $rc, flows $flows: $out"
t_done
