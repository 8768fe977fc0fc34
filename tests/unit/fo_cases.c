// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * Failover mappings (bpf/failover.h): flow stickiness. On pub0, tcp 6200
 * (IPv4), id 110, CRBPF_BE_FAILOVER | CRBPF_BE_TRACK, backends FO_A and
 * FO_B behind tun0 (port 200 on both). The setups write the active one
 * into the crbpf_ports entry as `crbpf watch` does. The cases run in order:
 * a flow begun on A stays there when B becomes active, a flow begun on B
 * stays on B when A comes back, new flows follow the active backend, and a
 * reply from B is translated by its flow (B has no reverse rule).
 */
#include <arpa/inet.h>
#include <errno.h>
#include <string.h>
#include <linux/bpf.h>
#include <linux/pkt_cls.h>
#include <bpf/bpf.h>
#include "unit.h"

#define FO_ID 110
#define FO_PORT 6200
#define FO_A "8.0.0.2" /* L3SRC4_BE */
#define FO_B "8.0.0.3"
#define PLAIN_PORT 6201 /* same backends, no CRBPF_BE_FAILOVER */

static int fo_put(__u16 port, const char *be, bool fo)
{
	return unit_port_put(4, IPPROTO_TCP, port, be, 200, fo ? FO_ID : FO_ID + 1,
			     fo ? CRBPF_BE_FAILOVER | CRBPF_BE_TRACK : 0, DEV_TUN);
}

static void fo_active(const char *be)
{
	if (fo_put(FO_PORT, be, true) || fo_put(PLAIN_PORT, be, false))
		unit_fail("fo setup: %s", strerror(errno));
}

static void fo_on_a(void)
{
	fo_active(FO_A);
}

static void fo_on_b(void)
{
	fo_active(FO_B);
}

/* The sticky entry of client port sport on public port dport. */
static bool sticky_is(__u16 sport, __u16 dport, const char *be)
{
	struct crbpf_fo_key k = {
		.ifindex = topo.ifindex[DEV_PUB],
		.client_port = htons(sport),
		.public_port = htons(dport),
		.family = CRBPF_V4,
		.proto = IPPROTO_TCP,
	};
	struct crbpf_backend v;
	__be32 want[4] = {};
	int err;

	parse_addr(4, CLI4, k.client);
	parse_addr(4, VPS4, k.public_addr);
	err = bpf_map_lookup_elem(edge_map_fd("crbpf_fosticky"), &k, &v);
	if (!be)
		return ASSERT_TRUE(err, "no crbpf_fosticky entry");
	if (!ASSERT_TRUE(!err, "crbpf_fosticky entry"))
		return false;
	parse_addr(4, be, want);
	return ASSERT_TRUE(!memcmp(v.addr, want, sizeof(want)),
			   "crbpf_fosticky holds the backend the flow began on");
}

static bool sticky_42001_a(void)
{
	return sticky_is(42001, FO_PORT, FO_A);
}

static bool sticky_42002_b(void)
{
	return sticky_is(42002, FO_PORT, FO_B);
}

static bool no_sticky_plain(void)
{
	return sticky_is(42009, PLAIN_PORT, NULL);
}

#define FO_FWD(a, sticky) .verdict = TC_ACT_REDIRECT, DNAT(a, 200), \
	.macs = M_KEEP, .st = { ST(CRBPF_ST_FWD_TC, 1), \
				ST(CRBPF_ST_FO_STICKY, sticky) }

const struct tcase fo_cases[] = {
	{ "fo_new_flow_on_active", P_EDGE_TC, { PUB, TCP4(CLI4, 42001, VPS4, FO_PORT), SYN },
	  FO_FWD(FO_A, 0), .setup = fo_on_a, .check = sticky_42001_a,
	  .note = "a new flow goes to the active backend and sticks to it" },
	{ "fo_flow_stays_after_failover", P_EDGE_TC, { PUB, TCP4(CLI4, 42001, VPS4, FO_PORT), ACK },
	  FO_FWD(FO_A, 1), .setup = fo_on_b, .check = sticky_42001_a,
	  .note = "B active now: the live flow begun on A stays on A" },
	{ "fo_xdp_flow_stays_after_failover", P_EDGE_XDP, { PUB, TCP4(CLI4, 42001, VPS4, FO_PORT), ACK },
	  .verdict = XDP_PASS,
	  .st = { ST(CRBPF_ST_PASS_TO_TC, 1), ST(CRBPF_ST_FO_STICKY, 1) },
	  .setup = fo_on_b, .note = "XDP keeps it there too" },
	{ "fo_new_flow_after_failover", P_EDGE_TC, { PUB, TCP4(CLI4, 42002, VPS4, FO_PORT), SYN },
	  FO_FWD(FO_B, 0), .setup = fo_on_b, .check = sticky_42002_b,
	  .note = "a new flow goes to B" },
	{ "fo_reply_from_backup", P_TUN_TC, { TUN, TCP4(FO_B, 200, CLI4, 42002), SYNACK, .l3only = true },
	  TC_ACT_REDIRECT, SNAT(VPS4, FO_PORT), M_REV, { ST(CRBPF_ST_REV_TC, 1) },
	  .note = "B has no reverse rule: its flow translates the reply" },
	{ "fo_flow_stays_after_failback", P_EDGE_TC, { PUB, TCP4(CLI4, 42002, VPS4, FO_PORT), ACK },
	  FO_FWD(FO_B, 1), .setup = fo_on_a, .check = sticky_42002_b,
	  .note = "A is back: the flow begun on B is not moved" },
	{ "fo_new_flow_after_failback", P_EDGE_TC, { PUB, TCP4(CLI4, 42003, VPS4, FO_PORT), SYN },
	  FO_FWD(FO_A, 0), .setup = fo_on_a,
	  .note = "new flows return to A" },
	{ "fo_ended_flow_follows_active", P_EDGE_TC, { PUB, TCP4(CLI4, 42002, VPS4, FO_PORT), RST },
	  FO_FWD(FO_B, 1), .setup = fo_on_a, .note = "the RST still goes where its flow is" },
	{ "fo_reopened_flow_follows_active", P_EDGE_TC, { PUB, TCP4(CLI4, 42002, VPS4, FO_PORT), SYN },
	  FO_FWD(FO_A, 0), .setup = fo_on_a,
	  .note = "a new SYN on the ended flow's ports begins on the active backend" },
	{ "fo_rev_static_to_vps_itself", P_TUN_TC,
	  { TUN, TCP4(L3SRC4_BE, 443, "10.0.0.1", 40150), SYNACK, .l3only = true },
	  .verdict = TC_ACT_UNSPEC,
	  .st = { ST(CRBPF_ST_PASS_REV_MISS, 1), ST(CRBPF_ST_DROP_NO_ROUTE, 0),
		  ST(CRBPF_ST_REV_TC, 0) },
	  .note = "the VPS's own connection to a statically mapped backend port (crbpf watch's probe): no flow, to a local address: passed, not translated" },
	{ "fo_plain_mapping_untouched", P_EDGE_TC, { PUB, TCP4(CLI4, 42009, VPS4, PLAIN_PORT), SYN },
	  FO_FWD(FO_A, 0), .setup = fo_on_a, .check = no_sticky_plain,
	  .note = "without CRBPF_BE_FAILOVER no sticky entry is read or written" },
};

const int n_fo_cases = sizeof(fo_cases) / sizeof(fo_cases[0]);
