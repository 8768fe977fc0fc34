#!/bin/bash
# SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
# Runs inside the test guest, chrooted into the host's root (read-only 9p +
# tmpfs overlay); copied into the results share by tests/kernels/run.sh,
# whose environment arrives in env. Writes run.log and rc there.
R=/crbpf-results
# shellcheck source=/dev/null
source $R/env
export PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
export HOME=/root LANG=C.UTF-8
cd "$CR_ROOT" || { echo 125 >$R/rc; exit 1; }
if [ -n "${GUEST_CMD:-}" ]; then
	# CRBPF_KERNEL_CMD (debugging): one command instead of the suite.
	bash -c "$GUEST_CMD" >$R/run.log 2>&1
	echo $? >$R/rc
	sync
	exit 0
fi
{
	echo "kernel $(uname -r), $(nproc) CPUs"
	echo "wireguard module: $(cat /sys/module/wireguard/version 2>/dev/null || echo missing)"
	# shellcheck disable=SC2086
	# The packet fuzzer briefly (TCG is slow, CI time tight), the parser
	# fuzzers not at all (no kernel code in them). 26_ranges' time bound
	# is for real CPUs: under emulation it checks only that ranges work.
	# CRBPF_EMULATED: the files' cut-down runs (tests/lib/common.sh); the
	# unit tests last, when the guest has been up long enough for their
	# flow cases (instead of waiting for that).
	CRBPF_FUZZ_PACKETS_SECONDS=${CRBPF_FUZZ_PACKETS_SECONDS:-5} CRBPF_FUZZ_CONF_SECONDS=0 \
		RANGE_MAX_S=${RANGE_MAX_S:-120} \
		CRBPF_WG=kernel CRBPF_EMULATED=1 bash tests/run.sh --unit-last $RUN_ARGS
	echo $? >$R/rc
} >$R/run.log 2>&1
sync
