// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * Home cases: crbpf_home_tun learns the remote endpoint of flows arriving
 * through the tunnel (wgh); crbpf_home_srv marks replies to learned endpoints
 * on the served bridge (docker0). Both always return TC_ACT_UNSPEC and never
 * change packet bytes. crbpf_home_tun sees bare IP (wg is layer 3): it gets
 * l3only frames from L3SRC*_CLI sources (see unit.h); crbpf_home_srv gets
 * Ethernet frames as a bridge delivers them. Cases build on each other in
 * table order (home_srv_* answers endpoints home_tun_* learned).
 */
#include <netinet/in.h>
#include <linux/pkt_cls.h>
#include "unit.h"

#define TCP4(s, sp, d, dp) .family = 4, .proto = IPPROTO_TCP, .src = (s), \
	.sport = (sp), .dst = (d), .dport = (dp)
#define UDP4(s, sp, d, dp) .family = 4, .proto = IPPROTO_UDP, .src = (s), \
	.sport = (sp), .dst = (d), .dport = (dp)
#define TCP6(s, sp, d, dp) .family = 6, .proto = IPPROTO_TCP, .src = (s), \
	.sport = (sp), .dst = (d), .dport = (dp)
#define UDP6(s, sp, d, dp) .family = 6, .proto = IPPROTO_UDP, .src = (s), \
	.sport = (sp), .dst = (d), .dport = (dp)

#define HTUN .dev = DEV_HTUN
#define SRV .dev = DEV_SRV
#define CTR4 "172.17.0.2"
#define CTR6 "fd00:17::2"
#define HOME4 "10.0.0.2"
#define HOME6 "2001:db8:10::2"
#define L3 .l3only = true

const struct tcase home_cases[] = {
	{ "home_tun_v4_tcp_learn", P_HOME_TUN, { HTUN, TCP4(L3SRC4_CLI, 41000, HOME4, 8080), L3 },
	  TC_ACT_UNSPEC, .st = { ST(CRBPF_ST_HOME_LEARN, 1) }, .learn = 1 },
	{ "home_tun_v4_udp_learn", P_HOME_TUN, { HTUN, UDP4(L3SRC4_CLI, 41001, HOME4, 53), L3 },
	  TC_ACT_UNSPEC, .st = { ST(CRBPF_ST_HOME_LEARN, 1) }, .learn = 1 },
	{ "home_tun_v6_tcp_learn", P_HOME_TUN, { HTUN, TCP6(L3SRC6_CLI, 41002, HOME6, 443), L3 },
	  TC_ACT_UNSPEC, .st = { ST(CRBPF_ST_HOME_LEARN, 1) }, .learn = 1 },
	{ "home_tun_v6_udp_learn", P_HOME_TUN, { HTUN, UDP6(L3SRC6_CLI, 41003, HOME6, 5000), L3 },
	  TC_ACT_UNSPEC, .learn = 1 },
	{ "home_tun_v4_opts_learn", P_HOME_TUN,
	  { HTUN, TCP4("8.0.113.30", 41004, HOME4, 80), L3, .opt_words = 5 },
	  TC_ACT_UNSPEC, .learn = 1 },
	{ "home_tun_icmp", P_HOME_TUN,
	  { HTUN, .family = 4, .proto = IPPROTO_ICMP, .src = L3SRC4_CLI, .dst = HOME4, L3 },
	  TC_ACT_UNSPEC, .learn = -1 },
	{ "home_tun_trunc_tcp", P_HOME_TUN,
	  { HTUN, TCP4("8.0.113.31", 41005, HOME4, 80), L3, .cut = CUT_L4,
	    .cut_len = 15 },
	  TC_ACT_UNSPEC, .learn = -1 },

	{ "home_srv_v4_mark", P_HOME_SRV, { SRV, TCP4(CTR4, 8080, L3SRC4_CLI, 41000) },
	  TC_ACT_UNSPEC, .st = { ST(CRBPF_ST_HOME_MARK, 1) }, .check_mark = true,
	  .mark_out = CRBPF_HOME_MARK_DEFAULT,
	  .note = "reply to the endpoint home_tun_v4_tcp_learn learned" },
	{ "home_srv_v4_udp_mark", P_HOME_SRV, { SRV, UDP4(CTR4, 53, L3SRC4_CLI, 41001) },
	  TC_ACT_UNSPEC, .check_mark = true, .mark_out = CRBPF_HOME_MARK_DEFAULT },
	{ "home_srv_v6_mark", P_HOME_SRV, { SRV, TCP6(CTR6, 443, L3SRC6_CLI, 41002) },
	  TC_ACT_UNSPEC, .check_mark = true, .mark_out = CRBPF_HOME_MARK_DEFAULT },
	{ "home_srv_unlearned", P_HOME_SRV, { SRV, TCP4(CTR4, 80, CLI4, 41999) },
	  TC_ACT_UNSPEC, .mark_in = 0x50, .check_mark = true, .mark_out = 0x50,
	  .note = "unknown endpoint: mark left as it was" },
	{ "home_srv_wrong_proto", P_HOME_SRV, { SRV, UDP4(CTR4, 8080, L3SRC4_CLI, 41000) },
	  TC_ACT_UNSPEC, .check_mark = true, .mark_out = 0,
	  .note = "41000 was learned for TCP, not UDP" },
	{ "home_srv_src_only", P_HOME_SRV, { SRV, TCP4(L3SRC4_CLI, 41000, CTR4, 8080) },
	  TC_ACT_UNSPEC, .check_mark = true, .mark_out = 0,
	  .note = "learned endpoint as source is no reply" },
	{ "home_srv_custom_mark", P_HOME_SRV_MARK, { SRV, TCP4(CTR4, 80, CLI4, 41010) },
	  TC_ACT_UNSPEC, .add_hflow = true, .check_mark = true, .mark_out = HOME_MARK2,
	  .note = "object loaded with rodata home_mark = 0xcb" },
};

const int n_home_cases = sizeof(home_cases) / sizeof(home_cases[0]);
