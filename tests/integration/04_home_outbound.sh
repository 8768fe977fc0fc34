#!/usr/bin/env bash
# SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
# Issue 2 case 4: with crbpf home attached (and tunnelled flows live), the home
# host's and the container's own outbound traffic still leaves through the
# ISP line: a server on the "internet" sees the CGNAT address 198.51.100.1.
source "$(dirname "$0")/../lib/common.sh"
t_begin home-outbound
need_crbpf
t_up

serve cr-home homesrv tcp "" 8000 || t_fail "home server did not start"
serve cr-ctr ctrsrv tcp "" 80 || t_fail "container server did not start"
serve cr-cli clitcp tcp "" 9000 || t_fail "client-side tcp server did not start"
serve cr-cli cliudp udp "" 9001 || t_fail "client-side udp server did not start"

must "crbpf attach eth0" vps_crbpf attach eth0 >/dev/null
must "crbpf port add tcp 8000 10.0.0.2" vps_crbpf port add tcp 8000 $TUN_HOME4 >/dev/null
must "crbpf port add tcp 8080 10.0.0.2" vps_crbpf port add tcp 8080 $TUN_HOME4 >/dev/null
must "crbpf home attach wgh --serve docker0" home_crbpf home attach wgh --serve docker0 >/dev/null

# Tunnelled flows first, so crbpf has learned the client's endpoints.
expect_hello "tunnelled request to home" "$CLI4:" peer cr-cli hello $VPS4 8000
expect_hello "tunnelled request to container" "$CLI4:" peer cr-cli hello $VPS4 8080

hello_case home-outbound-tcp "$RTR_CLI4:" peer cr-home hello $CLI4 9000
hello_case home-outbound-udp "$RTR_CLI4:" peer cr-home hello --proto udp $CLI4 9001
hello_case container-outbound-tcp "$RTR_CLI4:" peer cr-ctr hello $CLI4 9000
dev=$(nsx cr-home ip route get $CLI4 | grep -o 'dev [^ ]*')
if [ "$dev" = "dev eth0" ]; then
	t_result home-outbound-route PASS
else
	t_result home-outbound-route FAIL "ip route get $CLI4 on home says '$dev', want dev eth0"
fi
t_done
