#!/usr/bin/env bash
# SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
# Installs the Debian packages crbpf builds and tests with, when missing, and
# mounts bpffs. Idempotent; needs root.
set -euo pipefail

pkgs=(clang llvm make gcc libc6-dev pkg-config libbpf-dev bpftool libelf-dev
      zlib1g-dev libmnl-dev iproute2 iptables nftables ethtool wireguard-go
      wireguard-tools socat python3 kmod util-linux procps coreutils iputils-ping)

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
	apt-get update -qq
	# --no-install-recommends: wireguard-tools would otherwise pull a kernel.
	apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

if ! mountpoint -q /sys/fs/bpf; then
	mount -t bpf bpf /sys/fs/bpf
fi
