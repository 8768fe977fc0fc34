#!/usr/bin/env bash
# SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
# Baseline: the topology works with the classic iptables recipe (DESIGN.md
# "The problem"). Validates the harness itself; needs no crbpf.
# kernels: skip, it runs the iptables recipe and no crbpf: the harness it validates is the host's
source "$(dirname "$0")/../lib/common.sh"
t_begin baseline
t_up

serve cr-home homesrv tcp "" 8000 || t_fail "home tcp server did not start"
serve cr-home homeudp udp $TUN_HOME4 5300 || t_fail "home udp server did not start"
serve cr-ctr ctrsrv tcp "" 80 || t_fail "container server did not start"
serve cr-cli clisrv tcp "" 9000 || t_fail "client-side server did not start"

recipe_vps_map tcp 8000 $TUN_HOME4 $TUN_HOME6 &&
	recipe_vps_map udp 5300 $TUN_HOME4 &&
	recipe_vps_map tcp 8080 $TUN_HOME4 &&
	recipe_home_up || t_fail "iptables recipe setup failed"

expect_hello "tcp v4 via recipe" "$CLI4:" peer cr-cli hello $VPS4 8000
expect_hello "tcp v6 via recipe" "[$CLI6]:" peer cr-cli hello $VPS6 8000
expect_hello "udp v4 via recipe" "$CLI4:" peer cr-cli hello --proto udp $VPS4 5300
expect_hello "container via recipe" "$CLI4:" peer cr-cli hello $VPS4 8080
expect_hello "home outbound via ISP line" "$RTR_CLI4:" peer cr-home hello $CLI4 9000
nsx cr-cli ping -c1 -W2 $VPS4 >/dev/null || t_fail "ping VPS v4"
t_pass
