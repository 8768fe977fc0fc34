#!/usr/bin/env bash
# SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
# Issue 11 items 10 and 13: the pin root and its lock.
# On a bpffs of its own mounted the way a plain `mount -t bpf` leaves it
# (1777), every pin root that another user owns, that others can write, or
# that has a symbolic link on the way is refused with one line naming the
# path and the reason, and nothing is attached or changed; an unprivileged
# user can neither pre-create the root nor remove root's links. The lock is
# per root: while a crbpf writer holds one root (paused by strace right after
# it took the lock), a read command on that root and a writer on another
# root return, and a second writer on it gives up after CRBPF_LOCK_TIMEOUT
# naming the holder.
# kernels: skip, the pin-root checks are the tool's stat() and flock() on a bpffs, whose permission rules are the VFS's on every kernel
source "$(dirname "$0")/../lib/common.sh"
t_begin pin-root
need_crbpf
command -v strace >/dev/null || t_fail "strace missing (make deps installs it)"
t_up

B=$TOPO_DIR/bpf
# The unprivileged user must reach the bpffs below the test's directory.
chmod 755 "$TOPO_DIR" && mkdir "$B" && mount -t bpf -o mode=1777 bpf "$B" ||
	t_fail "cannot mount a bpffs at $B"
trap 'rc=$?; umount -l "$B" 2>/dev/null; (exit $rc); _t_exit' EXIT

crb() {
	local root=$1
	shift
	nsx cr-vps env CRBPF_PIN_ROOT="$root" timeout -k 5 60 "$CRBPF" "$@"
}
as_nobody() {
	setpriv --reuid=65534 --regid=65534 --clear-groups --inh-caps=-all "$@"
}
# What a refused command must leave as it was: XDP and tc programs on the
# VPS's eth0, and every file, link and owner on the test's bpffs.
state() {
	nsx cr-vps ip -d link show dev eth0 | grep -oE 'prog/xdp id [0-9]+'
	nsx cr-vps bpftool net show dev eth0 2>&1 | grep -E 'crbpf|tcx|xdp'
	find "$B" -printf '%p %u %m %l\n' | sort
}
xdp_id() {
	nsx cr-vps ip -d link show dev eth0 | grep -oE 'prog/xdp id [0-9]+'
}

# refused CASE WANT ROOT ARGS...: crbpf ARGS on ROOT exits 1 with one line
# saying the root is unsafe and containing WANT; nothing changes.
refused() {
	local case=$1 want=$2 root=$3 rc lines
	shift 3
	state >"$TOPO_DIR/state.before"
	crb "$root" "$@" >"$TOPO_DIR/out" 2>"$TOPO_DIR/err"
	rc=$?
	state >"$TOPO_DIR/state.after"
	# Undone, so that the cases after it still find eth0 free.
	[ "$rc" -eq 0 ] && crb "$root" down >/dev/null 2>&1
	lines=$(grep -c . "$TOPO_DIR/err")
	if [ "$rc" -ne 1 ]; then
		t_result "pin-$case" FAIL "'crbpf $*' on $root exited $rc, want 1: $(head -c 200 "$TOPO_DIR/err")"
	elif [ "$lines" -ne 1 ]; then
		t_result "pin-$case" FAIL "'crbpf $*' wrote $lines lines to stderr: $(head -c 300 "$TOPO_DIR/err" | tr '\n' '|')"
	elif ! grep -qF "unsafe pin root: " "$TOPO_DIR/err" || ! grep -qF -- "$want" "$TOPO_DIR/err"; then
		t_result "pin-$case" FAIL "message '$(cat "$TOPO_DIR/err")' does not say 'unsafe pin root: ... $want'"
	elif ! cmp -s "$TOPO_DIR/state.before" "$TOPO_DIR/state.after"; then
		t_result "pin-$case" FAIL "'crbpf $*' changed: $(diff "$TOPO_DIR/state.before" "$TOPO_DIR/state.after" | grep '^[<>]' | head -n3 | tr '\n' ';')"
	else
		t_result "pin-$case" PASS
	fi
}

# --- item 10: the issue's scenario ---
# A user pre-creates the pin directories on the 1777 bpffs.
as_nobody mkdir -p "$B/crbpf/links" "$B/crbpf/maps" || t_fail "nobody cannot mkdir in $B"
refused precreated-attach "$B/crbpf belongs to uid 65534, not root" "$B/crbpf" attach eth0
refused precreated-status "$B/crbpf belongs to uid 65534" "$B/crbpf" status
rm -rf "$B/crbpf"
# A root crbpf made itself: 0700, and the sticky bit of the bpffs root keeps
# the user from renaming it away; the user can neither list nor remove the
# links, and the programs stay attached.
must "attach on a fresh root" crb "$B/crbpf" attach eth0 >/dev/null
id_before=$(xdp_id)
perm=$(stat -c '%u %a' "$B/crbpf" "$B/crbpf/links" "$B/crbpf/maps" | sort -u)
as_nobody rm -rf "$B/crbpf/links" "$B/crbpf/maps" 2>/dev/null
as_nobody mv "$B/crbpf" "$B/moved" 2>/dev/null
as_nobody mkdir "$B/crbpf/links2" 2>/dev/null
nlinks=$(find "$B/crbpf/links" -type f | wc -l)
if [ "$perm" != "0 700" ]; then
	t_result pin-fresh-root-mode FAIL "root and subdirectories are '$perm', want '0 700'"
elif [ -z "$id_before" ] || [ "$(xdp_id)" != "$id_before" ] || [ "$nlinks" -eq 0 ] ||
	[ -e "$B/moved" ] || [ -e "$B/crbpf/links2" ]; then
	t_result pin-fresh-root-mode FAIL "an unprivileged user changed the root: xdp '$id_before' -> '$(xdp_id)', $nlinks links, $(ls "$B" | tr '\n' ' ')"
else
	t_result pin-fresh-root-mode PASS
fi
must "detach from the fresh root" crb "$B/crbpf" detach eth0 >/dev/null

# --- item 10: each kind of unsafe directory ---
mkdir -m 0770 "$B/grp"
refused group-writable "$B/grp is writable by its group (mode 0770)" "$B/grp" attach eth0
mkdir -m 0777 "$B/wrl"
chmod 0777 "$B/wrl"
refused world-writable "$B/wrl is writable by others (mode 0777)" "$B/wrl" attach eth0
mkdir -m 0700 "$B/sub" "$B/sub/links" "$B/sub/maps"
chmod 0777 "$B/sub/links"
refused subdir-writable "$B/sub/links is writable by others" "$B/sub" attach eth0
chmod 0700 "$B/sub/links"
chown 65534 "$B/sub/maps"
refused subdir-owner "$B/sub/maps belongs to uid 65534" "$B/sub" attach eth0
# A link planted in place of links/ or maps/ (or the root) would make crbpf
# pin where its author can remove the pins.
mkdir -m 0777 "$B/elsewhere"
mkdir -m 0700 "$B/lnk"
ln -s "$B/elsewhere" "$B/lnk/links"
refused symlink-links "$B/lnk/links is a symbolic link" "$B/lnk" attach eth0
rm "$B/lnk/links"
ln -s "$B/elsewhere" "$B/lnk/maps"
refused symlink-maps "$B/lnk/maps is a symbolic link" "$B/lnk" attach eth0
ln -s "$B/elsewhere" "$B/lnkroot"
refused symlink-root "$B/lnkroot is a symbolic link" "$B/lnkroot" attach eth0
refused symlink-parent "$B/lnkroot is a symbolic link" "$B/lnkroot/crbpf" attach eth0
# A parent others can write without the sticky bit: they can rename the root.
mkdir -m 0777 "$B/open"
chmod 0777 "$B/open"
refused parent-writable "$B/open is writable by others (mode 0777)" "$B/open/crbpf" attach eth0
# --- item 13: the lock is per root, readers take none, writers time out ---
# The holder is a real crbpf writer on $B/a that strace keeps for 12 s right
# after its flock() returned, i.e. while it holds its lock. nsenter, not the
# nsx function, so that $! is strace and crbpf its child.
nsenter --net=/run/netns/cr-vps -- env CRBPF_PIN_ROOT="$B/a" strace -qq -o /dev/null -e trace=flock \
	-e inject=flock:delay_exit=12s "$CRBPF" down >"$TOPO_DIR/holder.out" 2>&1 &
holder_strace=$!
holder=
wait_for 10 sh -c "pgrep -P $holder_strace >/dev/null" && holder=$(pgrep -P "$holder_strace")
if [ -z "$holder" ] || ! wait_for 10 grep -qE "FLOCK +ADVISORY +WRITE +$holder " /proc/locks; then
	t_result pin-lock-held FAIL "the holder crbpf (pid '$holder') took no lock"
else
	t_result pin-lock-held PASS
fi
# holding CASE RC CMD...: CMD exits RC while the holder still holds the lock.
holding() {
	local case=$1 want=$2 rc
	shift 2
	"$@" >"$TOPO_DIR/$case.out" 2>"$TOPO_DIR/$case.err"
	rc=$?
	if ! kill -0 "$holder" 2>/dev/null; then
		t_result "pin-$case" FAIL "returned only after the holder finished (rc $rc)"
	elif [ "$rc" -ne "$want" ]; then
		t_result "pin-$case" FAIL "exit $rc, want $want: $(head -c 200 "$TOPO_DIR/$case.err")"
	else
		t_result "pin-$case" PASS
	fi
}
if [ -n "$holder" ]; then
	holding read-status 0 crb "$B/a" status
	holding read-port-list 0 crb "$B/a" port list
	holding read-config 0 crb "$B/a" config
	holding other-root 0 crb "$B/b" down
	holding lock-timeout 1 nsx cr-vps env CRBPF_PIN_ROOT="$B/a" CRBPF_LOCK_TIMEOUT=2 \
		timeout -k 5 60 "$CRBPF" down
	want="crbpf (pid $holder) holds the lock on $B/a; waited 2 s"
	if [ "$(cat "$TOPO_DIR/lock-timeout.err")" != "crbpf: $want (CRBPF_LOCK_TIMEOUT)" ]; then
		t_result pin-lock-timeout-message FAIL "'$(cat "$TOPO_DIR/lock-timeout.err")', want '$want'"
	else
		t_result pin-lock-timeout-message PASS
	fi
fi
wait "$holder_strace"
rc=$?
if [ "$rc" -ne 0 ]; then
	t_result pin-lock-holder FAIL "the holder exited $rc: $(head -c 200 "$TOPO_DIR/holder.out")"
elif [ -e "$B/a" ] || [ -e "$B/b" ]; then
	t_result pin-lock-holder FAIL "a writer left an empty root behind: $(ls "$B" | tr '\n' ' ')"
else
	t_result pin-lock-holder PASS
fi

# --- item 13: readers during changes ---
# Readers take no lock, so they run while a writer is half way through a
# range: they may show part of it, but must not crash (a signal, exit >= 124)
# nor fail for anything but what they found. (101 ports: a range the undo
# journal handles under the default ulimit -n on every kernel, issue 11 item 8.)
must "attach for the readers" crb "$B/c" attach eth0 >/dev/null
(
	for i in 1 2 3 4 5; do
		crb "$B/c" port add tcp 2000-2100 $TUN_HOME4 >/dev/null || exit 1
		crb "$B/c" port del tcp 2000-2100 >/dev/null || exit 1
	done
) 2>"$TOPO_DIR/writer.err" &
writer=$!
reads=0 bad=
while kill -0 "$writer" 2>/dev/null && [ -z "$bad" ]; do
	for cmd in "status --json" "port list --json" "config" "stats --json" "flows --json"; do
		# shellcheck disable=SC2086
		crb "$B/c" $cmd >/dev/null 2>"$TOPO_DIR/reader.err"
		rc=$?
		reads=$((reads + 1))
		[ "$rc" -le 1 ] || { bad="'crbpf $cmd' exited $rc: $(head -c 200 "$TOPO_DIR/reader.err")"; break; }
	done
done
wait "$writer"
wrc=$?
if [ -n "$bad" ]; then
	t_result pin-readers-during-change FAIL "$bad"
elif [ "$wrc" -ne 0 ]; then
	t_result pin-readers-during-change FAIL "the writer failed: $(head -c 200 "$TOPO_DIR/writer.err")"
elif [ "$reads" -lt 10 ]; then
	t_result pin-readers-during-change FAIL "only $reads reads ran during the changes"
else
	t_result pin-readers-during-change PASS
fi
must "detach the readers' root" crb "$B/c" detach eth0 >/dev/null

# --- item 13: numbers are decimal or 0x hex ---
nsx cr-home env CRBPF_PIN_ROOT="$B/home" timeout -k 5 60 "$CRBPF" home attach wgh --table 0x64 \
	>/dev/null 2>"$TOPO_DIR/home.err"
rc=$?
rules=$(nsx cr-home ip rule show | grep -c 'lookup 100')
nsx cr-home env CRBPF_PIN_ROOT="$B/home" timeout -k 5 60 "$CRBPF" home detach wgh >/dev/null 2>&1
if [ "$rc" -ne 0 ] || [ "$rules" -eq 0 ]; then
	t_result pin-table-hex FAIL "home attach --table 0x64: exit $rc, $rules rules to table 100: $(head -c 200 "$TOPO_DIR/home.err")"
else
	t_result pin-table-hex PASS
fi

t_done
