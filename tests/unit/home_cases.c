// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * Home cases: crbpf_home_tun learns flows arriving through the tunnel (wgh)
 * by their exact tuple; crbpf_home_fwd (egress of docker0) learns them again
 * after Docker's DNAT, as the container sees them; crbpf_home_srv marks
 * replies of those very tuples on the served bridge (docker0). All three
 * always return TC_ACT_UNSPEC and never change packet bytes. crbpf_home_tun
 * sees bare IP (wg is layer 3): it gets l3only frames from L3SRC*_CLI
 * sources (see unit.h); crbpf_home_srv and crbpf_home_fwd get Ethernet
 * frames as a bridge delivers them. Cases build on each other in table
 * order (home_srv_* answers tuples home_fwd_* learned). A new tuple lands in
 * crbpf_hunreplied (learn = 1) and moves to crbpf_hflows (learn = 2) when a
 * reply came and the client sent again (issue 11 item 2).
 *
 * crbpf_home_out (egress of the home line line0, Ethernet) moves a UDP reply
 * that a wildcard-bound service sent from the ISP address into the tunnel:
 * the reply of a tuple learned on wgh (rodata tun_ifindex) whose local side
 * is the tunnel address and the reply's source port -> source = tunnel
 * address of its family, verdict TC_ACT_REDIRECT (bpf_redirect to wgh).
 * Everything else leaves untouched with TC_ACT_UNSPEC. Its objects share
 * crbpf_hflows and crbpf_hunreplied with crbpf_home_tun's, so
 * home_out_v4/v6_reroute answer what home_tun_* learned.
 */
#include <netinet/in.h>
#include <linux/pkt_cls.h>
#include <bpf/bpf.h>
#include "unit.h"


#define HTUN .dev = DEV_HTUN
#define SRV .dev = DEV_SRV
#define CTR4 "172.17.0.2"
#define CTR6 "fd00:17::2"
#define HOME4 "10.0.0.2"
#define HOME6 HTUN6 /* the tunnel address: what crbpf_home_out answers from */
#define L3 .l3only = true
#define ICMP4_ERR(s, d, t, c) .family = 4, .proto = IPPROTO_ICMP, .src = (s), \
	.dst = (d), .icmp_type = (t), .icmp_code = (c)
#define ICMP6_ERR(s, d, t, c) .family = 6, .proto = IPPROTO_ICMPV6, .src = (s), \
	.dst = (d), .icmp_type = (t), .icmp_code = (c)
#define QUOTE(...) .inner = &(const struct pkt_spec){ __VA_ARGS__ }
#define LINE .dev = DEV_LINE
#define SPOOF4 "8.0.8.8" /* the spoofed source, port 53 */
/* crbpf_srv's verdict on a reply: mark set (MARKED) or left as it came */
#define MARKED TC_ACT_UNSPEC, .check_mark = true, .mark_out = CRBPF_HOME_MARK_DEFAULT
#define UNMARKED TC_ACT_UNSPEC, .check_mark = true, .mark_out = 0
/* rewritten: only the source address changes; counted; redirected to wgh */
#define REROUTE(to) TC_ACT_REDIRECT, .x = X_SRC, .to_addr = (to), \
	.st = { ST(CRBPF_ST_HOME_REROUTE, 1), ST(CRBPF_ST_DROP_ERROR, 0) }, \
	.learn = -1
/* untouched: same bytes, TC_ACT_UNSPEC, nothing counted as rerouted */
#define LEAVE TC_ACT_UNSPEC, \
	.st = { ST(CRBPF_ST_HOME_REROUTE, 0), ST(CRBPF_ST_DROP_ERROR, 0) }, \
	.learn = -1

/* ---- checks on learned tuples ---- */

#define SEC_NS 1000000000ULL

/* Is tuple remote -> local where (0 crbpf_hflows, 1 crbpf_hunreplied) with
 * exactly these flags? */
static bool tuple_is(int family, __u8 proto, const char *remote, __u16 rport,
		     const char *local, __u16 lport, int where, __u8 flags)
{
	struct crbpf_hflow_key k;
	struct crbpf_hflow v = {};
	bool ok;

	hflow_key(&k, family, proto, remote, rport, local, lport);
	ok = ASSERT_EQ(hflow_lookup(P_HOME_SRV, &k, &v), where,
		       "tuple in (0 crbpf_hflows, 1 crbpf_hunreplied, -1 none)");
	if (where >= 0)
		ok &= ASSERT_EQ(v.flags, flags, "hflow flags");
	return ok;
}

/* The SYN-ACK of home_fwd_v4_tcp_learn's flow: a reply, still unreplied's
 * table (a reply alone makes nothing assured) */
static bool t0_replied(void)
{
	return tuple_is(4, IPPROTO_TCP, L3SRC4_CLI, 41000, CTR4, 80, 1,
			CRBPF_FLOW_REPLIED);
}

/* The container's ICMP error is no reply: the UDP tuple it quotes stays
 * as it was */
static bool u2_not_replied(void)
{
	return tuple_is(4, IPPROTO_UDP, L3SRC4_CLI, 41006, CTR4, 53, 1, 0);
}

/* crbpf_home_out's reroute counts as the reply of the tunnel tuple */
static bool u1_replied(void)
{
	return tuple_is(4, IPPROTO_UDP, L3SRC4_CLI, 41001, HOME4, 53, 1,
			CRBPF_FLOW_REPLIED);
}

/* An assured tuple idle past its timeout: written back in time. */
static void age(int family, __u8 proto, const char *remote, __u16 rport,
		const char *local, __u16 lport, __u64 idle_ns)
{
	struct crbpf_hflow_key k;
	struct crbpf_hflow v = {};
	int where;

	hflow_key(&k, family, proto, remote, rport, local, lport);
	where = hflow_lookup(P_HOME_SRV, &k, &v);
	if (where < 0) {
		unit_fail("no tuple to age");
		return;
	}
	v.seen_ns = mono_ns() - idle_ns;
	bpf_map_update_elem(home_map_fd(where ? "crbpf_hunreplied" : "crbpf_hflows"),
			    &k, &v, BPF_EXIST);
}

/* home_tun_v4_udp_assured's tuple, idle for 130 s (udp-stream: 120 s) */
static void u1_age(void)
{
	age(4, IPPROTO_UDP, L3SRC4_CLI, 41001, HOME4, 53, 130 * SEC_NS);
}

/* ---- flood: spoofed tuples cannot evict an assured one ---- */

/* Three tables' worth (crbpf_hflows holds UNIT_FLOWS, crbpf_hunreplied a
 * quarter) of spoofed TCP flows to the container, each a SYN forwarded to
 * docker0 (crbpf_home_fwd), the container's SYN-ACK (crbpf_home_srv, marked:
 * a tuple in crbpf_hunreplied) and the SYN again; then as many spoofed UDP
 * endpoints on the tunnel, without an answer. With one table, or with a
 * reply moving a tuple, the container's established flow (home_fwd_v4_tcp_
 * assured, idle meanwhile) would be evicted. The SYNs are built on wgh's
 * index with an Ethernet header: unit_flood() gives them the packet's
 * device as skb->ingress_ifindex, and crbpf_home_fwd learns only what came
 * in by the tunnel. */
static void flood(void)
{
	const struct pkt_spec syn = { .dev = DEV_HTUN, TCP4("8.0.9.9", 0, CTR4, 80), SYN };
	const struct pkt_spec synack = { .dev = DEV_SRV, TCP4(CTR4, 80, "8.0.9.9", 0), SYNACK };
	const struct pkt_spec udp = { .dev = DEV_HTUN, UDP4("8.0.9.10", 0, HOME4, 53), L3 };
	int n = 3 * UNIT_FLOWS;

	ASSERT_EQ(unit_flood(P_HOME_FWD, &syn, P_HOME_SRV, &synack, 10000, n,
			     TC_ACT_UNSPEC), 2 * n, "flood SYNs passed");
	/* the SYN-ACKs were marked: the last one's tuple is replied */
	tuple_is(4, IPPROTO_TCP, "8.0.9.9", 10000 + n - 1, CTR4, 80, 1,
		 CRBPF_FLOW_REPLIED);
	ASSERT_EQ(unit_flood(P_HOME_TUN, &udp, 0, NULL, 10000, n, TC_ACT_UNSPEC),
		  2 * n, "flood datagrams passed");
}

/* and the flood's last datagram is among the unreplied */
static bool flood_checks(void)
{
	return tuple_is(4, IPPROTO_TCP, L3SRC4_CLI, 41000, CTR4, 80, 0,
			CRBPF_FLOW_REPLIED) &
	       tuple_is(4, IPPROTO_UDP, "8.0.9.10", 10000 + 3 * UNIT_FLOWS - 1,
			HOME4, 53, 1, 0);
}

const struct tcase home_cases[] = {
	/* crbpf_home_tun: the tuple as it arrives, destination the tunnel address */
	{ "home_tun_v4_tcp_learn", P_HOME_TUN, { HTUN, TCP4(L3SRC4_CLI, 41000, HOME4, 8080), L3, SYN },
	  TC_ACT_UNSPEC, .st = { ST(CRBPF_ST_HOME_LEARN, 1) }, .learn = 1 },
	{ "home_tun_v4_udp_learn", P_HOME_TUN, { HTUN, UDP4(L3SRC4_CLI, 41001, HOME4, 53), L3 },
	  TC_ACT_UNSPEC, .st = { ST(CRBPF_ST_HOME_LEARN, 1) }, .learn = 1 },
	{ "home_tun_v6_tcp_learn", P_HOME_TUN, { HTUN, TCP6(L3SRC6_CLI, 41002, HOME6, 443), L3, SYN },
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
	{ "home_tun_v4_udp_again", P_HOME_TUN, { HTUN, UDP4(L3SRC4_CLI, 41001, HOME4, 53), L3 },
	  TC_ACT_UNSPEC, .learn = 1, .note = "no reply yet: stays unreplied" },

	/* crbpf_home_fwd: the same flows leaving for the container after DNAT */
	{ "home_fwd_v4_tcp_learn", P_HOME_FWD, { SRV, TCP4(L3SRC4_CLI, 41000, CTR4, 80), SYN },
	  TC_ACT_UNSPEC, .st = { ST(CRBPF_ST_HOME_LEARN, 1) }, .learn = 1,
	  .note = "home_tun_v4_tcp_learn's flow after DNAT 8080 -> 172.17.0.2:80" },
	{ "home_fwd_v4_udp_learn", P_HOME_FWD, { SRV, UDP4(L3SRC4_CLI, 41001, CTR4, 53) },
	  TC_ACT_UNSPEC, .learn = 1 },
	{ "home_fwd_v4_udp2_learn", P_HOME_FWD, { SRV, UDP4(L3SRC4_CLI, 41006, CTR4, 53) },
	  TC_ACT_UNSPEC, .learn = 1 },
	{ "home_fwd_v6_tcp_learn", P_HOME_FWD, { SRV, TCP6(L3SRC6_CLI, 41002, CTR6, 443), SYN },
	  TC_ACT_UNSPEC, .learn = 1 },
	{ "home_fwd_not_from_tunnel", P_HOME_FWD, { SRV, UDP4(CLI4, 42100, CTR4, 80) },
	  TC_ACT_UNSPEC, .from_dev = DEV_LINE, .learn = -1,
	  .st = { ST(CRBPF_ST_HOME_LEARN, 0) },
	  .note = "came in by the line (Docker's published port): not tunnelled" },
	{ "home_fwd_icmp", P_HOME_FWD,
	  { SRV, .family = 4, .proto = IPPROTO_ICMP, .src = L3SRC4_CLI, .dst = CTR4 },
	  TC_ACT_UNSPEC, .learn = -1 },

	/* crbpf_home_srv: replies of exactly those tuples are marked */
	{ "home_srv_v4_mark", P_HOME_SRV, { SRV, TCP4(CTR4, 80, L3SRC4_CLI, 41000), SYNACK },
	  MARKED, .st = { ST(CRBPF_ST_HOME_MARK, 1) }, .check = t0_replied,
	  .note = "reply of the tuple home_fwd_v4_tcp_learn learned" },
	{ "home_srv_v4_udp_mark", P_HOME_SRV, { SRV, UDP4(CTR4, 53, L3SRC4_CLI, 41001) },
	  MARKED },
	{ "home_srv_v6_mark", P_HOME_SRV, { SRV, TCP6(CTR6, 443, L3SRC6_CLI, 41002), SYNACK },
	  MARKED },
	{ "home_srv_other_local_port", P_HOME_SRV, { SRV, UDP4(CTR4, 40000, L3SRC4_CLI, 41001) },
	  UNMARKED, .st = { ST(CRBPF_ST_HOME_MARK, 0) },
	  .note = "the container's own flow to a learned endpoint from another port (issue 11 item 2)" },
	{ "home_srv_other_local_addr", P_HOME_SRV,
	  { SRV, UDP4("172.17.0.3", 53, L3SRC4_CLI, 41001) },
	  UNMARKED, .note = "another container, same ports, same endpoint" },
	{ "home_srv_unlearned", P_HOME_SRV, { SRV, TCP4(CTR4, 80, CLI4, 41999) },
	  TC_ACT_UNSPEC, .mark_in = 0x50, .check_mark = true, .mark_out = 0x50,
	  .note = "unknown endpoint: mark left as it was" },
	{ "home_srv_wrong_proto", P_HOME_SRV, { SRV, UDP4(CTR4, 80, L3SRC4_CLI, 41000) },
	  UNMARKED, .note = "41000 -> 80 was learned for TCP, not UDP" },
	{ "home_srv_src_only", P_HOME_SRV, { SRV, TCP4(L3SRC4_CLI, 41000, CTR4, 80) },
	  UNMARKED, .note = "the learned tuple the other way round is no reply" },
	/* an ICMP error the container sends about a tunnelled flow */
	{ "home_srv_icmp4_mark", P_HOME_SRV,
	  { SRV, ICMP4_ERR(CTR4, L3SRC4_CLI, 3, 3), .quote_len = -1,
	    QUOTE(UDP4(L3SRC4_CLI, 41006, CTR4, 53)) },
	  MARKED, .st = { ST(CRBPF_ST_HOME_MARK, 1) }, .check = u2_not_replied,
	  .note = "port unreachable quoting the flow home_fwd_v4_udp2_learn learned" },
	{ "home_srv_icmp6_mark", P_HOME_SRV,
	  { SRV, ICMP6_ERR(CTR6, L3SRC6_CLI, 1, 4), QUOTE(TCP6(L3SRC6_CLI, 41002, CTR6, 443)) },
	  MARKED },
	/* A quoted IPv6 datagram can be a fragment: a first one quotes the
	 * ports behind its Fragment header, a later one quotes no ports. */
	{ "home_srv_icmp6_quote_first_frag", P_HOME_SRV,
	  { SRV, ICMP6_ERR(CTR6, L3SRC6_CLI, 1, 4),
	    QUOTE(TCP6(L3SRC6_CLI, 41002, CTR6, 443), .v6frag = 0x0001) },
	  MARKED, .st = { ST(CRBPF_ST_HOME_MARK, 1) },
	  .note = "home_srv_icmp6_mark's quote as a first fragment: marked the same" },
	{ "home_srv_icmp6_quote_later_frag", P_HOME_SRV,
	  { SRV, ICMP6_ERR(CTR6, L3SRC6_CLI, 1, 4),
	    QUOTE(UDP6(L3SRC6_CLI, 41020, CTR6, 0x1118), .v6frag = 0x0009,
		  .pay_word_on = true, .pay_word = 41020) },
	  UNMARKED, .add_hflow = true, .st = { ST(CRBPF_ST_HOME_MARK, 0) },
	  .note = "a later fragment's data read as ports would name this learned "
		  "tuple (41020, then the fixture's bytes 0x11 0x18)" },
	{ "home_srv_icmp6_quote_truncated", P_HOME_SRV,
	  { SRV, ICMP6_ERR(CTR6, L3SRC6_CLI, 1, 4),
	    QUOTE(TCP6(L3SRC6_CLI, 41002, CTR6, 443)), .len_raw = 8 + 40 + 2 },
	  UNMARKED, .st = { ST(CRBPF_ST_HOME_MARK, 0) },
	  .note = "the IPv6 payload ends in the quoted ports: the bytes after it "
		  "are no part of the error" },
	{ "home_srv_icmp4_quote_truncated", P_HOME_SRV,
	  { SRV, ICMP4_ERR(CTR4, L3SRC4_CLI, 3, 3), .quote_len = -1,
	    QUOTE(UDP4(L3SRC4_CLI, 41006, CTR4, 53)), .len_raw = 20 + 8 + 20 + 4 },
	  UNMARKED, .st = { ST(CRBPF_ST_HOME_MARK, 0) },
	  .note = "home_srv_icmp4_mark's error with tot_len ending inside the quoted "
		  "UDP header (RFC 792: 8 bytes)" },
	{ "home_srv_icmp4_quote_other_port", P_HOME_SRV,
	  { SRV, ICMP4_ERR(CTR4, L3SRC4_CLI, 3, 3), QUOTE(UDP4(L3SRC4_CLI, 41001, CTR4, 54)) },
	  UNMARKED, .note = "learned endpoint quoted, but another flow of it" },
	{ "home_srv_icmp4_unlearned", P_HOME_SRV,
	  { SRV, ICMP4_ERR(CTR4, CLI4, 3, 3), QUOTE(UDP4(CLI4, 41999, CTR4, 53)) },
	  UNMARKED },
	{ "home_srv_icmp4_quote_not_dst", P_HOME_SRV,
	  { SRV, ICMP4_ERR(CTR4, CLI4, 3, 3), QUOTE(UDP4(L3SRC4_CLI, 41001, CTR4, 53)) },
	  UNMARKED, .note = "learned tuple quoted, but the error goes elsewhere" },
	{ "home_srv_icmp4_echo", P_HOME_SRV, { SRV, .family = 4, .proto = IPPROTO_ICMP,
	  .src = CTR4, .dst = L3SRC4_CLI }, UNMARKED },
	{ "home_srv_custom_mark", P_HOME_SRV_MARK, { SRV, TCP4(CTR4, 80, CLI4, 41010) },
	  TC_ACT_UNSPEC, .add_hflow = true, .check_mark = true, .mark_out = HOME_MARK2,
	  .note = "object loaded with rodata home_mark = 0xcb" },
	{ "home_srv_other_tunnel", P_HOME_SRV, { SRV, TCP4(CTR4, 80, CLI4, 41011) },
	  UNMARKED, .add_hflow = true, .hflow_dev = DEV_TUN,
	  .note = "learned on tun0; this instance serves wgh (rodata tun_ifindex)" },
	/* the client's next packet after the reply: assured */
	{ "home_fwd_v4_tcp_assured", P_HOME_FWD, { SRV, TCP4(L3SRC4_CLI, 41000, CTR4, 80), ACK },
	  TC_ACT_UNSPEC, .learn = 2, .note = "SYN-ACK seen, then the client's ACK" },
	{ "home_fwd_v4_udp_assured", P_HOME_FWD, { SRV, UDP4(L3SRC4_CLI, 41001, CTR4, 53) },
	  TC_ACT_UNSPEC, .learn = 2 },
	{ "home_srv_v4_assured_mark", P_HOME_SRV, { SRV, TCP4(CTR4, 80, L3SRC4_CLI, 41000) },
	  MARKED },

	/* the case: a packet from 8.0.8.8:53 to a mapped port */
	{ "home_tun_spoof_learn", P_HOME_TUN, { HTUN, UDP4(SPOOF4, 53, HOME4, 8080), L3 },
	  TC_ACT_UNSPEC, .learn = 1 },
	{ "home_fwd_spoof_learn", P_HOME_FWD, { SRV, UDP4(SPOOF4, 53, CTR4, 80) },
	  TC_ACT_UNSPEC, .learn = 1 },
	{ "home_srv_spoof_own_query", P_HOME_SRV, { SRV, UDP4(CTR4, 41234, SPOOF4, 53) },
	  UNMARKED, .st = { ST(CRBPF_ST_HOME_MARK, 0) },
	  .note = "the container's own DNS query to 8.0.8.8:53 keeps its route (issue 11 item 2)" },
	{ "home_srv_spoof_reply", P_HOME_SRV, { SRV, UDP4(CTR4, 80, SPOOF4, 53) },
	  MARKED, .note = "an answer to that very packet goes back, as conntrack would" },
	{ "home_out_spoof_host_query", P_HOME_OUT, { LINE, UDP4(LINE4, 41235, SPOOF4, 53) },
	  LEAVE, .note = "the host's own DNS query to 8.0.8.8:53" },
	{ "home_out_spoof_host_other_port", P_HOME_OUT, { LINE, UDP4(LINE4, 8080, SPOOF4, 54) },
	  LEAVE, .note = "the host's UDP from the learned port, to another destination" },

	/* crbpf_home_out: replies leaving through the ISP line */
	{ "home_out_v4_reroute", P_HOME_OUT, { LINE, UDP4(LINE4, 53, L3SRC4_CLI, 41001) },
	  REROUTE(HTUN4), .check = u1_replied,
	  .note = "reply of the tuple home_tun_v4_udp_learn learned on port 53" },
	{ "home_out_v6_reroute", P_HOME_OUT, { LINE, UDP6(LINE6, 5000, L3SRC6_CLI, 41003) },
	  REROUTE(HTUN6),
	  .note = "reply of the tuple home_tun_v6_udp_learn learned on port 5000" },
	{ "home_tun_v4_udp_assured", P_HOME_TUN, { HTUN, UDP4(L3SRC4_CLI, 41001, HOME4, 53), L3 },
	  TC_ACT_UNSPEC, .learn = 2, .note = "replied (home_out_v4_reroute), then the client again" },
	{ "home_out_learned_port_other_dport", P_HOME_OUT, { LINE, UDP4(LINE4, 53, L3SRC4_CLI, 41002) },
	  LEAVE, .note = "from the learned port 53 to the client's other port" },
	{ "home_out_learned_port_other_addr", P_HOME_OUT, { LINE, UDP4(LINE4, 53, "8.0.113.11", 41001) },
	  LEAVE, .note = "from the learned port 53 to another address" },
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
	  .note = "TCP tuple learned with this very port: TCP is never rerouted" },
	{ "home_out_tcp_learned", P_HOME_OUT, { LINE, TCP4(LINE4, 8080, L3SRC4_CLI, 41000) },
	  LEAVE, .note = "tuple home_tun_v4_tcp_learn learned on 8080: TCP stays" },
	{ "home_out_icmp", P_HOME_OUT,
	  { LINE, .family = 4, .proto = IPPROTO_ICMP, .src = LINE4, .dst = L3SRC4_CLI },
	  LEAVE },
	/* ICMP errors this host sends about tunnelled packets it forwards:
	 * conntrack has undone the DNAT in the quote */
	{ "home_out_icmp4_frag_needed", P_HOME_OUT,
	  { LINE, ICMP4_ERR(LINE4, L3SRC4_CLI, 3, 4), .icmp_info = 1300, .quote_len = -1,
	    QUOTE(UDP4(L3SRC4_CLI, 41001, HOME4, 53), .plen = 1372) },
	  REROUTE(HTUN4),
	  .note = "quote of a datagram of the tuple home_tun_v4_udp_learn learned" },
	{ "home_out_icmp6_too_big", P_HOME_OUT,
	  { LINE, ICMP6_ERR(LINE6, L3SRC6_CLI, 2, 0), .icmp_info = 1280,
	    QUOTE(TCP6(L3SRC6_CLI, 41002, HOME6, 443)) },
	  REROUTE(HTUN6),
	  .note = "ICMPv6: the new source enters the checksum's pseudo-header" },
	{ "home_out_icmp6_complete", P_HOME_OUT,
	  { LINE, ICMP6_ERR(LINE6, L3SRC6_CLI, 1, 4), QUOTE(UDP6(L3SRC6_CLI, 41003, HOME6, 5000)) },
	  REROUTE(HTUN6), .csum_complete = true },
	{ "home_out_icmp4_complete", P_HOME_OUT,
	  { LINE, ICMP4_ERR(LINE4, L3SRC4_CLI, 11, 0), QUOTE(TCP4(L3SRC4_CLI, 41000, HOME4, 8080)) },
	  REROUTE(HTUN4), .csum_complete = true },
	{ "home_out_icmp6_quote_first_frag", P_HOME_OUT,
	  { LINE, ICMP6_ERR(LINE6, L3SRC6_CLI, 2, 0), .icmp_info = 1280,
	    QUOTE(UDP6(L3SRC6_CLI, 41003, HOME6, 5000), .v6frag = 0x0001, .plen = 1300) },
	  REROUTE(HTUN6),
	  .note = "home_out_icmp6_complete's tuple quoted as a first fragment" },
	{ "home_out_icmp6_quote_later_frag", P_HOME_OUT,
	  { LINE, ICMP6_ERR(LINE6, L3SRC6_CLI, 2, 0), .icmp_info = 1280,
	    QUOTE(UDP6(L3SRC6_CLI, 41021, HOME6, 0x1118), .v6frag = 0x0009,
		  .pay_word_on = true, .pay_word = 41021) },
	  LEAVE, .add_hflow = true,
	  .note = "a later fragment's data read as ports would name this learned tuple" },
	{ "home_out_icmp6_quote_truncated", P_HOME_OUT,
	  { LINE, ICMP6_ERR(LINE6, L3SRC6_CLI, 1, 4),
	    QUOTE(UDP6(L3SRC6_CLI, 41003, HOME6, 5000)), .len_raw = 8 + 40 + 2 },
	  LEAVE, .note = "the IPv6 payload ends in the quoted ports" },
	{ "home_out_icmp4_quote_other_port", P_HOME_OUT,
	  { LINE, ICMP4_ERR(LINE4, L3SRC4_CLI, 3, 4), QUOTE(UDP4(L3SRC4_CLI, 41001, HOME4, 54)) },
	  LEAVE, .note = "learned endpoint quoted, but another flow of it" },
	{ "home_out_icmp4_unlearned", P_HOME_OUT,
	  { LINE, ICMP4_ERR(LINE4, CLI4, 3, 4), QUOTE(UDP4(CLI4, 42998, CTR4, 53)) },
	  LEAVE },
	{ "home_out_icmp4_quote_not_dst", P_HOME_OUT,
	  { LINE, ICMP4_ERR(LINE4, CLI4, 3, 4), QUOTE(UDP4(L3SRC4_CLI, 41001, HOME4, 53)) },
	  LEAVE, .note = "learned tuple quoted, but the error goes elsewhere" },
	{ "home_out_icmp4_quote_fragment", P_HOME_OUT,
	  { LINE, ICMP4_ERR(LINE4, L3SRC4_CLI, 3, 4),
	    QUOTE(UDP4(L3SRC4_CLI, 41001, HOME4, 53), .frag = 0x0010) },
	  LEAVE, .note = "a later fragment's quote has no ports" },
	{ "home_out_icmp6_other_tunnel", P_HOME_OUT,
	  { LINE, ICMP6_ERR(LINE6, CLI6, 1, 4), QUOTE(UDP6(CLI6, 42007, HTUN6, 5000)) },
	  LEAVE, .add_hflow = true, .hflow_dev = DEV_TUN,
	  .note = "quotes a tuple learned on tun0" },
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
	/* the same client port to another service: a flow of its own */
	{ "home_tun_v4_udp_other_service", P_HOME_TUN,
	  { HTUN, UDP4(L3SRC4_CLI, 41001, HOME4, 5353), L3 },
	  TC_ACT_UNSPEC, .st = { ST(CRBPF_ST_HOME_LEARN, 1) }, .learn = 1 },
	{ "home_out_v4_other_service", P_HOME_OUT, { LINE, UDP4(LINE4, 5353, L3SRC4_CLI, 41001) },
	  REROUTE(HTUN4) },
	{ "home_out_v4_first_service", P_HOME_OUT, { LINE, UDP4(LINE4, 53, L3SRC4_CLI, 41001) },
	  REROUTE(HTUN4), .note = "the flow to port 53 goes on beside it" },

	/* expiry: the edge's default timeouts by state (include/crbpf.h) */
	{ "home_srv_udp_unreplied_expired", P_HOME_SRV, { SRV, UDP4(CTR4, 53, CLI4, 42200) },
	  UNMARKED, .add_hflow = true, .hflow_unreplied = true, .hflow_idle = 40,
	  .st = { ST(CRBPF_ST_FLOW_EXPIRED, 1), ST(CRBPF_ST_HOME_MARK, 0) },
	  .note = "udp: 30 s without a reply" },
	{ "home_srv_udp_unreplied_live", P_HOME_SRV, { SRV, UDP4(CTR4, 53, CLI4, 42201) },
	  MARKED, .add_hflow = true, .hflow_unreplied = true, .hflow_idle = 20,
	  .st = { ST(CRBPF_ST_FLOW_EXPIRED, 0) } },
	{ "home_srv_udp_replied_live", P_HOME_SRV, { SRV, UDP4(CTR4, 53, CLI4, 42202) },
	  MARKED, .add_hflow = true, .hflow_flags = CRBPF_FLOW_REPLIED, .hflow_idle = 100,
	  .note = "udp-stream: 120 s once replied" },
	{ "home_srv_udp_replied_expired", P_HOME_SRV, { SRV, UDP4(CTR4, 53, CLI4, 42203) },
	  UNMARKED, .add_hflow = true, .hflow_flags = CRBPF_FLOW_REPLIED, .hflow_idle = 125,
	  .st = { ST(CRBPF_ST_FLOW_EXPIRED, 1) } },
	{ "home_srv_tcp_established_idle", P_HOME_SRV, { SRV, TCP4(CTR4, 80, CLI4, 42204) },
	  MARKED, .add_hflow = true, .hflow_flags = CRBPF_FLOW_REPLIED, .hflow_idle = 140,
	  .note = "tcp established: 5 days" },
	{ "home_srv_tcp_syn_expired", P_HOME_SRV, { SRV, TCP4(CTR4, 80, CLI4, 42205), SYNACK },
	  UNMARKED, .add_hflow = true, .hflow_unreplied = true, .hflow_idle = 125,
	  .st = { ST(CRBPF_ST_FLOW_EXPIRED, 1) }, .note = "tcp-syn: 120 s" },
	{ "home_srv_tcp_rst_expired", P_HOME_SRV, { SRV, TCP4(CTR4, 80, CLI4, 42206) },
	  UNMARKED, .add_hflow = true,
	  .hflow_flags = CRBPF_FLOW_REPLIED | CRBPF_FLOW_RST, .hflow_idle = 15,
	  .st = { ST(CRBPF_ST_FLOW_EXPIRED, 1) }, .note = "tcp-close: 10 s after a RST" },
	{ "home_srv_tcp_fin_expired", P_HOME_SRV, { SRV, TCP4(CTR4, 80, CLI4, 42207) },
	  UNMARKED, .add_hflow = true,
	  .hflow_flags = CRBPF_FLOW_REPLIED | CRBPF_FLOW_FIN_IN | CRBPF_FLOW_FIN_OUT,
	  .hflow_idle = 125, .st = { ST(CRBPF_ST_FLOW_EXPIRED, 1) },
	  .note = "tcp-fin: 120 s after FIN both ways" },
	{ "home_out_udp_expired", P_HOME_OUT, { LINE, UDP4(LINE4, 53, CLI4, 42208) },
	  LEAVE, .add_hflow = true, .hflow_unreplied = true, .hflow_idle = 40 },
	{ "home_out_udp_assured_expired", P_HOME_OUT, { LINE, UDP4(LINE4, 53, L3SRC4_CLI, 41001) },
	  LEAVE, .setup = u1_age, .note = "home_tun_v4_udp_assured's tuple idle 130 s" },
	{ "home_tun_expired_starts_over", P_HOME_TUN, { HTUN, UDP4(L3SRC4_CLI, 41001, HOME4, 53), L3 },
	  TC_ACT_UNSPEC, .learn = 1, .st = { ST(CRBPF_ST_FLOW_EXPIRED, 1) },
	  .note = "the expired assured tuple starts again among the unreplied" },
	{ "home_out_after_restart", P_HOME_OUT, { LINE, UDP4(LINE4, 53, L3SRC4_CLI, 41001) },
	  REROUTE(HTUN4) },

	/* a flood of spoofed tuples leaves the assured ones alone */
	{ "home_flood_keeps_assured", P_HOME_SRV, { SRV, TCP4(CTR4, 80, L3SRC4_CLI, 41000) },
	  MARKED, .setup = flood, .check = flood_checks,
	  .note = "home_fwd_v4_tcp_assured's flow after 3 tables' worth of spoofed flows" },
};

const int n_home_cases = sizeof(home_cases) / sizeof(home_cases[0]);
