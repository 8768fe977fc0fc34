#!/usr/bin/env bash
# SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
# Issue 2 case 1: TCP to a mapped VPS port reaches the home host's own
# service, which sees the client's real address; the reply completes the
# connection. IPv4 and IPv6, a wildcard listener and one bound to the tunnel
# address behind a translated port, and a port range.
source "$(dirname "$0")/../lib/common.sh"
t_begin tcp
need_crbpf
t_up

serve cr-home wild tcp "" 8000 || t_fail "home server did not start"
serve cr-home bound tcp $TUN_HOME4 8001 || t_fail "home server did not start"
serve cr-home range tcp "" 9101 || t_fail "home server did not start"

must "crbpf attach eth0" vps_crbpf attach eth0 >/dev/null
must "crbpf port add tcp 8000 10.0.0.2" vps_crbpf port add tcp 8000 $TUN_HOME4 >/dev/null
must "crbpf port add tcp 8000 [fd00::2]" vps_crbpf port add tcp 8000 "[$TUN_HOME6]" >/dev/null
must "crbpf port add tcp 8022 10.0.0.2:8001" vps_crbpf port add tcp 8022 $TUN_HOME4:8001 >/dev/null
must "crbpf port add tcp 8100-8102 10.0.0.2:9100" vps_crbpf port add tcp 8100-8102 $TUN_HOME4:9100 >/dev/null
must "crbpf home attach wgh" home_crbpf home attach wgh >/dev/null

hello_case tcp-v4 "$CLI4:" peer cr-cli hello $VPS4 8000
hello_case tcp-v6 "[$CLI6]:" peer cr-cli hello $VPS6 8000
hello_case tcp-v4-bound-translated "$CLI4:" peer cr-cli hello $VPS4 8022
# 8100-8102 -> 9100-9102: the middle port lands on 9101.
HELLO_TAG=range hello_case tcp-v4-range "$CLI4:" peer cr-cli hello $VPS4 8101
t_done
