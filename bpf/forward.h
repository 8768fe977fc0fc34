/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * The forward direction, client -> backend, as a packet meets it: the flow
 * record, then crbpf_edge_tc (the hand-off receiver first; classify, look
 * up, MTU, route, rewrite, account, send), then crbpf_edge_xdp (the
 * next-hop cache, the Ethernet hit and the tunnel hand-off). Included by
 * edge.bpf.c only, after edge_common.h.
 */
#ifndef CRBPF_FORWARD_H
#define CRBPF_FORWARD_H

/* Lookup first: an LRU update pops a free node even when the key exists,
 * which on every packet would churn (and evict from) the free lists. A
 * static mapping's packet that neither changes its flow nor is sampled
 * leaves the tables alone (see flow_sampled()). */
static __always_inline void record_flow(const struct pkt *p,
					const struct crbpf_backend *be,
					__u32 ifindex, __u8 match,
					struct crbpf_mstats *ms, __u64 len)
{
	struct crbpf_flow_key fk;
	struct crbpf_flow fv;
	struct crbpf_flow *cur;
	__u32 pkts = flow_sampled();
	bool live, replied;
	__u64 now;
	long err;

	if (!pkts && !(be->flags & CRBPF_BE_TRACK) && !flow_pkt_notes(p) &&
	    !limit_records(p, be))
		return;
	now = flow_now();
	flow_key(&fk, p->family, p->proto, be->addr, be->port, p->saddr,
		 p->sport);
	/* established flows first: they carry most packets */
	cur = bpf_map_lookup_elem(&crbpf_flows, &fk);
	replied = cur != NULL;
	if (!cur)
		cur = bpf_map_lookup_elem(&crbpf_unreplied, &fk);
	live = cur && flow_usable(cur, p, now);
	if (live && !flow_is(cur, p->daddr, p->dport, ifindex)) {
		/*
		 * Same client and backend ports, another public port or
		 * address leading to the same backend: not a packet of this
		 * flow (a spoofed source, or a client that reuses its port
		 * while the flow lives). It goes where its mapping says, but
		 * only a packet of the flow may change the flow: replies keep
		 * leaving from the public side the flow began on. The entry
		 * gives way once it expires or, for TCP, ends and a new SYN
		 * comes (flow_usable()).
		 */
		count(CRBPF_ST_FLOW_CONFLICT);
		return;
	}
	if (live && cur->match == match) {
		flow_seen(cur, p, false, pkts, len, now);
		/* replies count where the mapping's packets do; a write only
		 * when the tool gave the entry another id */
		if (cur->mapping != be->mapping)
			cur->mapping = be->mapping;
		/* An assured flow moves to crbpf_flows, which a flood of
		 * unanswered flows cannot evict from (fv: a copy, as the
		 * entry itself goes). Should the move fail, it stays. */
		if (!replied && flow_assured(cur, p)) {
			fv = *cur;
			if (!bpf_map_update_elem(&crbpf_flows, &fk, &fv, BPF_ANY))
				bpf_map_delete_elem(&crbpf_unreplied, &fk);
		}
		return;
	}

	/* An expired or ended entry is over, one of the same public side
	 * through another mapping kind (`all` and then the port itself)
	 * stale: a new flow replaces it. */
	__builtin_memset(&fv, 0, sizeof(fv));
	__builtin_memcpy(fv.public_addr, p->daddr, sizeof(fv.public_addr));
	fv.public_port = p->dport;
	fv.public_ifindex = ifindex;
	fv.match = match;
	fv.mapping = be->mapping;
	flow_start(&fv, p, pkts, len, now);
	if (replied && live) {
		/* the same public side, another mapping kind: in place */
		if (!bpf_map_update_elem(&crbpf_flows, &fk, &fv, BPF_ANY))
			frag_pair_note(p, be, ifindex, bpf_ktime_get_ns());
		return;
	}
	/* A new flow has no reply yet: an expired or ended replied entry
	 * makes way for it in crbpf_unreplied. */
	if (replied)
		bpf_map_delete_elem(&crbpf_flows, &fk);
	err = bpf_map_update_elem(&crbpf_unreplied, &fk, &fv,
				  cur && !replied ? BPF_ANY : BPF_NOEXIST);
	if (!err) {
		frag_pair_note(p, be, ifindex, bpf_ktime_get_ns());
		if (live)
			return;
		count(CRBPF_ST_FLOW_NEW);
		if (ms)
			ms->new_flows++;
	} else if (err != -EEXIST) {
		count(CRBPF_ST_FLOW_FULL);
	}
}

/*
 * Forward direction of an ICMP error: sent to a public address (by the client
 * or a router near it) about a reply that left through a mapping. The quote
 * is that reply as the client got it (public -> client); parse_icmp_err()
 * put its destination (client) in fk->backend and its source (public side)
 * in fk->client. Only errors about a live flow entry go to the backend.
 */
static __always_inline int lookup_icmp_fwd(const struct crbpf_flow_key *q,
					   __u32 ifindex,
					   struct crbpf_port_key *pk,
					   struct crbpf_backend *be)
{
	struct crbpf_flow_key fk;
	struct crbpf_flow *flow;
	int ret;

	ret = lookup_mapping(q->family, q->proto, q->client, q->client_port,
			     ifindex, pk, be);
	if (ret != PKT_OK)
		return ret;
	flow_key(&fk, q->family, q->proto, be->addr, be->port, q->backend,
		 q->backend_port);
	/* a reply went out, so the flow is in crbpf_flows, unless moving it
	 * there failed */
	flow = bpf_map_lookup_elem(&crbpf_flows, &fk);
	if (!flow)
		flow = bpf_map_lookup_elem(&crbpf_unreplied, &fk);
	if (!flow || !flow_is(flow, q->client, q->client_port, ifindex) ||
	    flow_expired(flow, q->proto, flow_now()))
		return CRBPF_ST_PASS_NO_MAPPING;
	return PKT_OK;
}

/* FIB parameters of crbpf_edge_tc and crbpf_edge_xdp's hit, off their
 * stacks: 6.1's verifier rounds
 * each frame of a call chain up to 32 bytes and refuses more than 512 in all,
 * and the program calls the MSS option-walk subprogram. */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct bpf_fib_lookup);
} crbpf_fibtmp SEC(".maps");


/* The receiving end of the hand-off (handoff.h): a frame crbpf_edge_xdp
 * marked is rewritten and counted already, and only needs sending. Returns
 * TC_ACT_UNSPEC for a frame that is no marker. A direct read, ahead of any
 * helper that would invalidate packet pointers. */
static __always_inline int tc_handoff(struct __sk_buff *skb)
{
	void *data = (void *)(long)skb->data;
	void *data_end = (void *)(long)skb->data_end;
	struct handoff_mark *m = data;
	__u32 ifindex;
	long meta;

	if ((void *)(m + 1) > data_end)
		return TC_ACT_UNSPEC;
	if (!handoff_is_ours(m)) {
		/* Shaped like a marker, with another token: stale or forged.
		 * Only where the stack would drop it anyway (not our MAC). */
		if (*(__u8 *)data == HANDOFF_LAA && m->flags == HANDOFF_L3 &&
		    !m->zero && skb->pkt_type == PACKET_OTHERHOST)
			return tc_drop(CRBPF_ST_DROP_HANDOFF_FORGED);
		return TC_ACT_UNSPEC;
	}
	ifindex = m->ifindex;
	meta = handoff_read_meta(skb, ifindex);
	if (meta < 0)
		return tc_drop(CRBPF_ST_DROP_HANDOFF_FORGED);
	if (meta)
		count(CRBPF_ST_HANDOFF_META);
	/* an offloaded tag XDP did not see: popped, as tc_untag() does */
	if (skb->vlan_present && bpf_skb_vlan_pop(skb))
		return tc_drop(CRBPF_ST_DROP_ERROR);
	return bpf_redirect(ifindex, 0);
}

static __always_inline int edge_tc(struct __sk_buff *skb)
{
	struct crbpf_flow_key q;
	struct bpf_fib_lookup *fib;
	struct crbpf_port_key pk;
	struct crbpf_backend be;
	struct crbpf_mstats *ms;
	__u32 len;
	enum oversize big;
	struct icmp_err ie;
	struct pkt p;
	__u32 mtu;
	long rc = 0;
	bool later;
	int ret;

	/* Only behind crbpf_edge_xdp, the one writer of markers. */
	if (edge_xdp_attached && handoff_on()) {
		ret = tc_handoff(skb);
		if (ret != TC_ACT_UNSPEC)
			return ret;
	}
	/* Read after the hand-off: read before, it stays live across it and
	 * costs a spill; likewise skb->ingress_ifindex is read where used, not
	 * kept: 6.1 allows 512 bytes for this frame plus the MSS subprogram's
	 * 32, and each scalar kept across helper calls takes 8. */
	len = skb->len;
	__builtin_memset(&ie, 0, sizeof(ie));
	/* Set on every path, not only for ICMP errors: clang keeps its
	 * fields in registers across paths, and spilling one never set is a
	 * read of an uninitialised register, which the verifier refuses. */
	__builtin_memset(&q, 0, sizeof(q));
	ret = parse_skb(skb, true, true, &p);
	later = ret == PKT_FRAG_LATER;
	if (ret == PKT_OK) {
		ret = lookup_mapping(p.family, p.proto, p.daddr, p.dport,
				     skb->ingress_ifindex, &pk, &be);
		/* An `all` hit still leaves alone what the VPS owns. */
		if (ret == PKT_OK && (be.flags & CRBPF_BE_ALL))
			ret = all_check(skb, &p, &pk);
		/* Lists after all_check(): what the VPS owns is never
		 * theirs. Counted by acl_check(). A denied first fragment
		 * leaves no datagram entry for the rest to follow. */
		if (ret == PKT_OK && (be.flags & CRBPF_BE_ACL) &&
		    acl_check(&p, &be))
			return TC_ACT_SHOT;
		/* Here, not in XDP, for every hit XDP passed on unrewritten;
		 * a handed-off frame took its tokens in XDP. Later fragments
		 * follow their first and take none. Counted by limit_check(). */
		if (ret == PKT_OK && (be.flags & CRBPF_BE_LIMIT) &&
		    limit_check(&p, &be))
			return TC_ACT_SHOT;
		/* after the lists, which the mapping's id decides */
		if (ret == PKT_OK && (be.flags & CRBPF_BE_FAILOVER))
			fo_pick(&p, skb->ingress_ifindex, &be);
		if (p.frag)
			frag_first_fwd(&p, ret, &pk, &be);
		/* Counted even after XDP, which only saw an `all` hit. */
		if (ret == CRBPF_ST_PASS_EXCEPT || ret == CRBPF_ST_PASS_LOCAL_SOCK)
			return tc_pass(ret);
	} else if (later) {
		ret = frag_later_fwd(&p, skb->ingress_ifindex, &pk, &be);
		/* The lists of the mapping its first fragment went through
		 * (no CRBPF_BE_ACL in a fragment entry: always looked up). */
		if (ret == PKT_OK && acl_check(&p, &be))
			return TC_ACT_SHOT;
	} else if (ret == CRBPF_ST_PASS_PROTO) {
		ret = parse_icmp_err(skb, &p, &q, &ie);
		if (ret == PKT_OK)
			ret = lookup_icmp_fwd(&q, skb->ingress_ifindex, &pk, &be);
	}
	if (ret == CRBPF_ST_DROP_FRAG_AMBIGUOUS)
		return tc_drop(ret);
	if (ret != PKT_OK)
		return edge_tc_pass(ret);
	if (p.ttl <= 1)
		return edge_tc_pass(CRBPF_ST_PASS_TTL);

	/* The redirect skips the stack's MTU check: do it here (mtu.h).
	 * Every outcome ends or rejoins below as an ordinary packet, so the
	 * verifier does not walk the rest once per outcome. */
	mtu = ie.is_err ? 0 : tc_too_big(skb, &p, be.ifindex);
	if (mtu) {
		big = tc_oversize(skb, &p, be.flags & CRBPF_BE_L2);
		if (big == OVERSIZE_ICMP) {
			/* a tag in skb->vlan_tci stays: the error leaves
			 * where the packet came in */
			if ((p.tagged && tc_untag(skb, &p)) ||
			    tc_send_too_big(skb, &p, mtu))
				return tc_drop(CRBPF_ST_DROP_ERROR);
			return bpf_redirect(skb->ingress_ifindex, 0);
		}
		if (big == OVERSIZE_STACK) {
			/* translated only: the stack's forwarding fragments
			 * it and decrements the TTL */
			if (tc_untag(skb, &p) ||
			    (later ? tc_nat_addr(skb, &p, false, be.addr, 0, 0) :
				     tc_nat(skb, &p, false, be.addr, be.port)))
				return tc_drop(CRBPF_ST_DROP_ERROR);
			if (!later)
				record_flow(&p, &be, skb->ingress_ifindex,
					    match_of(&pk, &be), NULL, len);
			return tc_pass(CRBPF_ST_PASS_OVERSIZE);
		}
		count(CRBPF_ST_FWD_OVERSIZE);
	}

	/* Route before rewriting, so that a packet with nowhere to go is
	 * dropped as it came. tot_len 0: the MTU check then uses the skb,
	 * which knows about GSO. */
	fib = bpf_map_lookup_elem(&crbpf_fibtmp, &key_zero);
	if (!fib)
		return tc_drop(CRBPF_ST_DROP_ERROR);
	if (be.flags & CRBPF_BE_L2) {
		fib_prepare(fib, &p, be.ifindex, p.saddr, be.addr, p.sport,
			    ie.is_err ? 0 : be.port, 0);
		rc = bpf_fib_lookup(skb, fib, sizeof(*fib),
				    BPF_FIB_LOOKUP_OUTPUT);
		switch (rc) {
		case BPF_FIB_LKUP_RET_SUCCESS:
		case BPF_FIB_LKUP_RET_NO_NEIGH:
		/* Forwarding off on the backend device, or a route type the
		 * helper does not do: bpf_redirect_neigh() routes by itself. */
		case BPF_FIB_LKUP_RET_FWD_DISABLED:
		case BPF_FIB_LKUP_RET_UNSUPP_LWT:
			break;
		default:
			return tc_drop(CRBPF_ST_DROP_NO_ROUTE);
		}
	}

	if (tc_untag(skb, &p))
		return tc_drop(CRBPF_ST_DROP_ERROR);
	if (tc_rewrite(skb, &p, &ie, later, false, q.proto, q.client,
		       q.client_port, be.addr, be.port) ||
	    (!ie.is_err &&
	     tc_clamp_mss(skb, &p, skb->ingress_ifindex, be.ifindex)))
		return tc_drop(CRBPF_ST_DROP_ERROR);

	ms = bpf_map_lookup_elem(&crbpf_mstats, &be.mapping);
	if (ms) {
		ms->in_packets++;
		ms->in_bytes += len;
	}
	/* An error belongs to a flow that exists already. */
	if (!ie.is_err && !later)
		record_flow(&p, &be, skb->ingress_ifindex, match_of(&pk, &be),
			    ms, len);

	if (!(be.flags & CRBPF_BE_L2)) {
		/* Layer 3 device: the kernel strips the MAC header itself. */
		count(CRBPF_ST_FWD_TC);
		return bpf_redirect(be.ifindex, 0);
	}
	if (rc == BPF_FIB_LKUP_RET_SUCCESS) {
		if (tc_write_macs(skb, fib))
			return tc_drop(CRBPF_ST_DROP_ERROR);
		count(CRBPF_ST_FWD_TC);
		return bpf_redirect(fib->ifindex, 0);
	}
	count(CRBPF_ST_FWD_TC);
	return bpf_redirect_neigh(be.ifindex, NULL, 0, 0);
}

/* ---- XDP --------------------------------------------------------------- */

/* nat_direct() over the frame. Only untagged frames come here. */
static __always_inline int xdp_nat(struct xdp_md *ctx, const struct pkt *p,
				   bool src, const __be32 *to_addr,
				   __be16 to_port)
{
	__u64 sum; /* no skb->csum in XDP */

	return nat_direct((void *)(long)ctx->data, (void *)(long)ctx->data_end,
			  p, src, to_addr, to_port, &sum);
}

static __always_inline int xdp_write_macs(struct xdp_md *ctx,
					  const __u8 *dmac, const __u8 *smac)
{
	void *data = (void *)(long)ctx->data;
	void *data_end = (void *)(long)ctx->data_end;
	struct ethhdr *eth = data;

	if ((void *)(eth + 1) > data_end)
		return -1;
	__builtin_memcpy(eth->h_dest, dmac, ETH_ALEN);
	__builtin_memcpy(eth->h_source, smac, ETH_ALEN);
	return 0;
}

/*
 * The Ethernet next hop of backend be for this packet, from this CPU's
 * cache entry while it is good (crbpf.h crbpf_nh), else from the FIB, which
 * refills the entry. NULL: no usable answer (no route, no neighbour, the
 * packet too big for the route): tc takes the packet as it came. fib is
 * the per-CPU scratch. The entry is this CPU's alone, so filling it for the
 * packet at hand is safe even with the cache off.
 */
static __always_inline struct crbpf_nh *nh_get(struct xdp_md *ctx,
					       const struct pkt *p,
					       const struct crbpf_backend *be,
					       struct bpf_fib_lookup *fib)
{
	const struct crbpf_nhcfg *cfg;
	struct crbpf_nh *nh;
	__u32 slot = crbpf_nh_slot(be->addr);
	__u64 now;
	long rc;

	nh = bpf_map_lookup_elem(&crbpf_nh, &slot);
	cfg = bpf_map_lookup_elem(&crbpf_nhcfg, &key_zero);
	if (!nh || !cfg)
		return NULL;
	now = bpf_ktime_get_coarse_ns();
	if (cfg->on && nh->valid && nh->gen == cfg->gen &&
	    now - nh->checked_ns < CRBPF_NH_MAX_AGE_NS &&
	    nh->family == p->family && nh->oif == be->ifindex &&
	    addr_eq(nh->addr, be->addr))
		return p->ip_len <= nh->mtu ? nh : NULL;

	nh->valid = 0;
	fib_prepare(fib, p, be->ifindex, p->saddr, be->addr, p->sport, be->port,
		    p->ip_len);
	if (bpf_fib_lookup(ctx, fib, sizeof(*fib), BPF_FIB_LOOKUP_OUTPUT) !=
	    BPF_FIB_LKUP_RET_SUCCESS)
		return NULL;
	__builtin_memcpy(nh->addr, be->addr, sizeof(nh->addr));
	__builtin_memcpy(nh->dmac, fib->dmac, ETH_ALEN);
	__builtin_memcpy(nh->smac, fib->smac, ETH_ALEN);
	nh->ifindex = fib->ifindex;
	nh->oif = be->ifindex;
	nh->family = p->family;
	nh->mtu = p->ip_len; /* fits, at least */
	if (!cfg->on)
		return nh;
	/* The route's MTU: the FIB reports it only for a packet that does
	 * not fit, so ask again with the largest IP length. Once per entry
	 * and second, not per packet. */
	fib_prepare(fib, p, be->ifindex, p->saddr, be->addr, p->sport, be->port,
		    0xffff);
	rc = bpf_fib_lookup(ctx, fib, sizeof(*fib),
			    BPF_FIB_LOOKUP_OUTPUT);
	if (rc == BPF_FIB_LKUP_RET_FRAG_NEEDED && fib->mtu_result >= nh->mtu)
		nh->mtu = fib->mtu_result;
	else if (rc == BPF_FIB_LKUP_RET_SUCCESS)
		nh->mtu = 0xffff;
	else
		return nh; /* this packet only */
	nh->gen = cfg->gen;
	nh->checked_ns = now;
	nh->valid = 1;
	return nh;
}

/* An Ethernet next hop: route first and rewrite only when the frame can leave
 * from here; anything unresolved goes to tc as it came, which resolves
 * neighbours. A layer 3 device (no ndo_xdp_xmit): the hand-off to tc
 * (handoff.h), when the packet fits the device. Partial checksums and
 * tagged frames go to tc, which knows about both. One rewrite block for
 * both, so the verifier walks it once. */
static __always_inline int edge_xdp_hit(struct xdp_md *ctx, const struct pkt *p,
					const struct crbpf_backend *be,
					const struct crbpf_port_key *pk)
{
	__u64 len = ctx->data_end - ctx->data;
	struct bpf_fib_lookup *fib;
	struct crbpf_nh *nh = NULL;
	struct crbpf_mstats *ms;

	if (p->tagged || pkt_csum_partial(p))
		return xdp_pass(CRBPF_ST_PASS_TO_TC);
	/* Off the stack, as crbpf_edge_tc's: with the 32-byte crbpf_backend
	 * and the 80-byte flow value, 6.1 counted this frame and the MSS
	 * subprogram's at 544 bytes (limit 512). */
	fib = bpf_map_lookup_elem(&crbpf_fibtmp, &key_zero);
	if (!fib)
		return xdp_pass(CRBPF_ST_PASS_TO_TC);
	if (be->flags & CRBPF_BE_L2) {
		nh = nh_get(ctx, p, be, fib);
		if (!nh)
			return xdp_pass(CRBPF_ST_PASS_TO_TC);
		/* Target chosen before any byte changes: a device not in
		 * the devmap returns the XDP_PASS given as default, with the
		 * frame as it came. (One devmap lookup; a separate
		 * membership lookup was a second.) */
		if (bpf_redirect_map(&crbpf_txports, nh->ifindex, XDP_PASS) !=
		    XDP_REDIRECT)
			return xdp_pass(CRBPF_ST_PASS_TO_TC);
	} else {
		/* The IP length: a tunnel's hard_header_len is 0. Too big
		 * goes to tc, which sends the ICMP error or the packet whole.
		 * The scratch's ifindex word holds the length: a local of
		 * its own would overrun 6.1's 512-byte stack. */
		fib->ifindex = p->ip_len;
		if (!handoff_on() || !fib->ifindex ||
		    bpf_check_mtu(ctx, be->ifindex, &fib->ifindex, 0, 0) !=
			    BPF_MTU_CHK_RET_SUCCESS)
			return xdp_pass(CRBPF_ST_PASS_TO_TC);
	}

	/* Limits last, once XDP is sure to finish the packet: one it passes
	 * to tc takes its tokens there. Counted by limit_check(). */
	if ((be->flags & CRBPF_BE_LIMIT) && limit_check(p, be))
		return XDP_DROP;
	/* Cannot fail once parse_pkt() accepted the frame; the bounds are
	 * rechecked for the verifier. */
	if (xdp_nat(ctx, p, false, be->addr, be->port) ||
	    (nh ? xdp_write_macs(ctx, nh->dmac, nh->smac) :
		  handoff_write((void *)(long)ctx->data,
				(void *)(long)ctx->data_end, be->ifindex)))
		return xdp_pass(CRBPF_ST_PASS_MALFORMED);
	xdp_clamp_mss(ctx, p, pk->ifindex, nh ? nh->ifindex : be->ifindex);

	ms = bpf_map_lookup_elem(&crbpf_mstats, &be->mapping);
	if (ms) {
		ms->in_packets++;
		ms->in_bytes += len;
	}
	record_flow(p, be, pk->ifindex, match_of(pk, be), ms, len);
	if (!(be->flags & CRBPF_BE_L2)) {
		handoff_write_meta(ctx, be->ifindex);
		count(CRBPF_ST_FWD_HANDOFF);
		return XDP_PASS;
	}
	count(CRBPF_ST_FWD_XDP);
	return XDP_REDIRECT;
}

static __always_inline int edge_xdp(struct xdp_md *ctx)
{
	void *data = (void *)(long)ctx->data;
	void *data_end = (void *)(long)ctx->data_end;
	struct crbpf_port_key pk;
	struct crbpf_backend be;
	struct pkt p;
	int ret;

	/* Only this program writes markers: one from the wire is forged. */
	if (handoff_on() && data + sizeof(struct handoff_mark) <= data_end &&
	    handoff_is_ours(data)) {
		count(CRBPF_ST_DROP_HANDOFF_FORGED);
		return XDP_DROP;
	}
	ret = parse_pkt(data, data_end, data_end - data, true, 0, &p);
	if (ret != PKT_OK)
		return xdp_pass(ret);
	ret = lookup_mapping(p.family, p.proto, p.daddr, p.dport,
			     ctx->ingress_ifindex, &pk, &be);
	if (ret != PKT_OK)
		return xdp_pass(ret);
	if (p.ttl <= 1)
		return xdp_pass(CRBPF_ST_PASS_TTL);
	/* An `all` hit needs its exception and socket checks: tc makes that
	 * decision alone, once, since it runs for every packet XDP passes. */
	if (be.flags & CRBPF_BE_ALL)
		return xdp_pass(CRBPF_ST_PASS_TO_TC);
	/* counted by acl_check() */
	if ((be.flags & CRBPF_BE_ACL) &&
	    acl_check(&p, &be))
		return XDP_DROP;
	if (be.flags & CRBPF_BE_FAILOVER)
		fo_pick_xdp(&p, ctx->ingress_ifindex, &be);
	return edge_xdp_hit(ctx, &p, &be, &pk);
}

#endif /* CRBPF_FORWARD_H */
