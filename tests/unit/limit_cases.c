// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * Per-source limits (bpf/limit.h). lim_setup() adds, as `crbpf port add`
 * would, on pub0:
 *
 *   udp 6200 (IPv4) -> BE3_4:200, id 200, CRBPF_BE_LIMIT:
 *       10 packets/s, burst 3, sources by /24
 *   udp 6200 (IPv6) -> BE3_6:200, id 201, CRBPF_BE_LIMIT: the same, by /64
 *   tcp 6202 (IPv4) -> BE3_4:202, id 202, CRBPF_BE_LIMIT:
 *       1 new flow/s, burst 2, by /32
 *   udp 6203 (IPv4) -> BE3_4:203, id 203, a limit of 1 packet/s in
 *       crbpf_limits but no CRBPF_BE_LIMIT (what the tool never writes;
 *       shows that the flag alone decides)
 *   tcp 6204 (IPv4) -> BE2_4:204 (Ethernet, nh0), id 204, CRBPF_BE_LIMIT:
 *       10 packets/s, burst 1: XDP finishes its hits
 *   udp 6205 (IPv4) -> BE3_4:205, id 205, CRBPF_BE_LIMIT: 1 new flow/s,
 *       burst 1
 *
 * Every case starts with crbpf_limsrc empty and plants what bucket state it
 * needs: "empty" is a timestamp a whole burst ahead of now, "long idle" one
 * ten seconds back. CLOCK_MONOTONIC_COARSE is bpf_ktime_get_coarse_ns()'s
 * clock; it may tick (1-10 ms) between the plant and the run, far less than
 * a step (100 ms).
 */
#include <arpa/inet.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <linux/bpf.h>
#include <linux/pkt_cls.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include "unit.h"

static __u64 coarse_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC_COARSE, &ts);
	return ts.tv_sec * 1000000000ULL + ts.tv_nsec;
}

#define ID_PPS4 200
#define ID_PPS6 201
#define ID_FLOWS 202
#define ID_NOFLAG 203
#define ID_XDP 204
#define ID_UDPFLOWS 205
#define STEP 100000000ULL /* 10 packets/s */
#define SAME24 "198.51.100.77" /* CLI4's /24 */
#define OTHER4 "203.0.113.77"
#define SAME64 "2001:db8:100::99" /* CLI6's /64 */
#define OUTSIDE6_LIM "2001:db8:999::1"

static bool lim_ready;
static struct crbpf_limstats drops_before[CRBPF_MAX_MAPPINGS];

static struct crbpf_limit limit_of(__u32 pps, __u32 pburst, __u32 flows,
				   __u32 fburst, int p4, int p6)
{
	struct crbpf_limit l = { .pkt_rate = pps, .pkt_burst = pburst,
				 .flow_rate = flows, .flow_burst = fburst,
				 .prefix4 = p4, .prefix6 = p6 };
	int i;

	if (pps) {
		l.pkt_ns = 1000000000ULL / pps;
		l.pkt_tol = l.pkt_ns * pburst;
	}
	if (flows) {
		l.flow_ns = 1000000000ULL / flows;
		l.flow_tol = l.flow_ns * fburst;
	}
	l.mask4 = p4 ? htonl(~0u << (32 - p4)) : 0;
	for (i = 0; i < 4; i++) {
		int bits = p6 - 32 * i;

		l.mask6[i] = bits <= 0 ? 0 : bits >= 32 ? ~0u :
					     htonl(~0u << (32 - bits));
	}
	return l;
}

static int port_put(int family, __u8 proto, __u16 port, const char *be,
		    __u16 bport, __u32 id, __u16 flags, enum dev dev,
		    const struct crbpf_limit *l)
{
	return unit_port_put(family, proto, port, be, bport, id, flags, dev) ?:
	       bpf_map_update_elem(edge_map_fd("crbpf_limits"), &id, l, BPF_ANY) ?:
	       mstats_zero(id);
}

static void limsrc_clear(void)
{
	int fd = edge_map_fd("crbpf_limsrc");
	struct crbpf_limsrc_key k;

	while (!bpf_map_get_next_key(fd, NULL, &k))
		if (bpf_map_delete_elem(fd, &k))
			break;
}

static struct crbpf_limstats drops_now(__u32 id)
{
	int n = libbpf_num_possible_cpus(), c;
	struct crbpf_limstats *v = calloc(n, sizeof(*v)), sum = {};

	if (v && !bpf_map_lookup_elem(edge_map_fd("crbpf_limstats"), &id, v))
		for (c = 0; c < n; c++) {
			sum.pkt_drops += v[c].pkt_drops;
			sum.flow_drops += v[c].flow_drops;
		}
	free(v);
	return sum;
}

static void lim_setup(void)
{
	const struct crbpf_limit pps = limit_of(10, 3, 0, 0, 24, 64);
	const struct crbpf_limit flows = limit_of(0, 0, 1, 2, 32, 64);
	const struct crbpf_limit one = limit_of(1, 1, 0, 0, 32, 64);
	const struct crbpf_limit xdp = limit_of(10, 1, 0, 0, 32, 64);
	const struct crbpf_limit uflows = limit_of(0, 0, 1, 1, 32, 64);
	__u32 id;

	if (!lim_ready) {
		if (port_put(4, IPPROTO_UDP, 6200, BE3_4, 200, ID_PPS4,
			     CRBPF_BE_LIMIT, DEV_TUN, &pps) ||
		    port_put(6, IPPROTO_UDP, 6200, BE3_6, 200, ID_PPS6,
			     CRBPF_BE_LIMIT, DEV_TUN, &pps) ||
		    port_put(4, IPPROTO_TCP, 6202, BE3_4, 202, ID_FLOWS,
			     CRBPF_BE_LIMIT, DEV_TUN, &flows) ||
		    port_put(4, IPPROTO_UDP, 6203, BE3_4, 203, ID_NOFLAG, 0,
			     DEV_TUN, &one) ||
		    port_put(4, IPPROTO_TCP, 6204, BE2_4, 204, ID_XDP,
			     CRBPF_BE_LIMIT | CRBPF_BE_L2, DEV_NH, &xdp) ||
		    port_put(4, IPPROTO_UDP, 6205, BE3_4, 205, ID_UDPFLOWS,
			     CRBPF_BE_LIMIT, DEV_TUN, &uflows))
			unit_fail("lim_setup: %s", strerror(errno));
		else
			lim_ready = true;
	}
	limsrc_clear();
	for (id = ID_PPS4; id <= ID_UDPFLOWS; id++)
		drops_before[id] = drops_now(id);
}

static struct crbpf_limsrc_key src_key(__u32 id, int family, const char *addr)
{
	struct crbpf_limsrc_key k = { .mapping = id,
				      .family = family == 6 ? CRBPF_V6 : CRBPF_V4 };

	parse_addr(family, addr, k.addr);
	return k;
}

static void plant(__u32 id, int family, const char *masked, __u64 pkt_tat,
		  __u64 flow_tat)
{
	struct crbpf_limsrc_key k = src_key(id, family, masked);
	struct crbpf_limsrc v = { .pkt_tat = pkt_tat, .flow_tat = flow_tat };

	if (bpf_map_update_elem(edge_map_fd("crbpf_limsrc"), &k, &v, BPF_ANY))
		unit_fail("plant: %s", strerror(errno));
}

static bool bucket(__u32 id, int family, const char *masked,
		   struct crbpf_limsrc *v)
{
	struct crbpf_limsrc_key k = src_key(id, family, masked);

	return ASSERT_OK(bpf_map_lookup_elem(edge_map_fd("crbpf_limsrc"), &k, v) ?
				 -errno : 0,
			 "crbpf_limsrc entry of the source");
}

static bool drops(__u32 id, __u64 pkt, __u64 flow)
{
	struct crbpf_limstats d = drops_now(id);

	return ASSERT_EQ(d.pkt_drops - drops_before[id].pkt_drops, pkt,
			 "crbpf_limstats pkt_drops delta") &
	       ASSERT_EQ(d.flow_drops - drops_before[id].flow_drops, flow,
			 "crbpf_limstats flow_drops delta");
}

/* ---- setups: each plants one bucket state --------------------------- */

/* CLI4's /24 on 6200 with one token of three left */
static void pps_one_left(void)
{
	lim_setup();
	plant(ID_PPS4, 4, "198.51.100.0", coarse_ns() + 2 * STEP, 0);
}

static void pps_empty(void)
{
	lim_setup();
	plant(ID_PPS4, 4, "198.51.100.0", coarse_ns() + 3 * STEP, 0);
}

static __u64 idle_at;
static void pps_long_idle(void)
{
	lim_setup();
	idle_at = coarse_ns() - 10000000000ULL;
	plant(ID_PPS4, 4, "198.51.100.0", idle_at, 0);
}

static void pps6_empty(void)
{
	lim_setup();
	plant(ID_PPS6, 6, "2001:db8:100::", coarse_ns() + 3 * STEP, 0);
}

static void noflag_empty(void)
{
	lim_setup();
	plant(ID_NOFLAG, 4, CLI4, coarse_ns() + 1000000000ULL, 0);
}

static void xdp_empty(void)
{
	lim_setup();
	plant(ID_XDP, 4, CLI4, coarse_ns() + STEP, 0);
}

static void flows_empty(void)
{
	lim_setup();
	plant(ID_FLOWS, 4, CLI4, 0, coarse_ns() + 2000000000ULL);
}

static void uflows_empty(void)
{
	lim_setup();
	plant(ID_UDPFLOWS, 4, CLI4, 0, coarse_ns() + 1000000000ULL);
}

static void uflows_empty_known(void)
{
	uflows_empty();
	if (!flow_insert(4, IPPROTO_UDP, BE3_4, 205, CLI4, 42016, VPS4, 6205))
		unit_fail("uflows_empty_known: flow_insert");
}

/* ---- checks ----------------------------------------------------------- */

static bool no_drops(void)
{
	__u32 id;
	bool ok = true;

	for (id = ID_PPS4; id <= ID_UDPFLOWS; id++)
		ok &= drops(id, 0, 0);
	return ok;
}

/* A fresh source took one token: its bucket runs one step ahead of now. */
static bool fresh_took_one(void)
{
	struct crbpf_limsrc v;
	__u64 now = coarse_ns();

	return no_drops() && bucket(ID_PPS4, 4, "198.51.100.0", &v) &&
	       ASSERT_TRUE(v.pkt_tat > now && v.pkt_tat <= now + STEP,
			   "pkt_tat within one step of now") &
		       ASSERT_EQ(v.flow_tat, 0, "flow_tat (no flow limit)");
}

/* the three of the burst pass back to back, the fourth does not */
static bool burst_honoured(void)
{
	struct pkt_spec s = { PUB, UDP4(CLI4, 42003, VPS4, 6200) };
	bool ok = true;
	int i;

	for (i = 0; i < 2; i++)
		ok &= ASSERT_EQ(unit_run(P_EDGE_TC, &s), TC_ACT_REDIRECT,
				"packet of the burst");
	ok &= ASSERT_EQ(unit_run(P_EDGE_TC, &s), TC_ACT_SHOT,
			"packet beyond the burst");
	return ok & drops(ID_PPS4, 1, 0);
}

static bool pps_dropped(void)
{
	return drops(ID_PPS4, 1, 0);
}

static bool pps6_dropped(void)
{
	return drops(ID_PPS6, 1, 0);
}

/* after 10 s idle the bucket is full, not ten seconds' worth */
static bool refilled_capped(void)
{
	struct crbpf_limsrc v;
	__u64 now = coarse_ns();

	return no_drops() && bucket(ID_PPS4, 4, "198.51.100.0", &v) &&
	       ASSERT_TRUE(v.pkt_tat > now && v.pkt_tat <= now + STEP,
			   "pkt_tat one step ahead of now, not of the old time");
}

static bool noflag_left_alone(void)
{
	struct crbpf_limsrc v;

	return no_drops() && bucket(ID_NOFLAG, 4, CLI4, &v) &&
	       ASSERT_TRUE(v.pkt_tat > coarse_ns() + STEP, "bucket untouched");
}

static bool other_source_own_bucket(void)
{
	struct crbpf_limsrc v;

	return no_drops() && bucket(ID_PPS4, 4, "203.0.113.0", &v);
}

static bool xdp_dropped(void)
{
	return drops(ID_XDP, 1, 0);
}

static bool flows_dropped(void)
{
	return drops(ID_FLOWS, 0, 1);
}

static bool syn_took_flow(void)
{
	struct crbpf_limsrc v;
	__u64 now = coarse_ns();

	return no_drops() && bucket(ID_FLOWS, 4, CLI4, &v) &&
	       ASSERT_TRUE(v.flow_tat > now && v.flow_tat <= now + 1000000000ULL,
			   "flow_tat one step ahead of now") &
		       ASSERT_EQ(v.pkt_tat, 0, "pkt_tat (no packet limit)");
}

static bool uflows_dropped(void)
{
	return drops(ID_UDPFLOWS, 0, 1);
}

#define LIM .setup = lim_setup
#define NO_LIMIT_DROP ST(CRBPF_ST_DROP_LIMIT_PPS, 0), ST(CRBPF_ST_DROP_LIMIT_FLOWS, 0)
#define TC_FWD(a, p) .verdict = TC_ACT_REDIRECT, DNAT(a, p), .macs = M_KEEP, \
	.st = { ST(CRBPF_ST_FWD_TC, 1), NO_LIMIT_DROP }
#define DROP_TC(reason) .verdict = TC_ACT_SHOT, .st = { ST(reason, 1) }
#define SYN .tcp_flags = 0x02

const struct tcase limit_cases[] = {
	{ "lim_tc_fresh_source", P_EDGE_TC, { PUB, UDP4(CLI4, 42001, VPS4, 6200) },
	  TC_FWD(BE3_4, 200), LIM, .check = fresh_took_one,
	  .note = "a source not seen starts with a full bucket and takes one token" },
	{ "lim_tc_last_token", P_EDGE_TC, { PUB, UDP4(CLI4, 42002, VPS4, 6200) },
	  TC_FWD(BE3_4, 200), .setup = pps_one_left, .check = no_drops,
	  .note = "the third packet of a burst of 3 passes" },
	{ "lim_tc_burst", P_EDGE_TC, { PUB, UDP4(CLI4, 42003, VPS4, 6200) },
	  TC_FWD(BE3_4, 200), LIM, .check = burst_honoured,
	  .note = "three back to back pass (this and two more), the fourth is dropped" },
	{ "lim_tc_over", P_EDGE_TC, { PUB, UDP4(CLI4, 42004, VPS4, 6200) },
	  DROP_TC(CRBPF_ST_DROP_LIMIT_PPS), .setup = pps_empty,
	  .check = pps_dropped, .note = "an empty bucket drops, counted per mapping" },
	{ "lim_tc_refill", P_EDGE_TC, { PUB, UDP4(CLI4, 42005, VPS4, 6200) },
	  TC_FWD(BE3_4, 200), .setup = pps_long_idle, .check = refilled_capped,
	  .note = "ten seconds idle: a full bucket, no more (no overflow)" },
	{ "lim_tc_prefix", P_EDGE_TC, { PUB, UDP4(SAME24, 42006, VPS4, 6200) },
	  DROP_TC(CRBPF_ST_DROP_LIMIT_PPS), .setup = pps_empty,
	  .check = pps_dropped,
	  .note = "another address of CLI4's /24 shares its empty bucket" },
	{ "lim_tc_other_source", P_EDGE_TC, { PUB, UDP4(OTHER4, 42007, VPS4, 6200) },
	  TC_FWD(BE3_4, 200), .setup = pps_empty, .check = other_source_own_bucket,
	  .note = "a source outside the /24 has a bucket of its own" },
	{ "lim_tc_v6_prefix", P_EDGE_TC, { PUB, UDP6(SAME64, 42008, VPS6, 6200) },
	  DROP_TC(CRBPF_ST_DROP_LIMIT_PPS), .setup = pps6_empty,
	  .check = pps6_dropped, .note = "IPv6 sources by /64" },
	{ "lim_tc_v6_other", P_EDGE_TC, { PUB, UDP6(OUTSIDE6_LIM, 42009, VPS6, 6200) },
	  TC_FWD(BE3_6, 200), .setup = pps6_empty, .check = no_drops },
	{ "lim_tc_no_flag", P_EDGE_TC, { PUB, UDP4(CLI4, 42010, VPS4, 6203) },
	  TC_FWD(BE3_4, 203), .setup = noflag_empty, .check = noflag_left_alone,
	  .note = "no CRBPF_BE_LIMIT: no bucket is read or written" },
	{ "lim_xdp_under", P_EDGE_XDP, { PUB, TCP4(CLI4, 42011, VPS4, 6204) },
	  XDP_REDIRECT, DNAT(BE2_4, 204), M_FWD_L2,
	  { ST(CRBPF_ST_FWD_XDP, 1), NO_LIMIT_DROP }, LIM, .check = no_drops },
	{ "lim_xdp_over", P_EDGE_XDP, { PUB, TCP4(CLI4, 42012, VPS4, 6204) },
	  .verdict = XDP_DROP,
	  .st = { ST(CRBPF_ST_DROP_LIMIT_PPS, 1), ST(CRBPF_ST_FWD_XDP, 0) },
	  .setup = xdp_empty, .check = xdp_dropped,
	  .note = "dropped in XDP where XDP finishes the hit" },
	{ "lim_xdp_to_tc_no_token", P_EDGE_XDP, { PUB, UDP4(CLI4, 42013, VPS4, 6200) },
	  .verdict = XDP_PASS,
	  .st = { ST(CRBPF_ST_PASS_TO_TC, 1), NO_LIMIT_DROP }, .setup = pps_empty,
	  .check = no_drops,
	  .note = "a hit XDP passes to tc takes no token there (tc takes it)" },
	{ "lim_tc_syn_new_flow", P_EDGE_TC, { PUB, TCP4(CLI4, 42014, VPS4, 6202), SYN },
	  TC_FWD(BE3_4, 202), LIM, .check = syn_took_flow },
	{ "lim_tc_syn_over", P_EDGE_TC, { PUB, TCP4(CLI4, 42015, VPS4, 6202), SYN },
	  DROP_TC(CRBPF_ST_DROP_LIMIT_FLOWS), .setup = flows_empty,
	  .check = flows_dropped, .note = "a SYN beyond the flow rate is dropped" },
	{ "lim_tc_ack_not_new", P_EDGE_TC, { PUB, TCP4(CLI4, 42015, VPS4, 6202) },
	  TC_FWD(BE3_4, 202), .setup = flows_empty, .check = no_drops,
	  .note = "established traffic takes no flow token" },
	{ "lim_tc_udp_new_flow_over", P_EDGE_TC, { PUB, UDP4(CLI4, 42016, VPS4, 6205) },
	  DROP_TC(CRBPF_ST_DROP_LIMIT_FLOWS), .setup = uflows_empty,
	  .check = uflows_dropped, .note = "a UDP tuple no flow table holds is a new flow" },
	{ "lim_tc_udp_known_flow", P_EDGE_TC, { PUB, UDP4(CLI4, 42016, VPS4, 6205) },
	  TC_FWD(BE3_4, 205), .setup = uflows_empty_known, .check = no_drops,
	  .note = "a UDP tuple of a live flow is no new flow" },
	{ "lim_tc_udp_flow_recorded", P_EDGE_TC, { PUB, UDP4(CLI4, 42017, VPS4, 6205) },
	  TC_FWD(BE3_4, 205), LIM, .check_flow = true, .check = no_drops,
	  .note = "an admitted UDP flow is recorded (static mapping), so its next packet is known" },
};

const int n_limit_cases = sizeof(limit_cases) / sizeof(limit_cases[0]);
