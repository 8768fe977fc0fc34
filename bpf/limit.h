/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * Per-source limits of the forward path (include/crbpf.h, crbpf_limit):
 * packets per second and new flows per second per source address or
 * prefix, one GCRA bucket each (crbpf_gcra_next()). Only a mapping's
 * packets come here, and only when its backend entry carries
 * CRBPF_BE_LIMIT. Included by edge.bpf.c after edge_common.h (flow_key()).
 *
 * A new flow: a TCP SYN without ACK; a UDP packet whose tuple neither flow
 * table holds (record_flow() records every UDP flow of such a mapping).
 *
 * Concurrency: the bucket is read, checked and written without a lock.
 * Two CPUs taking a token from one source's bucket at the same moment may
 * both pass: the excess over the limit is at most one packet per CPU per
 * race, which one source's packets (one RSS queue per 4-tuple) rarely
 * meet. A lock would cost every packet for that.
 */
#ifndef CRBPF_LIMIT_H
#define CRBPF_LIMIT_H

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, CRBPF_MAX_MAPPINGS);
	__type(key, __u32);
	__type(value, struct crbpf_limit);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} crbpf_limits SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, CRBPF_LIMSRC_MAX);
	__type(key, struct crbpf_limsrc_key);
	__type(value, struct crbpf_limsrc);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} crbpf_limsrc SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, CRBPF_MAX_MAPPINGS);
	__type(key, __u32);
	__type(value, struct crbpf_limstats);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} crbpf_limstats SEC(".maps");

/* Keys and the new entry off the stack: crbpf_edge_tc's frame plus the
 * MSS subprogram's is at 6.1's 512-byte limit already. */
struct lim_tmp {
	struct crbpf_limsrc_key k;
	struct crbpf_limsrc v;
	struct crbpf_flow_key fk;
};

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct lim_tmp);
} crbpf_limtmp SEC(".maps");

/* Does record_flow() record every UDP flow of this mapping? Those with a
 * flow limit: the next packet of an admitted flow must find it. */
static __always_inline bool limit_records(const struct pkt *p,
					  const struct crbpf_backend *be)
{
	const struct crbpf_limit *l;

	if (!(be->flags & CRBPF_BE_LIMIT) || p->proto != IPPROTO_UDP)
		return false;
	l = bpf_map_lookup_elem(&crbpf_limits, &be->mapping);
	return l && l->flow_ns;
}

static __always_inline bool limit_new_flow(const struct pkt *p,
					   const struct crbpf_backend *be,
					   struct lim_tmp *t)
{
	if (p->proto == IPPROTO_TCP)
		return (p->tcp_flags & (CRBPF_TCP_SYN | CRBPF_TCP_ACK)) ==
		       CRBPF_TCP_SYN;
	flow_key(&t->fk, p->family, p->proto, be->addr, be->port, p->saddr,
		 p->sport);
	return !bpf_map_lookup_elem(&crbpf_flows, &t->fk) &&
	       !bpf_map_lookup_elem(&crbpf_unreplied, &t->fk);
}

static __always_inline int limit_drop(const struct crbpf_backend *be,
				      bool flows)
{
	struct crbpf_limstats *n = bpf_map_lookup_elem(&crbpf_limstats,
							&be->mapping);

	if (flows) {
		if (n)
			n->flow_drops++;
		count(CRBPF_ST_DROP_LIMIT_FLOWS);
		return CRBPF_ST_DROP_LIMIT_FLOWS;
	}
	if (n)
		n->pkt_drops++;
	count(CRBPF_ST_DROP_LIMIT_PPS);
	return CRBPF_ST_DROP_LIMIT_PPS;
}

/*
 * 0 when the packet is within its source's limits (the tokens taken),
 * else the reason it is dropped (counted, globally and per mapping). A
 * packet takes from both buckets or from none: one that a bucket refuses
 * costs the other nothing. Fails open: no configuration, no scratch, or
 * no room for the source's entry leaves the packet alone.
 */
static __always_inline int limit_check(const struct pkt *p,
				       const struct crbpf_backend *be)
{
	const struct crbpf_limit *l;
	struct crbpf_limsrc *s;
	__u64 now, pkt_next = 0, flow_next = 0;
	struct lim_tmp *t;
	bool fresh;

	l = bpf_map_lookup_elem(&crbpf_limits, &be->mapping);
	t = bpf_map_lookup_elem(&crbpf_limtmp, &key_zero);
	if (!l || !t)
		return 0;
	fresh = l->flow_ns && limit_new_flow(p, be, t);
	if (!l->pkt_ns && !fresh)
		return 0;
	t->k.mapping = be->mapping;
	t->k.family = p->family;
	t->k.pad[0] = t->k.pad[1] = t->k.pad[2] = 0;
	if (p->family == CRBPF_V6) {
		t->k.addr[0] = p->saddr[0] & l->mask6[0];
		t->k.addr[1] = p->saddr[1] & l->mask6[1];
		t->k.addr[2] = p->saddr[2] & l->mask6[2];
		t->k.addr[3] = p->saddr[3] & l->mask6[3];
	} else {
		t->k.addr[0] = p->saddr[0] & l->mask4;
		t->k.addr[1] = t->k.addr[2] = t->k.addr[3] = 0;
	}
	s = bpf_map_lookup_elem(&crbpf_limsrc, &t->k);
	if (!s) {
		/* a source not seen (or evicted) starts with full buckets */
		t->v.pkt_tat = 0;
		t->v.flow_tat = 0;
		bpf_map_update_elem(&crbpf_limsrc, &t->k, &t->v, BPF_NOEXIST);
		s = bpf_map_lookup_elem(&crbpf_limsrc, &t->k);
		if (!s)
			return 0;
	}
	/* coarse: a tick's steps are within every bucket's tolerance
	 * (CRBPF_LIMIT_TOL_MIN_NS), and it costs less than the fine clock */
	now = bpf_ktime_get_coarse_ns();
	if (fresh &&
	    !crbpf_gcra_next(s->flow_tat, now, l->flow_ns, l->flow_tol,
			     &flow_next))
		return limit_drop(be, true);
	if (l->pkt_ns &&
	    !crbpf_gcra_next(s->pkt_tat, now, l->pkt_ns, l->pkt_tol, &pkt_next))
		return limit_drop(be, false);
	if (fresh)
		s->flow_tat = flow_next;
	if (l->pkt_ns)
		s->pkt_tat = pkt_next;
	return 0;
}

#endif /* CRBPF_LIMIT_H */
