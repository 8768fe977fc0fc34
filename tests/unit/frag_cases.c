// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * IP fragments (bpf/frag.h): crbpf_edge_tc, crbpf_rev_tc, crbpf_tun_tc, and
 * XDP leaving fragments to tc. Mappings as in main.c (mappings[]).
 *
 * Cases run in order and build on each other: a first fragment is
 * remembered for the later fragments of its datagram (same source,
 * destination, id, protocol); a flow created by a forward packet gives the
 * address pair that answers for fragments ahead of their first. Every client
 * address here is used by this file only, so edge_cases.c leaves no pair
 * behind that would change an answer.
 *
 * The builder gives a later fragment no transport header (payload only) and
 * a first fragment an L4 checksum over the bytes it carries, so the expected
 * frame, rebuilt from scratch with the new address and port, also pins the
 * first fragment's checksum update (RFC 1624 updates are linear: right over
 * these bytes is right over the whole datagram; the integration test
 * 13_frag.sh checks whole datagrams).
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <bpf/bpf.h>
#include <linux/bpf.h>
#include <linux/pkt_cls.h>
#include "unit.h"


/* Clients of this file only (198.51.100.0/24 and 2001:db8:100::/64 are
 * routed to the router behind pub0). */
#define FC4_A "198.51.100.71" /* one backend: pair answers */
#define FC4_B "198.51.100.72" /* two backends: pair ambiguous */
#define FC4_C "198.51.100.73" /* no mapped flow: no pair */
#define FC4_D "198.51.100.74" /* L2 backend */
#define FC4_E "198.51.100.75" /* reverse, flow entry */
#define FC4_F "198.51.100.76" /* reverse, pair from a forward flow */
#define FC4_G "198.51.100.77" /* reverse, no pair */
#define FC4_H "198.51.100.78" /* reverse through crbpf_tun_tc */
#define FC4_I "198.51.100.79" /* VPS's own fragments mark the pair */
#define FC4_J "198.51.100.80" /* pair ages */
#define FC4_K "198.51.100.81" /* ambiguous pair ages */
#define FC4_L "198.51.100.82" /* a spoofed VPS-own first fragment */
#define FC4_M "198.51.100.83" /* reverse, untranslatable first fragment */
#define FC4_N "198.51.100.84" /* floods crbpf_frags */
#define FC6_A "2001:db8:100::71"
#define FC6_C "2001:db8:100::73"
#define FC6_E "2001:db8:100::75"
#define FC6_F "2001:db8:100::76"

/* first fragment (MF, offset 0) and a later one (offset 1480, last) */
#define FIRST4(id) .frag = 0x2000, .frag_id = (id)
#define LATER4(id) .frag = 0x00b9, .frag_id = (id), .plen = 100
#define MID4(id) .frag = 0x20b9, .frag_id = (id), .plen = 104 /* MF, offset 1480 */
#define FIRST6(id) .v6frag = 0x0001, .frag_id = (id)
#define LATER6(id) .v6frag = 0x05a8, .frag_id = (id), .plen = 100
/* a later fragment has no ports: the builder writes none */
#define UDP4F(s, d) .family = 4, .proto = IPPROTO_UDP, .src = (s), .dst = (d)
#define UDP6F(s, d) .family = 6, .proto = IPPROTO_UDP, .src = (s), .dst = (d)
#define TCP4F(s, d) .family = 4, .proto = IPPROTO_TCP, .src = (s), .dst = (d)
#define ICMP4F(s, d) .family = 4, .proto = IPPROTO_ICMP, .src = (s), .dst = (d)
#define ICMP6F(s, d) .family = 6, .proto = IPPROTO_ICMPV6, .src = (s), .dst = (d)

#define DNAT_ADDR(a) .x = X_DNAT_ADDR, .to_addr = (a), .to_port = 0
#define SNAT_ADDR(a) .x = X_SNAT_ADDR, .to_addr = (a), .to_port = 0

#define MST_IN(f, pr, pp, n, nf) \
	.mst = { .on = true, .family = (f), .proto = (pr), .port = (pp), \
		 .in_packets = (n), .new_flows = (nf) }
#define MST_OUT(f, pr, pp, n) \
	.mst = { .on = true, .family = (f), .proto = (pr), .port = (pp), \
		 .out_packets = (n) }

/* A datagram entry for FC4_C -> VPS4 (UDP, id) leading to BE3_4 on tun0,
 * written at written_ns (CLOCK_MONOTONIC, the clock of bpf_ktime_get_ns). */
static void frag_entry(__u16 id, __u64 written_ns)
{
	struct crbpf_frag_key k = {
		.id = htons(id), /* the 16-bit id as the packet carries it */
		.family = CRBPF_V4,
		.proto = IPPROTO_UDP,
		.kind = CRBPF_FRAG_FWD,
	};
	struct crbpf_frag v = {
		.ifindex = topo.ifindex[DEV_TUN],
		.mapping = unit_mapping_of(4, IPPROTO_UDP, 53, NULL),
		.written_ns = written_ns,
	};

	parse_addr(4, FC4_C, k.src);
	parse_addr(4, VPS4, k.dst);
	parse_addr(4, BE3_4, v.addr);
	ASSERT_OK(bpf_map_update_elem(edge_map_fd("crbpf_frags"), &k, &v, BPF_ANY),
		  "insert crbpf_frags entry");
}

static void frag_entry_stale(void)
{
	frag_entry(0x1060, mono_ns() - 31ULL * 1000000000ULL);
}

static void frag_entry_fresh(void)
{
	frag_entry(0x1061, mono_ns());
}

#define SEC_NS 1000000000ULL

/* The pair entry of kind for (src, dst) UDP: the fd of the table that holds
 * it (crbpf_fragpairs; crbpf_frags in an object from before that table),
 * -1 when none does. */
static int pair_find(__u8 kind, int family, const char *src, const char *dst,
		     struct crbpf_frag_key *k, struct crbpf_frag *v)
{
	static const char *const maps[] = { "crbpf_fragpairs", "crbpf_frags" };
	size_t i;
	int fd;

	memset(k, 0, sizeof(*k));
	k->family = family == 4 ? CRBPF_V4 : CRBPF_V6;
	k->proto = IPPROTO_UDP;
	k->kind = kind;
	parse_addr(family, src, k->src);
	parse_addr(family, dst, k->dst);
	for (i = 0; i < sizeof(maps) / sizeof(maps[0]); i++) {
		fd = edge_map_fd(maps[i]);
		if (fd >= 0 && !bpf_map_lookup_elem(fd, k, v))
			return fd;
	}
	return -1;
}

/* Time passes for the forward pair of client -> VPS4: its entry was last
 * written secs ago. */
static void pair_age(const char *client, int secs)
{
	struct crbpf_frag_key k;
	struct crbpf_frag v;
	int fd = pair_find(CRBPF_FRAG_PAIR_FWD, 4, client, VPS4, &k, &v);

	if (fd < 0) {
		unit_fail("no pair entry %s -> %s", client, VPS4);
		return;
	}
	v.written_ns = mono_ns() - secs * SEC_NS;
	ASSERT_OK(bpf_map_update_elem(fd, &k, &v, BPF_EXIST), "age pair entry");
}

static void pair_j_61s(void)
{
	pair_age(FC4_J, 61);
}

static void pair_j_59s(void)
{
	pair_age(FC4_J, 59);
}

static void pair_k_61s(void)
{
	pair_age(FC4_K, 61);
}

static void pair_l_61s(void)
{
	pair_age(FC4_L, 61);
}

/* The pair of FC4_J is in crbpf_fragpairs, written within the second. */
static bool pair_j_fresh(void)
{
	struct crbpf_frag_key k;
	struct crbpf_frag v;
	int fd = pair_find(CRBPF_FRAG_PAIR_FWD, 4, FC4_J, VPS4, &k, &v);
	__u64 now = mono_ns();

	if (fd < 0) {
		unit_fail("no pair entry %s -> %s", FC4_J, VPS4);
		return false;
	}
	return ASSERT_EQ(fd, edge_map_fd("crbpf_fragpairs"),
			 "pair entry in crbpf_fragpairs") &
	       ASSERT_TRUE(v.written_ns <= now && now - v.written_ns < 2 * SEC_NS,
			   "pair entry written just now");
}

/* Neither table holds anything for src -> dst (UDP). */
static bool no_frag_state(int family, const char *src, const char *dst,
			  __u8 dkind, __u8 pkind, __u16 id)
{
	struct crbpf_frag_key k;
	struct crbpf_frag v;
	bool ok = true;

	if (pair_find(pkind, family, src, dst, &k, &v) >= 0) {
		unit_fail("pair entry %s -> %s written", src, dst);
		ok = false;
	}
	k.kind = dkind;
	k.id = htons(id);
	if (!bpf_map_lookup_elem(edge_map_fd("crbpf_frags"), &k, &v)) {
		unit_fail("datagram entry %s -> %s id %#x written", src, dst, id);
		ok = false;
	}
	return ok;
}

static bool no_entry_c_1031(void)
{
	return no_frag_state(4, FC4_C, VPS4, CRBPF_FRAG_FWD, CRBPF_FRAG_PAIR_FWD,
			     0x1031);
}

static bool no_entry_g_3004(void)
{
	return no_frag_state(4, BE2_4, FC4_G, CRBPF_FRAG_REV, CRBPF_FRAG_PAIR_REV,
			     0x3004);
}

/* A flood of datagram entries: mapped first fragments from one source
 * with 4 x UNIT_FRAGS ids, each sent twice (the second marks its entry
 * referenced, as busy as any pair). */
static void datagram_flood(void)
{
	struct pkt_spec f = { PUB, UDP4(FC4_N, 41800, VPS4, 53),
			      FIRST4(0) };
	int i, fwd = 0;

	for (i = 0; i < 8 * UNIT_FRAGS; i++) {
		f.frag_id = 0x8000 + i / 2;
		fwd += unit_run(P_EDGE_TC, &f) == TC_ACT_REDIRECT;
	}
	ASSERT_EQ(fwd, 8 * UNIT_FRAGS, "flood first fragments forwarded");
}

const struct tcase frag_cases[] = {
	/* ---- forward, IPv4: first fragment decides, the rest follow ---- */
	{ "frag_v4_first", P_EDGE_TC,
	  { PUB, UDP4(FC4_A, 41001, VPS4, 53), FIRST4(0x1001) },
	  TC_ACT_REDIRECT, DNAT(BE3_4, 5353), M_KEEP,
	  { ST(CRBPF_ST_FWD_TC, 1), ST(CRBPF_ST_FRAG_FIRST, 1),
	    ST(CRBPF_ST_FLOW_NEW, 1) },
	  MST_IN(4, IPPROTO_UDP, 53, 1, 1), .check_flow = true,
	  .note = "MF, offset 0: address, port and L4 checksum rewritten" },
	{ "frag_v4_middle", P_EDGE_TC, { PUB, UDP4F(FC4_A, VPS4), MID4(0x1001) },
	  TC_ACT_REDIRECT, DNAT_ADDR(BE3_4), M_KEEP,
	  { ST(CRBPF_ST_FWD_TC, 1), ST(CRBPF_ST_FRAG_FOLLOW, 1),
	    ST(CRBPF_ST_FLOW_NEW, 0) },
	  MST_IN(4, IPPROTO_UDP, 53, 1, 0), .csum_complete = true,
	  .note = "MF, offset 1480: only the address (and IP checksum)" },
	{ "frag_v4_last", P_EDGE_TC, { PUB, UDP4F(FC4_A, VPS4), LATER4(0x1001) },
	  TC_ACT_REDIRECT, DNAT_ADDR(BE3_4), M_KEEP,
	  { ST(CRBPF_ST_FWD_TC, 1), ST(CRBPF_ST_FRAG_FOLLOW, 1) },
	  MST_IN(4, IPPROTO_UDP, 53, 1, 0) },
	{ "frag_v4_early", P_EDGE_TC, { PUB, UDP4F(FC4_A, VPS4), LATER4(0x1002) },
	  TC_ACT_REDIRECT, DNAT_ADDR(BE3_4), M_KEEP,
	  { ST(CRBPF_ST_FWD_TC, 1), ST(CRBPF_ST_FRAG_EARLY, 1),
	    ST(CRBPF_ST_FRAG_FOLLOW, 0) },
	  .note = "ahead of its first: the client's one backend answers" },
	{ "frag_v4_first_after_early", P_EDGE_TC,
	  { PUB, UDP4(FC4_A, 41002, VPS4, 53), FIRST4(0x1002) },
	  TC_ACT_REDIRECT, DNAT(BE3_4, 5353), M_KEEP,
	  { ST(CRBPF_ST_FRAG_FIRST, 1), ST(CRBPF_ST_FRAG_EARLY_WRONG, 0),
	    ST(CRBPF_ST_FWD_TC, 1) },
	  .check_flow = true },
	{ "frag_v4_tcp_first", P_EDGE_TC,
	  { PUB, TCP4(FC4_A, 41003, VPS4, 80), FIRST4(0x1003) },
	  TC_ACT_REDIRECT, DNAT(BE3_4, 80), M_KEEP,
	  { ST(CRBPF_ST_FWD_TC, 1), ST(CRBPF_ST_FRAG_FIRST, 1) },
	  .check_flow = true, .csum_complete = true },
	{ "frag_v4_tcp_last", P_EDGE_TC, { PUB, TCP4F(FC4_A, VPS4), LATER4(0x1003) },
	  TC_ACT_REDIRECT, DNAT_ADDR(BE3_4), M_KEEP,
	  { ST(CRBPF_ST_FWD_TC, 1), ST(CRBPF_ST_FRAG_FOLLOW, 1) },
	  MST_IN(4, IPPROTO_TCP, 80, 1, 0) },
	{ "frag_v4_other_id_udp_zero", P_EDGE_TC,
	  { PUB, UDP4(FC4_A, 41004, VPS4, 53), FIRST4(0x1004), .csum0 = true },
	  TC_ACT_REDIRECT, DNAT(BE3_4, 5353), M_KEEP,
	  { ST(CRBPF_ST_FRAG_FIRST, 1) },
	  .note = "first fragment without UDP checksum keeps 0" },

	/* ---- forward, Ethernet next hop ---- */
	{ "frag_v4_l2_first", P_EDGE_TC,
	  { PUB, UDP4(FC4_D, 41020, VPS4, 7000), FIRST4(0x1020) },
	  TC_ACT_REDIRECT, DNAT(BE2_4, 7000), M_FWD_L2,
	  { ST(CRBPF_ST_FWD_TC, 1), ST(CRBPF_ST_FRAG_FIRST, 1) },
	  .check_flow = true },
	{ "frag_v4_l2_last", P_EDGE_TC, { PUB, UDP4F(FC4_D, VPS4), LATER4(0x1020) },
	  TC_ACT_REDIRECT, DNAT_ADDR(BE2_4), M_FWD_L2,
	  { ST(CRBPF_ST_FWD_TC, 1), ST(CRBPF_ST_FRAG_FOLLOW, 1) },
	  MST_IN(4, IPPROTO_UDP, 7000, 1, 0),
	  .note = "routed like its first: MACs of the backend's next hop" },

	/* ---- fragments that are not ours pass untouched ---- */
	{ "frag_v4_early_no_pair", P_EDGE_TC,
	  { PUB, UDP4F(FC4_C, VPS4), LATER4(0x1030) },
	  .verdict = TC_ACT_UNSPEC, .st = { ST(CRBPF_ST_PASS_FRAGMENT, 1) },
	  .note = "client without mapped flows: the VPS's own, to its stack" },
	{ "frag_v4_fresh_entry", P_EDGE_TC,
	  { PUB, UDP4F(FC4_C, VPS4), LATER4(0x1061) },
	  TC_ACT_REDIRECT, DNAT_ADDR(BE3_4), M_KEEP,
	  { ST(CRBPF_ST_FRAG_FOLLOW, 1) }, .setup = frag_entry_fresh,
	  .note = "a datagram entry written just now is followed" },
	{ "frag_v4_stale_entry", P_EDGE_TC,
	  { PUB, UDP4F(FC4_C, VPS4), LATER4(0x1060) },
	  .verdict = TC_ACT_UNSPEC, .st = { ST(CRBPF_ST_PASS_FRAGMENT, 1),
					    ST(CRBPF_ST_FRAG_FOLLOW, 0) },
	  .setup = frag_entry_stale,
	  .note = "one 31 s old (past ipfrag_time) is a wrapped id's: ignored" },
	{ "frag_v4_unmapped_first", P_EDGE_TC,
	  { PUB, UDP4(FC4_C, 41031, VPS4, 9999), FIRST4(0x1031) },
	  .verdict = TC_ACT_UNSPEC, .st = { ST(CRBPF_ST_PASS_NO_MAPPING, 1),
					    ST(CRBPF_ST_FRAG_FIRST, 0) },
	  .check = no_entry_c_1031,
	  .note = "unmapped, no pair that could steer the rest: no entry at all" },
	{ "frag_v4_unmapped_last", P_EDGE_TC,
	  { PUB, UDP4F(FC4_C, VPS4), LATER4(0x1031) },
	  .verdict = TC_ACT_UNSPEC, .st = { ST(CRBPF_ST_PASS_FRAGMENT, 1) } },
	{ "frag_v4_ping_first", P_EDGE_TC,
	  { PUB, ICMP4F(FC4_A, VPS4), FIRST4(0x1032) },
	  .verdict = TC_ACT_UNSPEC, .st = { ST(CRBPF_ST_PASS_FRAGMENT, 1) },
	  .note = "a large ping to the VPS: not TCP/UDP, its stack's" },
	{ "frag_v4_ping_last", P_EDGE_TC,
	  { PUB, ICMP4F(FC4_A, VPS4), LATER4(0x1032) },
	  .verdict = TC_ACT_UNSPEC, .st = { ST(CRBPF_ST_PASS_FRAGMENT, 1) } },
	{ "frag_v4_not_local", P_EDGE_TC,
	  { PUB, UDP4F(FC4_A, "203.0.113.99"), LATER4(0x1033) },
	  .verdict = TC_ACT_UNSPEC, .st = { ST(CRBPF_ST_PASS_NOT_LOCAL, 1) } },
	{ "frag_v4_not_local_first", P_EDGE_TC,
	  { PUB, UDP4(FC4_A, 41034, "203.0.113.99", 53), FIRST4(0x1034) },
	  .verdict = TC_ACT_UNSPEC, .st = { ST(CRBPF_ST_PASS_NOT_LOCAL, 1),
					    ST(CRBPF_ST_FRAG_FIRST, 0) } },
	{ "frag_v4_xdp_first", P_EDGE_XDP,
	  { PUB, UDP4(FC4_D, 41021, VPS4, 7000), FIRST4(0x1021) },
	  .verdict = XDP_PASS, .st = { ST(CRBPF_ST_PASS_FRAGMENT, 1) },
	  .note = "XDP leaves every fragment to tc, untouched" },
	{ "frag_v4_xdp_last", P_EDGE_XDP,
	  { PUB, UDP4F(FC4_D, VPS4), LATER4(0x1020) },
	  .verdict = XDP_PASS, .st = { ST(CRBPF_ST_PASS_FRAGMENT, 1) } },
	{ "frag_v6_xdp_first", P_EDGE_XDP,
	  { PUB, UDP6(FC6_C, 41022, VPS6, 5000), FIRST6(0x2022) },
	  .verdict = XDP_PASS, .st = { ST(CRBPF_ST_PASS_FRAGMENT, 1) } },
	{ "frag_v6_xdp_hbh_first", P_EDGE_XDP,
	  { PUB, UDP6(FC6_C, 41023, VPS6, 5000), FIRST6(0x2023), .v6hbh = true },
	  .verdict = XDP_PASS, .st = { ST(CRBPF_ST_PASS_PROTO, 1) },
	  .note = "XDP walks no extension headers: tc finds the Fragment header" },

	/* ---- ambiguous pairs: dropped, never sent to a guessed backend ---- */
	{ "frag_v4_pair_b1", P_EDGE_TC, { PUB, UDP4(FC4_B, 41040, VPS4, 53) },
	  TC_ACT_REDIRECT, DNAT(BE3_4, 5353), M_KEEP, { ST(CRBPF_ST_FWD_TC, 1) } },
	{ "frag_v4_pair_b2", P_EDGE_TC, { PUB, UDP4(FC4_B, 41041, VPS4, 7000) },
	  TC_ACT_REDIRECT, DNAT(BE2_4, 7000), M_FWD_L2, { ST(CRBPF_ST_FWD_TC, 1) },
	  .note = "same client, second backend: its pair is now ambiguous" },
	{ "frag_v4_early_ambiguous", P_EDGE_TC,
	  { PUB, UDP4F(FC4_B, VPS4), LATER4(0x1042) },
	  .verdict = TC_ACT_SHOT,
	  .st = { ST(CRBPF_ST_DROP_FRAG_AMBIGUOUS, 1), ST(CRBPF_ST_FWD_TC, 0),
		  ST(CRBPF_ST_PASS_FRAGMENT, 0) } },
	{ "frag_v4_first_after_ambiguous", P_EDGE_TC,
	  { PUB, UDP4(FC4_B, 41042, VPS4, 7000), FIRST4(0x1042) },
	  TC_ACT_REDIRECT, DNAT(BE2_4, 7000), M_FWD_L2,
	  { ST(CRBPF_ST_FRAG_FIRST, 1), ST(CRBPF_ST_FRAG_EARLY_WRONG, 0) } },
	{ "frag_v4_last_after_ambiguous", P_EDGE_TC,
	  { PUB, UDP4F(FC4_B, VPS4), LATER4(0x1042) },
	  TC_ACT_REDIRECT, DNAT_ADDR(BE2_4), M_FWD_L2,
	  { ST(CRBPF_ST_FRAG_FOLLOW, 1) },
	  .note = "once the first fragment came, the rest follow it" },

	/* ---- the VPS's own fragments from a mapped client ---- */
	{ "frag_v4_own_pair", P_EDGE_TC, { PUB, UDP4(FC4_I, 41050, VPS4, 53) },
	  TC_ACT_REDIRECT, DNAT(BE3_4, 5353), M_KEEP, { ST(CRBPF_ST_FWD_TC, 1) } },
	{ "frag_v4_own_early", P_EDGE_TC,
	  { PUB, UDP4F(FC4_I, VPS4), LATER4(0x1051) },
	  TC_ACT_REDIRECT, DNAT_ADDR(BE3_4), M_KEEP,
	  { ST(CRBPF_ST_FRAG_EARLY, 1) },
	  .note = "guessed from the pair: it is in fact the VPS's own" },
	{ "frag_v4_own_first", P_EDGE_TC,
	  { PUB, UDP4(FC4_I, 41051, VPS4, 9999), FIRST4(0x1051) },
	  .verdict = TC_ACT_UNSPEC,
	  .st = { ST(CRBPF_ST_PASS_NO_MAPPING, 1),
		  ST(CRBPF_ST_FRAG_EARLY_WRONG, 1) },
	  .note = "the first fragment says otherwise: counted, the rest pass" },
	{ "frag_v4_own_last", P_EDGE_TC,
	  { PUB, UDP4F(FC4_I, VPS4), MID4(0x1051) },
	  .verdict = TC_ACT_UNSPEC, .st = { ST(CRBPF_ST_PASS_FRAGMENT, 1) } },
	{ "frag_v4_own_marks_pair", P_EDGE_TC,
	  { PUB, UDP4F(FC4_I, VPS4), LATER4(0x1052) },
	  .verdict = TC_ACT_SHOT, .st = { ST(CRBPF_ST_DROP_FRAG_AMBIGUOUS, 1) },
	  .note = "a client with fragments of both kinds: no more guesses" },

	/* ---- forward, IPv6 (Fragment header, after hop-by-hop too) ---- */
	{ "frag_v6_first", P_EDGE_TC,
	  { PUB, UDP6(FC6_A, 41101, VPS6, 5000), FIRST6(0x2001) },
	  TC_ACT_REDIRECT, DNAT(BE3_6, 6000), M_KEEP,
	  { ST(CRBPF_ST_FWD_TC, 1), ST(CRBPF_ST_FRAG_FIRST, 1) },
	  MST_IN(6, IPPROTO_UDP, 5000, 1, 1), .check_flow = true,
	  .csum_complete = true },
	/* found by the packet fuzzer: a payload length that ends inside the
	 * fragment header (the kernel drops it) was forwarded as a fragment of
	 * the known datagram */
	{ "frag_v6_short_payload_len", P_EDGE_TC,
	  { PUB, UDP6F(FC6_A, VPS6), LATER6(0x2001), .len_raw = 6 },
	  TC_ACT_UNSPEC, X_NONE, NULL, 0, M_KEEP, { ST(CRBPF_ST_FWD_TC, 0),
						  ST(CRBPF_ST_FRAG_FOLLOW, 0) },
	  .note = "a fragment header past the payload length is not crbpf's: passed byte for byte" },
	{ "frag_v6_last", P_EDGE_TC, { PUB, UDP6F(FC6_A, VPS6), LATER6(0x2001) },
	  TC_ACT_REDIRECT, DNAT_ADDR(BE3_6), M_KEEP,
	  { ST(CRBPF_ST_FWD_TC, 1), ST(CRBPF_ST_FRAG_FOLLOW, 1) },
	  MST_IN(6, IPPROTO_UDP, 5000, 1, 0), .csum_complete = true },
	{ "frag_v6_hbh_first", P_EDGE_TC,
	  { PUB, UDP6(FC6_A, 41102, VPS6, 5000), FIRST6(0x2002), .v6hbh = true },
	  TC_ACT_REDIRECT, DNAT(BE3_6, 6000), M_KEEP,
	  { ST(CRBPF_ST_FRAG_FIRST, 1) }, .check_flow = true },
	{ "frag_v6_hbh_last", P_EDGE_TC,
	  { PUB, UDP6F(FC6_A, VPS6), LATER6(0x2002), .v6hbh = true },
	  TC_ACT_REDIRECT, DNAT_ADDR(BE3_6), M_KEEP,
	  { ST(CRBPF_ST_FRAG_FOLLOW, 1) } },
	{ "frag_v6_early", P_EDGE_TC, { PUB, UDP6F(FC6_A, VPS6), LATER6(0x2003) },
	  TC_ACT_REDIRECT, DNAT_ADDR(BE3_6), M_KEEP,
	  { ST(CRBPF_ST_FRAG_EARLY, 1) } },
	{ "frag_v6_id_is_32_bits", P_EDGE_TC,
	  { PUB, UDP6F(FC6_A, VPS6), LATER6(0x10002002) },
	  TC_ACT_REDIRECT, DNAT_ADDR(BE3_6), M_KEEP,
	  { ST(CRBPF_ST_FRAG_EARLY, 1), ST(CRBPF_ST_FRAG_FOLLOW, 0) },
	  .note = "id 0x10002002 is not 0x2002's datagram" },
	{ "frag_v6_early_no_pair", P_EDGE_TC,
	  { PUB, UDP6F(FC6_C, VPS6), LATER6(0x2004) },
	  .verdict = TC_ACT_UNSPEC, .st = { ST(CRBPF_ST_PASS_FRAGMENT, 1) } },
	{ "frag_v6_ping", P_EDGE_TC, { PUB, ICMP6F(FC6_A, VPS6), FIRST6(0x2005) },
	  .verdict = TC_ACT_UNSPEC, .st = { ST(CRBPF_ST_PASS_FRAGMENT, 1) } },
	{ "frag_v6_hbh_unfragmented", P_EDGE_TC,
	  { PUB, UDP6(FC6_A, 41106, VPS6, 5000), .v6hbh = true },
	  .verdict = TC_ACT_UNSPEC, .st = { ST(CRBPF_ST_PASS_PROTO, 1) },
	  .note = "extension headers without a Fragment header: as before" },

	/* ---- malformed later fragments of a mapped client pass untouched ---- */
	{ "frag_v4_later_ihl4", P_EDGE_TC,
	  { PUB, UDP4F(FC4_A, VPS4), LATER4(0x1070), .ihl_raw = 4 },
	  .verdict = TC_ACT_UNSPEC, .st = { ST(CRBPF_ST_PASS_INVALID, 1),
					    ST(CRBPF_ST_FWD_TC, 0) } },
	{ "frag_v4_later_ihl_past_total", P_EDGE_TC,
	  { PUB, UDP4F(FC4_A, VPS4), .frag = 0x00b9, .frag_id = 0x1071, .plen = 16, .ihl_raw = 15 },
	  .verdict = TC_ACT_UNSPEC, .st = { ST(CRBPF_ST_PASS_INVALID, 1),
					    ST(CRBPF_ST_FWD_TC, 0) } },
	{ "frag_v4_later_total_past_frame", P_EDGE_TC,
	  { PUB, UDP4F(FC4_A, VPS4), LATER4(0x1072), .len_raw = 1500 },
	  .verdict = TC_ACT_UNSPEC, .st = { ST(CRBPF_ST_PASS_INVALID, 1),
					    ST(CRBPF_ST_FWD_TC, 0) } },
	{ "frag_v6_later_payload_past_frame", P_EDGE_TC,
	  { PUB, UDP6F(FC6_A, VPS6), LATER6(0x2070), .len_raw = 1500 },
	  .verdict = TC_ACT_UNSPEC, .st = { ST(CRBPF_ST_PASS_INVALID, 1),
					    ST(CRBPF_ST_FWD_TC, 0) } },
	{ "frag_v6_later_fraghdr_past_payload", P_EDGE_TC,
	  { PUB, UDP6F(FC6_A, VPS6), LATER6(0x2071), .len_raw = 4 },
	  .verdict = TC_ACT_UNSPEC, .st = { ST(CRBPF_ST_PASS_INVALID, 1),
					    ST(CRBPF_ST_FWD_TC, 0) },
	  .note = "payload length 4: the Fragment header lies in padding" },
	{ "frag_v6_later_payload_zero", P_EDGE_TC,
	  { PUB, UDP6F(FC6_A, VPS6), LATER6(0x2072), .len_raw = 0x10000 },
	  .verdict = TC_ACT_UNSPEC, .st = { ST(CRBPF_ST_PASS_INVALID, 1),
					    ST(CRBPF_ST_FWD_TC, 0) },
	  .note = "payload length 0 (written as 0x10000): no fragmented jumbogram" },
	{ "frag_v6_later_hbh_fraghdr_cut", P_EDGE_TC,
	  { PUB, UDP6F(FC6_A, VPS6), LATER6(0x2073), .v6hbh = true, .len_raw = 12 },
	  .verdict = TC_ACT_UNSPEC, .st = { ST(CRBPF_ST_PASS_INVALID, 1),
					    ST(CRBPF_ST_FWD_TC, 0) } },
	{ "frag_v6_first_fraghdr_past_payload", P_EDGE_TC,
	  { PUB, UDP6(FC6_A, 41170, VPS6, 5000), FIRST6(0x2074), .len_raw = 4 },
	  .verdict = TC_ACT_UNSPEC, .st = { ST(CRBPF_ST_PASS_INVALID, 1),
					    ST(CRBPF_ST_FRAG_FIRST, 0) } },

	/* ---- pairs age: 60 s after traffic last confirmed them ---- */
	{ "frag_pair_v4_flow", P_EDGE_TC, { PUB, UDP4(FC4_J, 41500, VPS4, 53) },
	  TC_ACT_REDIRECT, DNAT(BE3_4, 5353), M_KEEP, { ST(CRBPF_ST_FWD_TC, 1) },
	  .check = pair_j_fresh,
	  .note = "a new flow writes the pair, in a table of its own" },
	{ "frag_pair_v4_aged_passes", P_EDGE_TC,
	  { PUB, UDP4F(FC4_J, VPS4), LATER4(0x5101) },
	  .verdict = TC_ACT_UNSPEC,
	  .st = { ST(CRBPF_ST_PASS_FRAGMENT, 1), ST(CRBPF_ST_FRAG_EARLY, 0) },
	  .setup = pair_j_61s,
	  .note = "61 s unconfirmed: the pair answers no more" },
	{ "frag_pair_v4_new_flow", P_EDGE_TC, { PUB, UDP4(FC4_J, 41501, VPS4, 53) },
	  TC_ACT_REDIRECT, DNAT(BE3_4, 5353), M_KEEP, { ST(CRBPF_ST_FLOW_NEW, 1) },
	  .check = pair_j_fresh, .note = "the next flow writes it anew" },
	{ "frag_pair_v4_renewed_early", P_EDGE_TC,
	  { PUB, UDP4F(FC4_J, VPS4), LATER4(0x5102) },
	  TC_ACT_REDIRECT, DNAT_ADDR(BE3_4), M_KEEP,
	  { ST(CRBPF_ST_FRAG_EARLY, 1) } },
	{ "frag_pair_v4_first_confirms", P_EDGE_TC,
	  { PUB, UDP4(FC4_J, 41501, VPS4, 53), FIRST4(0x5103) },
	  TC_ACT_REDIRECT, DNAT(BE3_4, 5353), M_KEEP,
	  { ST(CRBPF_ST_FRAG_FIRST, 1), ST(CRBPF_ST_FLOW_NEW, 0) },
	  .setup = pair_j_59s, .check = pair_j_fresh,
	  .note = "59 s old, a first fragment of a live flow confirms it" },

	/* ---- an ambiguous pair is ambiguous for a while, not for good ---- */
	{ "frag_ambig_v4_flow1", P_EDGE_TC, { PUB, UDP4(FC4_K, 41600, VPS4, 53) },
	  TC_ACT_REDIRECT, DNAT(BE3_4, 5353), M_KEEP, { ST(CRBPF_ST_FWD_TC, 1) } },
	{ "frag_ambig_v4_flow2", P_EDGE_TC, { PUB, UDP4(FC4_K, 41601, VPS4, 7000) },
	  TC_ACT_REDIRECT, DNAT(BE2_4, 7000), M_FWD_L2, { ST(CRBPF_ST_FWD_TC, 1) } },
	{ "frag_ambig_v4_dropped", P_EDGE_TC,
	  { PUB, UDP4F(FC4_K, VPS4), LATER4(0x5201) },
	  .verdict = TC_ACT_SHOT, .st = { ST(CRBPF_ST_DROP_FRAG_AMBIGUOUS, 1) } },
	{ "frag_ambig_v4_expires", P_EDGE_TC,
	  { PUB, UDP4F(FC4_K, VPS4), LATER4(0x5202) },
	  .verdict = TC_ACT_UNSPEC,
	  .st = { ST(CRBPF_ST_PASS_FRAGMENT, 1),
		  ST(CRBPF_ST_DROP_FRAG_AMBIGUOUS, 0) },
	  .setup = pair_k_61s,
	  .note = "61 s without a contradiction: gone, no longer dropped" },

	/* ---- a spoofed first fragment of the VPS's own marks for a while ---- */
	{ "frag_spoof_v4_flow", P_EDGE_TC, { PUB, UDP4(FC4_L, 41700, VPS4, 53) },
	  TC_ACT_REDIRECT, DNAT(BE3_4, 5353), M_KEEP, { ST(CRBPF_ST_FWD_TC, 1) } },
	{ "frag_spoof_v4_own_first", P_EDGE_TC,
	  { PUB, UDP4(FC4_L, 41701, VPS4, 9999), FIRST4(0x5301) },
	  .verdict = TC_ACT_UNSPEC, .st = { ST(CRBPF_ST_PASS_NO_MAPPING, 1) },
	  .note = "one packet with the client's source to an unmapped port" },
	{ "frag_spoof_v4_marked", P_EDGE_TC,
	  { PUB, UDP4F(FC4_L, VPS4), LATER4(0x5302) },
	  .verdict = TC_ACT_SHOT, .st = { ST(CRBPF_ST_DROP_FRAG_AMBIGUOUS, 1) } },
	{ "frag_spoof_v4_mark_expires", P_EDGE_TC,
	  { PUB, UDP4F(FC4_L, VPS4), LATER4(0x5303) },
	  .verdict = TC_ACT_UNSPEC,
	  .st = { ST(CRBPF_ST_PASS_FRAGMENT, 1),
		  ST(CRBPF_ST_DROP_FRAG_AMBIGUOUS, 0) },
	  .setup = pair_l_61s },
	{ "frag_spoof_v4_flow_again", P_EDGE_TC,
	  { PUB, UDP4(FC4_L, 41702, VPS4, 53) },
	  TC_ACT_REDIRECT, DNAT(BE3_4, 5353), M_KEEP, { ST(CRBPF_ST_FWD_TC, 1) } },
	{ "frag_spoof_v4_pair_answers", P_EDGE_TC,
	  { PUB, UDP4F(FC4_L, VPS4), LATER4(0x5304) },
	  TC_ACT_REDIRECT, DNAT_ADDR(BE3_4), M_KEEP,
	  { ST(CRBPF_ST_FRAG_EARLY, 1) },
	  .note = "the client's next flow: its pair answers again" },

	/* ---- reverse: backend -> client ---- */
	{ "frag_rev_v4_first", P_REV_TC,
	  { NH, UDP4(BE2_4, 7000, FC4_E, 41201), FIRST4(0x3001) },
	  TC_ACT_REDIRECT, SNAT(VPS4, 7000), M_REV,
	  { ST(CRBPF_ST_REV_TC, 1), ST(CRBPF_ST_FRAG_FIRST, 1) },
	  MST_OUT(4, IPPROTO_UDP, 7000, 1), .add_flow = true,
	  .csum_complete = true },
	{ "frag_rev_v4_last", P_REV_TC, { NH, UDP4F(BE2_4, FC4_E), LATER4(0x3001) },
	  TC_ACT_REDIRECT, SNAT_ADDR(VPS4), M_REV,
	  { ST(CRBPF_ST_REV_TC, 1), ST(CRBPF_ST_FRAG_FOLLOW, 1) },
	  MST_OUT(4, IPPROTO_UDP, 7000, 1), .csum_complete = true },
	{ "frag_rev_v4_pair_flow", P_EDGE_TC,
	  { PUB, UDP4(FC4_F, 41210, VPS4, 7000) },
	  TC_ACT_REDIRECT, DNAT(BE2_4, 7000), M_FWD_L2, { ST(CRBPF_ST_FWD_TC, 1) },
	  .note = "the query whose fragmented answer follows" },
	{ "frag_rev_v4_early", P_REV_TC, { NH, UDP4F(BE2_4, FC4_F), LATER4(0x3002) },
	  TC_ACT_REDIRECT, SNAT_ADDR(VPS4), M_REV,
	  { ST(CRBPF_ST_REV_TC, 1), ST(CRBPF_ST_FRAG_EARLY, 1) },
	  .note = "answer's last fragment first: the pair's public address" },
	{ "frag_rev_v4_first_after_early", P_REV_TC,
	  { NH, UDP4(BE2_4, 7000, FC4_F, 41210), FIRST4(0x3002) },
	  TC_ACT_REDIRECT, SNAT(VPS4, 7000), M_REV,
	  { ST(CRBPF_ST_FRAG_FIRST, 1), ST(CRBPF_ST_FRAG_EARLY_WRONG, 0),
	    ST(CRBPF_ST_REV_STATIC, 0) } },
	{ "frag_rev_v4_no_pair", P_REV_TC, { NH, UDP4F(BE2_4, FC4_G), LATER4(0x3003) },
	  .verdict = TC_ACT_UNSPEC, .st = { ST(CRBPF_ST_PASS_FRAGMENT, 1) },
	  .note = "no mapped flow between them: home traffic the VPS routes" },
	{ "frag_rev_v4_miss_first", P_REV_TC,
	  { NH, UDP4(BE2_4, 7001, FC4_G, 41220), FIRST4(0x3004) },
	  .verdict = TC_ACT_UNSPEC, .st = { ST(CRBPF_ST_PASS_REV_MISS, 1) },
	  .check = no_entry_g_3004 },
	{ "frag_rev_v4_miss_last", P_REV_TC,
	  { NH, UDP4F(BE2_4, FC4_G), LATER4(0x3004) },
	  .verdict = TC_ACT_UNSPEC, .st = { ST(CRBPF_ST_PASS_FRAGMENT, 1) } },
	{ "frag_tun_v4_first", P_TUN_TC,
	  { TUN, UDP4(L3SRC4_BE, 53, FC4_H, 41230), FIRST4(0x3005), .l3only = true },
	  TC_ACT_REDIRECT, SNAT(VPS4, 9053), M_REV,
	  { ST(CRBPF_ST_REV_TC, 1), ST(CRBPF_ST_FRAG_FIRST, 1) },
	  .add_flow = true },
	{ "frag_tun_v4_last", P_TUN_TC,
	  { TUN, UDP4F(L3SRC4_BE, FC4_H), LATER4(0x3005), .l3only = true },
	  TC_ACT_REDIRECT, SNAT_ADDR(VPS4), M_REV,
	  { ST(CRBPF_ST_REV_TC, 1), ST(CRBPF_ST_FRAG_FOLLOW, 1) },
	  MST_OUT(4, IPPROTO_UDP, 9053, 1),
	  .note = "from the tunnel (no MAC header): one is pushed, as for others" },
	{ "frag_rev_v6_first", P_REV_TC,
	  { NH, UDP6(BE2_6, 7000, FC6_E, 41301), FIRST6(0x4001) },
	  TC_ACT_REDIRECT, SNAT(VPS6, 7000), M_REV,
	  { ST(CRBPF_ST_REV_TC, 1), ST(CRBPF_ST_FRAG_FIRST, 1) },
	  .add_flow = true, .csum_complete = true },
	{ "frag_rev_v6_last", P_REV_TC, { NH, UDP6F(BE2_6, FC6_E), LATER6(0x4001) },
	  TC_ACT_REDIRECT, SNAT_ADDR(VPS6), M_REV,
	  { ST(CRBPF_ST_REV_TC, 1), ST(CRBPF_ST_FRAG_FOLLOW, 1) },
	  MST_OUT(6, IPPROTO_UDP, 7000, 1), .csum_complete = true },
	{ "frag_rev_v6_pair_flow", P_EDGE_TC,
	  { PUB, UDP6(FC6_F, 41310, VPS6, 7000) },
	  TC_ACT_REDIRECT, DNAT(BE2_6, 7000), M_FWD_L2, { ST(CRBPF_ST_FWD_TC, 1) } },
	{ "frag_rev_v6_early", P_REV_TC,
	  { NH, UDP6F(BE2_6, FC6_F), LATER6(0x4002), .v6hbh = true },
	  TC_ACT_REDIRECT, SNAT_ADDR(VPS6), M_REV,
	  { ST(CRBPF_ST_REV_TC, 1), ST(CRBPF_ST_FRAG_EARLY, 1) } },
	{ "frag_rev_v6_first_after_early", P_REV_TC,
	  { NH, UDP6(BE2_6, 7000, FC6_F, 41310), FIRST6(0x4002), .v6hbh = true },
	  TC_ACT_REDIRECT, SNAT(VPS6, 7000), M_REV,
	  { ST(CRBPF_ST_FRAG_FIRST, 1), ST(CRBPF_ST_FRAG_EARLY_WRONG, 0) } },
	/* 2222 and 2223 share backend port 22: no static reverse rule */
	{ "frag_rev_v4_noxlate_first", P_REV_TC,
	  { NH, TCP4(BE2_4, 22, FC4_M, 41400), FIRST4(0x3101) },
	  .verdict = TC_ACT_SHOT, .st = { ST(CRBPF_ST_DROP_NO_XLATE, 1) },
	  .note = "a reply crbpf cannot translate: dropped" },
	{ "frag_rev_v4_noxlate_last", P_REV_TC,
	  { NH, TCP4F(BE2_4, FC4_M), LATER4(0x3101) },
	  .verdict = TC_ACT_SHOT,
	  .st = { ST(CRBPF_ST_DROP_NO_XLATE, 1), ST(CRBPF_ST_PASS_FRAGMENT, 0) },
	  .note = "its rest too: the stack would forward it untranslated" },

	/* last: the flood evicts the datagram entries of the cases above */
	{ "frag_pairs_survive_datagram_flood", P_EDGE_TC,
	  { PUB, UDP4F(FC4_A, VPS4), LATER4(0x1090) },
	  TC_ACT_REDIRECT, DNAT_ADDR(BE3_4), M_KEEP,
	  { ST(CRBPF_ST_FRAG_EARLY, 1) }, .setup = datagram_flood,
	  .note = "4 x its size of datagram entries evict no pair" },
};

const int n_frag_cases = sizeof(frag_cases) / sizeof(frag_cases[0]);
