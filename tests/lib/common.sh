# SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
# shellcheck shell=bash
# Result reporting for integration tests. A test file calls t_begin NAME,
# builds the topology, and ends with t_pass / t_fail REASON / t_skip REASON,
# or reports several named cases with t_result and ends with t_done. The EXIT
# trap tears the topology down on every path and then prints the result, so
# a test that dies half way still reports FAIL and leaves nothing behind.

# shellcheck source=tests/lib/topo.sh
source "$(dirname "${BASH_SOURCE[0]}")/topo.sh"

T_NAME=
T_STATUS=
T_REASON=
T_RESULTS=0
T_FAILS=0

t_begin() {
	T_NAME=$1
	# Results go to the test's real stdout even from inside a redirection.
	exec 8>&1
	TOPO_DIR=$(mktemp -d "/tmp/crbpf-it-$T_NAME.XXXXXX")
	trap _t_exit EXIT
	trap 'exit 130' INT TERM
}

_t_print() {
	{
		echo "[integration/$1] $2"
		if [ "$2" = FAIL ] && [ -n "${3:-}" ]; then
			echo "    $3 (logs: $TOPO_DIR)"
		elif [ "$2" = SKIP ] && [ -n "${3:-}" ]; then
			echo "    $3"
		fi
	} >&8
}

_t_exit() {
	local rc=$?
	trap - EXIT
	if [ "$T_STATUS" = FAIL ] || [ "$T_FAILS" -gt 0 ] || { [ -z "$T_STATUS" ] && [ "$rc" -ne 0 ]; }; then
		t_dump_state >"$TOPO_DIR/state.txt" 2>&1
	fi
	topo_down >/dev/null 2>&1
	if [ -n "$T_STATUS" ]; then
		_t_print "$T_NAME" "$T_STATUS" "$T_REASON"
	elif [ "$T_RESULTS" -eq 0 ]; then
		_t_print "$T_NAME" FAIL "test aborted (exit $rc)"
		rc=1
	fi
	[ "$T_STATUS" = FAIL ] && rc=1
	# Keep the logs of failed runs only.
	[ "$rc" -eq 0 ] && [ "$T_FAILS" -eq 0 ] && rm -rf "$TOPO_DIR"
	exit "$rc"
}

t_pass() {
	T_STATUS=PASS
	exit 0
}

t_fail() {
	T_STATUS=FAIL
	T_REASON=$*
	exit 1
}

t_skip() {
	T_STATUS=SKIP
	T_REASON=$*
	exit 0
}

# t_result CASE PASS|FAIL|SKIP [REASON]: one named case of a multi-case file.
t_result() {
	T_RESULTS=$((T_RESULTS + 1))
	[ "$2" = FAIL ] && T_FAILS=$((T_FAILS + 1))
	_t_print "$1" "$2" "${3:-}"
}

t_done() {
	[ "$T_FAILS" -eq 0 ] && exit 0
	exit 1
}

# Under the kernel matrix (qemu TCG, tests/kernels/guest.sh sets
# CRBPF_EMULATED=1) every instruction is emulated: a file runs there what
# can differ between kernels, with smaller transfers and fewer rounds.
EMULATED=${CRBPF_EMULATED:-0}

# scaled NATIVE EMULATED: the count (bytes, rounds) for this run.
scaled() {
	if [ "$EMULATED" = 1 ]; then echo "$2"; else echo "$1"; fi
}

# native_only CASE REASON: under emulation, report CASE as skipped with
# REASON (what makes it kernel-independent) and return 0; the caller then
# leaves the case out. Natively returns 1 and the case runs.
native_only() {
	[ "$EMULATED" = 1 ] || return 1
	t_result "$1" SKIP "not run under emulation (make test runs it): $2"
}

# The tool under test missing is a failure, not a skip: a suite run without
# a build must not end "0 failed".
need_crbpf() {
	[ -x "$CRBPF" ] || t_fail "build/crbpf not built (run make)"
}

# nums VALUE...: every VALUE is a whole number. A counter read from
# `crbpf stats` is empty when the command fails or the counter was renamed,
# and `[ "" -ne "" ]` is an error, i.e. false in every branch: check first.
nums() {
	local v
	for v in "$@"; do
		[[ "$v" =~ ^-?[0-9]+$ ]] || return 1
	done
}

# noports NS: datagrams NS's stack found no socket for (UDP and UDPv6), each
# answered with a port unreachable; empty if unreadable.
noports() {
	nsx "$1" nstat -asz UdpNoPorts Udp6NoPorts |
		awk '/^Udp6?NoPorts / {n++; s += $2} END {if (n == 2) print s}'
}

# tcp_rsts NS: resets NS's stack sent (a SYN to a closed port draws one).
tcp_rsts() {
	nsx "$1" nstat -asz TcpOutRsts | awk '/^TcpOutRsts / {print $2}'
}

t_up() {
	topo_up 2>"$TOPO_DIR/topo.err" || t_fail "topology: $(tail -n1 "$TOPO_DIR/topo.err")"
}

# must DESC CMD...: run CMD; on failure end the test with its first stderr line.
must() {
	local desc=$1 out rc
	shift
	out=$("$@" 2>&1 >"$TOPO_DIR/must.out")
	rc=$?
	if [ "$rc" -ne 0 ]; then
		t_fail "$desc: exit $rc: $(printf '%s\n' "$out" | head -n1)"
	fi
	cat "$TOPO_DIR/must.out"
}

# expect_hello DESC WANT CMD...: CMD (a peer.py hello) must print a reply
# containing WANT (the client address the server saw).
expect_hello() {
	local desc=$1 want=$2 out
	shift 2
	out=$("$@" 2>&1)
	local rc=$?
	[ "$rc" -eq 0 ] || t_fail "$desc: $(printf '%s\n' "$out" | tail -n1)"
	case "$out" in
	*"hello $want"*) ;;
	*) t_fail "$desc: server saw '$(printf '%s' "$out" | head -n1)', want $want" ;;
	esac
}

# The crbpf state a bad command must leave untouched.
crbpf_state() {
	echo "== vps port list"
	vps_crbpf port list --json 2>&1
	echo "== pins"
	(cd /sys/fs/bpf && find crbpf-test-vps crbpf-test-home 2>/dev/null | sort)
	echo "== links"
	bpftool link show 2>/dev/null | grep -E '^[0-9]+:' | sort
	for ns in cr-vps cr-home; do
		echo "== $ns ip link xdp"
		nsx "$ns" ip -d link show | grep -E 'xdp|prog/xdp' || true
		echo "== $ns rules"
		nsx "$ns" ip rule show
		nsx "$ns" ip -6 rule show
		nsx "$ns" ip route show table all proto 203 2>/dev/null
	done
}

# hello_case CASE WANT CMD...: report CASE by whether CMD (a peer.py hello)
# gets a reply naming WANT as the client address the server saw (and, with
# HELLO_TAG set, coming from the server started with that tag).
hello_case() {
	local case=$1 want=$2 out rc
	shift 2
	out=$("$@" 2>&1)
	rc=$?
	if [ "$rc" -ne 0 ]; then
		t_result "$case" FAIL "$(printf '%s\n' "$out" | tail -n1)"
	elif [[ "$out" == *"hello $want"* ]] && { [ -z "${HELLO_TAG:-}" ] || [[ "$out" == *" $HELLO_TAG" ]]; }; then
		t_result "$case" PASS
	else
		t_result "$case" FAIL "reply '$(printf '%s\n' "$out" | head -n1)', want client $want${HELLO_TAG:+ from server $HELLO_TAG}"
	fi
}

# csum_start NS DEV: check every client-flow checksum seen on DEV;
# csum_stop NS DEV [MIN] prints the verdict line and fails (1) on bad
# checksums or fewer than MIN (default 100) checked packets: a capture that
# saw nothing proves nothing.
csum_start() {
	nsx_bg "$1" "csum-$1-$2" "$PY" -u "$PEER" csum "$2" \
		--net 198.51.100.0/24 --net 2001:db8:100::/64
	wait_for 5 grep -q '^listening' "$TOPO_DIR/csum-$1-$2.log"
}

csum_stop() {
	local log=$TOPO_DIR/csum-$1-$2.log
	kill -TERM "$(cat "$TOPO_DIR/csum-$1-$2.pid")" 2>/dev/null
	wait_for 5 grep -q '^csum ' "$log"
	local min=${3:-100} checked
	grep -E '^(csum|bad)' "$log" | sed "s/^/$1 $2: /"
	grep -q '^csum .* bad=0$' "$log" || return 1
	checked=$(sed -n 's/^csum checked=\([0-9]*\) .*/\1/p' "$log" | tail -n1)
	if ! nums "$checked" || [ "$checked" -lt "$min" ]; then
		echo "$1 $2: checked ${checked:-no} packets, want at least $min"
		return 1
	fi
}

# Everything worth seeing after a failure; kept in $TOPO_DIR/state.txt.
t_dump_state() {
	local ns
	[ -x "$CRBPF" ] && for c in "status" "port list" "stats"; do
		echo "== vps crbpf $c"
		# shellcheck disable=SC2086
		vps_crbpf $c 2>&1
	done
	[ -x "$CRBPF" ] && { echo "== home crbpf status"; home_crbpf status 2>&1; }
	echo "== pins"
	find "$VPS_PIN" "$HOME_PIN" 2>/dev/null
	for ns in cr-vps cr-home; do
		[ -e "/run/netns/$ns" ] || continue
		echo "== $ns"
		nsx "$ns" ip -d link show
		nsx "$ns" ip rule show
		nsx "$ns" ip -6 rule show
		nsx "$ns" ip route show table 123
		nsx "$ns" ip -6 route show table 123
		nsx "$ns" nstat -az 2>/dev/null | grep -iE 'csum|retrans|drop' | grep -v ' 0 '
	done
	echo "== bpftool link"
	bpftool link show
}

# crbpf_* links and programs as "kind id name", system wide. Fails (1),
# naming the command, when bpftool does: two failed listings would compare
# equal and hide any change.
bpf_objs() {
	local progs links
	if ! progs=$(bpftool -j prog show 2>&1); then
		echo "bpftool prog show failed: $(head -n1 <<<"$progs")"
		return 1
	fi
	if ! links=$(bpftool -j link show 2>&1); then
		echo "bpftool link show failed: $(head -n1 <<<"$links")"
		return 1
	fi
	printf '%s\n\n%s\n' "$progs" "$links" | "$PY" -c '
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
	for nd in cr-vps:eth0 cr-vps:wg0 cr-home:wgh cr-home:docker0 cr-home:eth0; do
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

# leftovers_before: snapshot for detach_case, taken before anything is attached.
leftovers_before() {
	bpf_objs >"$TOPO_DIR/bpf.before" || t_fail "$(cat "$TOPO_DIR/bpf.before")"
	leftovers >"$TOPO_DIR/left.before"
}

# pinned_links: "PIN ID" for each of crbpf's pinned attachments (links/ of
# the VPS and home) that is a bpf link (the clsact fallback pins programs).
# Fails (1) when bpftool cannot tell what a pin is.
pinned_links() {
	local f out id
	for f in $(find "$VPS_PIN" "$HOME_PIN" -type f -path '*/links/*' 2>/dev/null | sort); do
		if out=$(bpftool -j link show pinned "$f" 2>&1); then
			id=$("$PY" -c 'import json, sys; print(json.load(sys.stdin)["id"])' <<<"$out") ||
				return 1
			echo "${f#/sys/fs/bpf/} $id"
		elif ! bpftool -j prog show pinned "$f" >/dev/null 2>&1; then
			echo "bpftool: $f is neither a link nor a program: $(head -n1 <<<"$out")" >&2
			return 1
		fi
	done
}

# detach_case CASE: `crbpf detach eth0` on the VPS and `crbpf home detach
# wgh`, then CASE passes if no crbpf link, program, XDP, tc filter, pin, rule
# or table-123 route is left that was not there at leftovers_before.
detach_case() {
	local case=$1 new ldiff
	if ! vps_crbpf detach eth0 >/dev/null 2>"$TOPO_DIR/detach.err"; then
		t_result "$case" FAIL "crbpf detach eth0: $(head -n1 "$TOPO_DIR/detach.err")"
		return
	fi
	if ! home_crbpf home detach wgh >/dev/null 2>"$TOPO_DIR/detach.err"; then
		t_result "$case" FAIL "crbpf home detach wgh: $(head -n1 "$TOPO_DIR/detach.err")"
		return
	fi
	leftovers >"$TOPO_DIR/left.after"
	if ! bpf_objs >"$TOPO_DIR/bpf.after1" || ! { sleep 1; bpf_objs >"$TOPO_DIR/bpf.after2"; }; then
		t_result "$case" FAIL "$(cat "$TOPO_DIR/bpf.after1" "$TOPO_DIR/bpf.after2" 2>/dev/null | grep -m1 failed)"
		return
	fi
	# New crbpf objects still there a second later (a concurrent unit
	# test's programs come and go).
	new=$(comm -13 <(sort "$TOPO_DIR/bpf.before") \
		<(comm -12 <(sort "$TOPO_DIR/bpf.after1") <(sort "$TOPO_DIR/bpf.after2")))
	ldiff=$(diff "$TOPO_DIR/left.before" "$TOPO_DIR/left.after" | grep '^[<>]' | head -n3 | tr '\n' ';')
	if [ -n "$new" ]; then
		t_result "$case" FAIL "left behind: $(echo "$new" | head -n3 | tr '\n' ';')"
	elif [ -n "$ldiff" ]; then
		t_result "$case" FAIL "left behind: $ldiff"
	else
		t_result "$case" PASS
	fi
}
