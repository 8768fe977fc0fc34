#!/usr/bin/env bash
# SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
# Issue 2 case 3: a service in a container behind docker0 (Docker-style DNAT
# 8080 -> 172.17.0.2:80 and MASQUERADE) answers through the tunnel and sees
# the client's real address.
source "$(dirname "$0")/../lib/common.sh"
t_begin container
need_crbpf
t_up

serve cr-ctr ctrtcp tcp "" 80 || t_fail "container tcp server did not start"
serve cr-ctr ctrudp udp "" 80 || t_fail "container udp server did not start"

must "crbpf attach eth0" vps_crbpf attach eth0 >/dev/null
must "crbpf port add tcp 8080 10.0.0.2" vps_crbpf port add tcp 8080 $TUN_HOME4 >/dev/null
must "crbpf port add udp 8080 10.0.0.2" vps_crbpf port add udp 8080 $TUN_HOME4 >/dev/null
must "crbpf home attach wgh --serve docker0" home_crbpf home attach wgh --serve docker0 >/dev/null

hello_case container-tcp "$CLI4:" peer cr-cli hello $VPS4 8080
hello_case container-udp "$CLI4:" peer cr-cli hello --proto udp $VPS4 8080
t_done
