#!/usr/bin/env bash
# SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
# Issue 2 case 2: UDP request/response through a mapped port, client address
# preserved. Servers bound to the tunnel addresses (v4, v6), and one bound to
# the wildcard address: its replies take their source from the routing table
# (DESIGN.md: the iptables recipe fails there, crbpf should not).
source "$(dirname "$0")/../lib/common.sh"
t_begin udp
need_crbpf
t_up

serve cr-home udp4 udp $TUN_HOME4 5300 || t_fail "home udp server did not start"
serve cr-home udp6 udp $TUN_HOME6 5300 || t_fail "home udp6 server did not start"
serve cr-home udpwild udp "" 5301 || t_fail "home udp wildcard server did not start"

must "crbpf attach eth0" vps_crbpf attach eth0 >/dev/null
must "crbpf port add udp 5300 10.0.0.2" vps_crbpf port add udp 5300 $TUN_HOME4 >/dev/null
must "crbpf port add udp 5300 [fd00::2]" vps_crbpf port add udp 5300 "[$TUN_HOME6]" >/dev/null
must "crbpf port add udp 5301 10.0.0.2" vps_crbpf port add udp 5301 $TUN_HOME4 >/dev/null
must "crbpf home attach wgh" home_crbpf home attach wgh >/dev/null

hello_case udp-v4 "$CLI4:" peer cr-cli hello --proto udp $VPS4 5300
hello_case udp-v6 "[$CLI6]:" peer cr-cli hello --proto udp $VPS6 5300
hello_case udp-v4-wildcard-listener "$CLI4:" peer cr-cli hello --proto udp $VPS4 5301
t_done
