/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * Map keys, values and enums shared by the BPF programs and the crbpf tool.
 * Addresses and ports stay in network byte order everywhere; the CLI converts.
 * IPv4 addresses live in addr[0] with addr[1..3] zero, so one layout serves both
 * families.
 */
#ifndef CRBPF_H
#define CRBPF_H

#include <linux/types.h>

#define CRBPF_PIN_ROOT_DEFAULT "/sys/fs/bpf/crbpf"

/* Families as stored in keys: not AF_*, so BPF code needs no socket headers. */
#define CRBPF_V4 4
#define CRBPF_V6 6

/* Mappings (crbpf_ports, crbpf_rev, crbpf_except): every port
 * of both protocols of one family mapped one by one (`all` maps a whole
 * device in one entry). These maps are BPF_F_NO_PREALLOC: only the tool
 * writes them, entries cost memory when they exist, and the cap costs only
 * the kernel's 16-byte bucket per slot (2 MiB each). */
#define CRBPF_MAX_PORTS 131072
/* Flow table default (--flows): a self-hosted service rarely holds more
 * than a few thousand connections; LRU free lists are per CPU, so leave
 * slack. An LRU map must be preallocated: 32768 flows lock 5.5 MiB. */
#define CRBPF_FLOWS_DEFAULT 32768
/* --flows bounds: below, the per-CPU LRU free lists evict live flows early;
 * above, the tables would lock over 850 MiB (make bench asks for 2097152:
 * a million flows with LRU slack). */
#define CRBPF_FLOWS_MIN 1024
#define CRBPF_FLOWS_MAX 4194304
/* Flows without a reply yet live in a table of their own, a quarter of the
 * flow table (at least CRBPF_MIN_UNREPLIED): a flood of spoofed or unanswered
 * flows evicts only its own kind, never an established flow. */
#define CRBPF_MIN_UNREPLIED 1024

static inline unsigned int crbpf_unreplied_entries(unsigned int flows)
{
	return flows / 4 > CRBPF_MIN_UNREPLIED ? flows / 4 : CRBPF_MIN_UNREPLIED;
}
/* Addresses of all attached public devices (BPF_F_NO_PREALLOC). */
#define CRBPF_MAX_LOCAL 1024
/* Remote endpoints learned on a home tunnel: one per flow arriving through
 * it, like the edge's flow table (LRU, preallocated: 32768 lock 3 MiB). */
#define CRBPF_MAX_HFLOWS 32768
/* Devices an XDP program may redirect to (public NICs, Ethernet next hops). */
#define CRBPF_MAX_TXPORTS 256

/* Routing protocol number on every ip rule and route crbpf installs, so that
 * detach finds exactly what attach added (rt_protos has nothing at 203). */
#define CRBPF_RTPROT 203

#define CRBPF_HOME_TABLE_DEFAULT 123
#define CRBPF_HOME_MARK_DEFAULT 0x1

/* Port value of an `all` mapping (forward-everything): no packet is ever
 * mapped by port 0, so the key cannot collide with a port mapping. */
#define CRBPF_PORT_ALL 0

/*
 * crbpf_ports: public (device, family, proto, port, address) -> backend.
 * The programs look up, most specific first: (address, port), (any, port),
 * (address, all), (any, all); crbpf_local's flags skip lookups that cannot
 * hit. crbpf_except uses the same key.
 */
struct crbpf_port_key {
	__u32 ifindex; /* public device the packet arrives on */
	__u8 family; /* CRBPF_V4 | CRBPF_V6 */
	__u8 proto; /* IPPROTO_TCP | IPPROTO_UDP */
	__be16 port; /* public port, or CRBPF_PORT_ALL */
	__be32 addr[4]; /* public address (--addr); all zero: any address */
};
_Static_assert(sizeof(struct crbpf_port_key) == 24, "crbpf_port_key layout");

enum crbpf_backend_flags {
	/* Backend reached through an Ethernet-type device (has a MAC header):
	 * eligible for the XDP fib + devmap path. Otherwise layer 3 (wg, tun). */
	CRBPF_BE_L2 = 1 << 0,
	/* `all` mapping: the backend port is the public port; exceptions in
	 * crbpf_except and local sockets (socket lookup) are never taken. */
	CRBPF_BE_ALL = 1 << 1,
	/* Tracked mapping, set by the tool: its reverse key has no single
	 * static answer (crbpf_rev refs > 1 or CRBPF_REV_TRACK, no rule, or
	 * `all`), so replies need the flow and every forwarded packet reads
	 * it. Without it (a static mapping) the forward path writes the flow
	 * tables only for TCP SYN, FIN and RST and for sampled packets. */
	CRBPF_BE_TRACK = 1 << 2,
	/* Allow or deny lists apply (the mapping's own, or global ones), set
	 * by the tool: without it a hit reads no list (bpf/acl.h). */
	CRBPF_BE_ACL = 1 << 3,
	/* Per-source limits apply (crbpf_limits[mapping] holds a rate), set
	 * by the tool: without it a hit does no limit work (bpf/limit.h). */
	CRBPF_BE_LIMIT = 1 << 4,
	/* Failover mapping, set by the tool: the entry holds the active
	 * backend of an ordered list (crbpf_fo), and a flow keeps the backend
	 * it began on (crbpf_fosticky). Set with CRBPF_BE_TRACK: the sticky
	 * check reads the flow. Without it a hit reads no sticky entry. */
	CRBPF_BE_FAILOVER = 1 << 5,
};

/* Which kind of crbpf_ports entry a flow went through (port del finds its
 * flows by it). */
enum crbpf_match {
	CRBPF_MATCH_ADDR = 1 << 0, /* the key carries the public address */
	CRBPF_MATCH_ALL = 1 << 1, /* the key's port is CRBPF_PORT_ALL */
};

struct crbpf_backend {
	__be32 addr[4];
	__be16 port; /* backend port for this public port (ranges pre-expanded) */
	__u16 flags; /* enum crbpf_backend_flags */
	__u32 ifindex; /* device the routing table uses to reach addr */
	/* crbpf_mstats index, one per `port add` or config line (a range
	 * shares it); 0: not counted. */
	__u32 mapping;
	__u16 nh; /* next-hop cache slot; 0: none */
	__u16 pad;
};
_Static_assert(sizeof(struct crbpf_backend) == 32, "crbpf_backend layout");

/*
 * Allow and deny lists. crbpf_acl (ARRAY_OF_MAPS, CRBPF_ACL_SLOTS) holds one
 * LPM trie per list at crbpf_acl_slot(mapping id, kind); mapping id 0 (never
 * handed out) holds the global lists. An empty slot is an empty list. A list
 * is replaced by building a new trie and swapping the slot in one update,
 * so a packet sees the old list or the new one, never part of either.
 * crbpf_aclstats (per-CPU array, same index): packets each list dropped.
 * Only packets of a mapping are ever checked; replies never are.
 */
struct crbpf_acl_key {
	__u32 prefixlen; /* IPv4: its prefix length + 96 */
	__u8 addr[16]; /* IPv6, or IPv4 as ::ffff:a.b.c.d */
};
_Static_assert(sizeof(struct crbpf_acl_key) == 20, "crbpf_acl_key layout");

/* The key of family's addr/prefixlen (addr as in crbpf_port_key). */
static inline void crbpf_acl_key_of(struct crbpf_acl_key *k, __u8 family,
				    const __be32 *addr, __u32 prefixlen)
{
	__be32 w[4] = { 0, 0, 0, 0 };

	if (family == CRBPF_V6) {
		__builtin_memcpy(w, addr, sizeof(w));
	} else {
		/* ::ffff:0:0/96, in network order on either host */
		((__u8 *)w)[10] = 0xff;
		((__u8 *)w)[11] = 0xff;
		w[3] = addr[0];
		prefixlen += 96;
	}
	k->prefixlen = prefixlen;
	__builtin_memcpy(k->addr, w, sizeof(w));
}

enum crbpf_acl_kind {
	CRBPF_ACL_ALLOW = 0,
	CRBPF_ACL_DENY = 1,
};

/* Largest list the tool loads (the tries are BPF_F_NO_PREALLOC: a list
 * costs what it holds, about 100 bytes a prefix). */
#define CRBPF_ACL_MAX_PREFIXES (1 << 20)

/* crbpf_mstats slots (mapping ids 1..CRBPF_MAX_MAPPINGS-1; 0 is the bin of
 * what no mapping counts): a per-CPU array of 4096 x 40 bytes per CPU. */
#define CRBPF_MAX_MAPPINGS 4096

#define CRBPF_ACL_SLOTS (2 * CRBPF_MAX_MAPPINGS)

static inline __u32 crbpf_acl_slot(__u32 mapping, __u32 kind)
{
	return mapping * 2 + kind;
}

/*
 * Per-source limits (bpf/limit.h). crbpf_limits (array indexed by
 * crbpf_backend.mapping, written by the tool): a mapping's packets per
 * second and new flows per second per source, each a GCRA token bucket
 * (the "virtual scheduling" form: one timestamp per bucket). A source
 * is the client address masked to a prefix (mask4 / mask6). *_ns: the
 * time one packet or flow earns, 1e9 / rate (0: no such limit); *_tol:
 * burst * *_ns (at least CRBPF_LIMIT_TOL_MIN_NS), how far ahead of now a
 * source may run. The tool computes
 * both, so the datapath divides nothing. The rates and bursts as given
 * are kept for `port list`, `stats` and `config`.
 */
#define CRBPF_LIMIT_RATE_MAX 10000000 /* 1e9 / rate >= 100 ns: < 1% rounding */
/* The datapath reads the coarse clock, which moves in ticks of 1-10 ms
 * (CONFIG_HZ): a bucket that a tick could overrun would admit a burst per
 * tick instead of the rate. The tool gives every bucket at least 10 ms
 * of the rate (2000 packets/s: a burst of 20 at least). */
#define CRBPF_LIMIT_TOL_MIN_NS 10000000ULL
#define CRBPF_LIMIT_BURST_MAX 10000000
#define CRBPF_LIMIT_PREFIX4_DEFAULT 32
#define CRBPF_LIMIT_PREFIX6_DEFAULT 64
struct crbpf_limit {
	__u64 pkt_ns;
	__u64 pkt_tol;
	__u64 flow_ns;
	__u64 flow_tol;
	__be32 mask6[4];
	__be32 mask4;
	__u32 pkt_rate;
	__u32 pkt_burst;
	__u32 flow_rate;
	__u32 flow_burst;
	__u8 prefix4;
	__u8 prefix6;
	__u16 pad;
};
_Static_assert(sizeof(struct crbpf_limit) == 72, "crbpf_limit layout");
/* crbpf_limsrc (LRU, CRBPF_LIMSRC_MAX): the buckets of one source of one
 * mapping. An entry the LRU evicted (a flood of spoofed sources) comes
 * back with full buckets: a flood can loosen the limit of the sources it
 * pushes out, never drop a client that stays within it. */
/* LRU, preallocated: 32768 sources lock about 3 MiB */
#define CRBPF_LIMSRC_MAX 32768
struct crbpf_limsrc_key {
	__u32 mapping;
	__u8 family; /* CRBPF_V4 | CRBPF_V6 */
	__u8 pad[3];
	__be32 addr[4]; /* the source address, masked */
};
_Static_assert(sizeof(struct crbpf_limsrc_key) == 24, "crbpf_limsrc_key layout");
struct crbpf_limsrc {
	/* bpf_ktime_get_coarse_ns() at which each bucket is full again ("theoretical
	 * arrival time"); 0 or in the past: full */
	__u64 pkt_tat;
	__u64 flow_tat;
};
_Static_assert(sizeof(struct crbpf_limsrc) == 16, "crbpf_limsrc layout");
/* crbpf_limstats (per-CPU array, indexed by mapping id): what each
 * mapping's limits dropped. The tool zeroes a slot with a fresh id. */
struct crbpf_limstats {
	__u64 pkt_drops;
	__u64 flow_drops;
};
/* The bucket of a source at time now: true (and *tat moved on by step)
 * when it holds a token. Idle time only fills it up to tol, with no
 * product or sum that can overflow (tat <= now + tol at all times). */
static inline int crbpf_gcra_next(__u64 tat, __u64 now, __u64 step, __u64 tol,
				  __u64 *next)
{
	if ((__s64)(tat - now) < 0)
		tat = now;
	tat += step;
	if (tat - now > tol)
		return 0;
	*next = tat;
	return 1;
}

/*
 * Failover. crbpf_fo (array indexed by mapping id, the tool's alone): the
 * ordered backends of a failover mapping, their health as crbpf watch
 * last saw it, and which one the mapping's crbpf_ports entries hold (the
 * active one: the first healthy). crbpf_fosticky (LRU): per forward flow
 * (client, public side), the backend entry it began with; a packet whose
 * sticky backend is not the active one stays on it while that backend's
 * flow entry lives, so neither failover nor fail-back moves a live flow.
 * The tool deletes the sticky entries of a backend that goes down: its
 * flows move on with their next packet.
 */
#define CRBPF_FO_MAX 4 /* backends per mapping: the primary and 3 backups */
/* Sticky entries (LRU, preallocated: 16384 lock about 2 MiB). An evicted
 * one makes its flow follow the active backend, as without failover. */
#define CRBPF_FO_STICKY 16384
#define CRBPF_FO_HANDSHAKE_DEFAULT 180 /* s: WireGuard's REJECT_AFTER_TIME */
#define CRBPF_FO_INTERVAL_DEFAULT 1 /* s between checks in crbpf watch */

struct crbpf_fo_key {
	__be32 client[4];
	__be32 public_addr[4]; /* the packet's destination */
	__u32 ifindex; /* public device */
	__be16 client_port;
	__be16 public_port;
	__u8 family;
	__u8 proto;
	__u16 pad;
};
_Static_assert(sizeof(struct crbpf_fo_key) == 44, "crbpf_fo_key layout");

enum crbpf_fo_state {
	CRBPF_FO_UNKNOWN = 0, /* not checked yet */
	CRBPF_FO_UP = 1,
	CRBPF_FO_DOWN = 2,
};

/* Why a backend is in its state (crbpf status words in user/failover.c). */
enum crbpf_fo_why {
	CRBPF_FO_WHY_NONE = 0,
	CRBPF_FO_WHY_HANDSHAKE, /* WireGuard peer's handshake (age in age_s) */
	CRBPF_FO_WHY_NO_HANDSHAKE, /* peer never had one */
	CRBPF_FO_WHY_NO_PEER, /* no peer's AllowedIPs cover the backend */
	CRBPF_FO_WHY_NO_ROUTE, /* no route to the backend */
	CRBPF_FO_WHY_PROBE_OK, /* probe answered (not behind WireGuard) */
	CRBPF_FO_WHY_PROBE_FAIL, /* probe failed: errno in err */
	CRBPF_FO_WHY_ROUTE, /* not behind WireGuard, no probe: a route */
};

struct crbpf_fo_backend {
	__be32 addr[4];
	__u32 ifindex; /* route device when last checked; 0: none */
	__u8 state; /* enum crbpf_fo_state */
	__u8 why; /* enum crbpf_fo_why */
	__u8 err; /* errno of a failed probe */
	__u8 l2; /* the route device has a MAC header (CRBPF_BE_L2) */
	__u32 age_s; /* handshake age when checked */
	__u32 fails; /* probe failures in a row */
	__u64 since; /* CLOCK_REALTIME s of the last state change */
};
_Static_assert(sizeof(struct crbpf_fo_backend) == 40, "crbpf_fo_backend layout");

struct crbpf_fo {
	__u8 n; /* backends listed; 0: no failover for this id */
	__u8 active; /* index of the one in crbpf_ports */
	__u8 family;
	__u8 probe_proto; /* 0 none, IPPROTO_TCP | IPPROTO_UDP */
	__be16 probe_port;
	__u16 handshake_max; /* s */
	__u32 switches; /* times the active backend changed */
	__u32 pad;
	struct crbpf_fo_backend be[CRBPF_FO_MAX];
};
_Static_assert(sizeof(struct crbpf_fo) == 176, "crbpf_fo layout");

/* crbpf_flows (LRU): keyed as a reply looks on the tunnel: src = backend,
 * dst = client. Flows that have seen a reply. A flow starts in
 * crbpf_unreplied (LRU, same key and value) on its first forwarded packet
 * and moves to crbpf_flows with its first reply, as conntrack's early drop
 * evicts unreplied connections first. */
struct crbpf_flow_key {
	__be32 backend[4];
	__be32 client[4];
	__be16 backend_port;
	__be16 client_port;
	__u8 family;
	__u8 proto;
	__u16 pad;
};
_Static_assert(sizeof(struct crbpf_flow_key) == 40, "crbpf_flow_key layout");

struct crbpf_flow {
	__be32 public_addr[4]; /* address the client connected to */
	__be16 public_port;
	__u8 flags; /* enum crbpf_flow_flags */
	__u8 match; /* enum crbpf_match of the mapping it came through */
	__u32 public_ifindex;
	/* bpf_ktime_get_coarse_ns(), i.e. CLOCK_MONOTONIC */
	__u64 created_ns;
	__u64 seen_ns; /* last packet either way, written when it moved >= 1 s */
	__u64 in_packets; /* client -> backend */
	__u64 in_bytes;
	__u64 out_packets; /* backend -> client */
	__u64 out_bytes;
	__u32 mapping; /* crbpf_backend.mapping of the entry it came through */
	__u32 pad;
};
_Static_assert(sizeof(struct crbpf_flow) == 80, "crbpf_flow layout");

/* What a flow has seen; its state and timeout follow from these. */
enum crbpf_flow_flags {
	CRBPF_FLOW_REPLIED = 1 << 0, /* a packet backend -> client */
	CRBPF_FLOW_FIN_IN = 1 << 1, /* TCP FIN client -> backend */
	CRBPF_FLOW_FIN_OUT = 1 << 2, /* TCP FIN backend -> client */
	CRBPF_FLOW_RST = 1 << 3, /* TCP RST either way */
};

/* crbpf_timeouts: one-entry array, idle timeouts in seconds; 0 = default.
 * Defaults as Linux conntrack's nf_conntrack_*_timeout_* sysctls. */
struct crbpf_timeouts {
	__u32 tcp; /* replied: established, half closed */
	__u32 tcp_syn; /* no reply yet */
	__u32 tcp_fin; /* FIN seen both ways (conntrack time_wait) */
	__u32 tcp_close; /* RST seen (conntrack close) */
	__u32 udp; /* no reply yet */
	__u32 udp_stream; /* replied */
};
_Static_assert(sizeof(struct crbpf_timeouts) == 24, "crbpf_timeouts layout");

/*
 * crbpf_nh: the next-hop cache of crbpf_edge_xdp's Ethernet backends, a
 * per-CPU array (no locks, no torn reads: each CPU fills and reads its own
 * copy) indexed by a hash of the backend address. An entry is the FIB's
 * answer for (family, backend address, backend route device) and is used
 * while crbpf_nhcfg says the cache is on, its generation matches and it is
 * younger than CRBPF_NH_MAX_AGE_NS; otherwise the packet looks the FIB up
 * and refills it. Two backends on one slot take turns: slower, never wrong.
 */
#define CRBPF_NH_SLOTS 256
#define CRBPF_NH_MAX_AGE_NS 1000000000ULL

struct crbpf_nh {
	__be32 addr[4]; /* backend address */
	__u32 oif; /* crbpf_backend.ifindex the lookup was made with */
	__u32 ifindex; /* egress device the FIB chose */
	__u8 dmac[6];
	__u8 smac[6];
	__u16 mtu; /* largest IP packet the route takes */
	__u8 family; /* CRBPF_V4 | CRBPF_V6 */
	__u8 valid;
	__u32 gen; /* crbpf_nhcfg.gen when filled */
	__u32 pad;
	__u64 checked_ns; /* bpf_ktime_get_coarse_ns() of the fill */
};
_Static_assert(sizeof(struct crbpf_nh) == 56, "crbpf_nh layout");

/* crbpf_nh's slot of a backend address: its words folded and mixed
 * (Knuth's multiplicative hash), the top 8 bits kept (CRBPF_NH_SLOTS). */
static inline __u32 crbpf_nh_slot(const __be32 *addr)
{
	__u32 h = addr[0] ^ addr[1] ^ addr[2] ^ addr[3];

	return (h * 2654435761u) >> 24;
}

/* crbpf_nhcfg: one-entry array the tool writes. on: the FIB's answer does
 * not depend on the client (no policy rules but the kernel's defaults), so
 * one entry serves every client; off, every packet looks the FIB up. gen:
 * bumped on route, rule and neighbour changes (crbpf watch, attach) and
 * after every change to crbpf_local, which makes every entry of both
 * caches (crbpf_nh, crbpf_lcache) stale at once. */
struct crbpf_nhcfg {
	__u32 gen;
	__u32 on;
};
_Static_assert(sizeof(struct crbpf_nhcfg) == 8, "crbpf_nhcfg layout");

#define CRBPF_TO_TCP_DEFAULT 432000
#define CRBPF_TO_TCP_SYN_DEFAULT 120
#define CRBPF_TO_TCP_FIN_DEFAULT 120
#define CRBPF_TO_TCP_CLOSE_DEFAULT 10
#define CRBPF_TO_UDP_DEFAULT 30
#define CRBPF_TO_UDP_STREAM_DEFAULT 120

/* Idle timeout of a flow in seconds. Shared so that `crbpf flows` expires
 * exactly what the programs expire. tcp: proto is TCP, else UDP. */
static inline __u32 crbpf_flow_timeout(const struct crbpf_timeouts *t,
				       int tcp, __u16 flags)
{
	__u32 v, def;

	if (!tcp) {
		v = flags & CRBPF_FLOW_REPLIED ? t->udp_stream : t->udp;
		def = flags & CRBPF_FLOW_REPLIED ? CRBPF_TO_UDP_STREAM_DEFAULT :
						   CRBPF_TO_UDP_DEFAULT;
	} else if (flags & CRBPF_FLOW_RST) {
		v = t->tcp_close;
		def = CRBPF_TO_TCP_CLOSE_DEFAULT;
	} else if ((flags & (CRBPF_FLOW_FIN_IN | CRBPF_FLOW_FIN_OUT)) ==
		   (CRBPF_FLOW_FIN_IN | CRBPF_FLOW_FIN_OUT)) {
		v = t->tcp_fin;
		def = CRBPF_TO_TCP_FIN_DEFAULT;
	} else if (flags & CRBPF_FLOW_REPLIED) {
		v = t->tcp;
		def = CRBPF_TO_TCP_DEFAULT;
	} else {
		v = t->tcp_syn;
		def = CRBPF_TO_TCP_SYN_DEFAULT;
	}
	return v ? v : def;
}

/* crbpf_rev: static reverse rule (backend addr, port) -> public side, used
 * when the flow entry is gone (LRU eviction). refs > 1 means several public
 * ports (or public addresses, or an `all` mapping to the same backend
 * address) share this backend port: ambiguous, so only flow entries answer. */
struct crbpf_rev_key {
	__be32 addr[4];
	__be16 port;
	__u8 family;
	__u8 proto;
};
_Static_assert(sizeof(struct crbpf_rev_key) == 20, "crbpf_rev_key layout");

struct crbpf_rev {
	__be32 public_addr[4]; /* --addr, else the public device's primary one */
	__be16 public_port;
	__u16 refs;
	__u32 public_ifindex;
	/* enum crbpf_match (never CRBPF_MATCH_ALL), | CRBPF_REV_TRACK */
	__u32 match;
	__u32 mapping; /* crbpf_backend.mapping of the entry it answers for */
};
_Static_assert(sizeof(struct crbpf_rev) == 32, "crbpf_rev layout");

/* crbpf_rev match bit: the rule names one public side, but a flow may have
 * another (an any-address mapping on a device with several addresses of
 * the family): replies read the flow first, as for refs > 1. */
#define CRBPF_REV_TRACK (1u << 31)

/* crbpf_local: addresses of attached public devices -> ifindex. Only packets
 * addressed to the VPS itself are candidates for forwarding. */
struct crbpf_addr_key {
	__u8 family;
	__u8 pad[3];
	__be32 addr[4];
};
_Static_assert(sizeof(struct crbpf_addr_key) == 20, "crbpf_addr_key layout");

enum crbpf_local_flags {
	/* crbpf_ports holds entries keyed on this address (--addr) */
	CRBPF_LOCAL_ADDR = 1 << 0,
	/* an `all` mapping may apply to this address */
	CRBPF_LOCAL_ALL = 1 << 1,
};

struct crbpf_local {
	__u32 ifindex; /* device that holds the address */
	__u32 flags; /* enum crbpf_local_flags, kept by the tool */
};
_Static_assert(sizeof(struct crbpf_local) == 8, "crbpf_local layout");

/* crbpf_lcache (per-CPU array, not pinned; slot 0 IPv4, 1 IPv6): the last
 * address of the family crbpf_local answered for, and its flags, so the
 * packets that follow skip that hash lookup and a hit costs one lookup, the
 * mapping's. Used while gen equals crbpf_nhcfg.gen, which the tool bumps
 * after every change to crbpf_local (cache_gen_bump()). */
struct crbpf_lcache {
	__be32 addr[4];
	__u32 flags; /* crbpf_local.flags */
	__u32 gen; /* crbpf_nhcfg.gen, read before crbpf_local was */
	__u32 filled;
	__u32 pad;
};
_Static_assert(sizeof(struct crbpf_lcache) == 32, "crbpf_lcache layout");

/* crbpf_except: (device, family, proto, port, address of the `all` entry)
 * -> 1 for every port an `all` mapping leaves alone (--except). */

/* crbpf_mstats (per-CPU array indexed by crbpf_backend.mapping): per
 * mapping. The tool zeroes a slot before it hands the id out again. */
struct crbpf_mstats {
	__u64 in_packets; /* client -> backend */
	__u64 in_bytes;
	__u64 out_packets; /* backend -> client */
	__u64 out_bytes;
	__u64 new_flows;
};

/*
 * crbpf_hflows (home, LRU): flows that arrived through the tunnel, by their
 * exact tuple as the home sees it (conntrack's recipe): remote = the client,
 * local = the address and port it reached -- the tunnel address on the
 * tunnel, the container after Docker's DNAT on a served bridge. Only
 * replies of that very tuple are steered back into the tunnel, so a spoofed
 * source cannot pull the home's own traffic to that endpoint in. A tuple
 * starts in crbpf_hunreplied (LRU, same key and value, a quarter of the
 * size: crbpf_unreplied_entries()) and moves to crbpf_hflows when assured
 * (a reply, then the client again), so a flood of spoofed tuples evicts
 * only its own kind. Entries time out as the edge's flows do
 * (crbpf_flow_timeout() with the default timeouts).
 */
struct crbpf_hflow_key {
	__be32 remote[4];
	__be32 local[4];
	__be16 remote_port;
	__be16 local_port; /* before any home DNAT on the tunnel, after it on a bridge */
	__u8 family;
	__u8 proto;
	__u16 pad;
};
_Static_assert(sizeof(struct crbpf_hflow_key) == 40, "crbpf_hflow_key layout");

struct crbpf_hflow {
	__u32 tunnel_ifindex;
	__u8 flags; /* enum crbpf_flow_flags */
	__u8 pad[3];
	__u64 seen_ns; /* bpf_ktime_get_coarse_ns() of the last packet, >= 1 s steps */
};
_Static_assert(sizeof(struct crbpf_hflow) == 16, "crbpf_hflow layout");

/* crbpf_frags (LRU): what the fragments of one datagram need from its first
 * fragment (kind FWD/REV, id = IP id). crbpf_fragpairs (LRU, same key and
 * value): per address pair what a fragment ahead of its first may use (kind
 * PAIR_*, id 0; see bpf/frag.h). Pairs have a table of their own, so a flood
 * of datagram entries cannot evict them. */
/* Datagrams in flight within ipfrag_time (30 s): fragmented DNS and QUIC
 * answers of a home server (LRU, preallocated: 8192 lock 1.1 MiB). */
#define CRBPF_MAX_FRAGS 8192
/* Client/public address pairs whose fragments arrive ahead of their first
 * within 60 s: many fewer than datagrams (8192 lock 1.1 MiB). */
#define CRBPF_MAX_FRAG_PAIRS 8192

enum crbpf_frag_kind {
	CRBPF_FRAG_FWD = 1, /* src = client, dst = public address */
	CRBPF_FRAG_REV, /* src = backend, dst = client */
	CRBPF_FRAG_PAIR_FWD, /* src = client, dst = public address */
	CRBPF_FRAG_PAIR_REV, /* src = backend, dst = client */
};

struct crbpf_frag_key {
	__be32 src[4];
	__be32 dst[4];
	__be32 id; /* IPv4: 16-bit id, network order, high half 0 */
	__u8 family;
	__u8 proto;
	__u8 kind; /* enum crbpf_frag_kind */
	__u8 pad;
};
_Static_assert(sizeof(struct crbpf_frag_key) == 40, "crbpf_frag_key layout");

enum crbpf_frag_flags {
	/* CRBPF_BE_L2 (1 << 0) is carried over from the backend */
	CRBPF_FRAG_PASS = 1 << 1, /* the datagram is not ours: leave it alone */
	CRBPF_FRAG_AMBIGUOUS = 1 << 2, /* pair: more than one answer seen */
	CRBPF_FRAG_GUESS = 1 << 3, /* datagram entry made from the pair */
	/* the first fragment was dropped (a reply crbpf cannot translate):
	 * so is the rest of the datagram */
	CRBPF_FRAG_DROP = 1 << 4,
};

struct crbpf_frag {
	__be32 addr[4]; /* new destination (FWD: backend) or source (REV: public) */
	__u32 ifindex; /* FWD: device reaching the backend; REV: public device */
	__u16 mapping; /* crbpf_backend.mapping, for the counters; 0 unknown */
	__u16 flags; /* enum crbpf_frag_flags */
	/* CLOCK_MONOTONIC: datagram entry when written; pair when last
	 * confirmed, or (ambiguous) when last contradicted */
	__u64 written_ns;
};
_Static_assert(sizeof(struct crbpf_frag) == 32, "crbpf_frag layout");

/* crbpf_mss: public ifindex -> MSS clamp of SYNs crossing that device's
 * mappings. No entry means CRBPF_MSS_AUTO. */
enum crbpf_mss_mode {
	CRBPF_MSS_AUTO = 0, /* MTU of the tunnel / next-hop device - 40 (v4) or 60 (v6) */
	CRBPF_MSS_OFF = 1,
	CRBPF_MSS_FIXED = 2, /* mss below, for both families */
};

struct crbpf_mss_cfg {
	__u16 mode; /* enum crbpf_mss_mode */
	__u16 mss;
};
_Static_assert(sizeof(struct crbpf_mss_cfg) == 4, "crbpf_mss_cfg layout");

/* crbpf_stats: per-CPU array of outcome counters, indexed by this enum.
 * user/stats.c holds the printable names in the same order. */
enum crbpf_stat {
	CRBPF_ST_PASS_NOT_IP, /* ARP, LLDP, anything not IPv4/IPv6 */
	CRBPF_ST_PASS_MALFORMED, /* truncated or bad headers: the stack decides */
	CRBPF_ST_PASS_NOT_LOCAL, /* not addressed to an attached public address */
	CRBPF_ST_PASS_PROTO, /* not TCP/UDP: ICMP, ND, ... */
	CRBPF_ST_PASS_FRAGMENT, /* fragment of no mapped datagram (XDP: all, tc does them) */
	CRBPF_ST_PASS_NO_MAPPING, /* unmapped port: SSH, the WireGuard listener */
	CRBPF_ST_PASS_TTL, /* would expire here: left to the stack */
	CRBPF_ST_PASS_TO_TC, /* XDP saw a hit it cannot finish (L3 backend, no neigh) */
	CRBPF_ST_FWD_XDP, /* client -> backend, XDP devmap redirect */
	CRBPF_ST_FWD_TC, /* client -> backend, tc redirect */
	/* was rev_xdp (crbpf_rev_xdp, removed: never attached); the slot stays
	 * so that pinned counters keep their indexes. Not printed. */
	CRBPF_ST_RETIRED_REV_XDP,
	CRBPF_ST_REV_TC, /* backend -> client, tc redirect with resolved MACs */
	CRBPF_ST_REV_NEIGH, /* backend -> client, tc bpf_redirect_neigh */
	CRBPF_ST_REV_STATIC, /* reverse answered by crbpf_rev: a static mapping, or no flow */
	CRBPF_ST_PASS_REV_MISS, /* tunnel packet that is no reply to a mapping */
	CRBPF_ST_DROP_NO_ROUTE, /* no route back to the client / to the backend */
	CRBPF_ST_DROP_ERROR, /* a helper failed after the packet was rewritten */
	CRBPF_ST_FLOW_NEW, /* flow entries created */
	CRBPF_ST_FLOW_FULL, /* flow entry could not be written */
	CRBPF_ST_HOME_LEARN, /* home: flow learned on tunnel ingress */
	CRBPF_ST_HOME_MARK, /* home: reply marked on a served bridge */
	CRBPF_ST_HOME_PASS, /* home: packet left alone */
	CRBPF_ST_HOME_REROUTE, /* home: wildcard-bound UDP reply moved into the tunnel */
	CRBPF_ST_FLOW_EXPIRED, /* expired flow entry met: treated as absent */
	CRBPF_ST_FRAG_FIRST, /* first fragment of a mapped datagram, remembered */
	CRBPF_ST_FRAG_FOLLOW, /* later fragment sent where its first went */
	CRBPF_ST_FRAG_EARLY, /* fragment ahead of its first, sent by the address pair */
	CRBPF_ST_FRAG_EARLY_WRONG, /* first fragment contradicted that guess: datagram lost */
	CRBPF_ST_DROP_FRAG_AMBIGUOUS, /* fragment ahead of its first, pair ambiguous */
	CRBPF_ST_PASS_EXCEPT, /* `all` mapping: port listed in --except */
	CRBPF_ST_PASS_LOCAL_SOCK, /* `all` mapping: a local socket owns it */
	CRBPF_ST_MSS_CLAMPED, /* SYN / SYN-ACK whose MSS option was lowered */
	CRBPF_ST_ICMP_TOO_BIG, /* frag-needed / packet-too-big sent to a client */
	CRBPF_ST_FWD_OVERSIZE, /* IPv4 without DF above the tunnel MTU, sent whole */
	CRBPF_ST_PASS_OVERSIZE, /* same for an Ethernet next hop: the stack fragments */
	/* what the kernel refuses, left to it: IPv4 header checksum, IHL,
	 * total / payload length beyond the packet, IPv6 UDP checksum 0 */
	CRBPF_ST_PASS_INVALID,
	/* IPv6 UDP checksum 0 from the backend side: the stack would forward
	 * it untranslated, and every receiver drops it */
	CRBPF_ST_DROP_INVALID,
	/* packet of a live flow's client and backend ports that came to
	 * another public port or address: forwarded, the flow left as it is */
	CRBPF_ST_FLOW_CONFLICT,
	/* reply from a mapped backend port with no flow and no single public
	 * side: the stack would forward it untranslated, so it is dropped */
	CRBPF_ST_DROP_NO_XLATE,
	/* client -> tunnel backend: XDP rewrote it and marked the frame,
	 * crbpf_edge_tc only redirected it (the hand-off, bpf/handoff.h) */
	CRBPF_ST_FWD_HANDOFF,
	/* frame carrying a hand-off marker XDP did not write: from the wire
	 * (XDP) or with another token (tc) */
	CRBPF_ST_DROP_HANDOFF_FORGED,
	/* of fwd_handoff: tc took the target from XDP metadata, which the
	 * wire cannot carry (kernels that allow bpf_xdp_adjust_meta, drivers
	 * that keep it); the others from the marker alone */
	CRBPF_ST_HANDOFF_META,
	/* client -> mapping from a source a deny list holds (bpf/acl.h) */
	CRBPF_ST_DROP_ACL_DENY,
	/* client -> mapping from a source no non-empty allow list holds */
	CRBPF_ST_DROP_ACL_ALLOW,
	/* client -> mapping beyond its per-source packet rate (bpf/limit.h) */
	CRBPF_ST_DROP_LIMIT_PPS,
	/* client -> mapping: a new flow beyond its per-source flow rate */
	CRBPF_ST_DROP_LIMIT_FLOWS,
	/* failover mapping: packet kept on the backend its live flow began
	 * on, which is no longer the active one (crbpf_fosticky) */
	CRBPF_ST_FO_STICKY,
	CRBPF_ST__MAX,
};

/* Unit-test builds only (-DCRBPF_UNIT, bpf/unit_hook.h): the target of the
 * last redirect a program asked for, which BPF_PROG_TEST_RUN does not
 * report. Production objects have no such variable. */
enum crbpf_unit_redir {
	CRBPF_REDIR_NONE,
	CRBPF_REDIR_TC, /* bpf_redirect(ifindex) */
	CRBPF_REDIR_NEIGH, /* bpf_redirect_neigh(ifindex) */
	CRBPF_REDIR_MAP, /* bpf_redirect_map(devmap, ifindex) */
};

struct crbpf_unit_redirect {
	__u32 calls;
	__u32 kind;
	__u64 target;
	__u32 nat; /* enum crbpf_unit_nat: how a tc program rewrote */
	__u32 pad;
};

/* tc address/port rewrite: nat.h's direct writes or the csum helpers */
enum crbpf_unit_nat {
	CRBPF_UNIT_NAT_NONE,
	CRBPF_UNIT_NAT_DIRECT,
	CRBPF_UNIT_NAT_HELPERS,
};

#endif /* CRBPF_H */
