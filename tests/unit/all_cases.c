// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * Forward-everything (`all`) and public-address (--addr) cases of the edge
 * programs. all_setup() adds, as `crbpf port add` would, on pub0:
 *
 *   tcp all (IPv4, any address)      -> L3SRC4_BE via tun0, except 22,6000-6010
 *   udp all (IPv4, any address)      -> L3SRC4_BE via tun0
 *   tcp all --addr VPS4_2            -> BE2_4 via nh0, except 23
 *   tcp 80 --addr VPS4_2             -> BE2_4:8080 via nh0 (main.c maps tcp 80
 *                                       on any address to BE3_4:80)
 *   tcp 7200 --addr VPS4 / --addr VPS4_2 -> BE3_4:7201 / BE2_4:7202
 *   tcp all, udp all (IPv6, any)     -> L3SRC6_BE via tun0, tcp except 22
 *   udp 7300 --addr VPS6             -> BE3_6:7301
 *
 * and real sockets in the private namespace, which the programs' socket
 * lookup must find: a UDP socket on *:51820 (a WireGuard listener), TCP
 * listeners on VPS4:2500, [::]:2600 and VPS4:2223 (a mapped port), the VPS's
 * own TCP connections VPS4:45000 -> CLI4:8000 and [VPS6]:45000 ->
 * [CLI6]:8000 (SYN sent, never answered), and its own UDP "queries"
 * VPS4:45001 -> CLI4:53 and [VPS6]:45001 -> [CLI6]:123 (connected sockets).
 *
 * Cases run after edge_cases (their mappings would turn edge_cases' misses
 * into `all` hits) and build on each other: replies use the flows that the
 * forward cases created.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/socket.h>
#include <linux/bpf.h>
#include <linux/pkt_cls.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include "unit.h"

#define PASS_TC(reason) .verdict = TC_ACT_UNSPEC, .st = { ST(reason, 1) }

/* per-mapping counters of an entry: a = public address or NULL (any) */
#define MST_ALL_IN(f, pr, a, n, nf) \
	.mst = { .on = true, .family = (f), .proto = (pr), .all = true, \
		 .addr = (a), .in_packets = (n), .new_flows = (nf) }
#define MST_ALL_OUT(f, pr, a, n) \
	.mst = { .on = true, .family = (f), .proto = (pr), .all = true, \
		 .addr = (a), .out_packets = (n) }
#define MST_ADDR_IN(f, pr, a, pp, n, nf) \
	.mst = { .on = true, .family = (f), .proto = (pr), .port = (pp), \
		 .addr = (a), .in_packets = (n), .new_flows = (nf) }
#define MST_ADDR_OUT(f, pr, a, pp, n) \
	.mst = { .on = true, .family = (f), .proto = (pr), .port = (pp), \
		 .addr = (a), .out_packets = (n) }

static int setup_err;

static void pkey(struct crbpf_port_key *k, int family, __u8 proto, __u16 port,
		 const char *addr)
{
	memset(k, 0, sizeof(*k));
	k->ifindex = topo.ifindex[DEV_PUB];
	k->family = family == 6 ? CRBPF_V6 : CRBPF_V4;
	k->proto = proto;
	k->port = htons(port);
	if (addr)
		parse_addr(family, addr, k->addr);
}

static void put(const char *map, const void *k, const void *v)
{
	if (bpf_map_update_elem(edge_map_fd(map), k, v, BPF_ANY)) {
		unit_fail("all_setup: update %s: %s", map, strerror(errno));
		setup_err = -1;
	}
}

/* port 0: the `all` entry; be_port ignored then (kept per packet) */
static void mapping(int family, __u8 proto, __u16 port, const char *addr,
		    const char *be, __u16 be_port, enum dev dev)
{
	struct crbpf_port_key k;
	struct crbpf_backend v = {
		.port = htons(be_port),
		.ifindex = topo.ifindex[dev],
		.flags = (dev == DEV_TUN ? 0 : CRBPF_BE_L2) |
			 (port ? 0 : CRBPF_BE_ALL),
	};
	/* ids apart from main.c's table of mappings */
	static __u32 next_id = 1000;

	v.mapping = next_id++;
	pkey(&k, family, proto, port, addr);
	parse_addr(family, be, v.addr);
	if (mstats_zero(v.mapping))
		setup_err = -1;
	put("crbpf_ports", &k, &v);
}

static void except(int family, __u8 proto, const char *addr, __u16 first,
		   __u16 last)
{
	struct crbpf_port_key k;
	__u8 one = 1;
	int p;

	for (p = first; p <= last; p++) {
		pkey(&k, family, proto, p, addr);
		put("crbpf_except", &k, &one);
	}
}

static void local(int family, const char *addr, __u32 flags)
{
	struct crbpf_addr_key k = { .family = family == 6 ? CRBPF_V6 : CRBPF_V4 };
	struct crbpf_local v = { .ifindex = topo.ifindex[DEV_PUB], .flags = flags };

	parse_addr(family, addr, k.addr);
	put("crbpf_local", &k, &v);
	lcache_clear();
}

/* A socket of the VPS itself; stays open for the whole run. */
static void sock(int family, int type, const char *laddr, __u16 lport,
		 const char *raddr, __u16 rport, bool listening)
{
	struct sockaddr_storage ss;
	socklen_t len;
	int fd, one = 1;

	fd = socket(family == 6 ? AF_INET6 : AF_INET, type | SOCK_NONBLOCK, 0);
	if (fd < 0)
		goto fail;
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (family == 6)
		setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof(one));
	for (int i = 0; i < 2; i++) {
		const char *a = i ? raddr : laddr;
		__u16 p = i ? rport : lport;

		if (i && !raddr)
			break;
		memset(&ss, 0, sizeof(ss));
		if (family == 6) {
			struct sockaddr_in6 *s6 = (void *)&ss;

			s6->sin6_family = AF_INET6;
			s6->sin6_port = htons(p);
			if (a && inet_pton(AF_INET6, a, &s6->sin6_addr) != 1)
				goto fail;
			len = sizeof(*s6);
		} else {
			struct sockaddr_in *s4 = (void *)&ss;

			s4->sin_family = AF_INET;
			s4->sin_port = htons(p);
			if (a && inet_pton(AF_INET, a, &s4->sin_addr) != 1)
				goto fail;
			len = sizeof(*s4);
		}
		if (!i && bind(fd, (void *)&ss, len))
			goto fail;
		/* TCP: the SYN goes out and is never answered, SYN_SENT */
		if (i && connect(fd, (void *)&ss, len) && errno != EINPROGRESS)
			goto fail;
	}
	if (listening && listen(fd, 8))
		goto fail;
	return;
fail:
	unit_fail("all_setup: socket %s:%u: %s", laddr ? laddr : "*", lport,
		  strerror(errno));
	setup_err = -1;
}

static void all_marker(int family, __u8 proto, const char *be)
{
	struct crbpf_rev_key rk = { .port = CRBPF_PORT_ALL,
				    .family = family == 6 ? CRBPF_V6 : CRBPF_V4,
				    .proto = proto };
	struct crbpf_rev rv = { .refs = 0xffff,
				.public_ifindex = topo.ifindex[DEV_PUB],
				.match = CRBPF_MATCH_ALL };

	parse_addr(family, be, rk.addr);
	put("crbpf_rev", &rk, &rv);
}

/* Everything the cases below rely on, once. */
static void all_setup(void)
{
	static bool done;
	__be32 a[4];

	if (done)
		return;
	done = true;
	local(4, VPS4, CRBPF_LOCAL_ADDR | CRBPF_LOCAL_ALL);
	local(4, VPS4_2, CRBPF_LOCAL_ADDR | CRBPF_LOCAL_ALL);
	local(6, VPS6, CRBPF_LOCAL_ADDR | CRBPF_LOCAL_ALL);

	mapping(4, IPPROTO_TCP, 0, NULL, L3SRC4_BE, 0, DEV_TUN);
	except(4, IPPROTO_TCP, NULL, 22, 22);
	except(4, IPPROTO_TCP, NULL, 6000, 6010);
	mapping(4, IPPROTO_UDP, 0, NULL, L3SRC4_BE, 0, DEV_TUN);
	mapping(4, IPPROTO_TCP, 0, VPS4_2, BE2_4, 0, DEV_NH);
	except(4, IPPROTO_TCP, VPS4_2, 23, 23);
	mapping(4, IPPROTO_TCP, 80, VPS4_2, BE2_4, 8080, DEV_NH);
	mapping(4, IPPROTO_TCP, 7200, VPS4, BE3_4, 7201, DEV_TUN);
	mapping(4, IPPROTO_TCP, 7200, VPS4_2, BE2_4, 7202, DEV_NH);
	mapping(6, IPPROTO_TCP, 0, NULL, L3SRC6_BE, 0, DEV_TUN);
	except(6, IPPROTO_TCP, NULL, 22, 22);
	mapping(6, IPPROTO_UDP, 0, NULL, L3SRC6_BE, 0, DEV_TUN);
	mapping(6, IPPROTO_UDP, 7300, VPS6, BE3_6, 7301, DEV_TUN);

	/* The static reverse rule the tool writes for tcp 7202 --addr VPS4_2:
	 * unambiguous, answering from that address. */
	{
		struct crbpf_rev_key rk = { .port = htons(7202),
					    .family = CRBPF_V4,
					    .proto = IPPROTO_TCP };
		struct crbpf_rev rv = { .public_port = htons(7200), .refs = 1,
					.public_ifindex = topo.ifindex[DEV_PUB],
					.match = CRBPF_MATCH_ADDR,
					.mapping = unit_mapping_of(4, IPPROTO_TCP,
								   7200, VPS4_2) };

		parse_addr(4, BE2_4, rk.addr);
		parse_addr(4, VPS4_2, a);
		memcpy(rv.public_addr, a, sizeof(a));
		put("crbpf_rev", &rk, &rv);
	}

	/* The marker the tool writes for each backend address of an `all`
	 * mapping: every port of it is a mapped port, none has a static rule. */
	all_marker(4, IPPROTO_TCP, L3SRC4_BE);
	all_marker(4, IPPROTO_UDP, L3SRC4_BE);
	all_marker(4, IPPROTO_TCP, BE2_4);
	all_marker(6, IPPROTO_TCP, L3SRC6_BE);
	all_marker(6, IPPROTO_UDP, L3SRC6_BE);

	sock(4, SOCK_DGRAM, NULL, 51820, NULL, 0, false);
	sock(4, SOCK_STREAM, VPS4, 2500, NULL, 0, true);
	sock(6, SOCK_STREAM, NULL, 2600, NULL, 0, true);
	sock(4, SOCK_STREAM, VPS4, 2223, NULL, 0, true);
	sock(4, SOCK_STREAM, VPS4, 45000, CLI4, 8000, false);
	sock(6, SOCK_STREAM, VPS6, 45000, CLI6, 8000, false);
	sock(4, SOCK_DGRAM, VPS4, 45001, CLI4, 53, false);
	sock(6, SOCK_DGRAM, VPS6, 45001, CLI6, 123, false);
}

/* The packet fuzzer's configuration: everything above (fuzz.c). */
int unit_all_setup(void)
{
	all_setup();
	return setup_err;
}

/* The flow the forward case created records how it matched. */
static bool flow_match_is(const struct tcase *c, __u8 want)
{
	const struct pkt_spec *s = &c->in;
	struct crbpf_flow_key k = { .family = s->family == 6 ? CRBPF_V6 : CRBPF_V4,
				    .proto = s->proto };
	struct crbpf_flow v;

	if (setup_err)
		return ASSERT_OK(setup_err, "all_setup");
	parse_addr(s->family, c->to_addr, k.backend);
	parse_addr(s->family, s->src, k.client);
	k.backend_port = htons(c->to_port);
	k.client_port = htons(s->sport);
	if (!ASSERT_TRUE(flow_lookup(&k, &v) >= 0, "flow entry"))
		return false;
	return ASSERT_EQ(v.match, want, "flow match kind");
}

static bool match_all(const struct tcase *c)
{
	return flow_match_is(c, CRBPF_MATCH_ALL);
}

static bool match_addr(const struct tcase *c)
{
	return flow_match_is(c, CRBPF_MATCH_ADDR);
}

static bool match_addr_all(const struct tcase *c)
{
	return flow_match_is(c, CRBPF_MATCH_ADDR | CRBPF_MATCH_ALL);
}

static bool match_none(const struct tcase *c)
{
	return flow_match_is(c, 0);
}

static bool setup_ok(const struct tcase *c)
{
	(void)c;
	return ASSERT_OK(setup_err, "all_setup");
}

#define S .setup = all_setup

const struct tcase all_cases[] = {
	/* ---- `all` on any address: hits, exceptions, specific wins ---- */
	{ "all_tc_v4_tcp_hit", P_EDGE_TC, { PUB, TCP4(CLI4, 41000, VPS4, 1234) },
	  TC_ACT_REDIRECT, DNAT(L3SRC4_BE, 1234), M_KEEP,
	  { ST(CRBPF_ST_FWD_TC, 1), ST(CRBPF_ST_FLOW_NEW, 1) },
	  MST_ALL_IN(4, IPPROTO_TCP, NULL, 1, 1), .check_flow = true,
	  .check_case = match_all, S, .note = "the port is kept" },
	{ "all_tc_v4_udp_hit", P_EDGE_TC, { PUB, UDP4(CLI4, 41001, VPS4, 1194) },
	  TC_ACT_REDIRECT, DNAT(L3SRC4_BE, 1194), M_KEEP, { ST(CRBPF_ST_FWD_TC, 1) },
	  MST_ALL_IN(4, IPPROTO_UDP, NULL, 1, 1), .check_flow = true, S },
	{ "all_tc_v4_except", P_EDGE_TC, { PUB, TCP4(CLI4, 41002, VPS4, 22) },
	  PASS_TC(CRBPF_ST_PASS_EXCEPT), S, .check_case = setup_ok },
	{ "all_tc_v4_except_range", P_EDGE_TC, { PUB, TCP4(CLI4, 41003, VPS4, 6005) },
	  PASS_TC(CRBPF_ST_PASS_EXCEPT), S },
	{ "all_tc_v4_except_range_end", P_EDGE_TC, { PUB, TCP4(CLI4, 41004, VPS4, 6011) },
	  TC_ACT_REDIRECT, DNAT(L3SRC4_BE, 6011), M_KEEP, { ST(CRBPF_ST_FWD_TC, 1) }, S },
	{ "all_tc_v4_specific_wins", P_EDGE_TC, { PUB, TCP4(CLI4, 41005, VPS4, 80) },
	  TC_ACT_REDIRECT, DNAT(BE3_4, 80), M_KEEP, { ST(CRBPF_ST_FWD_TC, 1) },
	  .mst = { .on = true, .family = 4, .proto = IPPROTO_TCP, .port = 80,
		   .in_packets = 1, .new_flows = 1 },
	  .check_case = match_none, S },
	{ "all_tc_v4_specific_range_wins", P_EDGE_TC, { PUB, TCP4(CLI4, 41008, VPS4, 8003) },
	  TC_ACT_REDIRECT, DNAT(BE3_4, 9003), M_KEEP, { ST(CRBPF_ST_FWD_TC, 1) }, S },

	/* ---- --addr: address-specific beats wildcard, per address ---- */
	{ "all_tc_v4_addr_port_wins", P_EDGE_TC, { PUB, TCP4(CLI4, 41006, VPS4_2, 80) },
	  TC_ACT_REDIRECT, DNAT(BE2_4, 8080), M_FWD_L2, { ST(CRBPF_ST_FWD_TC, 1) },
	  MST_ADDR_IN(4, IPPROTO_TCP, VPS4_2, 80, 1, 1), .check_flow = true,
	  .check_case = match_addr, S,
	  .note = "tcp 80 --addr VPS4_2 over tcp 80 on any address" },
	{ "all_tc_v4_addr_all_hit", P_EDGE_TC, { PUB, TCP4(CLI4, 41007, VPS4_2, 1234) },
	  TC_ACT_REDIRECT, DNAT(BE2_4, 1234), M_FWD_L2, { ST(CRBPF_ST_FWD_TC, 1) },
	  MST_ALL_IN(4, IPPROTO_TCP, VPS4_2, 1, 1), .check_flow = true,
	  .check_case = match_addr_all, S,
	  .note = "tcp all --addr VPS4_2 over tcp all on any address" },
	{ "all_tc_v4_addr_all_except", P_EDGE_TC, { PUB, TCP4(CLI4, 41009, VPS4_2, 23) },
	  PASS_TC(CRBPF_ST_PASS_EXCEPT), S },
	{ "all_tc_v4_except_is_per_entry", P_EDGE_TC, { PUB, TCP4(CLI4, 41010, VPS4, 23) },
	  TC_ACT_REDIRECT, DNAT(L3SRC4_BE, 23), M_KEEP, { ST(CRBPF_ST_FWD_TC, 1) }, S,
	  .note = "23 is an exception of the VPS4_2 entry only" },
	{ "all_tc_v4_any_port_beats_addr_all", P_EDGE_TC,
	  { PUB, TCP4(CLI4, 41011, VPS4_2, 8080) },
	  TC_ACT_REDIRECT, DNAT(BE3_4, 80), M_KEEP, { ST(CRBPF_ST_FWD_TC, 1) }, S,
	  .note = "order: (addr,port), (any,port), (addr,all), (any,all)" },
	{ "all_tc_v4_same_port_addr1", P_EDGE_TC, { PUB, TCP4(CLI4, 41012, VPS4, 7200) },
	  TC_ACT_REDIRECT, DNAT(BE3_4, 7201), M_KEEP, { ST(CRBPF_ST_FWD_TC, 1) },
	  MST_ADDR_IN(4, IPPROTO_TCP, VPS4, 7200, 1, 1), .check_flow = true, S },
	{ "all_tc_v4_same_port_addr2", P_EDGE_TC, { PUB, TCP4(CLI4, 41013, VPS4_2, 7200) },
	  TC_ACT_REDIRECT, DNAT(BE2_4, 7202), M_FWD_L2, { ST(CRBPF_ST_FWD_TC, 1) },
	  MST_ADDR_IN(4, IPPROTO_TCP, VPS4_2, 7200, 1, 1), .check_flow = true, S },

	/* ---- what `all` never takes: local sockets ---- */
	{ "all_tc_v4_wg_listener", P_EDGE_TC, { PUB, UDP4(CLI4, 41014, VPS4, 51820) },
	  PASS_TC(CRBPF_ST_PASS_LOCAL_SOCK), S,
	  .note = "UDP socket on *:51820 like the WireGuard listener" },
	{ "all_tc_v4_listener", P_EDGE_TC, { PUB, TCP4(CLI4, 41015, VPS4, 2500) },
	  PASS_TC(CRBPF_ST_PASS_LOCAL_SOCK), S },
	{ "all_tc_v4_listener_other_addr", P_EDGE_TC,
	  { PUB, TCP4(CLI4, 41016, VPS4_2, 2500) },
	  TC_ACT_REDIRECT, DNAT(BE2_4, 2500), M_FWD_L2, { ST(CRBPF_ST_FWD_TC, 1) }, S,
	  .note = "the listener is bound to VPS4 only" },
	{ "all_tc_v4_own_tcp_reply", P_EDGE_TC, { PUB, TCP4(CLI4, 8000, VPS4, 45000) },
	  PASS_TC(CRBPF_ST_PASS_LOCAL_SOCK), S,
	  .note = "SYN-ACK to a connection the VPS opened" },
	{ "all_tc_v4_own_udp_reply", P_EDGE_TC, { PUB, UDP4(CLI4, 53, VPS4, 45001) },
	  PASS_TC(CRBPF_ST_PASS_LOCAL_SOCK), S,
	  .note = "answer to the VPS's own DNS query" },
	{ "all_tc_v4_udp_other_peer", P_EDGE_TC, { PUB, UDP4(CLI4, 54, VPS4, 45001) },
	  TC_ACT_REDIRECT, DNAT(L3SRC4_BE, 45001), M_KEEP, { ST(CRBPF_ST_FWD_TC, 1) }, S,
	  .note = "the connected socket matches its peer only: no port ranges" },
	{ "all_tc_v4_own_tcp_other_peer", P_EDGE_TC, { PUB, TCP4(CLI4, 8001, VPS4, 45000) },
	  TC_ACT_REDIRECT, DNAT(L3SRC4_BE, 45000), M_KEEP, { ST(CRBPF_ST_FWD_TC, 1) }, S },
	{ "all_tc_v4_specific_skips_sock", P_EDGE_TC, { PUB, TCP4(CLI4, 41017, VPS4, 2223) },
	  TC_ACT_REDIRECT, DNAT(BE2_4, 22), M_FWD_L2, { ST(CRBPF_ST_FWD_TC, 1) }, S,
	  .note = "a port mapping is no `all` hit: no socket lookup (listener on VPS4:2223)" },

	/* ---- XDP hands `all` hits to tc; address mappings stay fast ---- */
	{ "all_xdp_v4_hands_to_tc", P_EDGE_XDP, { PUB, TCP4(CLI4, 41018, VPS4, 1234) },
	  .verdict = XDP_PASS, .st = { ST(CRBPF_ST_PASS_TO_TC, 1), ST(CRBPF_ST_FWD_XDP, 0) },
	  S },
	{ "all_xdp_h_v4_unmarked", P_EDGE_XDP_H, { PUB, TCP4(CLI4, 43020, VPS4, 1234) },
	  .verdict = XDP_PASS, .st = { ST(CRBPF_ST_PASS_TO_TC, 1), ST(CRBPF_ST_FWD_HANDOFF, 0) },
	  S, .note = "an `all` hit on a tunnel takes no hand-off: tc checks its exceptions" },
	{ "all_xdp_v4_addr_port_l2", P_EDGE_XDP, { PUB, TCP4(CLI4, 41019, VPS4_2, 80) },
	  XDP_REDIRECT, DNAT(BE2_4, 8080), M_FWD_L2, { ST(CRBPF_ST_FWD_XDP, 1) },
	  MST_ADDR_IN(4, IPPROTO_TCP, VPS4_2, 80, 1, 1), .check_flow = true,
	  .check_case = match_addr, S },

	/* ---- IPv6 ---- */
	{ "all_tc_v6_tcp_hit", P_EDGE_TC, { PUB, TCP6(CLI6, 41020, VPS6, 1234) },
	  TC_ACT_REDIRECT, DNAT(L3SRC6_BE, 1234), M_KEEP, { ST(CRBPF_ST_FWD_TC, 1) },
	  MST_ALL_IN(6, IPPROTO_TCP, NULL, 1, 1), .check_flow = true,
	  .check_case = match_all, S },
	{ "all_tc_v6_udp_hit", P_EDGE_TC, { PUB, UDP6(CLI6, 41021, VPS6, 1194) },
	  TC_ACT_REDIRECT, DNAT(L3SRC6_BE, 1194), M_KEEP, { ST(CRBPF_ST_FWD_TC, 1) }, S },
	{ "all_tc_v6_except", P_EDGE_TC, { PUB, TCP6(CLI6, 41022, VPS6, 22) },
	  PASS_TC(CRBPF_ST_PASS_EXCEPT), S },
	{ "all_tc_v6_specific_wins", P_EDGE_TC, { PUB, TCP6(CLI6, 41023, VPS6, 443) },
	  TC_ACT_REDIRECT, DNAT(BE3_6, 8443), M_KEEP, { ST(CRBPF_ST_FWD_TC, 1) }, S },
	{ "all_tc_v6_listener", P_EDGE_TC, { PUB, TCP6(CLI6, 41024, VPS6, 2600) },
	  PASS_TC(CRBPF_ST_PASS_LOCAL_SOCK), S },
	{ "all_tc_v6_own_tcp_reply", P_EDGE_TC, { PUB, TCP6(CLI6, 8000, VPS6, 45000) },
	  PASS_TC(CRBPF_ST_PASS_LOCAL_SOCK), S },
	{ "all_tc_v6_own_udp_reply", P_EDGE_TC, { PUB, UDP6(CLI6, 123, VPS6, 45001) },
	  PASS_TC(CRBPF_ST_PASS_LOCAL_SOCK), S },
	{ "all_tc_v6_addr_udp", P_EDGE_TC, { PUB, UDP6(CLI6, 41025, VPS6, 7300) },
	  TC_ACT_REDIRECT, DNAT(BE3_6, 7301), M_KEEP, { ST(CRBPF_ST_FWD_TC, 1) },
	  MST_ADDR_IN(6, IPPROTO_UDP, VPS6, 7300, 1, 1), .check_flow = true,
	  .check_case = match_addr, S },

	/* ---- ICMP errors to a public address: flows decide, not `all` ---- */
	{ "all_tc_icmp4_frag_needed_fwd", P_EDGE_TC,
	  { PUB, .family = 4, .proto = IPPROTO_ICMP, .src = "198.51.100.1",
	    .dst = VPS4, .icmp_type = 3, .icmp_code = 4, .icmp_info = 1400,
	    .quote_len = -1,
	    .inner = &(const struct pkt_spec){ TCP4(VPS4, 1234, CLI4, 41000) } },
	  TC_ACT_REDIRECT, .x = X_ICMP_FWD, .to_addr = L3SRC4_BE, .to_port = 1234,
	  M_KEEP, { ST(CRBPF_ST_FWD_TC, 1) }, S,
	  .note = "about a reply of an `all` flow (all_tc_v4_tcp_hit): to the backend" },
	{ "all_tc_icmp4_about_own_conn", P_EDGE_TC,
	  { PUB, .family = 4, .proto = IPPROTO_ICMP, .src = "198.51.100.1",
	    .dst = VPS4, .icmp_type = 3, .icmp_code = 4, .icmp_info = 1400,
	    .quote_len = -1,
	    .inner = &(const struct pkt_spec){ TCP4(VPS4, 45000, CLI4, 8000) } },
	  PASS_TC(CRBPF_ST_PASS_NO_MAPPING), S,
	  .note = "about the VPS's own connection: no flow, the VPS's stack gets it" },

	/* ---- replies leave from the address the client used ---- */
	{ "all_tun_tc_v4_reply", P_TUN_TC,
	  { TUN, TCP4(L3SRC4_BE, 1234, CLI4, 41000), .l3only = true },
	  TC_ACT_REDIRECT, SNAT(VPS4, 1234), M_REV, { ST(CRBPF_ST_REV_TC, 1) },
	  MST_ALL_OUT(4, IPPROTO_TCP, NULL, 1), S },
	{ "all_rev_tc_v4_addr_all_reply", P_REV_TC, { NH, TCP4(BE2_4, 1234, CLI4, 41007) },
	  TC_ACT_REDIRECT, SNAT(VPS4_2, 1234), M_REV, { ST(CRBPF_ST_REV_TC, 1) },
	  MST_ALL_OUT(4, IPPROTO_TCP, VPS4_2, 1), S },
	{ "all_rev_tc_v4_addr_port_reply", P_REV_TC, { NH, TCP4(BE2_4, 8080, CLI4, 41006) },
	  TC_ACT_REDIRECT, SNAT(VPS4_2, 80), M_REV, { ST(CRBPF_ST_REV_TC, 1) },
	  MST_ADDR_OUT(4, IPPROTO_TCP, VPS4_2, 80, 1), S },
	{ "all_rev_tc_v4_addr_static", P_REV_TC, { NH, TCP4(BE2_4, 7202, CLI4, 41099) },
	  TC_ACT_REDIRECT, SNAT(VPS4_2, 7200), M_REV,
	  { ST(CRBPF_ST_REV_TC, 1), ST(CRBPF_ST_REV_STATIC, 1) },
	  MST_ADDR_OUT(4, IPPROTO_TCP, VPS4_2, 7200, 1), S,
	  .note = "no flow: crbpf_rev of the --addr mapping answers from VPS4_2" },
	{ "all_tun_tc_v6_reply", P_TUN_TC,
	  { TUN, TCP6(L3SRC6_BE, 1234, CLI6, 41020), .l3only = true },
	  TC_ACT_REDIRECT, SNAT(VPS6, 1234), M_REV, { ST(CRBPF_ST_REV_TC, 1) },
	  MST_ALL_OUT(6, IPPROTO_TCP, NULL, 1), S },

	/* ---- a reply without a flow never leaves untranslated (issue 11
	 * item 3): `all` has no static rule, the tool's marker says so ---- */
	{ "all_tun_tc_v4_no_flow_dropped", P_TUN_TC,
	  { TUN, TCP4(L3SRC4_BE, 1234, CLI4, 41030), .l3only = true },
	  .verdict = TC_ACT_SHOT, .st = { ST(CRBPF_ST_DROP_NO_XLATE, 1) }, S,
	  .note = "flow evicted: passed, the stack would send it out from 8.0.0.2" },
	{ "all_tun_tc_v4_udp_no_flow_dropped", P_TUN_TC,
	  { TUN, UDP4(L3SRC4_BE, 5353, CLI4, 41031), .l3only = true },
	  .verdict = TC_ACT_SHOT, .st = { ST(CRBPF_ST_DROP_NO_XLATE, 1) }, S },
	{ "all_tun_tc_v6_no_flow_dropped", P_TUN_TC,
	  { TUN, TCP6(L3SRC6_BE, 1234, CLI6, 41032), .l3only = true },
	  .verdict = TC_ACT_SHOT, .st = { ST(CRBPF_ST_DROP_NO_XLATE, 1) }, S },
	{ "all_rev_tc_v4_addr_all_no_flow_dropped", P_REV_TC,
	  { NH, TCP4(BE2_4, 1235, CLI4, 41033) },
	  .verdict = TC_ACT_SHOT, .st = { ST(CRBPF_ST_DROP_NO_XLATE, 1) }, S },
	{ "all_tun_tc_v4_no_flow_to_vps", P_TUN_TC,
	  { TUN, TCP4(L3SRC4_BE, 1234, VPS4, 41035), .l3only = true },
	  PASS_TC(CRBPF_ST_PASS_REV_MISS), S,
	  .note = "to the VPS itself: the stack delivers it" },
	{ "all_tun_tc_v4_other_proto_passes", P_TUN_TC,
	  { TUN, UDP4("8.0.0.3", 1234, CLI4, 41036), .l3only = true },
	  PASS_TC(CRBPF_ST_PASS_REV_MISS), S,
	  .note = "no mapping leads to 8.0.0.3: routed traffic, not ours" },
};

const int n_all_cases = sizeof(all_cases) / sizeof(all_cases[0]);
