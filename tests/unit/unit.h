/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * Unit tests of the BPF programs through BPF_PROG_TEST_RUN: shared pieces of
 * the harness (assertions, packet builder, topology, map helpers).
 */
#ifndef CRBPF_UNIT_H
#define CRBPF_UNIT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>
#include <linux/types.h>
#include "crbpf.h"

/* ---- assertions, prog_tests style: each returns whether it held ---- */

/* Records a failure reason for the running case (first one is shown on the
 * FAIL line, the rest as indented detail lines). */
void unit_fail(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* Indented diagnostic line printed under the case's result line. */
void unit_note(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

#define ASSERT_TRUE(cond, what)                                                \
	({                                                                     \
		bool ___ok = (cond);                                           \
		if (!___ok)                                                    \
			unit_fail("%s: not true", (what));                     \
		___ok;                                                         \
	})

#define ASSERT_EQ(actual, expected, what)                                      \
	({                                                                     \
		long long ___a = (long long)(actual);                          \
		long long ___e = (long long)(expected);                        \
		bool ___ok = ___a == ___e;                                     \
		if (!___ok)                                                    \
			unit_fail("%s: got %lld (0x%llx), expected %lld (0x%llx)", \
				  (what), ___a, (unsigned long long)___a, ___e,      \
				  (unsigned long long)___e);                   \
		___ok;                                                         \
	})

#define ASSERT_OK(err, what)                                                   \
	({                                                                     \
		long long ___r = (long long)(err);                             \
		bool ___ok = ___r == 0;                                        \
		if (!___ok)                                                    \
			unit_fail("%s: error %lld", (what), ___r);             \
		___ok;                                                         \
	})

/* ---- devices of the private test namespace ---- */

enum dev {
	DEV_NONE,
	DEV_PUB, /* VPS public NIC (veth pub0, peer pub1 = the router) */
	DEV_NH, /* Ethernet next hop to L2 backends (veth nh0, peer nh1) */
	DEV_TUN, /* L3 tunnel to backends (tun0, like wg0) */
	DEV_HTUN, /* home tunnel (tun wgh) */
	DEV_SRV, /* home served bridge (docker0) */
	DEV_NH2, /* second Ethernet next hop, deliberately not in crbpf_txports */
	DEV_LINE, /* home line to the ISP (veth line0, peer line1 = ISP gateway) */
	DEV__MAX,
};

struct topo {
	int ifindex[DEV__MAX];
	__u8 mac[DEV__MAX][6]; /* our side's MAC (zero for L3 devices) */
	__u8 peer_mac[DEV__MAX][6]; /* MAC of the host behind it */
};

extern struct topo topo;

/* Unshares the network namespace and builds the devices, addresses, routes
 * and permanent neighbours the FIB lookups in the programs need. */
int topo_setup(void);

/* The test namespace's name of a device ("(none)" for DEV_NONE). */
const char *dev_name(enum dev d);

/* Addresses used by the fixtures. */
#define VPS4 "203.0.113.10"
#define VPS6 "2001:db8:203::10"
#define VPS4_2 "203.0.113.11" /* second public address on pub0 */
#define RTR4 "203.0.113.1"
#define RTR6 "2001:db8:203::1"
#define CLI4 "198.51.100.10" /* clients: 198.51.100.0/24 behind the router */
#define CLI6 "2001:db8:100::10"
#define ONLINK4 "192.0.2.50" /* on-link behind pub0, no neighbour entry */
#define ONLINK6 "2001:db8:192::50"
#define BE3_4 "10.0.0.2" /* L3 backend behind tun0 */
#define BE3_6 "2001:db8:10::2"
#define BE2_4 "10.0.1.2" /* L2 backend behind nh0, neighbour known */
#define BE2_6 "2001:db8:1::2"
#define BENN_4 "10.0.1.3" /* L2 backend behind nh0, neighbour unresolved */
#define BENN_6 "2001:db8:1::3"
#define NOROUTE4 "10.9.9.9" /* no route in the test namespace */
#define BENH2_4 "10.0.2.2" /* L2 backend behind nh2 */
#define CLI_NH2_4 "198.18.0.5" /* client routed via nh2 */
#define NOROUTE_CLI4 "192.168.77.1" /* client without a route back */
#define LINE4 "100.64.0.2" /* home's ISP address on line0 */
#define LINE6 "2001:db8:64::2"
#define HTUN4 "10.0.0.2" /* home's tunnel addresses (rodata tun_addr4/6) */
#define HTUN6 "fd00::2"
/* Sources whose IP header reads as an Ethernet header with the right type:
 * only for l3only frames, never on any wire. */
#define L3SRC4_BE "8.0.0.2" /* L3 backend behind tun0 answering crbpf_tun_tc */
#define L3SRC6_BE "2001:db8:86dd::2"
#define L3SRC4_CLI "8.0.113.10" /* client seen by crbpf_home_tun */
#define L3SRC6_CLI "2001:db8:86dd::10"

/* ---- packets ---- */

enum cut {
	CUT_NONE,
	CUT_L2, /* frame cut to cut_len bytes from its start */
	CUT_L3, /* cut_len bytes of the IP header kept */
	CUT_L4, /* cut_len bytes of the transport header kept */
};

struct pkt_spec {
	enum dev dev; /* frame arrives from the host behind this device */
	__u16 vlan; /* 802.1Q TCI; 0 = untagged */
	__u16 vlan_proto; /* tag type; 0 = 0x8100 (0x88a8: 802.1ad) */
	__u16 vlan_inner; /* QinQ: a second 802.1Q tag with this TCI */
	__u16 ethertype; /* family 0 only: raw ethertype (ARP: 28-byte body) */
	int family; /* 4, 6 or 0 */
	__u8 proto; /* IPPROTO_TCP, _UDP, _ICMP, _ICMPV6 */
	const char *src, *dst;
	__u16 sport, dport; /* host order */
	int ttl; /* 0 = 64 */
	int opt_words; /* IPv4 options in 32-bit words: IHL = 5 + opt_words */
	int ihl_raw; /* nonzero: IHL field written as this (bogus values) */
	int len_raw; /* nonzero: IPv4 total / IPv6 payload length written as this */
	__u16 frag; /* IPv4 frag_off (host order, flags+offset) */
	int v6frag; /* IPv6: insert a fragment header; value = offset|M */
	__u32 frag_id; /* IPv4 id / IPv6 fragment id; 0 = 0x1234 / 0xabcd */
	bool v6hbh; /* IPv6: an 8-byte hop-by-hop header first */
	int plen; /* payload bytes; 0 = 24, negative = none */
	bool csum0; /* UDP sent without checksum (IPv6: invalid, RFC 8200 8.1) */
	bool ip_csum_bad; /* IPv4 header checksum off by one */
	/* No Ethernet header: data starts at the IP header, as on wg/tun.
	 * BPF_PROG_TEST_RUN still runs eth_type_trans() over the first 14
	 * bytes, so the IP header must double as an Ethernet header whose
	 * type field (bytes 12-13) is the right ethertype: IPv4 sources
	 * 8.0.x.x, IPv6 sources 2001:db8:86dd::/48 (see L3SRC4/L3SRC6). */
	bool l3only;
	int pad; /* zero bytes after the IP packet (Ethernet minimum padding) */
	/* L4 checksum field holds the folded pseudo-header sum only, as a
	 * local sender with tx offload leaves it (CHECKSUM_PARTIAL) */
	bool csum_partial;
	__u8 tcp_flags; /* TCP flags byte; 0 = PSH|ACK */
	bool pay_word_on; /* first payload word forced to pay_word */
	__u16 pay_word;
	/* ICMP/ICMPv6 with icmp_type set: that type and code, icmp_info as the
	 * rest of the header (MTU, pointer). With inner set, the payload is the
	 * IP packet inner describes (same family; its checksums computed over
	 * the whole of it), quoted for quote_len bytes: 0 = IP header + 8
	 * (RFC 792 minimum), -1 = all of it */
	__u8 icmp_type, icmp_code;
	__u32 icmp_info;
	const struct pkt_spec *inner;
	int quote_len;
	/* TCP options (a multiple of 4 bytes) */
	const __u8 *tcp_opts;
	int tcp_opts_len;
	enum cut cut;
	int cut_len;
	/* filled in by the builder */
	__u8 dmac[6], smac[6];
	int l3_off, l4_off, pay_off;
};

#define PKT_MAX 2048

/* Builds spec into buf (all checksums computed from scratch) and returns the
 * frame length. Default MACs come from spec->dev: dst = our device, src = the
 * host behind it; pass override MACs with pkt_build_macs. */
int pkt_build(struct pkt_spec *spec, __u8 *buf);
int pkt_build_macs(struct pkt_spec *spec, const __u8 *dmac, const __u8 *smac,
		   __u8 *buf);

/* Ones' complement sum of len bytes (network order 16-bit words). */
__u32 csum_add(__u32 sum, const void *data, size_t len);
__u16 csum_fold(__u32 sum);

/* Verifies every checksum of a frame from scratch (IPv4 header, TCP, UDP,
 * ICMP/ICMPv6 with pseudo header). *udp_zero is set when an IPv4 UDP
 * checksum is 0 (not verified). Returns false with unit_fail() reasons. */
bool pkt_verify_csums(const __u8 *frame, int len, bool *udp_zero);

/* Compares got with want; on mismatch reports each differing byte range with
 * a field name derived from the expected frame's layout. */
bool pkt_compare(const __u8 *want, int want_len, const __u8 *got, int got_len,
		 int from);

void parse_addr(int family, const char *str, __be32 addr[4]);
/* A flow of a case file: backend and client side, as the programs key it. */
struct fref {
	int family;
	__u8 proto;
	const char *backend;
	__u16 bport;
	const char *client;
	__u16 cport;
};
void fref_key(const struct fref *f, struct crbpf_flow_key *k);
/* f's entry (either table) into v; false, with a failure, when none */
bool fget(const struct fref *f, struct crbpf_flow *v);
/* writes v for f where flow_store() keeps it */
void fput(const struct fref *f, const struct crbpf_flow *v);
/* The flow entry of k in crbpf_flows (returns 0) or crbpf_unreplied (1);
 * -1 when neither has it. An object without crbpf_unreplied has one table. */
int flow_lookup(const struct crbpf_flow_key *k, struct crbpf_flow *v);
/* Writes v for k where the programs keep it: the table that holds k now,
 * else crbpf_flows when v has a reply, crbpf_unreplied when not. */
bool flow_store(const struct crbpf_flow_key *k, const struct crbpf_flow *v);
/* Runs prog on the frame of tmpl with client port sport0 + i for n distinct
 * flows, each twice (as the audit's flood: a second packet marks an LRU
 * entry referenced, as busy as any idle flow), with the backend's answer
 * between them when reply is given (reply_prog on reply, destination port
 * sport0 + i); returns how many forward runs gave verdict. */
int unit_flood(int prog, const struct pkt_spec *tmpl, int reply_prog,
	       const struct pkt_spec *reply, __u16 sport0, int n, int verdict);
/* Runs prog once on the frame of s; its return value, -1 if the run fails. */
int unit_run(int prog, struct pkt_spec *s);
/* Mapping ids: the slot of id zeroed; the id of a crbpf_ports entry of pub0. */
int mstats_zero(__u32 id);
int unit_port_put(int family, __u8 proto, __u16 port, const char *be,
		  __u16 bport, __u32 id, __u16 flags, enum dev dev);
__u32 unit_mapping_of(int family, __u8 proto, __u16 port, const char *addr);
/* Inserts a live flow entry {backend, client} -> public (pub0), no reply
 * yet (crbpf_unreplied). */
bool flow_insert(int family, __u8 proto, const char *backend, __u16 bport,
		 const char *client, __u16 cport, const char *public_addr,
		 __u16 public_port);
void mac_str(const __u8 *mac, char *out);
/* CLOCK_MONOTONIC in ns: the clock of crbpf_flow created_ns/seen_ns. */
__u64 mono_ns(void);
/* crbpf_flows of the unit runs, small enough for a flood case to overrun
 * (crbpf_unreplied: crbpf_unreplied_entries() of it) */
#define UNIT_FLOWS 4096
/* crbpf_frags of the unit runs, for the same reason */
#define UNIT_FRAGS 1024
/* The oldest entry a case writes is this far in the past. */
#define UNIT_MIN_UPTIME_NS (150ULL * 1000000000ULL)
/* fd of a map of the edge object the cases run against */
int edge_map_fd(const char *name);
/* fd of a map of the first home object (crbpf_home_tun/srv/fwd) */
int home_map_fd(const char *name);
void hflow_key(struct crbpf_hflow_key *k, int family, __u8 proto,
	       const char *remote, __u16 rport, const char *local, __u16 lport);
/* Where tuple k is for prog's object: 0 crbpf_hflows, 1 crbpf_hunreplied,
 * -1 neither; v gets the entry. */
int hflow_lookup(int prog, const struct crbpf_hflow_key *k, struct crbpf_hflow *v);


/* ---- cases ---- */

enum prog {
	P_EDGE_XDP,
	P_EDGE_TC,
	P_REV_TC,
	P_TUN_TC,
	P_HOME_TUN,
	P_HOME_SRV,
	P_HOME_SRV_MARK, /* second home object loaded with home_mark = HOME_MARK2 */
	/* crbpf_home_out of a third home object: rodata tun_ifindex = wgh,
	 * tun_addr4 = HTUN4, tun_addr6 = HTUN6; shares crbpf_hflows and
	 * crbpf_stats with the first (the tool pins them by name) */
	P_HOME_OUT,
	P_HOME_OUT_NO6, /* same, fourth object with tun_addr6 zero (no IPv6 in the tunnel) */
	/* crbpf_home_fwd (egress of docker0) of the first object, whose
	 * rodata tun_ifindex = wgh: the packet came in by from_dev (wgh
	 * unless set) */
	P_HOME_FWD,
	/* crbpf_edge_xdp / crbpf_edge_tc of a second edge object loaded as
	 * the tool loads it for a device with XDP: rodata edge_xdp_attached
	 * and the hand-off token UNIT_HANDOFF; it shares every map with the
	 * first */
	P_EDGE_XDP_H,
	P_EDGE_TC_H,
	P__MAX,
};

#define HOME_MARK2 0xcb

enum xlate {
	X_NONE, /* output identical to input */
	X_DNAT, /* dst addr/port -> to_addr/to_port, TTL-1 */
	X_SNAT, /* src addr/port -> to_addr/to_port, TTL-1 */
	X_SRC, /* src addr -> to_addr only: port, TTL and MAC header unchanged */
	/* ICMP error: quoted dst addr/port -> to_addr/to_port, outer src ->
	 * to_addr, TTL-1 (an error the backend sent) */
	X_ICMP,
	/* same, outer src kept (an error a router on the way sent) */
	X_ICMP_INNER,
	/* ICMP error to a public address about a reply: quoted src addr/port
	 * -> to_addr/to_port, outer dst -> to_addr, TTL-1 */
	X_ICMP_FWD,
	/* a fragment without the L4 header: dst (DNAT_ADDR) or src (SNAT_ADDR)
	 * address -> to_addr, TTL-1, payload untouched */
	X_DNAT_ADDR,
	X_SNAT_ADDR,
};

enum macs {
	M_KEEP, /* MAC header unchanged */
	M_FWD_L2, /* nh0 -> L2 backend (nh1) */
	M_FWD_NH2, /* nh2 -> L2 backend behind it (nh3) */
	M_REV, /* pub0 -> router (pub1) */
	M_SKIP, /* left to bpf_redirect_neigh: not compared */
	/* the hand-off marker to tun0: h_dest UNIT_HANDOFF, h_source tun0's
	 * ifindex + flags (bpf/handoff.h) */
	M_HANDOFF,
	M_HANDOFF_OTHER, /* the same with another token (input only) */
};

/* The hand-off token of P_EDGE_XDP_H / P_EDGE_TC_H (h_dest of the marker). */
#define UNIT_HANDOFF { 0x02, 0xc7, 0x0a, 0x11, 0xee, 0x05 }

struct stat_exp {
	bool on;
	enum crbpf_stat st;
	int delta;
};

#define ST(s, d) { .on = true, .st = (s), .delta = (d) }

struct mst_exp {
	bool on;
	int family;
	__u8 proto;
	__u16 port; /* public port */
	int in_packets, out_packets, new_flows;
	const char *addr; /* mapping keyed on this public address (--addr) */
	bool all; /* the `all` entry (port ignored) */
};

struct tcase {
	const char *name;
	enum prog prog;
	struct pkt_spec in;
	int verdict;
	enum xlate x;
	const char *to_addr;
	__u16 to_port;
	enum macs macs;
	struct stat_exp st[3];
	struct mst_exp mst;
	/* X_DNAT: the flow entry {backend, client} -> {public} must exist after */
	bool check_flow;
	/* X_SNAT: insert the flow entry the reply belongs to before the run
	 * (an ICMP error with a quote: the flow of the quoted packet) */
	bool add_flow;
	/* tc: the 802.1Q tag leaves the packet (crbpf pops it) */
	bool untag;
	/* UDP: payload chosen so that the rewritten packet's checksum computes
	 * to 0, which must go out as 0xffff (0 would mean "no checksum") */
	bool udp_ffff;
	/* UDP: payload chosen so that the input's complete checksum equals the
	 * folded pseudo-header sum, the value a CHECKSUM_PARTIAL packet holds */
	bool csum_eq_pseudo;
	/* tc: run with BPF_F_TEST_SKB_CHECKSUM_COMPLETE: the kernel sets
	 * skb->csum over the packet before the run and fails it (EBADMSG) when
	 * the program left skb->csum disagreeing with the bytes */
	bool csum_complete;
	/* tc: the rewrite the program must choose (bpf/unit_hook.h):
	 * CRBPF_UNIT_NAT_DIRECT (nat.h's direct writes) or _HELPERS */
	enum crbpf_unit_nat nat;
	/* tc: skb_shinfo(skb)->gso_size of the test skb (a GSO packet) */
	__u32 gso_size;
	/* flow sampling of the run (edge.bpf.c flow_sampled()); S_OFF, the
	 * default, samples every packet as before sampling */
	enum sample { S_OFF, S_MISS, S_HIT } sample;
	/* extra map setup before the run */
	void (*setup)(void);
	/* extra checks after the run (unit_fail() reasons, false on failure) */
	bool (*check)(void);
	/* home: tuple {src, sport, dst, dport} expected in crbpf_hunreplied
	 * (1) or crbpf_hflows (2) after the run, learned on the device the
	 * packet came in by; or neither table may grow (-1) */
	int learn;
	/* home_srv/home_out: insert the tuple this reply belongs to before
	 * the run (remote {dst, dport}, local {src, sport}; crbpf_home_out:
	 * local {tunnel address, hflow_lport (0: sport)}; an ICMP error: the
	 * quote's), learned on hflow_dev (DEV_NONE: wgh), with hflow_flags,
	 * last seen hflow_idle seconds ago, in crbpf_hflows (or
	 * crbpf_hunreplied with hflow_unreplied) */
	bool add_hflow;
	enum dev hflow_dev;
	__u16 hflow_lport;
	__u8 hflow_flags;
	__u32 hflow_idle;
	bool hflow_unreplied;
	/* tc: skb->ingress_ifindex (DEV_NONE: in.dev; P_HOME_FWD: wgh) */
	enum dev from_dev;
	__u32 mark_in;
	bool check_mark;
	__u32 mark_out;
	/* REDIRECT verdicts: the device the packet must be sent to, when it is
	 * not the one main.c derives (redirect_dev(): the next hop of macs,
	 * else the tunnel of the program's direction) */
	enum dev redirect_dev;
	/* the input frame's MAC header: M_HANDOFF, M_HANDOFF_OTHER (M_KEEP:
	 * as pkt_build makes it) */
	enum macs in_macs;
	/* XDP hand-off cases: the output goes on through P_EDGE_TC_H, which
	 * must redirect it to tun0 unchanged (the stats are compared over
	 * both runs) */
	bool chain_tc;
	const char *note; /* printed with a failure: what the case pins down */
	/* extra checks after the run */
	bool (*check_case)(const struct tcase *c);
	/* adjusts the spec of the expected frame after the translation above */
	void (*expect)(const struct tcase *c, struct pkt_spec *s);
	/* builds the whole expected frame instead; returns its length */
	int (*expect_frame)(const struct tcase *c, const __u8 *in, int in_len,
			    __u8 *out);
};

/* Case fields in short (other case files define the same, identically). */
#define PUB .dev = DEV_PUB
#define NH .dev = DEV_NH
#define TUN .dev = DEV_TUN
#define DNAT(a, p) .x = X_DNAT, .to_addr = (a), .to_port = (p)
#define SNAT(a, p) .x = X_SNAT, .to_addr = (a), .to_port = (p)
#define SYN .tcp_flags = 0x02
#define SYNACK .tcp_flags = 0x12
#define FINACK .tcp_flags = 0x11
#define RST .tcp_flags = 0x04
#define ACK .tcp_flags = 0x10

extern const struct tcase edge_cases[];
extern const int n_edge_cases;
/* Packet fields of a case: protocol, family, addresses and ports. */
#define TCP4(s, sp, d, dp) .family = 4, .proto = IPPROTO_TCP, .src = (s), \
	.sport = (sp), .dst = (d), .dport = (dp)
#define UDP4(s, sp, d, dp) .family = 4, .proto = IPPROTO_UDP, .src = (s), \
	.sport = (sp), .dst = (d), .dport = (dp)
#define TCP6(s, sp, d, dp) .family = 6, .proto = IPPROTO_TCP, .src = (s), \
	.sport = (sp), .dst = (d), .dport = (dp)
#define UDP6(s, sp, d, dp) .family = 6, .proto = IPPROTO_UDP, .src = (s), \
	.sport = (sp), .dst = (d), .dport = (dp)

extern const struct tcase home_cases[];
extern const int n_home_cases;
extern const struct tcase flow_cases[];
extern const int n_flow_cases;
extern const struct tcase frag_cases[];
extern const int n_frag_cases;
extern const struct tcase mtu_cases[];
extern const int n_mtu_cases;

extern const struct tcase sample_cases[];
extern const int n_sample_cases;
extern const struct tcase nh_cases[];
extern const int n_nh_cases;
extern const struct tcase lcache_cases[];
extern const int n_lcache_cases;
/* empties crbpf_lcache: after a case changes crbpf_local, as the tool's
 * generation bump would make it stale */
void lcache_clear(void);

extern const struct tcase acl_cases[];
extern const int n_acl_cases;
extern const struct tcase limit_cases[];
extern const int n_limit_cases;

extern const struct tcase fo_cases[];
extern const int n_fo_cases;

extern const struct tcase all_cases[];
extern const int n_all_cases;
/* all_cases.c's mappings, exceptions and sockets, once; 0 or -1 */
int unit_all_setup(void);

/* ---- packet fuzzer (fuzz.c) ---- */

int unit_prog_fd(enum prog p);
/* The unit build's record of prog's last redirect (bpf/unit_hook.h). */
struct crbpf_unit_redirect *unit_redirect_seen(enum prog p);
/* The objects loaded and the maps of edge_cases and all_cases written: 0 */
int unit_fuzz_setup(void);
/* build/unit_tests --fuzz SECONDS [SEED]; --fuzz-replay FILE */
int fuzz_main(int argc, char **argv);
int fuzz_replay(const char *path);

#endif /* CRBPF_UNIT_H */
