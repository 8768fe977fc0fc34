// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * Path MTU cases (bpf/mtu.h): MSS clamping of SYN / SYN-ACK in both
 * directions, --mss off and N, ICMP fragmentation-needed / packet-too-big for
 * packets above the tunnel MTU, and IPv4 without DF sent whole.
 *
 * tun0 (the L3 tunnel of the test namespace) runs at 1420 like wg0; nh0 (the
 * Ethernet next hop) at 1500. The last case puts tun0 back to 1500.
 * Expected frames are built from scratch: the builder computes every
 * checksum of a translated SYN with its expected options, and too_big_frame()
 * writes the ICMP error byte by byte around the input packet's own bytes.
 */
#include <arpa/inet.h>
#include <stdlib.h>
#include <string.h>
#include <netinet/in.h>
#include <linux/bpf.h>
#include <linux/pkt_cls.h>
#include <bpf/bpf.h>
#include "unit.h"

#define DF .frag = 0x4000

/* TCP options of an input packet and the MSS expected after the program
 * (0: the options must come out unchanged). */
struct opts {
	__u8 b[40];
	int len;
	__u16 mss_out;
};

#define OPTS(o) .tcp_opts = (o).b, .tcp_opts_len = (o).len

#define MSS_BYTES(v) 2, 4, (v) >> 8, (v) & 0xff
static const struct opts mss1460_to1380 = { { MSS_BYTES(1460), 4, 2, 1, 1 }, 8, 1380 };
/* MSS after NOP, NOP, timestamps; window scale after it */
static const struct opts late_mss1460_to1380 = {
	{ 1, 1, 8, 10, 1, 2, 3, 4, 5, 6, 7, 8, MSS_BYTES(1460), 1, 3, 3, 7 }, 20, 1380
};
static const struct opts mss1200_stays = { { MSS_BYTES(1200), 1, 1, 4, 2 }, 8, 0 };
static const struct opts mss1440_to1360 = { { MSS_BYTES(1440), 1, 3, 3, 7 }, 8, 1360 };
static const struct opts mss1460_stays = { { MSS_BYTES(1460) }, 4, 0 };
static const struct opts mss1460_to1200 = { { MSS_BYTES(1460) }, 4, 1200 };
static const struct opts mss8960_to1460 = { { 4, 2, MSS_BYTES(8960), 1, 1 }, 8, 1460 };
static const struct opts mss8960_stays = { { 4, 2, MSS_BYTES(8960), 1, 1 }, 8, 0 };
static const struct opts mss8940_to1440 = { { MSS_BYTES(8940), 1, 1, 4, 2 }, 8, 1440 };
static const struct opts mss65495_to1460 = { { MSS_BYTES(65495) }, 4, 1460 };
static const struct opts mss65475_to1440 = { { 1, 1, 1, 1, MSS_BYTES(65475) }, 8, 1440 };
static const struct opts mss1480_to1460 = { { MSS_BYTES(1480) }, 4, 1460 };
/* a length byte pointing past the header: the walk must stop, not clamp */
static const struct opts bad_len_stays = { { 1, 1, 9, 30, MSS_BYTES(1460) }, 8, 0 };

/*
 * Option layouts for --mss 1200 through every program. The checksum covers
 * 16-bit words aligned to the TCP header; an MSS value at an odd offset
 * straddles two of them. "odd" marks the layouts whose MSS value lies at an
 * odd offset from the start of the TCP header (20 + index).
 */
#define TS10 8, 10, 1, 2, 3, 4, 5, 6, 7, 8
#define NOP5 1, 1, 1, 1, 1
#define NOP10 NOP5, NOP5
static const struct opts lay_first = { { MSS_BYTES(1460), 1, 3, 3, 7 }, 8, 1200 };
/* odd */
static const struct opts lay_nop = { { 1, MSS_BYTES(1460), 3, 3, 7 }, 8, 1200 };
static const struct opts lay_nop2 = { { 1, 1, MSS_BYTES(1460), 1, 1 }, 8, 1200 };
/* odd */
static const struct opts lay_nop3 = { { 1, 1, 1, MSS_BYTES(1460), 1 }, 8, 1200 };
static const struct opts lay_ts = { { TS10, MSS_BYTES(1460), 1, 1 }, 16, 1200 };
/* odd: NOP, timestamps, MSS */
static const struct opts lay_nop_ts = { { 1, TS10, MSS_BYTES(1460), 1 }, 16, 1200 };
static const struct opts lay_sackp = { { 4, 2, MSS_BYTES(1460), 1, 1 }, 8, 1200 };
/* odd: SACK-permitted and window scale before it */
static const struct opts lay_sackp_ws = { { 4, 2, 3, 3, 7, MSS_BYTES(1460), 1, 1, 1 }, 12, 1200 };
/* the last option, ending at the data offset */
static const struct opts lay_end = { { 4, 2, 3, 3, 7, 1, 1, 1, MSS_BYTES(1460) }, 12, 1200 };
/* odd: the last option before an end-of-list byte */
static const struct opts lay_end_eol = { { 3, 3, 7, MSS_BYTES(1460), 0 }, 8, 1200 };
/* odd: 40 bytes of options, MSS in the last ten */
static const struct opts lay_full = {
	{ 1, TS10, 4, 2, NOP10, NOP10, MSS_BYTES(1460), 3, 3, 7 }, 40, 1200
};
/* odd: 35 NOPs first, one walk step per byte (36 of the 40 the loop allows) */
static const struct opts lay_nops35 = {
	{ NOP10, NOP10, NOP10, NOP5, MSS_BYTES(1460), 1 }, 40, 1200
};
/* the MSS option's length runs past the data offset into the payload */
static const struct opts lay_cut = { { NOP5, 2, 4, 5 }, 8, 0 };
static const struct opts lay_cut_full = { { NOP10, NOP10, NOP10, NOP5, 1, 1, 2, 4, 5 }, 40, 0 };

/* The expected frame carries the options with the MSS value replaced. */
static void expect_mss(const struct tcase *c, struct pkt_spec *s)
{
	const struct opts *o = (const struct opts *)c->in.tcp_opts;
	static __u8 out[40];
	int i = 0;

	memcpy(out, o->b, sizeof(out));
	while (o->mss_out && i < o->len) {
		if (out[i] == 1) {
			i++;
			continue;
		}
		if (out[i] == 2) {
			out[i + 2] = o->mss_out >> 8;
			out[i + 3] = o->mss_out & 0xff;
			break;
		}
		i += out[i + 1];
	}
	s->tcp_opts = out;
}

static void put16(__u8 *p, __u16 v)
{
	p[0] = v >> 8;
	p[1] = v & 0xff;
}

/*
 * The error the client must get: MACs swapped, from the address it sent to,
 * quoting its packet byte for byte (without a VLAN tag) up to 576 bytes of
 * IPv4 error or 1280 of ICMPv6. to_port holds the MTU. The ICMP checksum
 * covers the quote as it is: BPF_PROG_TEST_RUN makes no CHECKSUM_PARTIAL
 * skb, so an input whose L4 checksum holds just the pseudo-header sum is a
 * packet with that (wrong) checksum, never one a NIC will complete. The
 * partial case proper runs in tests/integration/12_pmtu.sh (senders with tx
 * offload).
 */
static int too_big_frame(const struct tcase *c, const __u8 *in, int in_len,
			 __u8 *out)
{
	int v4 = c->in.family == 4, l3 = c->in.l3_off, l4 = c->in.l4_off;
	int hl = v4 ? 28 : 48, ip_len = in_len - l3, q, len, o;
	__u8 quote[PKT_MAX];
	__u32 sum;

	q = ip_len < (v4 ? 576 : 1280) - hl ? ip_len : (v4 ? 576 : 1280) - hl;
	memcpy(quote, in + l3, q);
	memset(out, 0, PKT_MAX);
	memcpy(out, in + 6, 6);
	memcpy(out + 6, in, 6);
	put16(out + 12, v4 ? 0x0800 : 0x86dd);
	o = 14;
	if (v4) {
		out[o] = 0x45;
		out[o + 1] = 0xc0;
		put16(out + o + 2, 28 + q);
		out[o + 8] = 64;
		out[o + 9] = IPPROTO_ICMP;
		memcpy(out + o + 12, in + l3 + 16, 4);
		memcpy(out + o + 16, in + l3 + 12, 4);
		put16(out + o + 10, csum_fold(csum_add(0, out + o, 20)));
		o += 20;
		out[o] = 3;
		out[o + 1] = 4;
		put16(out + o + 6, c->to_port);
	} else {
		out[o] = 0x60;
		put16(out + o + 4, 8 + q);
		out[o + 6] = IPPROTO_ICMPV6;
		out[o + 7] = 64;
		memcpy(out + o + 8, in + l3 + 24, 16);
		memcpy(out + o + 24, in + l3 + 8, 16);
		o += 40;
		out[o] = 2;
		put16(out + o + 6, c->to_port);
	}
	memcpy(out + o + 8, quote, q);
	len = o + 8 + q;
	(void)l4;
	sum = 0;
	if (!v4) {
		__u8 ph[40] = {};

		memcpy(ph, out + 14 + 8, 32);
		put16(ph + 34, 8 + q);
		ph[39] = IPPROTO_ICMPV6;
		sum = csum_add(0, ph, sizeof(ph));
	}
	sum = csum_add(sum, out + o, 8);
	sum = csum_add(sum, quote, q);
	put16(out + o + 2, csum_fold(sum));
	return len;
}

#define TOO_BIG(mtu) .to_port = (mtu), .expect_frame = too_big_frame, .macs = M_REV

/* The stack forwards (and fragments) it: translated, TTL left to the stack. */
static void expect_ttl_kept(const struct tcase *c, struct pkt_spec *s)
{
	s->ttl = c->in.ttl ? c->in.ttl : 64;
}

static void run(const char *cmd)
{
	if (system(cmd))
		unit_fail("setup: %s failed", cmd);
}

static void mss_set(__u16 mode, __u16 mss)
{
	struct crbpf_mss_cfg cfg = { .mode = mode, .mss = mss };
	__u32 key = topo.ifindex[DEV_PUB];
	int fd = edge_map_fd("crbpf_mss");

	if (fd < 0 || bpf_map_update_elem(fd, &key, &cfg, BPF_ANY))
		unit_fail("setup: crbpf_mss update failed");
}

/* auto is "no entry": what a first attach without --mss leaves */
static void tun1420_auto(void)
{
	__u32 key = topo.ifindex[DEV_PUB];

	run("ip link set dev tun0 mtu 1420");
	bpf_map_delete_elem(edge_map_fd("crbpf_mss"), &key);
}

static void tun1420_mss_auto_entry(void)
{
	run("ip link set dev tun0 mtu 1420");
	mss_set(CRBPF_MSS_AUTO, 0);
}

static void mss_off(void)
{
	mss_set(CRBPF_MSS_OFF, 0);
}

static void mss_1200(void)
{
	mss_set(CRBPF_MSS_FIXED, 1200);
}

static void tun1500_auto(void)
{
	run("ip link set dev tun0 mtu 1500");
	mss_set(CRBPF_MSS_AUTO, 0);
}

/*
 * One option layout through each program that clamps, IPv4 and IPv6: SYNs
 * on the public side (tc to the tunnel, XDP to the Ethernet next hop),
 * SYN-ACKs from the tunnel (tc) and the next hop (tc, XDP). clamped: 1 when
 * the layout's MSS must come out as 1200, 0 when the packet must come out
 * unchanged but for the translation. tc cases run with a complete skb->csum
 * where the frame allows (not l3only), so a stale skb->csum fails them too.
 */
#define MSS_LAYOUT(tag, o, clamped, port)                                        \
	{ "mss_lay_" #tag "_edge_tc_v4", P_EDGE_TC,                              \
	  { PUB, TCP4(CLI4, (port), VPS4, 80), SYN, OPTS(o) },                   \
	  TC_ACT_REDIRECT, DNAT(BE3_4, 80), M_KEEP,                              \
	  { ST(CRBPF_ST_MSS_CLAMPED, clamped) }, .csum_complete = true,          \
	  .setup = mss_1200, .expect = expect_mss },                             \
	{ "mss_lay_" #tag "_edge_tc_v6", P_EDGE_TC,                              \
	  { PUB, TCP6(CLI6, (port) + 1, VPS6, 443), SYN, OPTS(o) },              \
	  TC_ACT_REDIRECT, DNAT(BE3_6, 8443), M_KEEP,                            \
	  { ST(CRBPF_ST_MSS_CLAMPED, clamped) }, .csum_complete = true,          \
	  .setup = mss_1200, .expect = expect_mss },                             \
	{ "mss_lay_" #tag "_edge_xdp_v4", P_EDGE_XDP,                            \
	  { PUB, TCP4(CLI4, (port) + 2, VPS4, 2222), SYN, OPTS(o) },             \
	  XDP_REDIRECT, DNAT(BE2_4, 22), M_FWD_L2,                               \
	  { ST(CRBPF_ST_MSS_CLAMPED, clamped) },                                 \
	  .setup = mss_1200, .expect = expect_mss },                             \
	{ "mss_lay_" #tag "_edge_xdp_v6", P_EDGE_XDP,                            \
	  { PUB, TCP6(CLI6, (port) + 3, VPS6, 2222), SYN, OPTS(o) },             \
	  XDP_REDIRECT, DNAT(BE2_6, 22), M_FWD_L2,                               \
	  { ST(CRBPF_ST_MSS_CLAMPED, clamped) },                                 \
	  .setup = mss_1200, .expect = expect_mss },                             \
	{ "mss_lay_" #tag "_tun_tc_v4", P_TUN_TC,                                \
	  { TUN, TCP4(L3SRC4_BE, 443, CLI4, (port) + 4), .l3only = true, SYNACK, \
	    OPTS(o) },                                                           \
	  TC_ACT_REDIRECT, SNAT(VPS4, 9443), M_REV,                              \
	  { ST(CRBPF_ST_MSS_CLAMPED, clamped) },                                 \
	  .setup = mss_1200, .expect = expect_mss },                             \
	{ "mss_lay_" #tag "_tun_tc_v6", P_TUN_TC,                                \
	  { TUN, TCP6(L3SRC6_BE, 443, CLI6, (port) + 5), .l3only = true, SYNACK, \
	    OPTS(o) },                                                           \
	  TC_ACT_REDIRECT, SNAT(VPS6, 9443), M_REV,                              \
	  { ST(CRBPF_ST_MSS_CLAMPED, clamped) },                                 \
	  .setup = mss_1200, .expect = expect_mss },                             \
	{ "mss_lay_" #tag "_rev_tc_v4", P_REV_TC,                                \
	  { NH, TCP4(BE2_4, 22, CLI4, (port) + 6), SYNACK, OPTS(o) },            \
	  TC_ACT_REDIRECT, SNAT(VPS4, 2222), M_REV,                              \
	  { ST(CRBPF_ST_MSS_CLAMPED, clamped) }, .add_flow = true,               \
	  .csum_complete = true, .setup = mss_1200, .expect = expect_mss },      \
	{ "mss_lay_" #tag "_rev_tc_v6", P_REV_TC,                                \
	  { NH, TCP6(BE2_6, 22, CLI6, (port) + 7), SYNACK, OPTS(o) },            \
	  TC_ACT_REDIRECT, SNAT(VPS6, 2222), M_REV,                              \
	  { ST(CRBPF_ST_MSS_CLAMPED, clamped) }, .add_flow = true,               \
	  .csum_complete = true, .setup = mss_1200, .expect = expect_mss }

const struct tcase mtu_cases[] = {
	/* ---- MSS, client -> backend ---- */
	{ "mss_tc_v4_syn_clamped", P_EDGE_TC,
	  { PUB, TCP4(CLI4, 41001, VPS4, 80), SYN, OPTS(mss1460_to1380) },
	  TC_ACT_REDIRECT, DNAT(BE3_4, 80), M_KEEP,
	  { ST(CRBPF_ST_MSS_CLAMPED, 1), ST(CRBPF_ST_FWD_TC, 1) },
	  .setup = tun1420_auto, .expect = expect_mss,
	  .note = "tun0 at 1420: MSS 1460 -> 1380 (no crbpf_mss entry = auto)" },
	{ "mss_tc_v4_syn_late_option", P_EDGE_TC,
	  { PUB, TCP4(CLI4, 41002, VPS4, 80), SYN, OPTS(late_mss1460_to1380) },
	  TC_ACT_REDIRECT, DNAT(BE3_4, 80), M_KEEP, { ST(CRBPF_ST_MSS_CLAMPED, 1) },
	  .setup = tun1420_mss_auto_entry, .expect = expect_mss,
	  .note = "MSS after NOP, NOP, timestamps" },
	{ "mss_tc_v4_smaller_stays", P_EDGE_TC,
	  { PUB, TCP4(CLI4, 41003, VPS4, 80), SYN, OPTS(mss1200_stays) },
	  TC_ACT_REDIRECT, DNAT(BE3_4, 80), M_KEEP,
	  { ST(CRBPF_ST_MSS_CLAMPED, 0), ST(CRBPF_ST_FWD_TC, 1) },
	  .setup = tun1420_mss_auto_entry, .expect = expect_mss, .note = "only lowered, never raised" },
	{ "mss_tc_v4_bad_option_len", P_EDGE_TC,
	  { PUB, TCP4(CLI4, 41004, VPS4, 80), SYN, OPTS(bad_len_stays) },
	  TC_ACT_REDIRECT, DNAT(BE3_4, 80), M_KEEP, { ST(CRBPF_ST_MSS_CLAMPED, 0) },
	  .setup = tun1420_mss_auto_entry, .expect = expect_mss },
	{ "mss_tc_v4_ack_untouched", P_EDGE_TC,
	  { PUB, TCP4(CLI4, 41005, VPS4, 80), OPTS(mss1460_stays) },
	  TC_ACT_REDIRECT, DNAT(BE3_4, 80), M_KEEP, { ST(CRBPF_ST_MSS_CLAMPED, 0) },
	  .setup = tun1420_mss_auto_entry, .expect = expect_mss, .note = "not a SYN: options left alone" },
	{ "mss_tc_v6_syn_clamped", P_EDGE_TC,
	  { PUB, TCP6(CLI6, 41006, VPS6, 443), SYN, OPTS(mss1440_to1360) },
	  TC_ACT_REDIRECT, DNAT(BE3_6, 8443), M_KEEP, { ST(CRBPF_ST_MSS_CLAMPED, 1) },
	  .setup = tun1420_mss_auto_entry, .expect = expect_mss, .note = "IPv6: 1420 - 60" },
	{ "mss_xdp_v4_syn_partial_to_tc", P_EDGE_XDP,
	  { PUB, TCP4(CLI4, 41007, VPS4, 2222), SYN, OPTS(mss65495_to1460),
	    .csum_partial = true },
	  XDP_PASS, .st = { ST(CRBPF_ST_PASS_TO_TC, 1), ST(CRBPF_ST_MSS_CLAMPED, 0) },
	  .note = "a partial checksum: XDP leaves the SYN to tc's helpers" },
	{ "mss_xdp_v4_syn_l2", P_EDGE_XDP,
	  { PUB, TCP4(CLI4, 41008, VPS4, 2222), SYN, OPTS(mss65495_to1460) },
	  XDP_REDIRECT, DNAT(BE2_4, 22), M_FWD_L2,
	  { ST(CRBPF_ST_MSS_CLAMPED, 1), ST(CRBPF_ST_FWD_XDP, 1) },
	  .expect = expect_mss, .note = "nh0 at 1500: RFC 1624 update in XDP" },
	{ "mss_xdp_v6_syn_l2", P_EDGE_XDP,
	  { PUB, TCP6(CLI6, 41009, VPS6, 2222), SYN, OPTS(mss65475_to1440) },
	  XDP_REDIRECT, DNAT(BE2_6, 22), M_FWD_L2, { ST(CRBPF_ST_MSS_CLAMPED, 1) },
	  .expect = expect_mss },

	/* ---- MSS, backend -> client ---- */
	{ "mss_tun_tc_v4_synack", P_TUN_TC,
	  { TUN, TCP4(L3SRC4_BE, 443, CLI4, 41010), .l3only = true, SYNACK,
	    OPTS(mss1460_to1380) },
	  TC_ACT_REDIRECT, SNAT(VPS4, 9443), M_REV,
	  { ST(CRBPF_ST_MSS_CLAMPED, 1), ST(CRBPF_ST_REV_TC, 1) },
	  .setup = tun1420_mss_auto_entry, .expect = expect_mss, .note = "MTU of the tunnel it came from" },
	{ "mss_tun_tc_v6_synack_late", P_TUN_TC,
	  { TUN, TCP6(L3SRC6_BE, 443, CLI6, 41011), .l3only = true, SYNACK,
	    OPTS(mss1440_to1360) },
	  TC_ACT_REDIRECT, SNAT(VPS6, 9443), M_REV, { ST(CRBPF_ST_MSS_CLAMPED, 1) },
	  .setup = tun1420_mss_auto_entry, .expect = expect_mss },
	{ "mss_rev_tc_v6_synack", P_REV_TC,
	  { NH, TCP6(BE2_6, 22, CLI6, 41012), SYNACK, OPTS(mss8940_to1440) },
	  TC_ACT_REDIRECT, SNAT(VPS6, 2222), M_REV,
	  { ST(CRBPF_ST_MSS_CLAMPED, 1), ST(CRBPF_ST_REV_TC, 1) },
	  .add_flow = true, .expect = expect_mss },
	{ "mss_rev_tc_v4_synack", P_REV_TC,
	  { NH, TCP4(BE2_4, 22, CLI4, 41013), SYNACK, OPTS(mss8960_to1460) },
	  TC_ACT_REDIRECT, SNAT(VPS4, 2222), M_REV,
	  { ST(CRBPF_ST_MSS_CLAMPED, 1), ST(CRBPF_ST_REV_TC, 1) },
	  .add_flow = true, .expect = expect_mss },

	/* ---- --mss off and N ---- */
	{ "mss_off_tc_v4", P_EDGE_TC,
	  { PUB, TCP4(CLI4, 41014, VPS4, 80), SYN, OPTS(mss1460_stays) },
	  TC_ACT_REDIRECT, DNAT(BE3_4, 80), M_KEEP,
	  { ST(CRBPF_ST_MSS_CLAMPED, 0), ST(CRBPF_ST_FWD_TC, 1) },
	  .setup = mss_off, .expect = expect_mss },
	{ "mss_off_tun_tc_v4", P_TUN_TC,
	  { TUN, TCP4(L3SRC4_BE, 443, CLI4, 41015), .l3only = true, SYNACK,
	    OPTS(mss1460_stays) },
	  TC_ACT_REDIRECT, SNAT(VPS4, 9443), M_REV, { ST(CRBPF_ST_MSS_CLAMPED, 0) },
	  .setup = mss_off, .expect = expect_mss },
	{ "mss_off_xdp_v4", P_EDGE_XDP,
	  { PUB, TCP4(CLI4, 41016, VPS4, 2222), SYN, OPTS(mss8960_stays) },
	  XDP_REDIRECT, DNAT(BE2_4, 22), M_FWD_L2, { ST(CRBPF_ST_MSS_CLAMPED, 0) },
	  .setup = mss_off, .expect = expect_mss },
	{ "mss_fixed_1200_tc_v4", P_EDGE_TC,
	  { PUB, TCP4(CLI4, 41017, VPS4, 80), SYN, OPTS(mss1460_to1200) },
	  TC_ACT_REDIRECT, DNAT(BE3_4, 80), M_KEEP, { ST(CRBPF_ST_MSS_CLAMPED, 1) },
	  .setup = mss_1200, .expect = expect_mss },

	/* ---- too big for the tunnel (tun0 1420) ---- */
	{ "big_tc_v4_tcp_df_icmp", P_EDGE_TC,
	  { PUB, TCP4(CLI4, 41020, VPS4, 80), DF, .plen = 1401 },
	  TC_ACT_REDIRECT, TOO_BIG(1420),
	  .st = { ST(CRBPF_ST_ICMP_TOO_BIG, 1), ST(CRBPF_ST_FWD_TC, 0),
		  ST(CRBPF_ST_FLOW_NEW, 0) },
	  .setup = tun1420_mss_auto_entry,
	  .note = "1441 bytes with DF: frag-needed mtu 1420 from the public address" },
	{ "big_tc_v4_udp_df_icmp", P_EDGE_TC,
	  { PUB, UDP4(CLI4, 41021, VPS4, 53), DF, .plen = 1500 },
	  TC_ACT_REDIRECT, TOO_BIG(1420), .st = { ST(CRBPF_ST_ICMP_TOO_BIG, 1) },
	  .note = "quote cut so the error is 576 bytes",
	  .setup = tun1420_mss_auto_entry },
	{ "big_tc_v4_udp_df_partial_csum", P_EDGE_TC,
	  { PUB, UDP4(CLI4, 41022, VPS4, 53), DF, .plen = 1500, .csum_partial = true },
	  TC_ACT_REDIRECT, TOO_BIG(1420), .st = { ST(CRBPF_ST_ICMP_TOO_BIG, 1) },
	  .note = "looks partial, but the skb is not (test run): the quote as it is",
	  .setup = tun1420_mss_auto_entry },
	{ "big_tc_v4_udp_csum_eq_pseudo", P_EDGE_TC,
	  { PUB, UDP4(CLI4, 41032, VPS4, 53), DF, .plen = 1500 },
	  TC_ACT_REDIRECT, TOO_BIG(1420), .st = { ST(CRBPF_ST_ICMP_TOO_BIG, 1) },
	  .csum_eq_pseudo = true, .setup = tun1420_mss_auto_entry,
	  .note = "complete UDP checksum equal to its pseudo-header sum, quote cut short" },
	{ "big_tc_v6_udp_csum_eq_pseudo", P_EDGE_TC,
	  { PUB, UDP6(CLI6, 41033, VPS6, 5000), .plen = 1400 },
	  TC_ACT_REDIRECT, TOO_BIG(1420), .st = { ST(CRBPF_ST_ICMP_TOO_BIG, 1) },
	  .csum_eq_pseudo = true, .setup = tun1420_mss_auto_entry },
	{ "big_tc_v4_vlan_df_icmp", P_EDGE_TC,
	  { PUB, TCP4(CLI4, 41023, VPS4, 80), DF, .plen = 1500, .vlan = 100 },
	  TC_ACT_REDIRECT, TOO_BIG(1420), .st = { ST(CRBPF_ST_ICMP_TOO_BIG, 1) },
	  .setup = tun1420_mss_auto_entry },
	{ "big_tc_v6_tcp_icmp", P_EDGE_TC,
	  { PUB, TCP6(CLI6, 41024, VPS6, 443), .plen = 1400 },
	  TC_ACT_REDIRECT, TOO_BIG(1420), .st = { ST(CRBPF_ST_ICMP_TOO_BIG, 1) },
	  .note = "IPv6 always: packet-too-big, quote cut at 1280 bytes of error",
	  .setup = tun1420_mss_auto_entry },
	{ "big_tc_v6_udp_short_quote", P_EDGE_TC,
	  { PUB, UDP6(CLI6, 41025, VPS6, 5000), .plen = 1373 },
	  TC_ACT_REDIRECT, TOO_BIG(1420), .st = { ST(CRBPF_ST_ICMP_TOO_BIG, 1) },
	  .note = "1421 bytes, odd length",
	  .setup = tun1420_mss_auto_entry },
	{ "big_tc_v4_l2_df_icmp", P_EDGE_TC,
	  { PUB, TCP4(CLI4, 41026, VPS4, 2222), DF, .plen = 1500 },
	  TC_ACT_REDIRECT, TOO_BIG(1500), .st = { ST(CRBPF_ST_ICMP_TOO_BIG, 1) },
	  .note = "Ethernet next hop nh0 at 1500" },
	{ "big_xdp_v4_l2_to_tc", P_EDGE_XDP,
	  { PUB, TCP4(CLI4, 41027, VPS4, 2222), DF, .plen = 1500 },
	  XDP_PASS, .st = { ST(CRBPF_ST_PASS_TO_TC, 1), ST(CRBPF_ST_FWD_XDP, 0) },
	  .note = "XDP hands oversize frames to tc untouched" },
	{ "fits_tc_v4_df_exact", P_EDGE_TC,
	  { PUB, TCP4(CLI4, 41028, VPS4, 80), DF, .plen = 1380 },
	  TC_ACT_REDIRECT, DNAT(BE3_4, 80), M_KEEP,
	  { ST(CRBPF_ST_FWD_TC, 1), ST(CRBPF_ST_ICMP_TOO_BIG, 0) },
	  .note = "1420 bytes: fits exactly",
	  .setup = tun1420_mss_auto_entry },
	{ "big_tc_v4_udp_nodf_whole", P_EDGE_TC,
	  { PUB, UDP4(CLI4, 41029, VPS4, 53), .plen = 1500 },
	  TC_ACT_REDIRECT, DNAT(BE3_4, 5353), M_KEEP,
	  { ST(CRBPF_ST_FWD_OVERSIZE, 1), ST(CRBPF_ST_FWD_TC, 1),
	    ST(CRBPF_ST_ICMP_TOO_BIG, 0) },
	  .note = "no DF: the whole datagram into the tunnel",
	  .setup = tun1420_mss_auto_entry },
	{ "big_tc_v4_l2_nodf_stack", P_EDGE_TC,
	  { PUB, UDP4(CLI4, 41030, VPS4, 7000), .plen = 1600 },
	  TC_ACT_UNSPEC, DNAT(BE2_4, 7000), M_KEEP,
	  { ST(CRBPF_ST_PASS_OVERSIZE, 1), ST(CRBPF_ST_ICMP_TOO_BIG, 0) },
	  .expect = expect_ttl_kept,
	  .note = "no DF to an Ethernet next hop: translated, the stack fragments" },

	/* ---- option layouts x every program, --mss 1200 ---- */
	MSS_LAYOUT(first, lay_first, 1, 42000),
	MSS_LAYOUT(nop, lay_nop, 1, 42010),
	MSS_LAYOUT(nop2, lay_nop2, 1, 42020),
	MSS_LAYOUT(nop3, lay_nop3, 1, 42030),
	MSS_LAYOUT(ts, lay_ts, 1, 42040),
	MSS_LAYOUT(nop_ts, lay_nop_ts, 1, 42050),
	MSS_LAYOUT(sackp, lay_sackp, 1, 42060),
	MSS_LAYOUT(sackp_ws, lay_sackp_ws, 1, 42070),
	MSS_LAYOUT(end, lay_end, 1, 42080),
	MSS_LAYOUT(end_eol, lay_end_eol, 1, 42090),
	MSS_LAYOUT(full, lay_full, 1, 42100),
	MSS_LAYOUT(nops35, lay_nops35, 1, 42110),
	MSS_LAYOUT(cut, lay_cut, 0, 42120),
	MSS_LAYOUT(cut_full, lay_cut_full, 0, 42130),

	/* last: tun0 back to 1500, and auto follows it */
	{ "mss_tc_v4_follows_mtu", P_EDGE_TC,
	  { PUB, TCP4(CLI4, 41031, VPS4, 80), SYN, OPTS(mss1480_to1460) },
	  TC_ACT_REDIRECT, DNAT(BE3_4, 80), M_KEEP, { ST(CRBPF_ST_MSS_CLAMPED, 1) },
	  .setup = tun1500_auto, .expect = expect_mss },

	/* ---- the hand-off (bpf/handoff.h): XDP clamps and checks the MTU ---- */
	{ "ho_mss_v4_syn_clamped", P_EDGE_XDP_H,
	  { PUB, TCP4(CLI4, 43021, VPS4, 80), SYN, OPTS(mss1460_to1380) },
	  XDP_PASS, DNAT(BE3_4, 80), M_HANDOFF,
	  { ST(CRBPF_ST_MSS_CLAMPED, 1), ST(CRBPF_ST_FWD_HANDOFF, 1) },
	  .setup = tun1420_mss_auto_entry, .expect = expect_mss, .chain_tc = true,
	  .note = "tun0 at 1420: the SYN clamped in XDP, then only redirected" },
	{ "ho_mss_v6_syn_clamped", P_EDGE_XDP_H,
	  { PUB, TCP6(CLI6, 43022, VPS6, 443), SYN, OPTS(mss1440_to1360) },
	  XDP_PASS, DNAT(BE3_6, 8443), M_HANDOFF,
	  { ST(CRBPF_ST_MSS_CLAMPED, 1), ST(CRBPF_ST_FWD_HANDOFF, 1) },
	  .setup = tun1420_mss_auto_entry, .expect = expect_mss, .chain_tc = true },
	{ "ho_fits_v4_df_exact", P_EDGE_XDP_H,
	  { PUB, TCP4(CLI4, 43023, VPS4, 80), DF, .plen = 1380 },
	  XDP_PASS, DNAT(BE3_4, 80), M_HANDOFF, { ST(CRBPF_ST_FWD_HANDOFF, 1) },
	  .setup = tun1420_mss_auto_entry, .chain_tc = true,
	  .note = "1420 bytes of IP: fits tun0 exactly (no Ethernet header counted)" },
	{ "ho_big_v4_df_unmarked", P_EDGE_XDP_H,
	  { PUB, TCP4(CLI4, 43024, VPS4, 80), DF, .plen = 1381 },
	  .verdict = XDP_PASS,
	  .st = { ST(CRBPF_ST_PASS_TO_TC, 1), ST(CRBPF_ST_FWD_HANDOFF, 0) },
	  .setup = tun1420_mss_auto_entry,
	  .note = "1421 bytes: tc sends the ICMP error, the frame passes as it came" },
	{ "ho_big_v4_nodf_unmarked", P_EDGE_XDP_H,
	  { PUB, UDP4(CLI4, 43025, VPS4, 53), .plen = 1500 },
	  .verdict = XDP_PASS,
	  .st = { ST(CRBPF_ST_PASS_TO_TC, 1), ST(CRBPF_ST_FWD_HANDOFF, 0) },
	  .setup = tun1420_mss_auto_entry },
	{ "ho_big_v6_unmarked", P_EDGE_XDP_H,
	  { PUB, UDP6(CLI6, 43026, VPS6, 5000), .plen = 1400 },
	  .verdict = XDP_PASS,
	  .st = { ST(CRBPF_ST_PASS_TO_TC, 1), ST(CRBPF_ST_FWD_HANDOFF, 0) },
	  .setup = tun1420_mss_auto_entry },
};

const int n_mtu_cases = sizeof(mtu_cases) / sizeof(mtu_cases[0]);
