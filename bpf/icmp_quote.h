/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * The packet an ICMP error quotes (edge and home, tc).
 *
 * An error quotes the IP header and at least 8 bytes of the transport header
 * of the packet that caused it (RFC 792, RFC 4443 2.4 (c)); it belongs to
 * that packet's flow. The quote is read with bpf_skb_load_bytes(): it lies
 * beyond what parse_skb() pulls into the linear area. Every read stays
 * within the error's own IP datagram (l3_off + ip_len): bytes after it are
 * Ethernet padding, no part of the quote.
 */
#ifndef CRBPF_ICMP_QUOTE_H
#define CRBPF_ICMP_QUOTE_H

#include "parsing.h"

/* Message types that quote the packet that caused them. */
#define CRBPF_ICMP_DEST_UNREACH 3 /* incl. code 4, fragmentation needed */
#define CRBPF_ICMP_TIME_EXCEEDED 11
#define CRBPF_ICMP_PARAMETERPROB 12
#define CRBPF_ICMPV6_DEST_UNREACH 1
#define CRBPF_ICMPV6_PARAMPROB 4 /* 2 packet too big, 3 time exceeded */
#define CRBPF_ICMP_HLEN 8
#define CRBPF_QUOTE_L4_LEN 8 /* what RFC 792 guarantees of the transport header */

/* The quoted packet; offsets relative to the ICMP header. */
struct icmp_quote {
	__u16 l4; /* quoted transport header */
	__be16 sport;
	__be16 dport;
	__sum16 ipcsum; /* quoted IPv4 header checksum (IPv6: 0) */
	__u8 proto; /* IPPROTO_TCP | IPPROTO_UDP */
};

static __always_inline bool icmp_is_error(__u8 family, __u8 type)
{
	if (family == CRBPF_V4)
		return type == CRBPF_ICMP_DEST_UNREACH ||
		       type == CRBPF_ICMP_TIME_EXCEEDED ||
		       type == CRBPF_ICMP_PARAMETERPROB;
	return type >= CRBPF_ICMPV6_DEST_UNREACH && type <= CRBPF_ICMPV6_PARAMPROB;
}

/*
 * p is an ICMP/ICMPv6 packet parse_skb() passed as CRBPF_ST_PASS_PROTO.
 * When it is an error quoting a TCP/UDP packet with its ports: src and dst
 * get the quoted addresses, q the rest, and PKT_OK is returned; otherwise
 * the reason to pass. A quoted fragment counts only when it is a first one
 * (a later one has no ports: its data is never read as such).
 */
static __always_inline int icmp_quote_parse(struct __sk_buff *skb,
					    const struct pkt *p, __be32 *src,
					    __be32 *dst, struct icmp_quote *q)
{
	__u32 icmp = p->l4_off, end = p->l3_off + p->ip_len;
	__u32 in_l3 = icmp + CRBPF_ICMP_HLEN, in_l4;
	union {
		struct iphdr v4;
		struct ipv6hdr v6;
	} ip;
	__be16 ports[2]; /* at the same place in TCP and UDP */
	__u8 type, proto;

	__builtin_memset(q, 0, sizeof(*q));
	if (p->proto != (p->family == CRBPF_V4 ? IPPROTO_ICMP : IPPROTO_ICMPV6))
		return CRBPF_ST_PASS_PROTO;
	if (icmp + CRBPF_ICMP_HLEN > end || bpf_skb_load_bytes(skb, icmp, &type, 1))
		return CRBPF_ST_PASS_MALFORMED;
	if (!icmp_is_error(p->family, type))
		return CRBPF_ST_PASS_PROTO;

	if (p->family == CRBPF_V4) {
		if (in_l3 + sizeof(ip.v4) > end ||
		    bpf_skb_load_bytes(skb, in_l3, &ip.v4, sizeof(ip.v4)))
			return CRBPF_ST_PASS_MALFORMED;
		if (ip.v4.version != 4 || ip.v4.ihl < 5)
			return CRBPF_ST_PASS_MALFORMED;
		/* Only a datagram's first fragment quotes ports (frag.h
		 * forwards fragments, so errors about them come back too). */
		if (ip.v4.frag_off & bpf_htons(CRBPF_IP_OFFSET))
			return CRBPF_ST_PASS_FRAGMENT;
		proto = ip.v4.protocol;
		in_l4 = CRBPF_ICMP_HLEN + ip.v4.ihl * 4;
		src[0] = ip.v4.saddr;
		dst[0] = ip.v4.daddr;
		q->ipcsum = ip.v4.check;
	} else {
		if (in_l3 + sizeof(ip.v6) > end ||
		    bpf_skb_load_bytes(skb, in_l3, &ip.v6, sizeof(ip.v6)))
			return CRBPF_ST_PASS_MALFORMED;
		if (ip.v6.version != 6)
			return CRBPF_ST_PASS_MALFORMED;
		proto = ip.v6.nexthdr;
		in_l4 = CRBPF_ICMP_HLEN + sizeof(ip.v6);
		if (proto == CRBPF_NEXTHDR_FRAGMENT) {
			/* next header, reserved, offset|M, id: as for IPv4,
			 * the first fragment's quote has the ports. */
			__u8 fh[4];

			if (icmp + in_l4 + 8 > end ||
			    bpf_skb_load_bytes(skb, icmp + in_l4, fh, sizeof(fh)))
				return CRBPF_ST_PASS_MALFORMED;
			if (((fh[2] << 8) | fh[3]) & CRBPF_IP6_FRAG_OFFSET)
				return CRBPF_ST_PASS_FRAGMENT;
			proto = fh[0];
			in_l4 += 8;
		}
		__builtin_memcpy(src, &ip.v6.saddr, sizeof(ip.v6.saddr));
		__builtin_memcpy(dst, &ip.v6.daddr, sizeof(ip.v6.daddr));
	}
	if (proto != IPPROTO_TCP && proto != IPPROTO_UDP)
		return CRBPF_ST_PASS_PROTO;
	if (icmp + in_l4 + CRBPF_QUOTE_L4_LEN > end ||
	    bpf_skb_load_bytes(skb, icmp + in_l4, ports, sizeof(ports)))
		return CRBPF_ST_PASS_MALFORMED;
	q->l4 = in_l4;
	q->sport = ports[0];
	q->dport = ports[1];
	q->proto = proto;
	return PKT_OK;
}

#endif /* CRBPF_ICMP_QUOTE_H */
