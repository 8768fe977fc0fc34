#!/usr/bin/env bash
# SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
# Installs the Debian packages crbpf builds and tests with, when missing, and
# mounts bpffs. Idempotent; needs root.
set -euo pipefail

pkgs=(clang llvm make gcc libc6-dev pkg-config libbpf-dev bpftool libelf-dev
      zlib1g-dev libmnl-dev iproute2 iptables nftables ethtool wireguard-go
      wireguard-tools socat python3 kmod util-linux procps coreutils iputils-ping
      dnsmasq-base bind9-dnsutils netsniff-ng tcpdump python3-prometheus-client
      systemd strace libclang-rt-dev)
# libclang-rt-dev: libFuzzer and the ASan/UBSan runtimes of the default clang
# (the parser fuzzers, make fuzz-bins).

# Optional extra sets: `deps.sh arm64` (cross build, multiarch -dev
# packages), `deps.sh kernels` (make test-kernels: qemu, busybox, cpio).
arch_add=
for set in "$@"; do
	case "$set" in
	arm64)
		arch_add=arm64
		pkgs+=(gcc-aarch64-linux-gnu libc6-dev-arm64-cross file libbpf-dev:arm64
		       libelf-dev:arm64 zlib1g-dev:arm64 libmnl-dev:arm64) ;;
	kernels)
		pkgs+=(qemu-system-x86 busybox-static cpio gzip kmod) ;;
	*) echo "deps: unknown set '$set' (arm64, kernels)" >&2; exit 2 ;;
	esac
done

if [ "$(id -u)" -ne 0 ]; then
	echo "deps: needs root (apt-get, mount)" >&2
	exit 1
fi

missing=()
for p in "${pkgs[@]}"; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' ||
		missing+=("$p")
done
if [ "${#missing[@]}" -gt 0 ]; then
	echo "deps: installing ${missing[*]}"
	export DEBIAN_FRONTEND=noninteractive
	if [ -n "$arch_add" ] && ! dpkg --print-foreign-architectures | grep -qx "$arch_add"; then
		dpkg --add-architecture "$arch_add"
	fi
	apt-get update -qq
	# --no-install-recommends: wireguard-tools would otherwise pull a kernel.
	apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

if ! mountpoint -q /sys/fs/bpf; then
	# 0700: on a bpffs mounted without a mode (1777) any user can make
	# directories where crbpf keeps its pins.
	mount -t bpf -o mode=0700 bpf /sys/fs/bpf
fi
