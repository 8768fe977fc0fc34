// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * Home cases: crbpf_home_tun learns the remote endpoint of flows arriving
 * through the tunnel (wgh); crbpf_home_srv marks replies to learned endpoints
 * on the served bridge (docker0). Both always return TC_ACT_UNSPEC and never
 * change packet bytes. crbpf_home_tun sees bare IP (wg is layer 3): it gets
 * l3only frames from L3SRC*_CLI sources (see unit.h); crbpf_home_srv gets
 * Ethernet frames as a bridge delivers them. Cases build on each other in
 * table order (home_srv_* answers endpoints home_tun_* learned).
 *
 * crbpf_home_out (egress of the home line line0, Ethernet) moves a UDP reply
 * that a wildcard-bound service sent from the ISP address into the tunnel:
 * reply to a learned endpoint, learned on wgh (rodata tun_ifindex), from the
 * port the flow arrived on (hflow local_port) -> source = tunnel address of
 * its family, verdict TC_ACT_REDIRECT (bpf_redirect to wgh). Everything else
 * leaves untouched with TC_ACT_UNSPEC. Its objects share crbpf_hflows with
 * crbpf_home_tun's, so home_out_v4/v6_reroute answer what home_tun_* learned.
 */
#include <netinet/in.h>
#include <linux/pkt_cls.h>
#include "unit.h"


#define HTUN .dev = DEV_HTUN
#define SRV .dev = DEV_SRV
#define CTR4 "172.17.0.2"
#define CTR6 "fd00:17::2"
#define HOME4 "10.0.0.2"
#define HOME6 "2001:db8:10::2"
#define L3 .l3only = true
#define ICMP4_ERR(s, d, t, c) .family = 4, .proto = IPPROTO_ICMP, .src = (s), \
	.dst = (d), .icmp_type = (t), .icmp_code = (c)
#define ICMP6_ERR(s, d, t, c) .family = 6, .proto = IPPROTO_ICMPV6, .src = (s), \
	.dst = (d), .icmp_type = (t), .icmp_code = (c)
#define QUOTE(...) .inner = &(const struct pkt_spec){ __VA_ARGS__ }
#define LINE .dev = DEV_LINE
/* rewritten: only the source address changes; counted; redirected to wgh */
#define REROUTE(to) TC_ACT_REDIRECT, .x = X_SRC, .to_addr = (to), \
	.st = { ST(CRBPF_ST_HOME_REROUTE, 1), ST(CRBPF_ST_DROP_ERROR, 0) }, \
	.learn = -1
/* untouched: same bytes, TC_ACT_UNSPEC, nothing counted as rerouted */
#define LEAVE TC_ACT_UNSPEC, \
	.st = { ST(CRBPF_ST_HOME_REROUTE, 0), ST(CRBPF_ST_DROP_ERROR, 0) }, \
	.learn = -1

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
	/* an ICMP error the container sends about a tunnelled flow */
	{ "home_srv_icmp4_mark", P_HOME_SRV,
	  { SRV, ICMP4_ERR(CTR4, L3SRC4_CLI, 3, 3), .quote_len = -1,
	    QUOTE(UDP4(L3SRC4_CLI, 41001, CTR4, 53)) },
	  TC_ACT_UNSPEC, .st = { ST(CRBPF_ST_HOME_MARK, 1) }, .check_mark = true,
	  .mark_out = CRBPF_HOME_MARK_DEFAULT,
	  .note = "port unreachable quoting the flow home_tun_v4_udp_learn learned" },
	{ "home_srv_icmp6_mark", P_HOME_SRV,
	  { SRV, ICMP6_ERR(CTR6, L3SRC6_CLI, 1, 4), QUOTE(TCP6(L3SRC6_CLI, 41002, CTR6, 443)) },
	  TC_ACT_UNSPEC, .check_mark = true, .mark_out = CRBPF_HOME_MARK_DEFAULT },
	{ "home_srv_icmp4_unlearned", P_HOME_SRV,
	  { SRV, ICMP4_ERR(CTR4, CLI4, 3, 3), QUOTE(UDP4(CLI4, 41999, CTR4, 53)) },
	  TC_ACT_UNSPEC, .check_mark = true, .mark_out = 0 },
	{ "home_srv_icmp4_quote_not_dst", P_HOME_SRV,
	  { SRV, ICMP4_ERR(CTR4, CLI4, 3, 3), QUOTE(UDP4(L3SRC4_CLI, 41001, CTR4, 53)) },
	  TC_ACT_UNSPEC, .check_mark = true, .mark_out = 0,
	  .note = "learned endpoint quoted, but the error goes elsewhere" },
	{ "home_srv_icmp4_echo", P_HOME_SRV, { SRV, .family = 4, .proto = IPPROTO_ICMP,
	  .src = CTR4, .dst = L3SRC4_CLI }, TC_ACT_UNSPEC, .check_mark = true, .mark_out = 0 },
	{ "home_srv_custom_mark", P_HOME_SRV_MARK, { SRV, TCP4(CTR4, 80, CLI4, 41010) },
	  TC_ACT_UNSPEC, .add_hflow = true, .check_mark = true, .mark_out = HOME_MARK2,
	  .note = "object loaded with rodata home_mark = 0xcb" },

	/* crbpf_home_out: replies leaving through the ISP line */
	{ "home_out_v4_reroute", P_HOME_OUT, { LINE, UDP4(LINE4, 53, L3SRC4_CLI, 41001) },
	  REROUTE(HTUN4),
	  .note = "reply to the endpoint home_tun_v4_udp_learn learned on port 53" },
	{ "home_out_v6_reroute", P_HOME_OUT, { LINE, UDP6(LINE6, 5000, L3SRC6_CLI, 41003) },
	  REROUTE(HTUN6),
	  .note = "reply to the endpoint home_tun_v6_udp_learn learned on port 5000" },
	{ "home_out_v4_csum0", P_HOME_OUT,
	  { LINE, UDP4(LINE4, 5353, CLI4, 42000), .csum0 = true },
	  REROUTE(HTUN4), .add_hflow = true,
	  .note = "IPv4 UDP without checksum: the field stays 0" },
	{ "home_out_v4_opts", P_HOME_OUT,
	  { LINE, UDP4(LINE4, 123, CLI4, 42001), .opt_words = 3 },
	  REROUTE(HTUN4), .add_hflow = true },
	{ "home_out_v4_udp_ffff", P_HOME_OUT, { LINE, UDP4(LINE4, 1194, CLI4, 42002) },
	  REROUTE(HTUN4), .add_hflow = true, .udp_ffff = true,
	  .note = "rewritten checksum computes to 0: must go out as 0xffff" },
	{ "home_out_v6_udp_ffff", P_HOME_OUT, { LINE, UDP6(LINE6, 1194, CLI6, 42003) },
	  REROUTE(HTUN6), .add_hflow = true, .udp_ffff = true,
	  .note = "rewritten checksum computes to 0: must go out as 0xffff" },
	/* skb->csum must stay consistent: the kernel recomputes it after the run */
	{ "home_out_v4_csum_complete", P_HOME_OUT, { LINE, UDP4(LINE4, 53, CLI4, 42010) },
	  REROUTE(HTUN4), .add_hflow = true, .csum_complete = true },
	{ "home_out_v6_csum_complete", P_HOME_OUT, { LINE, UDP6(LINE6, 5000, CLI6, 42010) },
	  REROUTE(HTUN6), .add_hflow = true, .csum_complete = true },
	{ "home_out_v4_csum0_complete", P_HOME_OUT,
	  { LINE, UDP4(LINE4, 5353, CLI4, 42011), .csum0 = true },
	  REROUTE(HTUN4), .add_hflow = true, .csum_complete = true },
	{ "home_out_v6_ffff_complete", P_HOME_OUT, { LINE, UDP6(LINE6, 1194, CLI6, 42012) },
	  REROUTE(HTUN6), .add_hflow = true, .udp_ffff = true, .csum_complete = true },
	{ "home_out_v4_wrong_sport", P_HOME_OUT, { LINE, UDP4(LINE4, 54, CLI4, 42004) },
	  LEAVE, .add_hflow = true, .hflow_lport = 53,
	  .note = "flow arrived on port 53: a reply from 54 is another socket's" },
	{ "home_out_v6_wrong_sport", P_HOME_OUT, { LINE, UDP6(LINE6, 5001, CLI6, 42005) },
	  LEAVE, .add_hflow = true, .hflow_lport = 5000 },
	{ "home_out_unlearned", P_HOME_OUT, { LINE, UDP4(LINE4, 53, CLI4, 42999) },
	  LEAVE, .note = "endpoint never came through the tunnel" },
	{ "home_out_v6_unlearned", P_HOME_OUT, { LINE, UDP6(LINE6, 5000, CLI6, 42999) },
	  LEAVE },
	{ "home_out_tcp", P_HOME_OUT, { LINE, TCP4(LINE4, 80, CLI4, 42006) },
	  LEAVE, .add_hflow = true,
	  .note = "TCP endpoint learned with this very port: TCP is never rerouted" },
	{ "home_out_tcp_learned", P_HOME_OUT, { LINE, TCP4(LINE4, 8080, L3SRC4_CLI, 41000) },
	  LEAVE, .note = "endpoint home_tun_v4_tcp_learn learned on 8080: TCP stays" },
	{ "home_out_icmp", P_HOME_OUT,
	  { LINE, .family = 4, .proto = IPPROTO_ICMP, .src = LINE4, .dst = L3SRC4_CLI },
	  LEAVE },
	/* ICMP errors this host sends about tunnelled packets it forwards */
	{ "home_out_icmp4_frag_needed", P_HOME_OUT,
	  { LINE, ICMP4_ERR(LINE4, L3SRC4_CLI, 3, 4), .icmp_info = 1300, .quote_len = -1,
	    QUOTE(UDP4(L3SRC4_CLI, 41001, CTR4, 53), .plen = 1372) },
	  REROUTE(HTUN4),
	  .note = "quote of a datagram from the endpoint home_tun_v4_udp_learn learned" },
	{ "home_out_icmp6_too_big", P_HOME_OUT,
	  { LINE, ICMP6_ERR(LINE6, L3SRC6_CLI, 2, 0), .icmp_info = 1280,
	    QUOTE(TCP6(L3SRC6_CLI, 41002, CTR6, 443)) },
	  REROUTE(HTUN6),
	  .note = "ICMPv6: the new source enters the checksum's pseudo-header" },
	{ "home_out_icmp6_complete", P_HOME_OUT,
	  { LINE, ICMP6_ERR(LINE6, L3SRC6_CLI, 1, 4), QUOTE(UDP6(L3SRC6_CLI, 41003, CTR6, 53)) },
	  REROUTE(HTUN6), .csum_complete = true },
	{ "home_out_icmp4_complete", P_HOME_OUT,
	  { LINE, ICMP4_ERR(LINE4, L3SRC4_CLI, 11, 0), QUOTE(TCP4(L3SRC4_CLI, 41000, CTR4, 80)) },
	  REROUTE(HTUN4), .csum_complete = true },
	{ "home_out_icmp4_unlearned", P_HOME_OUT,
	  { LINE, ICMP4_ERR(LINE4, CLI4, 3, 4), QUOTE(UDP4(CLI4, 42998, CTR4, 53)) },
	  LEAVE },
	{ "home_out_icmp4_quote_not_dst", P_HOME_OUT,
	  { LINE, ICMP4_ERR(LINE4, CLI4, 3, 4), QUOTE(UDP4(L3SRC4_CLI, 41001, CTR4, 53)) },
	  LEAVE, .note = "learned endpoint quoted, but the error goes elsewhere" },
	{ "home_out_icmp4_quote_fragment", P_HOME_OUT,
	  { LINE, ICMP4_ERR(LINE4, L3SRC4_CLI, 3, 4),
	    QUOTE(UDP4(L3SRC4_CLI, 41001, CTR4, 53), .frag = 0x0010) },
	  LEAVE, .note = "a later fragment's quote has no ports" },
	{ "home_out_icmp6_other_tunnel", P_HOME_OUT,
	  { LINE, ICMP6_ERR(LINE6, CLI6, 1, 4), QUOTE(UDP6(CLI6, 42007, CTR6, 53)) },
	  LEAVE, .note = "quotes an endpoint home_out_v6_other_tunnel put on tun0" },
	{ "home_out_v4_fragment", P_HOME_OUT,
	  { LINE, UDP4(LINE4, 53, L3SRC4_CLI, 41001), .frag = 0x2000 },
	  LEAVE, .note = "IP fragments pass (brief)" },
	{ "home_out_other_tunnel", P_HOME_OUT, { LINE, UDP4(LINE4, 53, CLI4, 42007) },
	  LEAVE, .add_hflow = true, .hflow_dev = DEV_TUN,
	  .note = "learned on tun0, but this instance serves wgh (rodata tun_ifindex)" },
	{ "home_out_v6_other_tunnel", P_HOME_OUT, { LINE, UDP6(LINE6, 5000, CLI6, 42007) },
	  LEAVE, .add_hflow = true, .hflow_dev = DEV_TUN },
	{ "home_out_no6_v6", P_HOME_OUT_NO6, { LINE, UDP6(LINE6, 5000, CLI6, 42008) },
	  LEAVE, .add_hflow = true,
	  .note = "object with tun_addr6 zero: the tunnel carries no IPv6" },
	{ "home_out_no6_v4", P_HOME_OUT_NO6, { LINE, UDP4(LINE4, 53, CLI4, 42009) },
	  REROUTE(HTUN4), .add_hflow = true,
	  .note = "control for home_out_no6_v6: IPv4 of the same object still moves" },
	/* the same endpoint arrives again on another port: local_port follows */
	{ "home_tun_v4_udp_relearn", P_HOME_TUN,
	  { HTUN, UDP4(L3SRC4_CLI, 41001, HOME4, 5353), L3 },
	  TC_ACT_UNSPEC, .st = { ST(CRBPF_ST_HOME_LEARN, 1) }, .learn = 1,
	  .note = "endpoint of home_tun_v4_udp_learn, now on 5353: local_port updated" },
	{ "home_out_v4_after_relearn", P_HOME_OUT, { LINE, UDP4(LINE4, 5353, L3SRC4_CLI, 41001) },
	  REROUTE(HTUN4) },
	{ "home_out_v4_stale_port", P_HOME_OUT, { LINE, UDP4(LINE4, 53, L3SRC4_CLI, 41001) },
	  LEAVE, .note = "53 was replaced by 5353 in home_tun_v4_udp_relearn" },
};

const int n_home_cases = sizeof(home_cases) / sizeof(home_cases[0]);
