/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * What both directions of the edge datapath share: verdict helpers, flow
 * keys and sampling, the FIB request, the tc rewrite steps (TTL, tags, MACs)
 * and the rewrite of ICMP errors about a flow. Included by edge.bpf.c only,
 * after the maps and helpers it uses.
 */
#ifndef CRBPF_EDGE_COMMON_H
#define CRBPF_EDGE_COMMON_H

#ifndef EEXIST
#define EEXIST 17
#endif

/* Where a reply must appear to come from: filled from a flow or crbpf_rev. */
struct public_side {
	__be32 addr[4];
	__be16 port;
	__u32 ifindex;
	__u32 match; /* enum crbpf_match of the mapping it came through */
	__u32 mapping; /* its crbpf_mstats slot */
};

/* Untouched packets return TC_ACT_UNSPEC: under tcx that is "next", so
 * programs attached after crbpf still run (TC_ACT_OK would end the chain);
 * under clsact it means "continue", then pass. */
static __always_inline int tc_pass(enum crbpf_stat reason)
{
	count(reason);
	return TC_ACT_UNSPEC;
}

/* Set by the tool when an XDP program runs before crbpf_edge_tc on the same
 * device: XDP has already counted every packet it passed. */
const volatile bool edge_xdp_attached = false;

static __always_inline int edge_tc_pass(enum crbpf_stat reason)
{
	if (!edge_xdp_attached)
		count(reason);
	return TC_ACT_UNSPEC;
}

static __always_inline int tc_drop(enum crbpf_stat reason)
{
	count(reason);
	return TC_ACT_SHOT;
}

static __always_inline int xdp_pass(enum crbpf_stat reason)
{
	count(reason);
	return XDP_PASS;
}

static __always_inline void flow_key(struct crbpf_flow_key *fk, __u8 family,
				     __u8 proto, const __be32 *backend,
				     __be16 backend_port, const __be32 *client,
				     __be16 client_port)
{
	__builtin_memset(fk, 0, sizeof(*fk));
	__builtin_memcpy(fk->backend, backend, sizeof(fk->backend));
	__builtin_memcpy(fk->client, client, sizeof(fk->client));
	fk->backend_port = backend_port;
	fk->client_port = client_port;
	fk->family = family;
	fk->proto = proto;
}

/* Does a flow entry lead to this public side? */
static __always_inline bool flow_is(const struct crbpf_flow *f,
				    const __be32 *public_addr,
				    __be16 public_port, __u32 ifindex)
{
	return f->public_port == public_port && f->public_ifindex == ifindex &&
	       addr_eq(f->public_addr, public_addr);
}

/* The flow a reply belongs to: it comes from the backend. */
static __always_inline void reply_key(struct crbpf_flow_key *fk,
				      const struct pkt *p)
{
	flow_key(fk, p->family, p->proto, p->saddr, p->sport, p->daddr,
		 p->dport);
}

/*
 * The flow tables off the per-packet path. A static mapping (no
 * CRBPF_BE_TRACK, crbpf_rev refs == 1 without CRBPF_REV_TRACK) translates
 * both ways without its flow, so its packets write the flow only when they
 * change its state (TCP SYN, FIN, RST: flow_pkt_notes()) or are sampled:
 * one packet in 1 << flow_sample_log2, which counts for all of them.
 * Tracked mappings read the flow on every packet; their counters are
 * sampled alike. Per-flow packets and bytes are then multiples of N.
 */
#define CRBPF_FLOW_SAMPLE_LOG2 4

#ifdef CRBPF_UNIT
/* Unit runs set both per case (tests/unit/main.c): log2 0 samples every
 * packet, as before sampling, which keeps the table-driven cases
 * deterministic; crbpf_unit_rand stands for the random draw. */
__u32 flow_sample_log2;
__u32 crbpf_unit_rand;
#define flow_rand() crbpf_unit_rand
#else
const volatile __u32 flow_sample_log2 = CRBPF_FLOW_SAMPLE_LOG2;
#define flow_rand() bpf_get_prandom_u32()
#endif

/* How many packets this one counts for in a flow: N when sampled, else 0. */
static __always_inline __u32 flow_sampled(void)
{
	__u32 n = 1u << (flow_sample_log2 & 31);

	return flow_rand() & (n - 1) ? 0 : n;
}

/* A packet that changes a flow's state: a TCP SYN (a new connection, or
 * the SYN-ACK that answers it), FIN or RST. */
static __always_inline bool flow_pkt_notes(const struct pkt *p)
{
	return p->proto == IPPROTO_TCP &&
	       (p->tcp_flags & (CRBPF_TCP_SYN | CRBPF_TCP_FIN | CRBPF_TCP_RST));
}

static __always_inline void fib_prepare(struct bpf_fib_lookup *fib,
					const struct pkt *p, __u32 ifindex,
					const __be32 *src, const __be32 *dst,
					__be16 sport, __be16 dport,
					__u16 tot_len)
{
	__builtin_memset(fib, 0, sizeof(*fib));
	fib->l4_protocol = p->proto;
	fib->sport = sport;
	fib->dport = dport;
	fib->tot_len = tot_len;
	fib->ifindex = ifindex;
	if (p->family == CRBPF_V4) {
		fib->family = AF_INET;
		fib->tos = p->tos;
		fib->ipv4_src = src[0];
		fib->ipv4_dst = dst[0];
	} else {
		fib->family = AF_INET6;
		fib->flowinfo = p->flowinfo;
		__builtin_memcpy(fib->ipv6_src, src, sizeof(fib->ipv6_src));
		__builtin_memcpy(fib->ipv6_dst, dst, sizeof(fib->ipv6_dst));
	}
}

/* ---- tc ---------------------------------------------------------------- */

static __always_inline int tc_dec_ttl(struct __sk_buff *skb,
				      const struct pkt *p)
{
	__u32 hl_off = p->l3_off + offsetof(struct ipv6hdr, hop_limit);
	__u8 ttl = p->ttl - 1;

	if (p->family == CRBPF_V6)
		return bpf_skb_store_bytes(skb, hl_off, &ttl, 1,
					   BPF_F_RECOMPUTE_CSUM) ? -1 : 0;

	/* The checksum covers TTL as the high byte of the TTL/protocol word. */
	if (bpf_l3_csum_replace(skb, p->l3_off + offsetof(struct iphdr, check),
				bpf_htons((__u16)p->ttl << 8),
				bpf_htons((__u16)ttl << 8), 2))
		return -1;
	return bpf_skb_store_bytes(skb, p->l3_off + offsetof(struct iphdr, ttl),
				   &ttl, 1, 0) ? -1 : 0;
}

/*
 * A packet leaves without the tag it came with. Tags are usually already in
 * skb->vlan_tci (the stack untags before tc), but a tag left in the data
 * (BPF_PROG_TEST_RUN, QinQ outer) shifts every offset by 4.
 */
static __always_inline int tc_untag(struct __sk_buff *skb, struct pkt *p)
{
	if (!skb->vlan_present && !p->tagged)
		return 0;
	if (bpf_skb_vlan_pop(skb))
		return -1;
	if (p->tagged) {
		p->l3_off -= sizeof(struct vlan_tag);
		p->l4_off -= sizeof(struct vlan_tag);
		p->tagged = 0;
	}
	return 0;
}

static __always_inline int tc_write_macs(struct __sk_buff *skb,
					 const struct bpf_fib_lookup *fib)
{
	if (bpf_skb_store_bytes(skb, offsetof(struct ethhdr, h_dest),
				fib->dmac, ETH_ALEN, 0))
		return -1;
	return bpf_skb_store_bytes(skb, offsetof(struct ethhdr, h_source),
				   fib->smac, ETH_ALEN, 0) ? -1 : 0;
}

/* ---- ICMP errors about forwarded flows (tc) ------------------------------- */

/* Where the fields NAT touches lie, relative to the ICMP header (so that
 * tc_untag() does not move them), and their values as found. */
struct icmp_err {
	__u16 in_l4; /* quoted transport header */
	__u16 in_csum; /* quoted L4 checksum field; 0: not quoted or UDP 0 */
	__sum16 l4csum;
	__sum16 ipcsum; /* quoted IPv4 header checksum */
	bool is_err;
	bool src_backend; /* sent by the backend, not by a router on the way */
};

/*
 * An ICMP error quotes the packet that caused it; it must go back to that
 * packet's source. Fills fk as if the quote were a forwarded packet: quoted
 * destination in backend/backend_port, quoted source in client/client_port
 * (reverse: the client's packet to the backend, so the flow key itself).
 * Returns PKT_OK or the reason to pass.
 */
static __always_inline int parse_icmp_err(struct __sk_buff *skb,
					  const struct pkt *p,
					  struct crbpf_flow_key *fk,
					  struct icmp_err *ie)
{
	__u32 icmp = p->l4_off, end = p->l3_off + p->ip_len, csum_rel;
	struct icmp_quote q;
	int ret;

	__builtin_memset(fk, 0, sizeof(*fk));
	ret = icmp_quote_parse(skb, p, fk->client, fk->backend, &q);
	if (ret != PKT_OK)
		return ret;

	/* The error goes back to the client that sent the quoted packet. */
	if (!addr_eq(p->daddr, fk->client))
		return CRBPF_ST_PASS_REV_MISS;
	fk->backend_port = q.dport;
	fk->client_port = q.sport;
	fk->family = p->family;
	fk->proto = q.proto;
	ie->ipcsum = q.ipcsum;

	/* The quoted L4 checksum is updated only when quoted (TCP's lies
	 * beyond the 8 bytes every error carries) and not "none" (UDP 0). */
	csum_rel = q.l4 + (q.proto == IPPROTO_TCP ?
				   offsetof(struct tcphdr, check) :
				   offsetof(struct udphdr, check));
	if (icmp + csum_rel + sizeof(__sum16) <= end) {
		if (bpf_skb_load_bytes(skb, icmp + csum_rel, &ie->l4csum,
				       sizeof(ie->l4csum)))
			return CRBPF_ST_PASS_MALFORMED;
		if (q.proto == IPPROTO_TCP || ie->l4csum)
			ie->in_csum = csum_rel;
	}
	ie->in_l4 = q.l4;
	ie->src_backend = addr_eq(p->saddr, fk->backend);
	ie->is_err = true;
	return PKT_OK;
}

/*
 * Rewrites an ICMP error about a flow. Reverse (to the client): the quoted
 * destination (backend) becomes the public address and port, and so does the
 * outer source when the backend itself sent the error. Forward (fwd, to the
 * backend): the quoted source (public side) becomes the backend address and
 * port, and so does the outer destination. The quoted checksums are plain
 * payload to the skb (no offload covers them), so csum.h updates them; the
 * ICMP checksum, which may be the skb's own, goes through the helper, by the
 * sum of every change inside the message (ICMPv6 also by its pseudo-header).
 */
static __always_inline int tc_icmp_nat(struct __sk_buff *skb,
				       const struct pkt *p,
				       const struct icmp_err *ie, bool fwd,
				       __u8 proto, const __be32 *from,
				       __be16 from_port, const __be32 *to,
				       __be16 to_port)
{
	bool v4 = p->family == CRBPF_V4;
	__u32 icmp = p->l4_off, in_l3 = icmp + CRBPF_ICMP_HLEN;
	__u32 icmp_csum = icmp + 2; /* type, code, checksum */
	__sum16 ipcsum = ie->ipcsum, l4csum = ie->l4csum;
	__u64 addr, l4, msg;

	addr = v4 ? csum_diff32(0, from[0], to[0]) : csum_diff128(0, from, to);
	/* the quoted L4 checksum covers the address (pseudo-header) and port */
	l4 = csum_diff16(addr, from_port, to_port);
	if (ie->in_csum) {
		/* never UDP's "none" here (in_csum is 0 then); a computed 0
		 * goes out as 0xffff */
		csum_apply(&l4csum, l4);
		if (proto == IPPROTO_UDP && !l4csum)
			l4csum = 0xffff;
	}
	msg = csum_diff16(l4, ie->l4csum, l4csum);
	if (v4) {
		csum_apply(&ipcsum, addr);
		msg = csum_diff16(msg, ie->ipcsum, ipcsum);
	}

	if (bpf_skb_store_bytes(skb, in_l3 + (v4 ? (fwd ? offsetof(struct iphdr, saddr) :
							   offsetof(struct iphdr, daddr)) :
						    (fwd ? offsetof(struct ipv6hdr, saddr) :
							   offsetof(struct ipv6hdr, daddr))),
				to, v4 ? 4 : 16, 0) ||
	    (v4 && bpf_skb_store_bytes(skb, in_l3 + offsetof(struct iphdr, check),
				       &ipcsum, sizeof(ipcsum), 0)) ||
	    bpf_skb_store_bytes(skb, icmp + ie->in_l4 +
					     (fwd ? offsetof(struct udphdr, source) :
						    offsetof(struct udphdr, dest)),
				&to_port, sizeof(to_port), 0) ||
	    (ie->in_csum && bpf_skb_store_bytes(skb, icmp + ie->in_csum, &l4csum,
						sizeof(l4csum), 0)))
		return -1;
	/* Data and checksum change by opposite sums: a CHECKSUM_COMPLETE
	 * skb->csum stays right without a recompute. */
	if (bpf_l4_csum_replace(skb, icmp_csum, 0, csum_fold64(msg), 0))
		return -1;
	if (!fwd && !ie->src_backend)
		return 0;
	return tc_nat_addr(skb, p, !fwd, to, v4 ? 0 : icmp_csum, 0);
}

/*
 * The rewrite of a packet to a backend (src false) or from one (src true),
 * TTL or hop limit decrement included: nat.h's direct writes where the
 * checksums allow, otherwise the helpers. An ICMP error rewrites its quote
 * (about the flow q*, see tc_icmp_nat()), a later fragment, which has no
 * ports, only its address. 0 or -1.
 */
static __always_inline int tc_rewrite(struct __sk_buff *skb,
				      const struct pkt *p,
				      const struct icmp_err *ie, bool later,
				      bool src, __u8 qproto,
				      const __be32 *qaddr, __be16 qport,
				      const __be32 *to_addr, __be16 to_port)
{
	bool direct = !ie->is_err && !later &&
		      !tc_nat_direct(skb, p, src, to_addr, to_port);

	unit_nat(direct);
	if (direct)
		return 0;
	if (ie->is_err ? tc_icmp_nat(skb, p, ie, !src, qproto, qaddr, qport,
				     to_addr, to_port) :
	    later      ? tc_nat_addr(skb, p, src, to_addr, 0, 0) :
			 tc_nat(skb, p, src, to_addr, to_port))
		return -1;
	return tc_dec_ttl(skb, p);
}

#endif /* CRBPF_EDGE_COMMON_H */
