// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * The flow tables off the per-packet path (edge.bpf.c flow_sampled()):
 * with production's sampling (1 in 16) a static mapping's packet writes its
 * flow only for TCP SYN, FIN and RST or when sampled, and then counts for
 * 16; its replies take the static rule without the flow. Tracked mappings
 * (CRBPF_BE_TRACK, CRBPF_REV_TRACK) read their flow on every packet. Each
 * case draws a miss (S_MISS) or a hit (S_HIT), so none depends on chance.
 *
 * Cases run in table order and build on each other per client port (42xxx,
 * unique to this file). Mappings (main.c): IPv6 tcp 2222 and udp 7000 are
 * static (one public side, pub0 has one IPv6 address); IPv4 tcp 2222 and
 * 2223 share BE2_4:22 and udp 7000 is any-address on a device with two
 * IPv4 addresses, so both are tracked.
 */
#include <netinet/in.h>
#include <string.h>
#include <linux/bpf.h>
#include <linux/pkt_cls.h>
#include <bpf/bpf.h>
#include "unit.h"

#define SEC_NS 1000000000ULL
#define SAMPLE_N 16

static const struct fref S1 = { 6, IPPROTO_TCP, BE2_6, 22, CLI6, 42001 };
static const struct fref SU = { 6, IPPROTO_UDP, BE2_6, 7000, CLI6, 42002 };
static const struct fref T1 = { 4, IPPROTO_TCP, BE2_4, 22, CLI4, 42003 };
static const struct fref TU = { 4, IPPROTO_UDP, BE2_4, 7000, CLI4, 42004 };
static const struct fref S3 = { 6, IPPROTO_TCP, BE2_6, 22, CLI6, 42005 };

/* crbpf_flows (0) or crbpf_unreplied (1) holds f's entry; -1 neither */
static int sget(const struct fref *f, struct crbpf_flow *v)
{
	struct crbpf_flow_key k;

	fref_key(f, &k);
	return flow_lookup(&k, v);
}

static bool sexpect(const struct fref *f, int table, __u16 flags, __u64 in,
		    __u64 out)
{
	struct crbpf_flow v;
	bool ok = true;
	int t = sget(f, &v);

	if (!ASSERT_EQ(t, table, "table (0 flows, 1 unreplied, -1 none)") || t < 0)
		return false;
	ok &= ASSERT_EQ(v.flags, flags, "flow flags");
	ok &= ASSERT_EQ(v.in_packets, in, "in_packets");
	ok &= ASSERT_EQ(v.out_packets, out, "out_packets");
	return ok;
}

/* A flow's last packet 5 s in the past: a packet that touches the entry
 * moves seen_ns (it moves at >= 1 s), one that does not leaves it. */
static __u64 aged_seen;

static void sage(const struct fref *f)
{
	struct crbpf_flow v;

	if (!fget(f, &v))
		return;
	v.seen_ns = mono_ns() - 5 * SEC_NS;
	aged_seen = v.seen_ns;
	fput(f, &v);
}

static bool seen_kept(const struct fref *f)
{
	struct crbpf_flow v;

	if (sget(f, &v) < 0)
		return ASSERT_TRUE(false, "flow entry");
	return ASSERT_EQ(v.seen_ns, aged_seen, "seen_ns untouched");
}

static bool seen_moved(const struct fref *f)
{
	struct crbpf_flow v;

	if (sget(f, &v) < 0)
		return ASSERT_TRUE(false, "flow entry");
	return ASSERT_TRUE(v.seen_ns > aged_seen, "seen_ns refreshed");
}

/* ---- static TCP 42001 ---- */

static bool s1_created(void)
{
	/* not sampled: the SYN makes the entry, but counts for nothing */
	return sexpect(&S1, 1, 0, 0, 0);
}

static void s1_age(void)
{
	sage(&S1);
}

static bool s1_synack(void)
{
	return sexpect(&S1, 1, CRBPF_FLOW_REPLIED, 0, 0);
}

static bool s1_plain_untouched(void)
{
	return seen_kept(&S1) & sexpect(&S1, 1, CRBPF_FLOW_REPLIED, 0, 0);
}

static bool s1_sampled(void)
{
	struct crbpf_flow v;
	bool ok;

	/* assured by this sample (replied, then a client ACK): promoted */
	ok = seen_moved(&S1) & sexpect(&S1, 0, CRBPF_FLOW_REPLIED, SAMPLE_N, 0);
	if (sget(&S1, &v) >= 0)
		ok &= ASSERT_EQ(v.in_bytes % SAMPLE_N, 0, "in_bytes: N times a length") &
		      ASSERT_TRUE(v.in_bytes >= SAMPLE_N * 60, "in_bytes: N times the packet");
	return ok;
}

static bool s1_fin(void)
{
	return sexpect(&S1, 0, CRBPF_FLOW_REPLIED | CRBPF_FLOW_FIN_IN, SAMPLE_N, 0);
}

static bool s1_rst(void)
{
	return sexpect(&S1, 0, CRBPF_FLOW_REPLIED | CRBPF_FLOW_FIN_IN |
				       CRBPF_FLOW_RST, SAMPLE_N, 0);
}

/* ---- static UDP 42002 ---- */

static bool su_none(void)
{
	struct crbpf_flow v;

	return ASSERT_EQ(sget(&SU, &v), -1, "no flow entry for an unsampled datagram");
}

static bool su_sampled(void)
{
	return sexpect(&SU, 1, 0, SAMPLE_N, 0);
}

/* ---- tracked TCP 42003 (2222 and 2223 share BE2_4:22) ---- */

static bool t1_created(void)
{
	return sexpect(&T1, 1, 0, 0, 0);
}

static bool t1_replied(void)
{
	/* the flag is written though the counters are not */
	return sexpect(&T1, 1, CRBPF_FLOW_REPLIED, 0, 0);
}

/* ---- tracked UDP 42004 (any address of two) ---- */

static bool tu_created(void)
{
	return sexpect(&TU, 1, 0, 0, 0);
}

/* ---- static -> tracked: a second public port onto BE2_6:22 ---- */

static struct crbpf_port_key s3_key(__u16 port)
{
	struct crbpf_port_key k = { .ifindex = topo.ifindex[DEV_PUB],
				    .family = CRBPF_V6, .proto = IPPROTO_TCP,
				    .port = htons(port) };

	return k;
}

static struct crbpf_rev_key s3_rk(void)
{
	struct crbpf_rev_key rk = { .family = CRBPF_V6, .proto = IPPROTO_TCP,
				    .port = htons(22) };

	parse_addr(6, BE2_6, rk.addr);
	return rk;
}

/* What port add tcp 2224 BE2_6:22 writes: the entry, the rule with two
 * refs, then TRACK on both entries; undone by s3_static(). */
static void s3_track(bool on)
{
	int ports = edge_map_fd("crbpf_ports"), rev = edge_map_fd("crbpf_rev");
	struct crbpf_port_key k = s3_key(2222), k2 = s3_key(2224);
	struct crbpf_rev_key rk = s3_rk();
	struct crbpf_backend be;
	struct crbpf_rev rv;

	if (bpf_map_lookup_elem(ports, &k, &be) ||
	    bpf_map_lookup_elem(rev, &rk, &rv)) {
		unit_fail("fixture: no entry of tcp6 2222");
		return;
	}
	rv.refs = on ? 2 : 1;
	be.flags = on ? be.flags | CRBPF_BE_TRACK : be.flags & ~CRBPF_BE_TRACK;
	if ((on ? bpf_map_update_elem(ports, &k2, &be, BPF_ANY) :
		  bpf_map_delete_elem(ports, &k2)) ||
	    bpf_map_update_elem(rev, &rk, &rv, BPF_ANY) ||
	    bpf_map_update_elem(ports, &k, &be, BPF_ANY))
		unit_fail("fixture: cannot write the second public port");
}

static void s3_tracked(void)
{
	s3_track(true);
}

static bool s3_replied_by_flow(void)
{
	bool ok = sexpect(&S3, 1, CRBPF_FLOW_REPLIED, 0, 0);

	s3_track(false);
	return ok;
}

static bool s3_created(void)
{
	return sexpect(&S3, 1, 0, 0, 0);
}

const struct tcase sample_cases[] = {
	{ "sample_static_syn_creates", P_EDGE_XDP, { PUB, TCP6(CLI6, 42001, VPS6, 2222), SYN },
	  XDP_REDIRECT, DNAT(BE2_6, 22), M_FWD_L2,
	  { ST(CRBPF_ST_FLOW_NEW, 1), ST(CRBPF_ST_FWD_XDP, 1) },
	  .sample = S_MISS, .check = s1_created,
	  .note = "a SYN makes the entry of a static mapping's flow, sampled or not" },
	{ "sample_static_synack_replied", P_REV_TC, { NH, TCP6(BE2_6, 22, CLI6, 42001), SYNACK },
	  TC_ACT_REDIRECT, SNAT(VPS6, 2222), M_REV,
	  { ST(CRBPF_ST_REV_TC, 1), ST(CRBPF_ST_REV_STATIC, 0) },
	  .sample = S_MISS, .check = s1_synack,
	  .note = "the SYN-ACK reads the flow and marks it replied (out of tcp_syn's 120 s)" },
	{ "sample_static_plain_untouched", P_EDGE_XDP, { PUB, TCP6(CLI6, 42001, VPS6, 2222), ACK },
	  XDP_REDIRECT, DNAT(BE2_6, 22), M_FWD_L2,
	  { ST(CRBPF_ST_FWD_XDP, 1), ST(CRBPF_ST_FLOW_NEW, 0) },
	  .sample = S_MISS, .setup = s1_age, .check = s1_plain_untouched,
	  .note = "an unsampled packet of a static mapping leaves its flow alone" },
	{ "sample_static_reply_plain_static", P_REV_TC, { NH, TCP6(BE2_6, 22, CLI6, 42001), ACK },
	  TC_ACT_REDIRECT, SNAT(VPS6, 2222), M_REV,
	  { ST(CRBPF_ST_REV_TC, 1), ST(CRBPF_ST_REV_STATIC, 1) },
	  .sample = S_MISS, .setup = s1_age, .check = s1_plain_untouched,
	  .note = "an unsampled reply takes the static rule, without the flow" },
	{ "sample_static_sampled_counts_n", P_EDGE_XDP, { PUB, TCP6(CLI6, 42001, VPS6, 2222), ACK },
	  XDP_REDIRECT, DNAT(BE2_6, 22), M_FWD_L2, { ST(CRBPF_ST_FWD_XDP, 1) },
	  .sample = S_HIT, .setup = s1_age, .check = s1_sampled,
	  .note = "a sample counts for N, refreshes seen_ns and promotes the assured flow" },
	{ "sample_static_fin", P_EDGE_XDP, { PUB, TCP6(CLI6, 42001, VPS6, 2222), FINACK },
	  XDP_REDIRECT, DNAT(BE2_6, 22), M_FWD_L2, { ST(CRBPF_ST_FWD_XDP, 1) },
	  .sample = S_MISS, .check = s1_fin },
	{ "sample_static_rst_reply", P_REV_TC, { NH, TCP6(BE2_6, 22, CLI6, 42001), RST },
	  TC_ACT_REDIRECT, SNAT(VPS6, 2222), M_REV, { ST(CRBPF_ST_REV_TC, 1) },
	  .sample = S_MISS, .check = s1_rst },

	{ "sample_static_udp_not_created", P_EDGE_XDP, { PUB, UDP6(CLI6, 42002, VPS6, 7000) },
	  XDP_REDIRECT, DNAT(BE2_6, 7000), M_FWD_L2,
	  { ST(CRBPF_ST_FWD_XDP, 1), ST(CRBPF_ST_FLOW_NEW, 0) },
	  .sample = S_MISS, .check = su_none,
	  .note = "a static mapping's UDP flow appears with its first sample" },
	{ "sample_static_udp_reply_static", P_REV_TC, { NH, UDP6(BE2_6, 7000, CLI6, 42002) },
	  TC_ACT_REDIRECT, SNAT(VPS6, 7000), M_REV,
	  { ST(CRBPF_ST_REV_TC, 1), ST(CRBPF_ST_REV_STATIC, 1) },
	  .sample = S_MISS, .check = su_none },
	{ "sample_static_udp_sampled_creates", P_EDGE_XDP, { PUB, UDP6(CLI6, 42002, VPS6, 7000) },
	  XDP_REDIRECT, DNAT(BE2_6, 7000), M_FWD_L2, { ST(CRBPF_ST_FLOW_NEW, 1) },
	  .sample = S_HIT, .check = su_sampled },

	{ "sample_tracked_plain_creates", P_EDGE_XDP, { PUB, TCP4(CLI4, 42003, VPS4, 2222), ACK },
	  XDP_REDIRECT, DNAT(BE2_4, 22), M_FWD_L2, { ST(CRBPF_ST_FLOW_NEW, 1) },
	  .sample = S_MISS, .check = t1_created,
	  .note = "a tracked mapping (2222 and 2223 onto BE2_4:22) records every flow" },
	{ "sample_tracked_reply_reads_flow", P_REV_TC, { NH, TCP4(BE2_4, 22, CLI4, 42003), ACK },
	  TC_ACT_REDIRECT, SNAT(VPS4, 2222), M_REV,
	  { ST(CRBPF_ST_REV_TC, 1), ST(CRBPF_ST_REV_STATIC, 0),
	    ST(CRBPF_ST_DROP_NO_XLATE, 0) },
	  .sample = S_MISS, .check = t1_replied },
	{ "sample_tracked_secondary_addr", P_EDGE_XDP, { PUB, UDP4(CLI4, 42004, VPS4_2, 7000) },
	  XDP_REDIRECT, DNAT(BE2_4, 7000), M_FWD_L2, { ST(CRBPF_ST_FLOW_NEW, 1) },
	  .sample = S_MISS, .check = tu_created },
	{ "sample_tracked_reply_from_secondary", P_REV_TC, { NH, UDP4(BE2_4, 7000, CLI4, 42004) },
	  TC_ACT_REDIRECT, SNAT(VPS4_2, 7000), M_REV,
	  { ST(CRBPF_ST_REV_TC, 1), ST(CRBPF_ST_REV_STATIC, 0) },
	  .sample = S_MISS,
	  .note = "one rule (the primary address), but the flow began on the second address: CRBPF_REV_TRACK" },

	{ "sample_static_then_tracked_syn", P_EDGE_XDP, { PUB, TCP6(CLI6, 42005, VPS6, 2222), SYN },
	  XDP_REDIRECT, DNAT(BE2_6, 22), M_FWD_L2, { ST(CRBPF_ST_FLOW_NEW, 1) },
	  .sample = S_MISS, .check = s3_created },
	{ "sample_static_then_tracked_reply", P_REV_TC, { NH, TCP6(BE2_6, 22, CLI6, 42005), ACK },
	  TC_ACT_REDIRECT, SNAT(VPS6, 2222), M_REV,
	  { ST(CRBPF_ST_REV_TC, 1), ST(CRBPF_ST_DROP_NO_XLATE, 0) },
	  .sample = S_MISS, .setup = s3_tracked, .check = s3_replied_by_flow,
	  .note = "a second public port made the mapping tracked: the SYN's entry answers" },
};

const int n_sample_cases = sizeof(sample_cases) / sizeof(sample_cases[0]);
