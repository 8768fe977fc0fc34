#!/usr/bin/env bash
# SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
# make test-kernels: for every kernel package in tests/kernels/list, fetch it
# with apt (cached in $CRBPF_KERNEL_CACHE), build a small initramfs (busybox
# + the closure of tests/kernels/modules), boot it under qemu TCG with the
# host's root shared read-only over 9p, and run tests/run.sh inside with the
# kernel's WireGuard. Prints the guest's result lines prefixed with the
# kernel release ("[6.1.0-56-amd64/integration/tcp-v4] PASS") and ends with
# one line "N passed, N failed, N skipped". Needs root, qemu-system-x86,
# busybox-static (make test-kernels installs them) and a built tree (make all).
#
# Arguments: substrings selecting test files, as for tests/run.sh (default:
# all but the benchmark smoke test); --no-unit skips the unit tests.
# Environment: CRBPF_KERNEL_CACHE (default /var/cache/crbpf-kernels),
# CRBPF_KERNEL_LIST (default tests/kernels/list), CRBPF_KERNEL_SMP (2),
# CRBPF_KERNEL_MEM (MB, 4096), CRBPF_KERNEL_TIMEOUT (s per kernel, 3600),
# CRBPF_KERNEL_CPU (qemu -cpu, qemu64), CRBPF_KERNEL_CMD (debugging: run this
# command in the guest instead of the suite),
# CRBPF_KERNEL_KEEP=1 keeps the result directory of passing kernels.
set -u
cd "$(dirname "$0")/../.." || exit 1
CR_ROOT=$(pwd)
KDIR=$CR_ROOT/tests/kernels
CACHE=${CRBPF_KERNEL_CACHE:-/var/cache/crbpf-kernels}
LIST=${CRBPF_KERNEL_LIST:-$KDIR/list}
SMP=${CRBPF_KERNEL_SMP:-2}
MEM=${CRBPF_KERNEL_MEM:-4096}
TMO=${CRBPF_KERNEL_TIMEOUT:-3600}

pass=0
fail=0
skip=0
t_start=$(date +%s)

result() { # NAME PASS|FAIL|SKIP [REASON]
	echo "[$1] $2"
	[ -n "${3:-}" ] && echo "    $3"
	case "$2" in
	PASS) pass=$((pass + 1)) ;;
	FAIL) fail=$((fail + 1)) ;;
	SKIP) skip=$((skip + 1)) ;;
	esac
}

for tool in qemu-system-x86_64 /bin/busybox depmod modprobe cpio gzip apt-get dpkg-deb; do
	if ! command -v "$tool" >/dev/null; then
		result kernels/setup FAIL "$tool missing (make test-kernels installs it)"
		echo "$pass passed, $fail failed, $skip skipped"
		exit 1
	fi
done
# The checkout's path travels on the kernel command line (see init).
case "$CR_ROOT" in
*[[:space:]]* | /dev/* | /proc/* | /sys/*)
	result kernels/setup FAIL "the checkout's path ($CR_ROOT) must have no spaces and not be under /dev, /proc or /sys"
	echo "$pass passed, $fail failed, $skip skipped"
	exit 1 ;;
esac
if [ ! -x build/crbpf ] || [ ! -x build/unit_tests ]; then
	result kernels/setup FAIL "build/crbpf not built (make all)"
	echo "$pass passed, $fail failed, $skip skipped"
	exit 1
fi

# What runs in the guest: every test file but the benchmark smoke test
# (packet rates under instruction emulation say nothing, and its three
# benchmark rounds would take most of an hour there) and files that test
# nothing of the kernel (a line "# kernels: skip, REASON" in the file: an
# install into a directory, a parser) -- emulation would only make CI slower.
run_args=()
not_run=() # "NAME REASON" of the files marked "# kernels: skip"
no_bench=1
for a in "$@"; do
	run_args+=("$a")
	[ "$a" = --no-unit ] || no_bench=0
done
if [ "$no_bench" = 1 ]; then
	for t in tests/integration/*.sh; do
		b=$(basename "$t" .sh)
		[ "$b" = bench_smoke ] && continue
		if grep -q '^# kernels: skip' "$t"; then
			not_run+=("$b $(sed -n 's/^# kernels: skip, *//p' "$t" | head -n1)")
			continue
		fi
		run_args+=("$b")
	done
fi

# Test 10 builds a clsact-only crbpf; build it here so the guest's make
# finds it up to date instead of compiling under emulation.
CFLAGS="-O2 -g -DCRBPF_FORCE_CLSACT" make -s --no-print-directory OUT=build/clsact \
	build/clsact/crbpf >/dev/null 2>&1 ||
	echo "kernels: prebuilding build/clsact failed; test 10 will build in the guest"

# pkg_resolve PKG: a meta-package's linux-image-* dependency, else PKG.
pkg_resolve() {
	local dep
	dep=$(apt-cache depends "$1" 2>/dev/null | awk '$1 == "Depends:" && $2 ~ /^linux-image-/ {print $2; exit}')
	echo "${dep:-$1}"
}

# prepare PKG: fetch + extract the package and build its initramfs, in
# $CACHE/PKG; sets kver, kroot, initrd. Reuses what is already there.
prepare() {
	local pkg=$1 dir=$CACHE/$1 deb stamp m line path n staging
	mkdir -p "$dir" || return 1
	deb=$(ls -t "$CACHE/${pkg}_"*.deb 2>/dev/null | head -n1)
	if [ -z "$deb" ]; then
		(cd "$CACHE" && apt-get download "$pkg" 2>&1 | grep -v '^W: Download is performed unsandboxed') >&2
		deb=$(ls -t "$CACHE/${pkg}_"*.deb 2>/dev/null | head -n1)
		[ -n "$deb" ] || { echo "apt-get download $pkg failed"; return 1; }
	fi
	kroot=$dir/root
	if [ "$(cat "$dir/extracted" 2>/dev/null)" != "$deb" ]; then
		rm -rf "$kroot" "$dir/extracted" "$dir/initrd.stamp"
		dpkg-deb -x "$deb" "$kroot" || { echo "dpkg-deb -x $deb failed"; return 1; }
		kver=$(ls "$kroot/lib/modules" | head -n1)
		# The package ships no modules.dep (its postinst runs depmod).
		depmod -b "$kroot" "$kver" || { echo "depmod failed"; return 1; }
		echo "$deb" >"$dir/extracted"
	fi
	kver=$(ls "$kroot/lib/modules" | head -n1)
	[ -f "$kroot/boot/vmlinuz-$kver" ] || { echo "no vmlinuz-$kver in $deb"; return 1; }
	initrd=$dir/initrd.gz
	stamp=$(cat "$KDIR/init" "$KDIR/modules" /bin/busybox | md5sum | cut -d' ' -f1)
	[ -f "$initrd" ] && [ "$(cat "$dir/initrd.stamp" 2>/dev/null)" = "$stamp" ] && return 0

	staging=$(mktemp -d /tmp/crbpf-initrd.XXXXXX)
	mkdir -p "$staging/bin" "$staging/etc" "$staging/lib/modules/$kver"
	cp /bin/busybox "$staging/bin/busybox" && cp "$KDIR/init" "$staging/init" &&
		chmod 755 "$staging/init" || return 1
	: >"$staging/etc/crbpf-modules"
	n=0
	for m in $(sed 's/#.*//' "$KDIR/modules"); do
		# modprobe --show-depends: the closure in load order, or "builtin".
		if ! line=$(modprobe -d "$kroot" -S "$kver" --show-depends "$m" 2>/dev/null); then
			echo "kernels: $kver has no module $m (skipped)" >&2
			continue
		fi
		grep -q '^insmod ' <<<"$line" || continue
		while read -r _ path _; do
			path=${path#"$kroot"}
			[ -f "$staging$path" ] && continue
			mkdir -p "$staging${path%/*}" && cp "$kroot$path" "$staging$path" && n=$((n + 1))
		done < <(grep '^insmod ' <<<"$line")
		echo "$m" >>"$staging/etc/crbpf-modules"
	done
	cp "$kroot/lib/modules/$kver/"modules.{order,builtin,builtin.modinfo} \
		"$staging/lib/modules/$kver/" 2>/dev/null
	depmod -b "$staging" "$kver" || return 1
	(cd "$staging" && find . | cpio -o -H newc --quiet | gzip -1) >"$initrd.tmp" &&
		mv "$initrd.tmp" "$initrd" || return 1
	echo "kernels: $kver initramfs: $n modules, $(du -k "$initrd" | cut -f1) KiB" >&2
	rm -rf "$staging"
	echo "$stamp" >"$dir/initrd.stamp"
}

# run_kernel PKG: boot it, run the suite, report with the release as prefix.
run_kernel() {
	local pkg=$1 res t0 t1 line name st rc
	t0=$(date +%s)
	res=$(mktemp -d /tmp/crbpf-kernel.XXXXXX)
	if ! prepare "$pkg" >"$res/prepare.log"; then
		result "$pkg/setup" FAIL "$(tail -n1 "$res/prepare.log")"
		return
	fi
	cp "$KDIR/guest.sh" "$res/guest.sh"
	{
		printf 'CR_ROOT=%q\n' "$CR_ROOT"
		printf 'RUN_ARGS=%q\n' "${run_args[*]}"
		printf 'GUEST_CMD=%q\n' "${CRBPF_KERNEL_CMD:-}"
		printf 'export CRBPF_TEST_TIMES=1 CRBPF_TEST_TIMEOUT=%q\n' "${CRBPF_TEST_TIMEOUT:-900}"
	} >"$res/env"
	t1=$(date +%s)
	echo "kernels: booting $kver ($pkg) under qemu TCG, -smp $SMP (setup $((t1 - t0)) s)"
	# -cpu qemu64, not max: with max, glibc picks AVX2 string functions that
	# TCG runs through helpers, and every process start is ~3x slower.
	timeout -k 10 "$TMO" qemu-system-x86_64 -accel tcg,thread=multi -cpu "${CRBPF_KERNEL_CPU:-qemu64}" \
		-smp "$SMP" -m "$MEM" -display none -no-reboot -nic none -monitor none \
		-serial "file:$res/console.log" \
		-kernel "$kroot/boot/vmlinuz-$kver" -initrd "$initrd" \
		-append "console=ttyS0 panic=-1 quiet mitigations=off crbpf_root=$CR_ROOT" \
		-virtfs local,path=/,mount_tag=hostroot,security_model=none,readonly=on,multidevs=remap \
		-virtfs "local,path=$CR_ROOT,mount_tag=checkout,security_model=none,readonly=on,multidevs=remap" \
		-virtfs "local,path=$res,mount_tag=results,security_model=none" \
		</dev/null >"$res/qemu.log" 2>&1
	rc=$?
	while IFS= read -r line; do
		if [[ "$line" =~ ^\[([^]]+)\]\ (PASS|FAIL|SKIP)([[:space:]]|$) ]]; then
			name=${BASH_REMATCH[1]} st=${BASH_REMATCH[2]}
			echo "[$kver/$name] $st${line#*"] $st"}"
			case "$st" in
			PASS) pass=$((pass + 1)) ;;
			FAIL) fail=$((fail + 1)) ;;
			SKIP) skip=$((skip + 1)) ;;
			esac
		elif [[ "$line" =~ ^[0-9]+\ passed,\ [0-9]+\ failed,\ [0-9]+\ skipped$ ]]; then
			echo "    (in the guest: $line)"
		else
			printf '%s\n' "$line"
		fi
	done < <(cat "$res/run.log" 2>/dev/null)
	if [ "$no_bench" = 1 ]; then
		result "$kver/integration/bench_smoke" SKIP \
			"not run under emulation (rates meaningless; make test runs it)"
		for line in "${not_run[@]}"; do
			result "$kver/integration/${line%% *}" SKIP \
				"not run under emulation (make test runs it): ${line#* }"
		done
	fi
	if [ ! -f "$res/rc" ]; then
		result "$kver/boot" FAIL "the guest did not finish (qemu exit $rc$([ "$rc" = 124 ] && echo ", timeout ${TMO} s")); console: $res/console.log"
		tail -n 15 "$res/console.log" 2>/dev/null | sed 's/^/    | /'
	elif [ "$(cat "$res/rc")" != 0 ] && ! grep -q '] FAIL' "$res/run.log"; then
		result "$kver/suite" FAIL "tests/run.sh exited $(cat "$res/rc") in the guest; logs: $res"
	fi
	echo "kernels: $kver done in $(($(date +%s) - t0)) s"
	if [ "$fail" -eq 0 ] && [ "${CRBPF_KERNEL_KEEP:-0}" != 1 ]; then
		rm -rf "$res"
	else
		echo "kernels: results and console log in $res"
	fi
}

while read -r pkg _; do
	case "$pkg" in '' | '#'*) continue ;; esac
	run_kernel "$(pkg_resolve "$pkg")"
done < <(sed 's/#.*//' "$LIST")

echo
echo "kernels runtime: $(($(date +%s) - t_start)) s"
echo "$pass passed, $fail failed, $skip skipped"
[ "$fail" -eq 0 ]
