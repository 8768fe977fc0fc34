/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * The reverse direction, backend -> client: which public side a reply must
 * come from (the flow or the static reverse rule), what to do with a reply
 * that has none, then crbpf_tun_tc / crbpf_rev_tc (classify, look up, route,
 * rewrite, account, send). Included by edge.bpf.c only, after
 * edge_common.h.
 */
#ifndef CRBPF_REVERSE_H
#define CRBPF_REVERSE_H

/* Reverse direction lookup. A static rule (refs == 1, no CRBPF_REV_TRACK)
 * answers alone unless touch (the packet is sampled or changes the flow,
 * or is an ICMP error); otherwise the live flow entry comes first, the
 * static rule only when exactly one public port leads to this backend
 * port. Returns PKT_OK for a flow (in *fp, for flow_seen() once the packet
 * is translated), CRBPF_ST_REV_STATIC for a static rule (counted by the
 * caller once the packet is really translated), CRBPF_ST_DROP_NO_XLATE for a packet from a mapped backend
 * port that neither answers (several public sides lead there, or an `all`
 * mapping: the tool's marker entry with port CRBPF_PORT_ALL), for
 * rev_no_xlate() to judge, CRBPF_ST_PASS_REV_MISS for anything else.
 * *now is set (flow_now()) when a flow was looked up. */
static __always_inline int lookup_reverse(const struct crbpf_flow_key *fk,
					  __u64 *now, bool touch,
					  struct public_side *pub,
					  struct crbpf_flow **fp)
{
	struct crbpf_rev_key rk;
	struct crbpf_flow *flow = NULL;
	struct crbpf_rev *rev;
	bool tracked;

	*fp = NULL;
	__builtin_memset(&rk, 0, sizeof(rk));
	__builtin_memcpy(rk.addr, fk->backend, sizeof(rk.addr));
	rk.port = fk->backend_port;
	rk.family = fk->family;
	rk.proto = fk->proto;
	rev = bpf_map_lookup_elem(&crbpf_rev, &rk);
	tracked = !rev || rev->refs != 1 || (rev->match & CRBPF_REV_TRACK);
	if (tracked || touch) {
		*now = flow_now();
		flow = flow_reply_lookup(fk, *now);
	}
	if (flow) {
		*fp = flow;
		__builtin_memcpy(pub->addr, flow->public_addr,
				 sizeof(pub->addr));
		pub->port = flow->public_port;
		pub->ifindex = flow->public_ifindex;
		pub->match = flow->match;
		pub->mapping = flow->mapping;
		return PKT_OK;
	}
	if (!rev) {
		rk.port = CRBPF_PORT_ALL;
		return bpf_map_lookup_elem(&crbpf_rev, &rk) ?
			       CRBPF_ST_DROP_NO_XLATE : CRBPF_ST_PASS_REV_MISS;
	}
	if (rev->refs != 1)
		return CRBPF_ST_DROP_NO_XLATE;
	__builtin_memcpy(pub->addr, rev->public_addr, sizeof(pub->addr));
	pub->port = rev->public_port;
	pub->ifindex = rev->public_ifindex;
	pub->match = rev->match & ~CRBPF_REV_TRACK;
	pub->mapping = rev->mapping;
	return CRBPF_ST_REV_STATIC;
}

/*
 * A reply from a mapped backend port that crbpf cannot translate: its flow
 * is gone (evicted, expired) and no single public side answers for the
 * port. Passed, the stack would forward it as it is, with the backend's
 * private source, out of the public NIC. Dropped, then, unless it is for
 * the VPS itself (the host talking to the backend's service directly) or
 * the stack would not forward it anyway: CRBPF_ST_DROP_NO_XLATE or
 * CRBPF_ST_PASS_REV_MISS. fib is the caller's, to spare the stack.
 */
static __always_inline int rev_no_xlate(void *ctx, const struct pkt *p,
					__u32 ifindex,
					struct bpf_fib_lookup *fib)
{
	long rc;

	fib_prepare(fib, p, ifindex, p->saddr, p->daddr, p->sport, p->dport, 0);
	rc = bpf_fib_lookup(ctx, fib, sizeof(*fib), 0);
	return rc == BPF_FIB_LKUP_RET_SUCCESS || rc == BPF_FIB_LKUP_RET_NO_NEIGH ||
			       rc == BPF_FIB_LKUP_RET_FRAG_NEEDED ?
		       CRBPF_ST_DROP_NO_XLATE :
		       CRBPF_ST_PASS_REV_MISS;
}

/*
 * Replies from backends, on the device that reaches them. has_eth: the data
 * starts at an Ethernet header (Ethernet next hop, BPF_PROG_TEST_RUN);
 * otherwise at the IP header (wg, tun) and an Ethernet header is pushed.
 */
static __always_inline int rev_tc(struct __sk_buff *skb, bool has_eth)
{
	struct crbpf_flow_key fk;
	struct bpf_fib_lookup fib;
	struct bpf_redir_neigh nh;
	struct public_side pub;
	struct crbpf_mstats *ms;
	struct crbpf_flow *flow;
	struct icmp_err ie;
	struct ethhdr eth;
	__u64 now;
	__u32 len = skb->len + (has_eth ? 0 : ETH_HLEN);
	const __be32 *src;
	struct pkt p;
	__u32 pkts;
	bool later;
	long rc;
	int ret;

	__builtin_memset(&ie, 0, sizeof(ie));
	ret = parse_skb(skb, has_eth, true, &p);
	later = ret == PKT_FRAG_LATER;
	if (ret == PKT_OK) {
		reply_key(&fk, &p);
	} else if (later) {
		/* no flow to refresh: the first fragment did */
		flow = NULL;
		__builtin_memset(&fk, 0, sizeof(fk));
		fk.proto = p.proto;
		/* counted for the mapping its first fragment went through */
		pub.match = 0;
		pub.port = 0;
		ret = frag_later_rev(&p, pub.addr, &pub.mapping, &pub.ifindex);
	} else if (ret == CRBPF_ST_PASS_PROTO) {
		ret = parse_icmp_err(skb, &p, &fk, &ie);
	}
	if (ret == CRBPF_ST_DROP_FRAG_AMBIGUOUS || ret == CRBPF_ST_DROP_NO_XLATE)
		return tc_drop(ret);
	/* The stack would forward it as it is (forwarding checks no L4
	 * checksum), with the backend's source, to a client that drops it. */
	if (ret == CRBPF_ST_PASS_INVALID && udp6_nocsum(&p))
		return tc_drop(CRBPF_ST_DROP_INVALID);
	if (ret != PKT_OK)
		return tc_pass(ret);
	now = 0;
	pkts = flow_sampled();
	if (!later) {
		ret = lookup_reverse(&fk, &now,
				     pkts || ie.is_err || flow_pkt_notes(&p),
				     &pub, &flow);
		if (ret == CRBPF_ST_DROP_NO_XLATE)
			ret = rev_no_xlate(skb, &p, skb->ingress_ifindex, &fib);
		/* the rest of a dropped first fragment is dropped too:
		 * passed, the stack would forward it untranslated */
		if (p.frag)
			frag_first_rev(&p, ret, pub.addr, pub.mapping,
				       pub.ifindex);
		if (ret == CRBPF_ST_DROP_NO_XLATE)
			return tc_drop(ret);
		if (ret == CRBPF_ST_PASS_REV_MISS)
			return tc_pass(ret);
	}
	if (p.ttl <= 1)
		return tc_pass(CRBPF_ST_PASS_TTL);

	/* An error from a router on the way keeps that router's source. */
	src = ie.is_err && !ie.src_backend ? p.saddr : pub.addr;
	fib_prepare(&fib, &p, skb->ingress_ifindex, src, p.daddr,
		    ie.is_err ? 0 : pub.port, p.dport, 0);
	rc = bpf_fib_lookup(skb, &fib, sizeof(fib), 0);
	/* To the VPS itself (a local route), with no flow: its own
	 * connection to the backend's port (crbpf watch's failover probe,
	 * an admin's curl), not a reply of the mapping. */
	if (rc == BPF_FIB_LKUP_RET_NOT_FWDED && !flow)
		return tc_pass(CRBPF_ST_PASS_REV_MISS);
	if (rc != BPF_FIB_LKUP_RET_SUCCESS && rc != BPF_FIB_LKUP_RET_NO_NEIGH)
		return tc_drop(CRBPF_ST_DROP_NO_ROUTE);
	if (ret == CRBPF_ST_REV_STATIC)
		count(CRBPF_ST_REV_STATIC);

	if (tc_untag(skb, &p))
		return tc_drop(CRBPF_ST_DROP_ERROR);
	if (tc_rewrite(skb, &p, &ie, later, true, fk.proto, fk.backend,
		       fk.backend_port, pub.addr, pub.port) ||
	    (!ie.is_err && tc_clamp_mss(skb, &p, pub.ifindex, 0)))
		return tc_drop(CRBPF_ST_DROP_ERROR);

	/* An error about a flow counts for its mapping (fk.proto). */
	ms = bpf_map_lookup_elem(&crbpf_mstats, &pub.mapping);
	if (ms) {
		ms->out_packets++;
		ms->out_bytes += len;
	}
	/* An error is no packet of the flow: it neither refreshes nor ends it. */
	if (flow && !ie.is_err)
		flow_seen(flow, &p, true, pkts, len, now);

	if (has_eth) {
		if (rc == BPF_FIB_LKUP_RET_SUCCESS && tc_write_macs(skb, &fib))
			return tc_drop(CRBPF_ST_DROP_ERROR);
	} else {
		__builtin_memset(&eth, 0, sizeof(eth));
		if (rc == BPF_FIB_LKUP_RET_SUCCESS) {
			__builtin_memcpy(eth.h_dest, fib.dmac, ETH_ALEN);
			__builtin_memcpy(eth.h_source, fib.smac, ETH_ALEN);
		}
		eth.h_proto = p.family == CRBPF_V4 ? bpf_htons(ETH_P_IP) :
						     bpf_htons(ETH_P_IPV6);
		if (bpf_skb_change_head(skb, ETH_HLEN, 0) ||
		    bpf_skb_store_bytes(skb, 0, &eth, sizeof(eth), 0))
			return tc_drop(CRBPF_ST_DROP_ERROR);
	}

	if (rc == BPF_FIB_LKUP_RET_SUCCESS) {
		count(CRBPF_ST_REV_TC);
		return bpf_redirect(fib.ifindex, 0);
	}

	/* The FIB left the next hop (gateway or the client itself) in dst. */
	__builtin_memset(&nh, 0, sizeof(nh));
	nh.nh_family = fib.family;
	if (fib.family == AF_INET)
		nh.ipv4_nh = fib.ipv4_dst;
	else
		__builtin_memcpy(nh.ipv6_nh, fib.ipv6_dst, sizeof(nh.ipv6_nh));
	count(CRBPF_ST_REV_NEIGH);
	return bpf_redirect_neigh(fib.ifindex, &nh, sizeof(nh), 0);
}

#endif /* CRBPF_REVERSE_H */
