/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/* Address and port rewrite for tc programs (edge and home). */
#ifndef CRBPF_NAT_H
#define CRBPF_NAT_H

#include <linux/bpf.h>
#include <linux/ip.h>
#include <linux/in.h>
#include <bpf/bpf_helpers.h>
#include "parsing.h"

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

#endif /* CRBPF_NAT_H */
