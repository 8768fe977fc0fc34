// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * Flow lifecycle cases (bpf/flow.h): what a crbpf_flows entry records, how
 * TCP FIN/RST and UDP idleness end it, and what the programs do with an
 * expired entry. Time is simulated by writing seen_ns (and created_ns) of an
 * entry back before a run, or by small timeouts in crbpf_timeouts.
 *
 * Cases run in table order and build on each other per client port (41xxx,
 * unique to this file). Mappings (main.c): tcp 80 and 8080 share backend
 * 10.0.0.2:80, so replies from there are ambiguous (flow entry or nothing);
 * udp 53 is the only public port on 10.0.0.2:5353, so its replies fall back
 * to the static rule.
 */
#include <netinet/in.h>
#include <string.h>
#include <linux/bpf.h>
#include <linux/pkt_cls.h>
#include <bpf/bpf.h>
#include "unit.h"

#define SEC_NS 1000000000ULL

#define PASS_TC(reason) .verdict = TC_ACT_UNSPEC

/* The flows of this file, keyed as the programs key them. */
static const struct fref T1 = { 4, IPPROTO_TCP, BE3_4, 80, CLI4, 41001 };
static const struct fref T2 = { 4, IPPROTO_TCP, BE3_4, 80, CLI4, 41002 };
static const struct fref T3 = { 4, IPPROTO_TCP, BE3_4, 80, CLI4, 41003 };
static const struct fref U1 = { 4, IPPROTO_UDP, BE3_4, 5353, CLI4, 41004 };
static const struct fref U2 = { 4, IPPROTO_UDP, BE3_4, 5353, CLI4, 41005 };
static const struct fref X1 = { 4, IPPROTO_TCP, BE2_4, 22, CLI4, 41006 };
static const struct fref I1 = { 4, IPPROTO_UDP, BE3_4, 5353, CLI4, 41007 };
static const struct fref V6 = { 6, IPPROTO_UDP, BE3_6, 6000, CLI6, 41008 };

/* A live entry as the programs would have written it, public side pub0. */
static void finsert(const struct fref *f, const char *pub, __u16 pport,
		    __u16 flags, __u64 idle_ns)
{
	struct crbpf_flow v = {};
	struct crbpf_flow_key k;
	__u64 now = mono_ns();

	parse_addr(f->family, pub, v.public_addr);
	v.public_port = htons(pport);
	v.public_ifindex = topo.ifindex[DEV_PUB];
	v.flags = flags;
	v.created_ns = now - idle_ns - 5 * SEC_NS;
	v.seen_ns = now - idle_ns;
	v.in_packets = 1;
	/* where the programs would keep it: by whether it has a reply */
	fref_key(f, &k);
	bpf_map_delete_elem(edge_map_fd("crbpf_flows"), &k);
	if (edge_map_fd("crbpf_unreplied") >= 0)
		bpf_map_delete_elem(edge_map_fd("crbpf_unreplied"), &k);
	fput(f, &v);
}

/* Moves a flow's last packet idle_ns into the past (age grows too). */
static __u64 aged_seen;
static __u64 aged_created;

static void fage(const struct fref *f, __u64 idle_ns)
{
	struct crbpf_flow v;

	if (!fget(f, &v))
		return;
	v.seen_ns = mono_ns() - idle_ns;
	v.created_ns = v.seen_ns - 10 * SEC_NS;
	aged_seen = v.seen_ns;
	aged_created = v.created_ns;
	fput(f, &v);
}

static void timeouts_set(const struct crbpf_timeouts *t)
{
	__u32 key = 0;

	if (bpf_map_update_elem(edge_map_fd("crbpf_timeouts"), &key, t, BPF_ANY))
		unit_fail("cannot write crbpf_timeouts");
}

/* A flow just created by the run: times now, one packet in, none out. */
static bool fresh(const struct fref *f, __u16 flags)
{
	struct crbpf_flow v;
	__u64 now = mono_ns();
	bool ok = true;

	if (!fget(f, &v))
		return false;
	ok &= ASSERT_EQ(v.flags, flags, "flow flags");
	ok &= ASSERT_EQ(v.created_ns, v.seen_ns, "created_ns == seen_ns");
	/* coarse clock: within a tick or two of CLOCK_MONOTONIC */
	ok &= ASSERT_TRUE(v.seen_ns <= now && now - v.seen_ns < SEC_NS,
			  "seen_ns is now");
	ok &= ASSERT_EQ(v.in_packets, 1, "in_packets");
	ok &= ASSERT_TRUE(v.in_bytes >= 40, "in_bytes counts the packet");
	ok &= ASSERT_EQ(v.out_packets, 0, "out_packets");
	ok &= ASSERT_EQ(v.out_bytes, 0, "out_bytes");
	return ok;
}

static bool counts(const struct fref *f, __u16 flags, __u64 in, __u64 out)
{
	struct crbpf_flow v;
	bool ok = true;

	if (!fget(f, &v))
		return false;
	ok &= ASSERT_EQ(v.flags, flags, "flow flags");
	ok &= ASSERT_EQ(v.in_packets, in, "in_packets");
	ok &= ASSERT_EQ(v.out_packets, out, "out_packets");
	if (out)
		ok &= ASSERT_TRUE(v.out_bytes >= 40 * out, "out_bytes counts replies");
	return ok;
}

/* ---- TCP 41001: SYN, SYN-ACK, data, FIN both ways, expiry, re-creation ---- */

static bool t1_new(void)
{
	return fresh(&T1, 0);
}

static bool t1_replied(void)
{
	return counts(&T1, CRBPF_FLOW_REPLIED, 1, 1);
}

static void t1_age_half_second(void)
{
	fage(&T1, SEC_NS / 2);
}

static bool t1_seen_kept(void)
{
	struct crbpf_flow v;
	bool ok;

	if (!fget(&T1, &v))
		return false;
	ok = ASSERT_EQ(v.seen_ns, aged_seen,
		       "seen_ns not rewritten when it moved < 1 s");
	return ok & counts(&T1, CRBPF_FLOW_REPLIED, 2, 1);
}

static void t1_age_5s(void)
{
	fage(&T1, 5 * SEC_NS);
}

static bool t1_seen_moved(void)
{
	struct crbpf_flow v;
	__u64 now = mono_ns();
	bool ok = true;

	if (!fget(&T1, &v))
		return false;
	ok &= ASSERT_TRUE(v.seen_ns > aged_seen && now - v.seen_ns < SEC_NS,
			  "seen_ns refreshed after >= 1 s");
	ok &= ASSERT_EQ(v.created_ns, aged_created, "created_ns kept");
	return ok & counts(&T1, CRBPF_FLOW_REPLIED, 3, 1);
}

static bool t1_fin_in(void)
{
	return counts(&T1, CRBPF_FLOW_REPLIED | CRBPF_FLOW_FIN_IN, 4, 1);
}

static bool t1_fin_both(void)
{
	return counts(&T1, CRBPF_FLOW_REPLIED | CRBPF_FLOW_FIN_IN |
				   CRBPF_FLOW_FIN_OUT, 4, 2);
}

static void t1_age_in_grace(void)
{
	fage(&T1, (CRBPF_TO_TCP_FIN_DEFAULT - 5) * SEC_NS);
}

static void t1_age_past_grace(void)
{
	fage(&T1, (CRBPF_TO_TCP_FIN_DEFAULT + 2) * SEC_NS);
}

/* the reply to the expired entry changed nothing in it */
static bool t1_untouched(void)
{
	struct crbpf_flow v;

	if (!fget(&T1, &v))
		return false;
	return ASSERT_EQ(v.seen_ns, aged_seen, "expired entry not refreshed") &
	       counts(&T1, CRBPF_FLOW_REPLIED | CRBPF_FLOW_FIN_IN |
				   CRBPF_FLOW_FIN_OUT, 4, 3);
}

static bool t1_recreated(void)
{
	return fresh(&T1, 0);
}

/* ---- TCP 41002: a new SYN on a closed flow starts over ---- */

static void t2_time_wait(void)
{
	finsert(&T2, VPS4, 80, CRBPF_FLOW_REPLIED | CRBPF_FLOW_FIN_IN |
				       CRBPF_FLOW_FIN_OUT, 0);
}

static bool t2_reopened(void)
{
	return fresh(&T2, 0);
}

/* ---- TCP 41003: RST, then the close grace ---- */

static void t3_established(void)
{
	finsert(&T3, VPS4, 80, CRBPF_FLOW_REPLIED, 0);
}

static bool t3_rst(void)
{
	return counts(&T3, CRBPF_FLOW_REPLIED | CRBPF_FLOW_RST, 1, 1);
}

static void t3_age_in_grace(void)
{
	fage(&T3, (CRBPF_TO_TCP_CLOSE_DEFAULT - 3) * SEC_NS);
}

static void t3_age_past_grace(void)
{
	fage(&T3, (CRBPF_TO_TCP_CLOSE_DEFAULT + 2) * SEC_NS);
}

/* ---- UDP 41004: unreplied timeout, static fallback, stream timeout ---- */

static bool u1_new(void)
{
	return fresh(&U1, 0);
}

static void u1_age_past_udp(void)
{
	fage(&U1, (CRBPF_TO_UDP_DEFAULT + 2) * SEC_NS);
}

static bool u1_expired_untouched(void)
{
	return counts(&U1, 0, 1, 0);
}

static bool u1_recreated(void)
{
	return fresh(&U1, 0);
}

static bool u1_stream(void)
{
	return counts(&U1, CRBPF_FLOW_REPLIED, 1, 1);
}

static void u1_age_past_udp_in_stream(void)
{
	fage(&U1, (CRBPF_TO_UDP_DEFAULT + 30) * SEC_NS);
}

static bool u1_stream_2(void)
{
	return counts(&U1, CRBPF_FLOW_REPLIED, 1, 2);
}

static void u1_age_past_stream(void)
{
	fage(&U1, (CRBPF_TO_UDP_STREAM_DEFAULT + 2) * SEC_NS);
}

/* ---- crbpf_timeouts: the programs read it on every lookup ---- */

static void u2_udp_2s_idle_3s(void)
{
	timeouts_set(&(struct crbpf_timeouts){ .udp = 2 });
	finsert(&U2, VPS4, 53, 0, 3 * SEC_NS);
}

static void u2_udp_100s_idle_50s(void)
{
	timeouts_set(&(struct crbpf_timeouts){ .udp = 100 });
	finsert(&U2, VPS4, 53, 0, 50 * SEC_NS);
}

static bool timeouts_default(void)
{
	timeouts_set(&(struct crbpf_timeouts){ 0 });
	return true;
}

/* ---- XDP path: crbpf_edge_xdp records, crbpf_rev_tc reads ---- */

static bool x1_new(void)
{
	return fresh(&X1, 0);
}

static bool x1_replied(void)
{
	return counts(&X1, CRBPF_FLOW_REPLIED, 1, 1);
}

static void x1_rst_past_grace(void)
{
	finsert(&X1, VPS4, 2222, CRBPF_FLOW_REPLIED | CRBPF_FLOW_RST,
		(CRBPF_TO_TCP_CLOSE_DEFAULT + 2) * SEC_NS);
}

/* ---- ICMP errors and IPv6 ---- */

static void i1_expired(void)
{
	finsert(&I1, VPS4, 53, 0, (CRBPF_TO_UDP_DEFAULT + 2) * SEC_NS);
}

static bool v6_new(void)
{
	return fresh(&V6, 0);
}

static void v6_age_past_udp(void)
{
	fage(&V6, (CRBPF_TO_UDP_DEFAULT + 2) * SEC_NS);
}

/* ---- 411xx: a packet on another public side leaves a live flow alone ---- */

static const struct fref R1 = { 4, IPPROTO_TCP, BE3_4, 80, CLI4, 41101 };
static const struct fref R2 = { 4, IPPROTO_TCP, BE3_4, 80, CLI4, 41102 };
static const struct fref R3 = { 4, IPPROTO_TCP, BE3_4, 80, CLI4, 41103 };
static const struct fref R4 = { 4, IPPROTO_TCP, BE3_4, 80, CLI4, 41104 };
static const struct fref R5 = { 4, IPPROTO_TCP, BE3_4, 80, CLI4, 41105 };
static const struct fref RX = { 4, IPPROTO_TCP, BE2_4, 22, CLI4, 41106 };
static const struct fref RU = { 4, IPPROTO_UDP, BE3_4, 5353, CLI4, 41107 };

/* The entry as finsert() wrote it, 10 s idle: not touched by the run. */
static bool kept(const struct fref *f, const char *pub, __u16 pport,
		 __u16 flags)
{
	struct crbpf_flow v;
	__be32 a[4];
	bool ok = true;

	if (!fget(f, &v))
		return false;
	parse_addr(f->family, pub, a);
	ok &= ASSERT_TRUE(!memcmp(v.public_addr, a, sizeof(a)), "flow public_addr kept");
	ok &= ASSERT_EQ(ntohs(v.public_port), pport, "flow public_port kept");
	ok &= ASSERT_EQ(v.flags, flags, "flow flags kept");
	ok &= ASSERT_EQ(v.in_packets, 1, "in_packets kept");
	ok &= ASSERT_TRUE(mono_ns() - v.seen_ns >= 9 * SEC_NS, "seen_ns kept");
	return ok;
}

static void r1_live_8080(void)
{
	finsert(&R1, VPS4, 8080, CRBPF_FLOW_REPLIED, 10 * SEC_NS);
}

static bool r1_kept(void)
{
	return kept(&R1, VPS4, 8080, CRBPF_FLOW_REPLIED);
}

static void r2_live_second_addr(void)
{
	finsert(&R2, VPS4_2, 80, CRBPF_FLOW_REPLIED, 10 * SEC_NS);
}

static bool r2_kept(void)
{
	return kept(&R2, VPS4_2, 80, CRBPF_FLOW_REPLIED);
}

static void r3_syn_sent_8080(void)
{
	finsert(&R3, VPS4, 8080, 0, 10 * SEC_NS);
}

static bool r3_kept(void)
{
	return kept(&R3, VPS4, 8080, 0);
}

static void r4_expired_8080(void)
{
	finsert(&R4, VPS4, 8080, 0, (CRBPF_TO_TCP_SYN_DEFAULT + 2) * SEC_NS);
}

static bool r4_replaced(void)
{
	struct crbpf_flow v;

	if (!fget(&R4, &v))
		return false;
	return ASSERT_EQ(ntohs(v.public_port), 80, "flow public_port now 80") &
	       fresh(&R4, 0);
}

static void r5_closed_8080(void)
{
	finsert(&R5, VPS4, 8080, CRBPF_FLOW_REPLIED | CRBPF_FLOW_FIN_IN |
					 CRBPF_FLOW_FIN_OUT, 10 * SEC_NS);
}

static bool r5_reopened(void)
{
	struct crbpf_flow v;

	if (!fget(&R5, &v))
		return false;
	return ASSERT_EQ(ntohs(v.public_port), 80, "flow public_port now 80") &
	       fresh(&R5, 0);
}

static void rx_live_2223(void)
{
	finsert(&RX, VPS4, 2223, CRBPF_FLOW_REPLIED, 10 * SEC_NS);
}

static bool rx_kept(void)
{
	return kept(&RX, VPS4, 2223, CRBPF_FLOW_REPLIED);
}

/* udp 9053 leads to another backend: use 53's backend under another key */
static void ru_live_53(void)
{
	finsert(&RU, VPS4_2, 53, CRBPF_FLOW_REPLIED, 10 * SEC_NS);
}

static bool ru_kept(void)
{
	return kept(&RU, VPS4_2, 53, CRBPF_FLOW_REPLIED);
}

/* ---- 412xx: established flows survive a flood of unreplied ones ---- */

static const struct fref E1 = { 4, IPPROTO_TCP, BE3_4, 80, CLI4, 41201 };
static const struct fref E2 = { 4, IPPROTO_TCP, BE3_4, 80, CLI4, 41202 };

static bool table_is(const struct fref *f, int want)
{
	struct crbpf_flow_key k;
	struct crbpf_flow v;

	fref_key(f, &k);
	return ASSERT_EQ(flow_lookup(&k, &v), want,
			 want ? "flow in crbpf_unreplied (0: crbpf_flows, -1: none)" :
				"flow in crbpf_flows (1: crbpf_unreplied, -1: none)");
}

static bool e1_unreplied(void)
{
	return table_is(&E1, 1) & fresh(&E1, 0);
}

static bool e1_replied_stays(void)
{
	return table_is(&E1, 1) & counts(&E1, CRBPF_FLOW_REPLIED, 1, 1);
}

static bool e1_moved(void)
{
	return table_is(&E1, 0) & counts(&E1, CRBPF_FLOW_REPLIED, 2, 1);
}

/* Three flow tables' worth of spoofed flows through XDP (tcp 2222 ->
 * 10.0.1.2:22), each a SYN, the backend's SYN-ACK (to the spoofed source,
 * translated by crbpf_rev_tc) and the SYN again: more than crbpf_flows
 * holds, so with one table the established flow E1 (idle meanwhile) would
 * be evicted; and a reply alone must not move a flow to crbpf_flows. */
static void syn_flood(void)
{
	const struct pkt_spec syn = { .dev = DEV_PUB, TCP4("198.51.100.77", 0, VPS4, 2222),
				      .tcp_flags = 0x02 };
	const struct pkt_spec synack = { .dev = DEV_NH, TCP4(BE2_4, 22, "198.51.100.77", 0),
					 .tcp_flags = 0x12 };
	int n = 3 * UNIT_FLOWS;

	ASSERT_EQ(unit_flood(P_EDGE_XDP, &syn, P_REV_TC, &synack, 10000, n,
			     XDP_REDIRECT), 2 * n, "flood SYNs forwarded");
}

static bool e1_survived(void)
{
	return table_is(&E1, 0) & counts(&E1, CRBPF_FLOW_REPLIED, 2, 2);
}

static bool e2_new_after_flood(void)
{
	return table_is(&E2, 1) & fresh(&E2, 0);
}

const struct tcase flow_cases[] = {
	{ "flow_tcp_syn_creates", P_EDGE_TC, { PUB, TCP4(CLI4, 41001, VPS4, 80), SYN },
	  TC_ACT_REDIRECT, DNAT(BE3_4, 80), M_KEEP,
	  { ST(CRBPF_ST_FLOW_NEW, 1), ST(CRBPF_ST_FLOW_EXPIRED, 0) },
	  .check_flow = true, .check = t1_new,
	  .note = "first packet: created = last seen = now, 1 packet in" },
	{ "flow_tcp_synack_replied", P_REV_TC, { TUN, TCP4(BE3_4, 80, CLI4, 41001), SYNACK },
	  TC_ACT_REDIRECT, SNAT(VPS4, 80), M_REV,
	  { ST(CRBPF_ST_REV_TC, 1), ST(CRBPF_ST_REV_STATIC, 0) },
	  .check = t1_replied },
	{ "flow_tcp_seen_not_rewritten_within_1s", P_EDGE_TC,
	  { PUB, TCP4(CLI4, 41001, VPS4, 80), ACK },
	  TC_ACT_REDIRECT, DNAT(BE3_4, 80), M_KEEP, { ST(CRBPF_ST_FLOW_NEW, 0) },
	  .setup = t1_age_half_second, .check = t1_seen_kept },
	{ "flow_tcp_seen_rewritten_after_1s", P_EDGE_TC,
	  { PUB, TCP4(CLI4, 41001, VPS4, 80), ACK },
	  TC_ACT_REDIRECT, DNAT(BE3_4, 80), M_KEEP, { ST(CRBPF_ST_FLOW_NEW, 0) },
	  .setup = t1_age_5s, .check = t1_seen_moved },
	{ "flow_tcp_fin_client", P_EDGE_TC, { PUB, TCP4(CLI4, 41001, VPS4, 80), FINACK },
	  TC_ACT_REDIRECT, DNAT(BE3_4, 80), M_KEEP, { ST(CRBPF_ST_FLOW_NEW, 0) },
	  .check = t1_fin_in },
	{ "flow_tcp_fin_backend", P_REV_TC, { TUN, TCP4(BE3_4, 80, CLI4, 41001), FINACK },
	  TC_ACT_REDIRECT, SNAT(VPS4, 80), M_REV, { ST(CRBPF_ST_REV_TC, 1) },
	  .check = t1_fin_both, .note = "FIN both ways: tcp-fin grace" },
	{ "flow_tcp_fin_within_grace", P_REV_TC, { TUN, TCP4(BE3_4, 80, CLI4, 41001), ACK },
	  TC_ACT_REDIRECT, SNAT(VPS4, 80), M_REV,
	  { ST(CRBPF_ST_REV_TC, 1), ST(CRBPF_ST_FLOW_EXPIRED, 0) },
	  .setup = t1_age_in_grace },
	{ "flow_tcp_fin_expired_reply_dropped", P_REV_TC,
	  { TUN, TCP4(BE3_4, 80, CLI4, 41001), ACK },
	  .verdict = TC_ACT_SHOT,
	  .st = { ST(CRBPF_ST_DROP_NO_XLATE, 1), ST(CRBPF_ST_FLOW_EXPIRED, 1),
		  ST(CRBPF_ST_REV_TC, 0) },
	  .setup = t1_age_past_grace, .check = t1_untouched,
	  .note = "expired = absent; 80 and 8080 share the backend port: no static rule" },
	{ "flow_tcp_expired_recreated", P_EDGE_TC, { PUB, TCP4(CLI4, 41001, VPS4, 80), ACK },
	  TC_ACT_REDIRECT, DNAT(BE3_4, 80), M_KEEP,
	  { ST(CRBPF_ST_FLOW_NEW, 1), ST(CRBPF_ST_FLOW_EXPIRED, 1) },
	  .check_flow = true, .check = t1_recreated,
	  .note = "the next client packet starts a new entry in place of the expired one" },
	{ "flow_tcp_syn_reopens_closed", P_EDGE_TC, { PUB, TCP4(CLI4, 41002, VPS4, 80), SYN },
	  TC_ACT_REDIRECT, DNAT(BE3_4, 80), M_KEEP,
	  { ST(CRBPF_ST_FLOW_NEW, 1), ST(CRBPF_ST_FLOW_EXPIRED, 0) },
	  .setup = t2_time_wait, .check = t2_reopened,
	  .note = "a SYN on a flow in time_wait (not yet expired) is a new connection" },
	{ "flow_tcp_rst", P_REV_TC, { TUN, TCP4(BE3_4, 80, CLI4, 41003), RST },
	  TC_ACT_REDIRECT, SNAT(VPS4, 80), M_REV, { ST(CRBPF_ST_REV_TC, 1) },
	  .setup = t3_established, .check = t3_rst },
	{ "flow_tcp_rst_within_grace", P_EDGE_TC, { PUB, TCP4(CLI4, 41003, VPS4, 80), ACK },
	  TC_ACT_REDIRECT, DNAT(BE3_4, 80), M_KEEP,
	  { ST(CRBPF_ST_FLOW_NEW, 0), ST(CRBPF_ST_FLOW_EXPIRED, 0) },
	  .setup = t3_age_in_grace },
	{ "flow_tcp_rst_expired_reply_dropped", P_REV_TC,
	  { TUN, TCP4(BE3_4, 80, CLI4, 41003), ACK },
	  .verdict = TC_ACT_SHOT,
	  .st = { ST(CRBPF_ST_DROP_NO_XLATE, 1), ST(CRBPF_ST_FLOW_EXPIRED, 1) },
	  .setup = t3_age_past_grace, .note = "tcp-close grace after RST" },

	{ "flow_udp_creates", P_EDGE_TC, { PUB, UDP4(CLI4, 41004, VPS4, 53) },
	  TC_ACT_REDIRECT, DNAT(BE3_4, 5353), M_KEEP, { ST(CRBPF_ST_FLOW_NEW, 1) },
	  .check = u1_new },
	{ "flow_udp_unreplied_expired_static", P_REV_TC,
	  { TUN, UDP4(BE3_4, 5353, CLI4, 41004) },
	  TC_ACT_REDIRECT, SNAT(VPS4, 53), M_REV,
	  { ST(CRBPF_ST_REV_STATIC, 1), ST(CRBPF_ST_FLOW_EXPIRED, 1) },
	  .setup = u1_age_past_udp, .check = u1_expired_untouched,
	  .note = "udp idle timeout: expired entry ignored, crbpf_rev (refs 1) answers" },
	{ "flow_udp_expired_recreated", P_EDGE_TC, { PUB, UDP4(CLI4, 41004, VPS4, 53) },
	  TC_ACT_REDIRECT, DNAT(BE3_4, 5353), M_KEEP,
	  { ST(CRBPF_ST_FLOW_NEW, 1), ST(CRBPF_ST_FLOW_EXPIRED, 1) },
	  .check = u1_recreated },
	{ "flow_udp_reply_makes_stream", P_REV_TC, { TUN, UDP4(BE3_4, 5353, CLI4, 41004) },
	  TC_ACT_REDIRECT, SNAT(VPS4, 53), M_REV,
	  { ST(CRBPF_ST_REV_STATIC, 0), ST(CRBPF_ST_FLOW_EXPIRED, 0) },
	  .check = u1_stream },
	{ "flow_udp_stream_outlives_udp_timeout", P_REV_TC,
	  { TUN, UDP4(BE3_4, 5353, CLI4, 41004) },
	  TC_ACT_REDIRECT, SNAT(VPS4, 53), M_REV,
	  { ST(CRBPF_ST_REV_STATIC, 0), ST(CRBPF_ST_FLOW_EXPIRED, 0) },
	  .setup = u1_age_past_udp_in_stream, .check = u1_stream_2 },
	{ "flow_udp_stream_expired_static", P_REV_TC,
	  { TUN, UDP4(BE3_4, 5353, CLI4, 41004) },
	  TC_ACT_REDIRECT, SNAT(VPS4, 53), M_REV,
	  { ST(CRBPF_ST_REV_STATIC, 1), ST(CRBPF_ST_FLOW_EXPIRED, 1) },
	  .setup = u1_age_past_stream },

	{ "flow_timeout_map_shorter", P_REV_TC, { TUN, UDP4(BE3_4, 5353, CLI4, 41005) },
	  TC_ACT_REDIRECT, SNAT(VPS4, 53), M_REV,
	  { ST(CRBPF_ST_REV_STATIC, 1), ST(CRBPF_ST_FLOW_EXPIRED, 1) },
	  .setup = u2_udp_2s_idle_3s, .check = timeouts_default,
	  .note = "crbpf_timeouts udp = 2 s: idle 3 s is expired" },
	{ "flow_timeout_map_longer", P_REV_TC, { TUN, UDP4(BE3_4, 5353, CLI4, 41005) },
	  TC_ACT_REDIRECT, SNAT(VPS4, 53), M_REV,
	  { ST(CRBPF_ST_REV_STATIC, 0), ST(CRBPF_ST_FLOW_EXPIRED, 0) },
	  .setup = u2_udp_100s_idle_50s, .check = timeouts_default,
	  .note = "crbpf_timeouts udp = 100 s: idle 50 s (past the default 30) is live" },

	{ "flow_xdp_creates", P_EDGE_XDP, { PUB, TCP4(CLI4, 41006, VPS4, 2222), SYN },
	  XDP_REDIRECT, DNAT(BE2_4, 22), M_FWD_L2,
	  { ST(CRBPF_ST_FWD_XDP, 1), ST(CRBPF_ST_FLOW_NEW, 1) }, .check = x1_new },
	{ "flow_xdp_reply_counts", P_REV_TC, { NH, TCP4(BE2_4, 22, CLI4, 41006), SYNACK },
	  TC_ACT_REDIRECT, SNAT(VPS4, 2222), M_REV, { ST(CRBPF_ST_REV_TC, 1) },
	  .check = x1_replied },
	{ "flow_xdp_reply_expired_dropped", P_REV_TC, { NH, TCP4(BE2_4, 22, CLI4, 41006), ACK },
	  .verdict = TC_ACT_SHOT,
	  .st = { ST(CRBPF_ST_DROP_NO_XLATE, 1), ST(CRBPF_ST_FLOW_EXPIRED, 1) },
	  .setup = x1_rst_past_grace, .note = "2222 and 2223 share the backend port" },

	{ "flow_icmp_fwd_expired_passes", P_EDGE_TC,
	  { PUB, .family = 4, .proto = IPPROTO_ICMP, .src = CLI4, .dst = VPS4,
	    .icmp_type = 3, .icmp_code = 3, .quote_len = -1,
	    .inner = &(const struct pkt_spec){ UDP4(VPS4, 53, CLI4, 41007) } },
	  PASS_TC(), .st = { ST(CRBPF_ST_PASS_NO_MAPPING, 1) }, .setup = i1_expired,
	  .note = "an ICMP error about an expired flow is not forwarded" },

	{ "flow_v6_udp_creates", P_EDGE_TC, { PUB, UDP6(CLI6, 41008, VPS6, 5000) },
	  TC_ACT_REDIRECT, DNAT(BE3_6, 6000), M_KEEP, { ST(CRBPF_ST_FLOW_NEW, 1) },
	  .check = v6_new },
	{ "flow_v6_udp_expired_static", P_REV_TC, { TUN, UDP6(BE3_6, 6000, CLI6, 41008) },
	  TC_ACT_REDIRECT, SNAT(VPS6, 5000), M_REV,
	  { ST(CRBPF_ST_REV_STATIC, 1), ST(CRBPF_ST_FLOW_EXPIRED, 1) },
	  .setup = v6_age_past_udp },

	/* ---- issue 11 item 3: replied and unreplied flows apart ---- */
	{ "flow_new_is_unreplied", P_EDGE_TC, { PUB, TCP4(CLI4, 41201, VPS4, 80), SYN },
	  TC_ACT_REDIRECT, DNAT(BE3_4, 80), M_KEEP, { ST(CRBPF_ST_FLOW_NEW, 1) },
	  .check = e1_unreplied, .note = "a new flow starts in crbpf_unreplied" },
	{ "flow_first_reply_marks", P_REV_TC, { TUN, TCP4(BE3_4, 80, CLI4, 41201), SYNACK },
	  TC_ACT_REDIRECT, SNAT(VPS4, 80), M_REV, { ST(CRBPF_ST_REV_TC, 1) },
	  .check = e1_replied_stays,
	  .note = "a reply alone does not move it: backends answer spoofed SYNs too" },
	{ "flow_ack_after_reply_moves", P_EDGE_TC, { PUB, TCP4(CLI4, 41201, VPS4, 80), ACK },
	  TC_ACT_REDIRECT, DNAT(BE3_4, 80), M_KEEP, { ST(CRBPF_ST_FWD_TC, 1) },
	  .check = e1_moved, .note = "the client's ACK after the SYN-ACK moves it to crbpf_flows" },
	{ "flow_flood_keeps_replied", P_REV_TC, { TUN, TCP4(BE3_4, 80, CLI4, 41201), ACK },
	  TC_ACT_REDIRECT, SNAT(VPS4, 80), M_REV,
	  { ST(CRBPF_ST_REV_TC, 1), ST(CRBPF_ST_DROP_NO_XLATE, 0) },
	  .setup = syn_flood, .check = e1_survived,
	  .note = "12,288 spoofed SYN, SYN-ACK, SYN later (3x crbpf_flows), 80/8080 ambiguous: only the flow answers" },
	{ "flow_new_after_flood", P_EDGE_TC, { PUB, TCP4(CLI4, 41202, VPS4, 80), SYN },
	  TC_ACT_REDIRECT, DNAT(BE3_4, 80), M_KEEP, { ST(CRBPF_ST_FLOW_NEW, 1) },
	  .check = e2_new_after_flood },
	{ "flow_new_after_flood_reply", P_REV_TC, { TUN, TCP4(BE3_4, 80, CLI4, 41202), SYNACK },
	  TC_ACT_REDIRECT, SNAT(VPS4, 80), M_REV, { ST(CRBPF_ST_REV_TC, 1) } },

	/* ---- issue 11 item 4: only a packet of a flow may change it ---- */
	{ "flow_other_port_keeps_live", P_EDGE_TC, { PUB, TCP4(CLI4, 41101, VPS4, 80), ACK },
	  TC_ACT_REDIRECT, DNAT(BE3_4, 80), M_KEEP,
	  { ST(CRBPF_ST_FLOW_CONFLICT, 1), ST(CRBPF_ST_FLOW_NEW, 0), ST(CRBPF_ST_FWD_TC, 1) },
	  .setup = r1_live_8080, .check = r1_kept,
	  .note = "flow via 8080; a (spoofed) packet to 80 is forwarded, the flow stays" },
	{ "flow_other_port_reply_keeps_port", P_REV_TC, { TUN, TCP4(BE3_4, 80, CLI4, 41101), ACK },
	  TC_ACT_REDIRECT, SNAT(VPS4, 8080), M_REV,
	  .note = "replies still leave from the port the flow began on" },
	{ "flow_other_addr_keeps_live", P_EDGE_TC, { PUB, TCP4(CLI4, 41102, VPS4, 80), ACK },
	  TC_ACT_REDIRECT, DNAT(BE3_4, 80), M_KEEP, { ST(CRBPF_ST_FLOW_CONFLICT, 1) },
	  .setup = r2_live_second_addr, .check = r2_kept,
	  .note = "flow via 203.0.113.11:80, packet to .10:80" },
	{ "flow_other_port_syn_keeps_unreplied", P_EDGE_TC,
	  { PUB, TCP4(CLI4, 41103, VPS4, 80), SYN },
	  TC_ACT_REDIRECT, DNAT(BE3_4, 80), M_KEEP, { ST(CRBPF_ST_FLOW_CONFLICT, 1) },
	  .setup = r3_syn_sent_8080, .check = r3_kept,
	  .note = "a SYN to another port does not take over a live SYN-sent flow" },
	{ "flow_other_port_replaces_expired", P_EDGE_TC,
	  { PUB, TCP4(CLI4, 41104, VPS4, 80), SYN },
	  TC_ACT_REDIRECT, DNAT(BE3_4, 80), M_KEEP,
	  { ST(CRBPF_ST_FLOW_CONFLICT, 0), ST(CRBPF_ST_FLOW_NEW, 1) },
	  .setup = r4_expired_8080, .check = r4_replaced },
	{ "flow_other_port_reopens_closed", P_EDGE_TC,
	  { PUB, TCP4(CLI4, 41105, VPS4, 80), SYN },
	  TC_ACT_REDIRECT, DNAT(BE3_4, 80), M_KEEP,
	  { ST(CRBPF_ST_FLOW_CONFLICT, 0), ST(CRBPF_ST_FLOW_NEW, 1) },
	  .setup = r5_closed_8080, .check = r5_reopened,
	  .note = "FIN both ways: a new SYN starts a new flow wherever it goes" },
	{ "flow_other_port_keeps_live_xdp", P_EDGE_XDP,
	  { PUB, TCP4(CLI4, 41106, VPS4, 2222), ACK },
	  XDP_REDIRECT, DNAT(BE2_4, 22), M_FWD_L2,
	  { ST(CRBPF_ST_FLOW_CONFLICT, 1), ST(CRBPF_ST_FWD_XDP, 1) },
	  .setup = rx_live_2223, .check = rx_kept },
	{ "flow_other_addr_keeps_live_udp", P_EDGE_TC, { PUB, UDP4(CLI4, 41107, VPS4, 53) },
	  TC_ACT_REDIRECT, DNAT(BE3_4, 5353), M_KEEP, { ST(CRBPF_ST_FLOW_CONFLICT, 1) },
	  .setup = ru_live_53, .check = ru_kept },
};

const int n_flow_cases = sizeof(flow_cases) / sizeof(flow_cases[0]);
