// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * Edge (VPS) datapath. Public side: packets to a mapped (device, family,
 * proto, port) get their destination rewritten to the backend and are handed
 * to the device that reaches it. Backend side: replies get their source
 * rewritten back to the public address and port and leave via the public NIC.
 */
#include <linux/bpf.h>
#include <linux/pkt_cls.h>
#include <linux/if_ether.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_endian.h>
#include "edge_maps.h"
#include "parsing.h"
#include "csum.h"
#include "nat.h"
#include "flow.h"
#include "frag.h"
#include "icmp_quote.h"
#include "match.h"
#include "mtu.h"
#include "handoff.h"
#include "acl.h"
#include "unit_hook.h" /* last: unit builds wrap the redirect helpers */

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

	if (!pkts && !(be->flags & CRBPF_BE_TRACK) && !flow_pkt_notes(p))
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

/* The key of crbpf_fibtmp, read-only data rather than a stack slot: with
 * the 32-byte crbpf_backend, 6.1 counted crbpf_edge_tc's frame plus the
 * MSS subprogram's at 544 bytes (limit 512). */
static const __u32 fibtmp_key = 0;

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
	/* an offloaded tag XDP did not see: popped, as tc_untag() does */
	if (skb->vlan_present && bpf_skb_vlan_pop(skb))
		return tc_drop(CRBPF_ST_DROP_ERROR);
	return bpf_redirect(ifindex, 0);
}

SEC("tc")
int crbpf_edge_tc(struct __sk_buff *skb)
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
	fib = bpf_map_lookup_elem(&crbpf_fibtmp, &fibtmp_key);
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

SEC("tc")
int crbpf_tun_tc(struct __sk_buff *skb)
{
	return rev_tc(skb, false);
}

SEC("tc")
int crbpf_rev_tc(struct __sk_buff *skb)
{
	return rev_tc(skb, true);
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
					  const struct bpf_fib_lookup *fib)
{
	void *data = (void *)(long)ctx->data;
	void *data_end = (void *)(long)ctx->data_end;
	struct ethhdr *eth = data;

	if ((void *)(eth + 1) > data_end)
		return -1;
	__builtin_memcpy(eth->h_dest, fib->dmac, ETH_ALEN);
	__builtin_memcpy(eth->h_source, fib->smac, ETH_ALEN);
	return 0;
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
	struct crbpf_mstats *ms;
	long rc;

	if (p->tagged || pkt_csum_partial(p))
		return xdp_pass(CRBPF_ST_PASS_TO_TC);
	/* Off the stack, as crbpf_edge_tc's: with the 32-byte crbpf_backend
	 * and the 80-byte flow value, 6.1 counted this frame and the MSS
	 * subprogram's at 544 bytes (limit 512). */
	fib = bpf_map_lookup_elem(&crbpf_fibtmp, &fibtmp_key);
	if (!fib)
		return xdp_pass(CRBPF_ST_PASS_TO_TC);
	if (be->flags & CRBPF_BE_L2) {
		fib_prepare(fib, p, be->ifindex, p->saddr, be->addr, p->sport,
			    be->port, p->ip_len);
		rc = bpf_fib_lookup(ctx, fib, sizeof(*fib),
				    BPF_FIB_LOOKUP_OUTPUT);
		if (rc != BPF_FIB_LKUP_RET_SUCCESS)
			return xdp_pass(CRBPF_ST_PASS_TO_TC);
		/* Target chosen before any byte changes: a device not in
		 * the devmap returns the XDP_PASS given as default, with the
		 * frame as it came. (One devmap lookup; a separate
		 * membership lookup was a second.) */
		if (bpf_redirect_map(&crbpf_txports, fib->ifindex, XDP_PASS) !=
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

	/* Cannot fail once parse_pkt() accepted the frame; the bounds are
	 * rechecked for the verifier. */
	if (xdp_nat(ctx, p, false, be->addr, be->port) ||
	    (be->flags & CRBPF_BE_L2 ?
		     xdp_write_macs(ctx, fib) :
		     handoff_write((void *)(long)ctx->data,
				   (void *)(long)ctx->data_end, be->ifindex)))
		return xdp_pass(CRBPF_ST_PASS_MALFORMED);
	xdp_clamp_mss(ctx, p, pk->ifindex,
		      be->flags & CRBPF_BE_L2 ? fib->ifindex : be->ifindex);

	ms = bpf_map_lookup_elem(&crbpf_mstats, &be->mapping);
	if (ms) {
		ms->in_packets++;
		ms->in_bytes += len;
	}
	record_flow(p, be, pk->ifindex, match_of(pk, be), ms, len);
	if (!(be->flags & CRBPF_BE_L2)) {
		count(CRBPF_ST_FWD_HANDOFF);
		return XDP_PASS;
	}
	count(CRBPF_ST_FWD_XDP);
	return XDP_REDIRECT;
}

SEC("xdp")
int crbpf_edge_xdp(struct xdp_md *ctx)
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
	return edge_xdp_hit(ctx, &p, &be, &pk);
}

/* Replies on an Ethernet next-hop device, out of the public NIC. Whatever
 * XDP cannot finish passes unmodified to crbpf_rev_tc on the same device. */
SEC("xdp")
int crbpf_rev_xdp(struct xdp_md *ctx)
{
	void *data = (void *)(long)ctx->data;
	void *data_end = (void *)(long)ctx->data_end;
	__u64 len = data_end - data;
	struct crbpf_flow_key fk;
	struct bpf_fib_lookup fib;
	struct public_side pub;
	struct crbpf_mstats *ms;
	struct crbpf_flow *flow;
	struct pkt p;
	__u32 pkts;
	__u64 now;
	long rc;
	int ret;

	/* ICMP errors (PASS_PROTO) are left to crbpf_rev_tc. */
	ret = parse_pkt(data, data_end, data_end - data, true, 0, &p);
	if (ret != PKT_OK)
		return xdp_pass(ret);
	reply_key(&fk, &p);
	now = 0;
	pkts = flow_sampled();
	ret = lookup_reverse(&fk, &now, pkts || flow_pkt_notes(&p), &pub, &flow);
	if (ret == CRBPF_ST_DROP_NO_XLATE) {
		ret = rev_no_xlate(ctx, &p, ctx->ingress_ifindex, &fib);
		if (ret == CRBPF_ST_DROP_NO_XLATE) {
			count(ret);
			return XDP_DROP;
		}
	}
	if (ret == CRBPF_ST_PASS_REV_MISS)
		return xdp_pass(ret);
	if (p.ttl <= 1)
		return xdp_pass(CRBPF_ST_PASS_TTL);
	if (p.tagged || pkt_csum_partial(&p))
		return xdp_pass(CRBPF_ST_PASS_TO_TC);

	fib_prepare(&fib, &p, ctx->ingress_ifindex, pub.addr, p.daddr,
		    pub.port, p.dport, p.ip_len);
	rc = bpf_fib_lookup(ctx, &fib, sizeof(fib), 0);
	if (rc != BPF_FIB_LKUP_RET_SUCCESS)
		return xdp_pass(CRBPF_ST_PASS_TO_TC);
	/* As in edge_xdp_l2(): the target first, then the rewrite. */
	if (bpf_redirect_map(&crbpf_txports, fib.ifindex, XDP_PASS) !=
	    XDP_REDIRECT)
		return xdp_pass(CRBPF_ST_PASS_TO_TC);

	if (xdp_nat(ctx, &p, true, pub.addr, pub.port) ||
	    xdp_write_macs(ctx, &fib))
		return xdp_pass(CRBPF_ST_PASS_MALFORMED);
	xdp_clamp_mss(ctx, &p, pub.ifindex, 0);

	ms = bpf_map_lookup_elem(&crbpf_mstats, &pub.mapping);
	if (ms) {
		ms->out_packets++;
		ms->out_bytes += len;
	}
	if (flow)
		flow_seen(flow, &p, true, pkts, len, now);
	if (ret == CRBPF_ST_REV_STATIC)
		count(CRBPF_ST_REV_STATIC);
	count(CRBPF_ST_REV_XDP);
	return XDP_REDIRECT;
}

char LICENSE[] SEC("license") = "Dual BSD/GPL";
