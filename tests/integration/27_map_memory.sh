#!/usr/bin/env bash
# SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
# Issue 11 item 9, memory on a small VPS: what attach locks in maps, read
# from the kernel (memlock of each pinned map, as bpftool reports it), is at
# most 24 MiB with the default settings; it grows with --flows and with the
# mappings, not with a preallocated maximum; `crbpf status` prints the same
# sum; --flows and Flows = out of range are usage errors naming the bound.
# Its own namespace and pin root: no topology, no traffic.
# kernels: skip, fdinfo memlock is the kernel's real use only from 6.4 (6.1 charges max_entries x (key + value) whatever is allocated)
source "$(dirname "$0")/../lib/common.sh"
t_begin map_memory
need_crbpf

NS=crbpf-mem-$$
PIN=/sys/fs/bpf/crbpf-test-mem-$$
LIMIT=$((24 * 1024 * 1024))
mem_down() {
	rm -rf "$PIN"
	ip netns del "$NS" 2>/dev/null
}
trap 'mem_down; _t_exit' EXIT
ip netns add "$NS" || t_fail "ip netns add $NS"
nsx "$NS" ip link add eth0 type veth peer name tun0 &&
	nsx "$NS" ip link set eth0 up && nsx "$NS" ip link set tun0 up &&
	nsx "$NS" ip addr add 203.0.113.10/24 dev eth0 &&
	nsx "$NS" ip addr add 10.0.0.1/24 dev tun0 || t_fail "namespace devices"
cr() {
	nsx "$NS" env CRBPF_PIN_ROOT="$PIN" timeout -k 5 60 "$CRBPF" "$@"
}

# kernel_mem [MAP]: memlock bytes of MAP, or the sum over every pinned map.
kernel_mem() {
	local m sum=0 b
	for m in "$PIN"/maps/*; do
		[ -n "${1:-}" ] && [ "$(basename "$m")" != "$1" ] && continue
		b=$(bpftool -j map show pinned "$m" | "$PY" -c 'import json,sys; print(json.load(sys.stdin)["bytes_memlock"])') ||
			return 1
		sum=$((sum + b))
	done
	echo "$sum"
}
mib() { awk -v b="$1" 'BEGIN {printf "%.2f", b / 1048576}'; }

check() { # check CASE COND MESSAGE
	if eval "$2"; then t_result "$1" PASS; else t_result "$1" FAIL "$3"; fi
}

must "attach eth0" cr attach eth0 --mode tc >/dev/null
base=$(kernel_mem) || t_fail "bpftool map show failed"
echo "attach: $(mib "$base") MiB on $(nproc) CPUs" >"$TOPO_DIR/mem.txt"
check default-at-most-24MiB '[ "$base" -le "$LIMIT" ]' \
	"attach locks $(mib "$base") MiB of maps, above 24 MiB"

status=$(cr status) || t_fail "status failed"
shown=$(printf '%s\n' "$status" | sed -n 's/^map memory \([0-9.]*\) MiB.*/\1/p')
check status-prints-memory '[ "$shown" = "$(mib "$base")" ]' \
	"status says '$shown' MiB, the kernel $(mib "$base")"
json=$(cr status --json | "$PY" -c 'import json,sys; print(json.load(sys.stdin)["maps_memlock"])')
check status-json-memory '[ "$json" = "$base" ]' "status --json says $json, the kernel $base"
verbose=$(cr -v status | grep -c '^  crbpf_[a-z]* *[0-9.]* MiB$')
check status-v-per-map '[ "$verbose" -eq "$(find "$PIN/maps" -mindepth 1 | wc -l)" ]' \
	"crbpf -v status lists $verbose maps"

# 2000 mappings: memory follows them, no preallocated maximum.
must "port add 2000 ports" cr port add tcp 20000-21999 10.0.0.2 >/dev/null
ports=$(kernel_mem)
grow=$((ports - base))
check mappings-grow-memory '[ "$grow" -gt 0 ] && [ "$grow" -lt $((4 * 1024 * 1024)) ]' \
	"2000 mappings changed map memory by $grow bytes"
echo "2000 mappings: $(mib "$ports") MiB" >>"$TOPO_DIR/mem.txt"

# --flows resizes the flow table in place, mappings kept.
f0=$(kernel_mem crbpf_flows)
must "attach --flows 131072" cr attach eth0 --mode tc --flows 131072 >/dev/null 2>&1
f1=$(kernel_mem crbpf_flows)
n=$(cr port list --json | "$PY" -c 'import json,sys; d = json.load(sys.stdin); print(len(d if isinstance(d, list) else d["mappings"]))' 2>/dev/null)
check flows-grow-memory '[ "$f1" -gt $((f0 * 3)) ] && [ "$n" = 2000 ]' \
	"crbpf_flows $f0 -> $f1 bytes, $n mappings after the resize"

# Bounds: exit 2 naming them, nothing changed.
before=$(kernel_mem)
out=$(cr attach eth0 --flows 1023 2>&1)
rc=$?
check flows-below-min '[ "$rc" -eq 2 ] && [[ "$out" == *"1024-4194304"* ]]' \
	"--flows 1023: exit $rc, '$out'"
out=$(cr attach eth0 --flows 4194305 2>&1)
rc=$?
check flows-above-max '[ "$rc" -eq 2 ] && [[ "$out" == *"1024-4194304"* ]]' \
	"--flows 4194305: exit $rc, '$out'"
printf '[Edge]\nInterface = eth0\nFlows = 99999999\n' >"$TOPO_DIR/bad.conf"
out=$(cr apply --check "$TOPO_DIR/bad.conf" 2>&1)
rc=$?
check config-flows-bound '[ "$rc" -eq 2 ] && [[ "$out" == *"1024-4194304"* ]]' \
	"Flows = 99999999: exit $rc, '$out'"
check bad-flows-change-nothing '[ "$(kernel_mem)" = "$before" ]' \
	"map memory changed after refused commands"

must "down" cr down >/dev/null
check down-leaves-nothing '[ ! -e "$PIN" ]' "$(find "$PIN" 2>&1 | head -n3)"
t_done
