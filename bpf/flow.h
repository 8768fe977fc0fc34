/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * Flow lifecycle. A crbpf_flows entry records when the flow began and was
 * last seen, its packets and bytes each way and the TCP events that end it
 * (FIN both ways, RST). An entry idle for longer than its timeout
 * (crbpf_flow_timeout(), settings in crbpf_timeouts) is expired: the
 * programs treat it as absent. Nothing deletes it; the next packet of the
 * client re-creates it, or LRU pressure reclaims it. A reply to an expired
 * flow gets the static reverse rule (crbpf_rev) or passes untouched.
 *
 * Counters are plain adds: each direction's packets mostly arrive on one CPU
 * (RSS, the tunnel's decrypt worker), so a lost increment is rare and only
 * costs accuracy. They are sampled: one packet in N adds N packets and N
 * times its length (edge.bpf.c flow_sampled()). Flags are written only when they change, seen_ns at most
 * once a second: a busy flow's entry is not dirtied for them per packet.
 */
#ifndef CRBPF_FLOW_H
#define CRBPF_FLOW_H

#include "edge_maps.h"
#include "flowstate.h"

static __always_inline bool flow_expired(const struct crbpf_flow *f,
					 __u8 proto, __u64 now)
{
	struct crbpf_timeouts to = {};
	struct crbpf_timeouts *t;
	__u32 key = 0;
	__u64 seen = f->seen_ns;

	t = bpf_map_lookup_elem(&crbpf_timeouts, &key);
	if (t)
		to = *t;
	return flow_idle_expired(&to, seen, proto, f->flags, now);
}

/* A client SYN on a flow that has ended (FIN, RST) opens a new connection
 * on the same ports: it starts a new entry instead of inheriting the end. */
static __always_inline bool flow_reopened(const struct crbpf_flow *f,
					  const struct pkt *p)
{
	return flow_flags_reopened(f->flags, p);
}

/* Can a forwarded packet go on with this live entry? */
static __always_inline bool flow_usable(const struct crbpf_flow *f,
					const struct pkt *p, __u64 now)
{
	if (flow_expired(f, p->proto, now)) {
		count(CRBPF_ST_FLOW_EXPIRED);
		return false;
	}
	return !flow_reopened(f, p);
}

/* A new entry for the first forwarded packet of a flow, which counts as
 * pkts packets (flow_sampled()). */
static __always_inline void flow_start(struct crbpf_flow *f,
				       const struct pkt *p, __u32 pkts,
				       __u64 len, __u64 now)
{
	f->flags = flow_pkt_flags(p, false);
	f->created_ns = now;
	f->seen_ns = now;
	f->in_packets = pkts;
	f->in_bytes = (__u64)pkts * len;
}

/* The live flow a reply belongs to, in either table; NULL when there is
 * none (counted when one expired). */
static __always_inline struct crbpf_flow *
flow_reply_lookup(const struct crbpf_flow_key *fk, __u64 now)
{
	struct crbpf_flow *flow;

	flow = bpf_map_lookup_elem(&crbpf_flows, fk);
	if (!flow)
		flow = bpf_map_lookup_elem(&crbpf_unreplied, fk);
	if (flow && flow_expired(flow, fk->proto, now)) {
		count(CRBPF_ST_FLOW_EXPIRED);
		return NULL;
	}
	return flow;
}

/* Does this client packet make a flow of crbpf_unreplied one that belongs
 * in crbpf_flows? When it is assured (flow_flags_assured()). */
static __always_inline bool flow_assured(const struct crbpf_flow *f,
					 const struct pkt *p)
{
	return flow_flags_assured(f->flags, p);
}

/* A packet of a live flow: reply is backend -> client. It counts as pkts
 * packets (flow_sampled()): 0 leaves the counters, and their cache line,
 * alone. */
static __always_inline void flow_seen(struct crbpf_flow *f,
				      const struct pkt *p, bool reply,
				      __u32 pkts, __u64 len, __u64 now)
{
	__u16 add = flow_pkt_flags(p, reply);

	if (pkts && reply) {
		f->out_packets += pkts;
		f->out_bytes += (__u64)pkts * len;
	} else if (pkts) {
		f->in_packets += pkts;
		f->in_bytes += (__u64)pkts * len;
	}
	flow_touch(&f->flags, &f->seen_ns, add, now);
}

#endif /* CRBPF_FLOW_H */
