#!/usr/bin/env bash
# SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
# `make install` / `make uninstall` into a DESTDIR (no network topology):
# every file where it belongs with its mode, the units naming the installed
# binary and accepted by `systemd-analyze verify` against that tree (and a
# broken unit refused by the same check), the installed bash completion, the
# example config, and an uninstall that removes exactly what install put.
# kernels: skip, it installs files into a directory: nothing of it depends on the kernel
source "$(dirname "$0")/../lib/common.sh"
t_begin install
need_crbpf

d=$TOPO_DIR
dest=$d/dest
comp=$dest/usr/share/bash-completion/completions/crbpf
units=(crbpf.service crbpf-metrics.service crbpf-metrics.timer)

# make in the checkout, whatever the calling make or environment set.
mk() {
	env -u MAKEFLAGS -u MFLAGS -u MAKELEVEL -u PREFIX -u DESTDIR -u SBINDIR \
		make --no-print-directory -C "$CR_ROOT" "$@"
}

# Expected files as "MODE PATH" under DESTDIR, PREFIX=/usr.
expected() {
	echo "755 /usr/sbin/crbpf"
	echo "644 /usr/share/man/man8/crbpf.8"
	[ -e "$CR_ROOT/crbpf.conf.5" ] && echo "644 /usr/share/man/man5/crbpf.conf.5"
	echo "644 /usr/share/bash-completion/completions/crbpf"
	echo "644 /usr/share/doc/crbpf/crbpf.conf.example"
	for u in "${units[@]}"; do
		echo "644 /usr/lib/systemd/system/$u"
	done
}

installed() {
	(cd "$1" && find . ! -type d -printf '%m /%P\n') | sort
}

# --- install ---------------------------------------------------------------
# The check needs a built tree; a stale one would make it fail for the
# wrong reason (and is not what it tests).
mk -q build/crbpf || t_fail "build/crbpf is older than its sources (run make first)"
touch "$d/stamp"
if ! mk install DESTDIR="$dest" PREFIX=/usr >"$d/install.log" 2>&1; then
	t_fail "make install DESTDIR=... PREFIX=/usr: $(tail -n1 "$d/install.log")"
fi
newer=$(find "$CR_ROOT/build" -newer "$d/stamp" ! -type d | head -n3)
if [ -z "$newer" ]; then
	t_result install-no-rebuild PASS
else
	t_result install-no-rebuild FAIL "make install rebuilt: $(tr '\n' ' ' <<<"$newer")"
fi

diff <(expected | sort) <(installed "$dest") >"$d/files.diff"
if [ -s "$d/files.diff" ]; then
	t_result install-files FAIL "want/have: $(grep '^[<>]' "$d/files.diff" | head -n4 | tr '\n' ';')"
elif ! cmp -s "$CR_ROOT/build/crbpf" "$dest/usr/sbin/crbpf" ||
	! cmp -s "$CR_ROOT/crbpf.8" "$dest/usr/share/man/man8/crbpf.8"; then
	t_result install-files FAIL "installed binary or man page differs from the tree's"
else
	t_result install-files PASS
fi

# The units name the installed binary, the default config, nothing left
# unsubstituted.
sd=$dest/usr/lib/systemd/system
want_lines=(
	"crbpf.service:ExecStart=/usr/sbin/crbpf watch /etc/crbpf/crbpf.conf"
	"crbpf.service:ExecReload=/usr/sbin/crbpf apply /etc/crbpf/crbpf.conf"
	"crbpf.service:ExecStopPost=/usr/sbin/crbpf down"
	"crbpf.service:Type=simple"
	"crbpf.service:Restart=on-failure"
	"crbpf.service:ConditionPathExists=/etc/crbpf/crbpf.conf"
	"crbpf.service:WantedBy=multi-user.target"
	"crbpf-metrics.service:Type=oneshot"
	"crbpf-metrics.service:ExecStart=/usr/sbin/crbpf stats --prometheus --output /var/lib/prometheus/node-exporter/crbpf.prom"
	"crbpf-metrics.timer:OnUnitActiveSec=15s"
)
bad=
for l in "${want_lines[@]}"; do
	grep -qxF "${l#*:}" "$sd/${l%%:*}" 2>/dev/null || bad+="${bad:+; }${l%%:*} lacks '${l#*:}'"
done
grep -l '@[A-Z]*@' "$sd"/* >/dev/null 2>&1 && bad+="${bad:+; }unsubstituted @VAR@ left"
grep -q '^After=.*wg-quick.target' "$sd/crbpf.service" &&
	grep -q '^After=.*systemd-networkd.service' "$sd/crbpf.service" &&
	grep -q '^After=.*network-online.target' "$sd/crbpf.service" ||
	bad+="${bad:+; }crbpf.service not ordered after the tunnel"
if [ -z "$bad" ]; then
	t_result install-unit-exec PASS
else
	t_result install-unit-exec FAIL "$bad"
fi

# Default PREFIX and an explicit SBINDIR reach the units too.
if ! mk install DESTDIR="$d/dest2" >"$d/install2.log" 2>&1 ||
	! mk install DESTDIR="$d/dest3" PREFIX=/opt/crbpf SBINDIR=/opt/bin >>"$d/install2.log" 2>&1; then
	t_result install-prefix FAIL "make install: $(tail -n1 "$d/install2.log")"
elif [ -x "$d/dest2/usr/local/sbin/crbpf" ] &&
	grep -qx 'ExecStart=/usr/local/sbin/crbpf watch /etc/crbpf/crbpf.conf' \
		"$d/dest2/usr/local/lib/systemd/system/crbpf.service" &&
	[ -x "$d/dest3/opt/bin/crbpf" ] &&
	grep -qx 'ExecStopPost=/opt/bin/crbpf down' "$d/dest3/opt/crbpf/lib/systemd/system/crbpf.service"; then
	t_result install-prefix PASS
else
	t_result install-prefix FAIL "PREFIX default or SBINDIR not honoured: $(cd "$d" && find dest2 dest3 -name crbpf\* | head -n4 | tr '\n' ' ')"
fi

# --- systemd-analyze verify ---------------------------------------------------
# --root makes verify look for the Exec binaries in the installed tree; the
# host's own units (sysinit.target, ...) are copied beside ours, since the
# tree has none. A warning (unknown key, bad value) only prints, so any
# output counts as a rejection.
verify() {
	local out rc
	out=$(cd / && MANPATH=$vroot/usr/share/man systemd-analyze verify --root="$vroot" "$@" 2>&1)
	rc=$?
	[ "$rc" -eq 0 ] && [ -z "$out" ] && return 0
	echo "exit $rc: $(head -n2 <<<"$out" | tr '\n' ' ')"
	return 1
}

vroot=$d/vroot
if ! command -v systemd-analyze >/dev/null; then
	for c in units-verify units-verify-rejects; do
		t_result $c SKIP "systemd-analyze not installed (scripts/deps.sh installs systemd)"
	done
else
	mkdir -p "$vroot/usr/lib/systemd/system"
	cp -a /usr/lib/systemd/system/. "$vroot/usr/lib/systemd/system/"
	rm -f "$vroot/usr/lib/systemd/system/"crbpf*
	cp -a "$dest/." "$vroot/"
	if out=$(verify "${units[@]}"); then
		t_result units-verify PASS
	else
		t_result units-verify FAIL "$out"
	fi
	# The same check must refuse a misspelt key and a missing binary.
	vsd=$vroot/usr/lib/systemd/system
	sed 's/^ProtectHome=/ProtectHoem=/' "$vsd/crbpf.service" >"$vsd/crbpf-typo.service"
	typo=$(verify crbpf-typo.service)
	t1=$?
	rm -f "$vsd/crbpf-typo.service"
	mv "$vroot/usr/sbin/crbpf" "$d/crbpf.moved"
	nobin=$(verify crbpf.service)
	t2=$?
	mv "$d/crbpf.moved" "$vroot/usr/sbin/crbpf"
	if [ "$t1" -ne 0 ] && [[ $typo == *ProtectHoem* ]] &&
		[ "$t2" -ne 0 ] && [[ $nobin == *"/usr/sbin/crbpf"* ]]; then
		t_result units-verify-rejects PASS
	else
		t_result units-verify-rejects FAIL "typo: ${typo:-accepted}; binary missing: ${nobin:-accepted}"
	fi
fi

# --- bash completion ------------------------------------------------------------
# complete WORD...: what the installed completion offers for the command
# line WORD... (the last word is the one being completed), one per line, sorted.
complete_line() {
	(
		cd "$d/files" || exit 1
		# shellcheck disable=SC1090
		source "$comp" || exit 1
		COMP_WORDS=("$@")
		COMP_CWORD=$(($# - 1))
		COMP_LINE="$*"
		COMP_POINT=${#COMP_LINE}
		COMPREPLY=()
		_crbpf crbpf "${COMP_WORDS[COMP_CWORD]}" "${COMP_WORDS[COMP_CWORD - 1]}"
		printf '%s\n' "${COMPREPLY[@]}"
	) 2>&1 | sort | tr '\n' ' ' | sed 's/ $//'
}

ifaces() {
	ip -o link show | awk -F': ' '{sub(/@.*/, "", $2); print $2}' | sort | tr '\n' ' ' | sed 's/ $//'
}

mkdir -p "$d/files"
touch "$d/files/crbpf.conf" "$d/files/other.conf"
comp_case() {
	local case=$1 want=$2 got
	shift 2
	got=$(complete_line "$@")
	if [ "$want" = IFACES ]; then
		want=$(ifaces)
		# An interface of a concurrent test may come or go in between.
		[ "$got" = "$want" ] || { got=$(complete_line "$@"); want=$(ifaces); }
	fi
	if [ "$got" = "$want" ]; then
		t_result "$case" PASS
	else
		t_result "$case" FAIL "${*:1:$#-1} '${*: -1}'<TAB>: got '$got', want '$want'"
	fi
}
comp_case completion-command "port" crbpf po
comp_case completion-verbose "port" crbpf -v po
comp_case completion-commands "acl apply attach config detach doctor down flows help home port stats status watch" crbpf ""
comp_case completion-acl "clear list load" crbpf acl ""
comp_case completion-acl-kind "allow deny" crbpf acl load ""
comp_case completion-acl-target "global tcp udp" crbpf acl load deny ""
comp_case completion-port "add del list" crbpf port ""
comp_case completion-port-proto "tcp udp" crbpf port add ""
comp_case completion-attach-iface IFACES crbpf attach ""
comp_case completion-serve-iface IFACES crbpf home attach wgh --serve ""
comp_case completion-mode "auto generic native tc" crbpf attach eth0 --mode ""
comp_case completion-attach-opts "--flows --mode --mss --timeout" crbpf attach eth0 --mode tc ""
comp_case completion-apply-files "crbpf.conf other.conf" crbpf apply ""
comp_case completion-apply-prefix "crbpf.conf" crbpf apply --check cr
comp_case completion-stats-opts "--dev --json --output --prometheus" crbpf stats --

# --- example config -------------------------------------------------------------
# Checked as installed and with every commented-out setting ("#Key = ...",
# "#[Home]") enabled.
ex=$dest/usr/share/doc/crbpf/crbpf.conf.example
sed 's/^#\([A-Za-z[]\)/\1/' "$ex" >"$d/example-all.conf"
if ! "$CRBPF" help 2>/dev/null | grep -q 'crbpf apply'; then
	t_result example-config SKIP "this crbpf has no 'apply' command yet"
elif ! out=$("$CRBPF" apply --check "$ex" 2>&1); then
	t_result example-config FAIL "apply --check $ex: $(head -n1 <<<"$out")"
elif ! out=$("$CRBPF" apply --check "$d/example-all.conf" 2>&1); then
	t_result example-config FAIL "apply --check, every setting enabled: $(head -n1 <<<"$out")"
elif ! grep -q '^\[Home\]' "$d/example-all.conf"; then
	t_result example-config FAIL "the example has no commented-out [Home] section"
else
	t_result example-config PASS
fi

# --- uninstall ------------------------------------------------------------------
# Removes what install put and nothing else: a file of another package in
# the same directories stays.
touch "$dest/usr/sbin/other" "$sd/other.service"
if ! mk uninstall DESTDIR="$dest" PREFIX=/usr >"$d/uninstall.log" 2>&1; then
	t_result uninstall FAIL "make uninstall: $(tail -n1 "$d/uninstall.log")"
else
	left=$(installed "$dest" | tr '\n' ';')
	if [ "$left" != "644 /usr/lib/systemd/system/other.service;644 /usr/sbin/other;" ]; then
		t_result uninstall FAIL "left after uninstall: $left"
	elif [ -e "$dest/usr/share/doc/crbpf" ]; then
		t_result uninstall FAIL "usr/share/doc/crbpf left behind"
	else
		t_result uninstall PASS
	fi
fi
t_done
