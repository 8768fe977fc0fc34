/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/* Address and port rewrite for tc programs (edge and home). */
#ifndef CRBPF_NAT_H
#define CRBPF_NAT_H

#include <linux/bpf.h>
#include <linux/ip.h>
#include <linux/ipv6.h>
#include <linux/in.h>
#include <linux/if_ether.h>
#include <bpf/bpf_helpers.h>
#include "parsing.h"
#include "csum.h"

/*
 * Rewrite the source or destination address and port with the csum helpers,
 * which handle CHECKSUM_PARTIAL (GSO, local senders) and CHECKSUM_COMPLETE.
 * IPv4: the header checksum absorbs the address change, so skb->csum stays
 * right without help. IPv6 has no header checksum: the stores recompute
 * skb->csum, which also cancels the pseudo-header adjustment the L4 helper
 * makes to it (newer kernels offer BPF_F_IPV6 for that; this works on all).
 *
 * tc_nat_addr() is the address half: l4csum_off names the transport checksum
 * whose pseudo-header holds the address, 0 when there is none (ICMPv4).
 */
static __always_inline int tc_nat_addr(struct __sk_buff *skb,
				       const struct pkt *p, bool src,
				       const __be32 *to_addr, __u32 l4csum_off,
				       __u64 l4_flags)
{
	const __be32 *from_addr = src ? p->saddr : p->daddr;
	bool v4 = p->family == CRBPF_V4;
	__u32 alen = v4 ? 4 : 16;
	__u64 store_flags = v4 ? 0 : BPF_F_RECOMPUTE_CSUM;
	__u32 ipcsum_off = p->l3_off + offsetof(struct iphdr, check);
	__s64 diff;

	diff = bpf_csum_diff((__be32 *)from_addr, alen, (__be32 *)to_addr,
			     alen, 0);
	if (diff < 0)
		return -1;
	if (l4csum_off && bpf_l4_csum_replace(skb, l4csum_off, 0, diff,
					      BPF_F_PSEUDO_HDR | l4_flags))
		return -1;
	if (v4 && bpf_l3_csum_replace(skb, ipcsum_off, 0, diff, 0))
		return -1;
	return bpf_skb_store_bytes(skb, pkt_addr_off(p, src), to_addr, alen,
				   store_flags) ? -1 : 0;
}

static __always_inline int tc_nat(struct __sk_buff *skb, const struct pkt *p,
				  bool src, const __be32 *to_addr,
				  __be16 to_port)
{
	__be16 from_port = src ? p->sport : p->dport;
	__u64 l4_flags = p->proto == IPPROTO_UDP ? BPF_F_MARK_MANGLED_0 : 0;
	__u32 csum_off = pkt_l4csum_off(p);

	if (tc_nat_addr(skb, p, src, to_addr, csum_off, l4_flags))
		return -1;
	if (bpf_l4_csum_replace(skb, csum_off, from_port, to_port,
				l4_flags | sizeof(to_port)))
		return -1;
	/* With a zero UDP checksum the L4 helper leaves everything alone, so
	 * nothing offsets the port change in a CHECKSUM_COMPLETE skb->csum. */
	if (bpf_skb_store_bytes(skb, pkt_port_off(p, src), &to_port,
				sizeof(to_port),
				p->udp_nocsum ? BPF_F_RECOMPUTE_CSUM : 0))
		return -1;
	return 0;
}

/* Does the L4 checksum field hold just the pseudo-header sum, as a
 * CHECKSUM_PARTIAL packet's does (csum_looks_partial())? */
static __always_inline bool pkt_csum_partial(const struct pkt *p)
{
	return csum_looks_partial(p->saddr, p->daddr, p->family == CRBPF_V6,
				  p->proto, p->ip_len - (p->l4_off - p->l3_off),
				  p->l4csum);
}

/* The largest transport header offset nat_direct() writes at: Ethernet,
 * IPv6 and its extension headers; beyond it the caller uses the helpers. */
#define NAT_L4_OFF_MAX 255

/*
 * RFC 1624 rewrite of the source or destination address and port, and the
 * TTL / hop limit decrement, by direct packet access: XDP, and tc skbs whose
 * checksums are complete (tc_nat_direct()). Nothing is written unless every
 * header is in bounds (-1). *sum gets the one's complement sum of the change
 * to the bytes from the IP header on, every word written counted, checksum
 * fields included: what a CHECKSUM_COMPLETE skb->csum, which covers them,
 * must add. It comes to -A for IPv4 (A: the address change; the header
 * checksum absorbs address and TTL, the L4 checksum -(A+P) against the
 * port's +P), +P for IPv4 UDP without checksum, +H (hop limit word) for IPv6.
 */
static __always_inline int nat_direct(void *data, void *data_end,
				      const struct pkt *p, bool src,
				      const __be32 *to_addr, __be16 to_port,
				      __u64 *sum)
{
	__u32 l3_off = p->l3_off, l4_off = p->l4_off;
	__be16 *port, *l4csum, *hop, old;
	struct ipv6hdr *ip6h;
	struct iphdr *iph;
	__u64 addr, all;
	void *l4;

	/* Gives the verifier bounds for the variable offsets below. */
	if (l3_off > ETH_HLEN || l4_off > NAT_L4_OFF_MAX)
		return -1;
	l4 = data + l4_off;
	l4csum = l4 + (pkt_l4csum_off(p) - l4_off);
	port = l4 + (pkt_port_off(p, src) - l4_off);
	if ((void *)(l4csum + 1) > data_end || (void *)(port + 1) > data_end)
		return -1;

	if (p->family == CRBPF_V4) {
		iph = data + l3_off;
		if ((void *)(iph + 1) > data_end)
			return -1;
		if (src) {
			addr = csum_diff32(0, iph->saddr, to_addr[0]);
			iph->saddr = to_addr[0];
		} else {
			addr = csum_diff32(0, iph->daddr, to_addr[0]);
			iph->daddr = to_addr[0];
		}
		/* TTL is the high byte of the TTL/protocol checksum word. */
		hop = (__be16 *)&iph->ttl;
		old = *hop;
		iph->ttl--;
		all = csum_diff16(addr, old, *hop);
		old = iph->check;
		csum_apply(&iph->check, all);
		all = csum_diff16(all, old, iph->check);
	} else {
		ip6h = data + l3_off;
		if ((void *)(ip6h + 1) > data_end)
			return -1;
		if (src) {
			addr = csum_diff128(0, ip6h->saddr.in6_u.u6_addr32,
					    to_addr);
			__builtin_memcpy(&ip6h->saddr, to_addr, 16);
		} else {
			addr = csum_diff128(0, ip6h->daddr.in6_u.u6_addr32,
					    to_addr);
			__builtin_memcpy(&ip6h->daddr, to_addr, 16);
		}
		/* the hop limit shares its word with the next header */
		hop = (__be16 *)&ip6h->payload_len + 1;
		old = *hop;
		ip6h->hop_limit--;
		all = csum_diff16(addr, old, *hop);
	}

	/* the L4 checksum covers the address (pseudo-header) and the port */
	addr = csum_diff16(addr, *port, to_port);
	all = csum_diff16(all, *port, to_port);
	*port = to_port;
	old = *l4csum;
	if (p->proto == IPPROTO_UDP)
		csum_apply_udp(l4csum, addr);
	else
		csum_apply(l4csum, addr);
	*sum = csum_diff16(all, old, *l4csum);
	return 0;
}

/*
 * tc_nat() plus the TTL decrement by nat_direct(), for an skb whose
 * checksums are complete: no GSO (whose segments the stack checksums) and
 * no L4 checksum that looks partial; the helpers stay for those (-1, nothing
 * written). bpf_csum_update() keeps a CHECKSUM_COMPLETE skb->csum right and
 * does nothing otherwise. skb->csum starts at the IP header (tc ingress: the
 * stack pulled the MAC header before summing; a tunnel has none), where
 * every change lies. The verifier makes a cloned skb's data private before
 * a program that writes it directly runs (bpf_unclone_prologue()).
 */
static __always_inline int tc_nat_direct(struct __sk_buff *skb,
					 const struct pkt *p, bool src,
					 const __be32 *to_addr, __be16 to_port)
{
	__u64 sum;

	if (skb->gso_size || pkt_csum_partial(p))
		return -1;
	if (nat_direct((void *)(long)skb->data, (void *)(long)skb->data_end, p,
		       src, to_addr, to_port, &sum))
		return -1;
	bpf_csum_update(skb, csum_fold64(sum));
	return 0;
}

#endif /* CRBPF_NAT_H */
