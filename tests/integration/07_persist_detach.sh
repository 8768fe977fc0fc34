#!/usr/bin/env bash
# SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
# Issue 2 case 7: forwarding runs on after the crbpf process has exited (every
# request below is made after crbpf returned), and `detach` / `home detach`
# leave nothing behind: no crbpf links or programs (bpftool; tcx links show as
# "type 11" and never in tc), no tc filters, no XDP, no pins, no ip rules, no
# routes in table 123.
source "$(dirname "$0")/../lib/common.sh"
t_begin persist-detach
need_crbpf
t_up

# crbpf_* links and programs as "kind id name", system wide.
bpf_objs() {
	{
		bpftool -j prog show 2>/dev/null
		echo
		bpftool -j link show 2>/dev/null
	} | "$PY" -c '
import json, sys
docs = [json.loads(l) for l in sys.stdin.read().split("\n") if l.strip()]
progs = {p["id"]: p.get("name", "") for p in (docs[0] if docs else [])}
for p in progs.items():
    if p[1].startswith("crbpf_"):
        print("prog", p[0], p[1])
for l in (docs[1] if len(docs) > 1 else []):
    name = progs.get(l.get("prog_id"), "")
    if name.startswith("crbpf_"):
        print("link", l["id"], "type", l.get("type"), name)
'
}

leftovers() {
	local ns dev
	for nd in cr-vps:eth0 cr-vps:wg0 cr-home:wgh cr-home:docker0; do
		ns=${nd%%:*} dev=${nd#*:}
		echo "== $ns $dev"
		nsx "$ns" ip -d link show dev "$dev" | grep -oE 'xdp[a-z]*|prog/xdp id [0-9]+'
		nsx "$ns" tc filter show dev "$dev" ingress 2>/dev/null
		nsx "$ns" tc filter show dev "$dev" egress 2>/dev/null
	done
	for ns in cr-vps cr-home; do
		echo "== $ns rules and table 123"
		nsx "$ns" ip rule show
		nsx "$ns" ip -6 rule show
		nsx "$ns" ip route show table 123 2>/dev/null
		nsx "$ns" ip -6 route show table 123 2>/dev/null
	done
	echo "== pins"
	find "$VPS_PIN" "$HOME_PIN" /sys/fs/bpf/crbpf -type f 2>/dev/null | sort
}

serve cr-home homesrv tcp "" 8000 || t_fail "home server did not start"
serve cr-ctr ctrsrv tcp "" 80 || t_fail "container server did not start"
bpf_objs >"$TOPO_DIR/bpf.before"
leftovers >"$TOPO_DIR/left.before"

must "crbpf attach eth0" vps_crbpf attach eth0 >/dev/null
must "crbpf port add tcp 8000 10.0.0.2" vps_crbpf port add tcp 8000 $TUN_HOME4 >/dev/null
must "crbpf port add tcp 8000 [fd00::2]" vps_crbpf port add tcp 8000 "[$TUN_HOME6]" >/dev/null
must "crbpf port add tcp 8080 10.0.0.2" vps_crbpf port add tcp 8080 $TUN_HOME4 >/dev/null
must "crbpf home attach wgh --serve docker0" home_crbpf home attach wgh --serve docker0 >/dev/null

# crbpf has exited; nothing of it runs in any namespace.
for ns in cr-vps cr-home; do
	if ip netns pids "$ns" | xargs -r ps -o comm= -p | grep -q crbpf; then
		t_fail "a crbpf process is still running in $ns"
	fi
done
hello_case persist-tcp-v4 "$CLI4:" peer cr-cli hello $VPS4 8000
hello_case persist-tcp-v6 "[$CLI6]:" peer cr-cli hello $VPS6 8000
hello_case persist-container "$CLI4:" peer cr-cli hello $VPS4 8080
bpf_objs >"$TOPO_DIR/bpf.attached"
leftovers >"$TOPO_DIR/left.attached"
if ! grep -q '^link' "$TOPO_DIR/bpf.attached" && cmp -s "$TOPO_DIR/left.before" "$TOPO_DIR/left.attached"; then
	t_result attach-visible FAIL "no crbpf link, XDP, tc filter or pin visible while attached"
fi

detach_ok=1
vps_crbpf detach eth0 >/dev/null 2>"$TOPO_DIR/detach.err" || {
	detach_ok=0
	t_result detach FAIL "crbpf detach eth0: $(head -n1 "$TOPO_DIR/detach.err")"
}
home_crbpf home detach wgh >/dev/null 2>"$TOPO_DIR/hdetach.err" || {
	detach_ok=0
	t_result home-detach FAIL "crbpf home detach wgh: $(head -n1 "$TOPO_DIR/hdetach.err")"
}
if [ "$detach_ok" -eq 1 ]; then
	leftovers >"$TOPO_DIR/left.after"
	bpf_objs >"$TOPO_DIR/bpf.after1"
	sleep 1
	bpf_objs >"$TOPO_DIR/bpf.after2"
	# New crbpf objects still present a second later (a concurrent unit
	# test's programs come and go).
	new=$(comm -13 <(sort "$TOPO_DIR/bpf.before") <(comm -12 <(sort "$TOPO_DIR/bpf.after1") <(sort "$TOPO_DIR/bpf.after2")))
	ldiff=$(diff "$TOPO_DIR/left.before" "$TOPO_DIR/left.after" | grep '^[<>]' | head -n3 | tr '\n' ';')
	if [ -n "$new" ]; then
		t_result detach-clean FAIL "left behind: $(echo "$new" | head -n3 | tr '\n' ';')"
	elif [ -n "$ldiff" ]; then
		t_result detach-clean FAIL "left behind: $ldiff"
	else
		t_result detach-clean PASS
	fi
	if peer cr-cli hello --timeout 2 $VPS4 8000 >/dev/null 2>&1; then
		t_result detach-stops-forwarding FAIL "port 8000 still forwarded after detach"
	else
		t_result detach-stops-forwarding PASS
	fi
fi
t_done
