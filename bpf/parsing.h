/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * Bounds-checked header parsing for the crbpf programs.
 *
 * A cursor holds the packet bounds and the offset of the next unread header.
 * Each parse_*() checks that its header fits, moves the cursor past it and
 * returns what comes next (ethertype in network order, IP protocol) or 0 on
 * success for the last layer; -1 means the header is truncated or invalid.
 * Offsets rather than pointers are kept so that tc programs, whose packet
 * pointers die at every helper that may change the skb, can use them with
 * bpf_skb_store_bytes() and the checksum helpers.
 */
#ifndef CRBPF_PARSING_H
#define CRBPF_PARSING_H

#include <stdbool.h>
#include <linux/bpf.h>
#include <linux/if_ether.h>
#include <linux/in.h>
#include <linux/ip.h>
#include <linux/ipv6.h>
#include <linux/tcp.h>
#include <linux/udp.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_endian.h>
#include "crbpf.h"
#include "csum.h"

#ifndef offsetof
#define offsetof(type, member) __builtin_offsetof(type, member)
#endif

#ifndef AF_INET
#define AF_INET 2
#endif
#ifndef AF_INET6
#define AF_INET6 10
#endif

/* Kernel-internal in net/ip.h and net/ipv6.h, not exported through UAPI. */
#define CRBPF_IP_MF 0x2000
#define CRBPF_IP_OFFSET 0x1fff
#define CRBPF_IP6_FRAG_OFFSET 0xfff8
#define CRBPF_NEXTHDR_HOP 0
#define CRBPF_NEXTHDR_ROUTING 43
#define CRBPF_NEXTHDR_FRAGMENT 44
#define CRBPF_NEXTHDR_DEST 60
/* Extension headers walked before the Fragment header (RFC 8200 order:
 * hop-by-hop, destination options, routing); more is not a datagram we map. */
#define CRBPF_FRAG_MAX_EXT 3

struct cursor {
	void *data;
	void *end; /* of what direct access reaches (tc: the linear part) */
	__u32 len; /* of the whole packet from data (tc: skb->len) */
	__u32 off;
};

/* parse_ipv4()/parse_ipv6(): an IP header the kernel would refuse (its own
 * checks in ip_rcv_core() and ipv6_rcv()). Such a packet is no one's to
 * forward: it passes untouched and the stack drops it. */
#define PARSE_INVALID (-2)

struct vlan_tag {
	__be16 tci;
	__be16 proto;
};

/*
 * The header at the cursor. The empty asm makes the pointer opaque, so clang
 * cannot rematerialise data + off after the bounds check as a new pointer the
 * verifier has no range for ("invalid access to packet").
 */
static __always_inline void *cursor_hdr(struct cursor *c)
{
	void *hdr = c->data + c->off;

	asm volatile("" : "+r"(hdr));
	return hdr;
}

static __always_inline void cursor_init(struct cursor *c, void *data,
					void *end, __u32 len)
{
	c->data = data;
	c->end = end;
	c->len = len;
	c->off = 0;
}

/* Ethernet with at most one 802.1Q or 802.1ad tag; *tagged tells which. */
static __always_inline int parse_eth(struct cursor *c, bool *tagged)
{
	struct ethhdr *eth = cursor_hdr(c);
	struct vlan_tag *tag;
	__be16 proto;

	if ((void *)(eth + 1) > c->end)
		return -1;
	c->off += sizeof(*eth);
	proto = eth->h_proto;
	*tagged = false;
	if (proto != bpf_htons(ETH_P_8021Q) && proto != bpf_htons(ETH_P_8021AD))
		return proto;

	tag = cursor_hdr(c);
	if ((void *)(tag + 1) > c->end)
		return -1;
	c->off += sizeof(*tag);
	*tagged = true;
	return tag->proto;
}

/* The IPv4 header checksum, as ip_rcv_core() verifies it; false also when
 * the header does not lie in the linear data. */
static __always_inline bool ipv4_csum_ok(struct iphdr *iph, void *end,
					 __u32 ihl)
{
	__u32 *w = (__u32 *)iph;
	/* the fixed 20 bytes are checked in bounds by the caller */
	__u64 sum = (__u64)w[0] + w[1] + w[2] + w[3] + w[4];

	/* options, a word at a constant offset each (a loop would need its
	 * bound on a variable offset); IHL 5 costs one compare */
#define CRBPF_IP4_OPT_WORD(i)                           \
	if (ihl <= (i))                                 \
		goto fold;                              \
	if ((void *)(w + (i) + 1) > end)                \
		return false;                           \
	sum += w[i];
	CRBPF_IP4_OPT_WORD(5)
	CRBPF_IP4_OPT_WORD(6)
	CRBPF_IP4_OPT_WORD(7)
	CRBPF_IP4_OPT_WORD(8)
	CRBPF_IP4_OPT_WORD(9)
	CRBPF_IP4_OPT_WORD(10)
	CRBPF_IP4_OPT_WORD(11)
	CRBPF_IP4_OPT_WORD(12)
	CRBPF_IP4_OPT_WORD(13)
	CRBPF_IP4_OPT_WORD(14)
#undef CRBPF_IP4_OPT_WORD
fold:
	return csum_fold64(sum) == 0xffff;
}

static __always_inline int parse_ipv4(struct cursor *c, struct iphdr **iphp)
{
	struct iphdr *iph = cursor_hdr(c);
	__u32 hlen, tot_len;

	if ((void *)(iph + 1) > c->end)
		return -1;
	if (iph->version != 4)
		return -1;
	hlen = iph->ihl * 4;
	tot_len = bpf_ntohs(iph->tot_len);
	/* 0: BIG TCP (GRO beyond 64 KiB) or garbage; left to the stack as
	 * before, which knows which */
	if (!tot_len)
		return -1;
	/* What ip_rcv_core() drops: IHL below 5 or beyond the total length,
	 * a total length beyond the packet, a wrong header checksum. A
	 * shorter total length is Ethernet padding, which the stack trims. */
	if (hlen < sizeof(*iph) || tot_len < hlen || c->off + tot_len > c->len ||
	    !ipv4_csum_ok(iph, c->end, iph->ihl))
		return PARSE_INVALID;
	/* Options are skipped, not read: the next parser checks its own
	 * header against the end, which also covers the options. */
	c->off += hlen;
	*iphp = iph;
	return iph->protocol;
}

static __always_inline int parse_ipv6(struct cursor *c,
				      struct ipv6hdr **ip6hp)
{
	struct ipv6hdr *ip6h = cursor_hdr(c);

	if ((void *)(ip6h + 1) > c->end)
		return -1;
	if (ip6h->version != 6)
		return -1;
	/* ipv6_rcv() drops a payload length beyond the packet; 0 is a jumbo
	 * payload or BIG TCP, where the skb length counts */
	if (ip6h->payload_len &&
	    c->off + sizeof(*ip6h) + bpf_ntohs(ip6h->payload_len) > c->len)
		return PARSE_INVALID;
	c->off += sizeof(*ip6h);
	*ip6hp = ip6h;
	return ip6h->nexthdr;
}

static __always_inline int parse_tcp(struct cursor *c, struct tcphdr **thp)
{
	struct tcphdr *th = cursor_hdr(c);

	if ((void *)(th + 1) > c->end)
		return -1;
	if (th->doff < 5)
		return -1;
	c->off += th->doff * 4;
	*thp = th;
	return 0;
}

static __always_inline int parse_udp(struct cursor *c, struct udphdr **uhp)
{
	struct udphdr *uh = cursor_hdr(c);

	if ((void *)(uh + 1) > c->end)
		return -1;
	c->off += sizeof(*uh);
	*uhp = uh;
	return 0;
}

/* struct pkt's frag: which fragment of its datagram a packet is */
#define PKT_FIRST_FRAG 1 /* offset 0: the L4 header is here */
#define PKT_LATER_FRAG 2 /* no L4 header */

/* What the programs need to know about a TCP/UDP packet, by value. */
struct pkt {
	__be32 saddr[4];
	__be32 daddr[4];
	__be32 flowinfo; /* IPv6 traffic class + flow label, for the FIB */
	__be32 frag_id; /* IPv4: the 16-bit id as found; IPv6: the 32-bit one */
	__u16 l3_off;
	__u16 l4_off;
	__u16 ip_len; /* IPv4 tot_len, IPv6 payload + 40: FIB MTU check */
	__be16 sport;
	__be16 dport;
	__sum16 l4csum; /* as found in the packet */
	__u8 family; /* CRBPF_V4 | CRBPF_V6 */
	__u8 proto; /* IPPROTO_TCP | IPPROTO_UDP */
	__u8 ttl; /* TTL or hop limit */
	__u8 tos;
	__u8 tagged; /* a VLAN tag sits in the data between MACs and IP */
	__u8 udp_nocsum; /* IPv4 UDP without checksum: must stay 0 */
	__u8 tcp_flags; /* TCP header byte 13: FIN, SYN, RST, ACK, ... */
	__u8 frag; /* 0 or PKT_FIRST_FRAG/PKT_LATER_FRAG (parse_ip() frags) */
};

/*
 * IPv6 UDP without a checksum (0): invalid (RFC 8200 8.1), and the stack
 * drops it on delivery (short of sockets that opt in for tunnels, RFC 6935,
 * which no mapping serves). Translating it could not make it valid, and a
 * tc rewrite would leave a CHECKSUM_COMPLETE skb->csum stale (the helper
 * skips a 0 field, so nothing offsets the address change): it is not ours.
 * p->proto stays UDP, so a caller can tell it from an invalid IP header.
 */
static __always_inline bool udp6_nocsum(const struct pkt *p)
{
	return p->family == CRBPF_V6 && p->proto == IPPROTO_UDP && !p->l4csum;
}

/* Returned by parse_ip() when the packet is TCP/UDP and fully parsed;
 * anything else is the enum crbpf_stat reason to count and pass. */
#define PKT_OK (-1)
/* parse_ip(frags): a later fragment of TCP/UDP, without the L4 header; p
 * holds the IP fields, p->proto the datagram's protocol, sport/dport are 0. */
#define PKT_FRAG_LATER (-2)
/* parse_ip(frags): the IPv6 extension headers run past the linear data
 * (parse_skb() pulls more and parses again). */
#define PKT_NEED_PULL (-3)

static __always_inline bool ipv6_ext_hdr(int proto)
{
	return proto == CRBPF_NEXTHDR_HOP || proto == CRBPF_NEXTHDR_ROUTING ||
	       proto == CRBPF_NEXTHDR_DEST;
}

/*
 * IPv6 extension headers up to a Fragment header (frags mode), *proto the
 * first of them and ip_end the end of the datagram: fills the fragment
 * fields of p and *proto with the datagram's protocol, the cursor behind the
 * Fragment header, and returns PKT_OK. Without a Fragment header within
 * CRBPF_FRAG_MAX_EXT headers the packet stays what it is without frags,
 * CRBPF_ST_PASS_PROTO; otherwise a reason to pass, or PKT_NEED_PULL.
 */
static __always_inline int parse_ipv6_frag(struct cursor *c, struct pkt *p,
					   int *proto, __u32 ip_end)
{
	int next = *proto, i;
	__u8 *fh;
	__u16 fo;

	for (i = 0; i < CRBPF_FRAG_MAX_EXT + 1; i++) {
		__u8 *eh = cursor_hdr(c);

		if (next == CRBPF_NEXTHDR_FRAGMENT)
			break;
		if (!ipv6_ext_hdr(next))
			return CRBPF_ST_PASS_PROTO;
		if ((void *)(eh + 2) > c->end)
			return PKT_NEED_PULL;
		next = eh[0];
		c->off += (eh[1] + 1) * 8;
	}
	if (next != CRBPF_NEXTHDR_FRAGMENT)
		return CRBPF_ST_PASS_PROTO;
	/* next header, reserved, offset|M, id; beyond the payload length
	 * (0 too: no jumbogram is fragmented) the kernel drops it as
	 * truncated */
	fh = cursor_hdr(c);
	if (c->off + 8 > ip_end)
		return CRBPF_ST_PASS_INVALID;
	if ((void *)(fh + 8) > c->end)
		return PKT_NEED_PULL;
	fo = bpf_ntohs(*(__be16 *)(fh + 2));
	p->frag = fo & CRBPF_IP6_FRAG_OFFSET ? PKT_LATER_FRAG : PKT_FIRST_FRAG;
	p->frag_id = *(__be32 *)(fh + 4);
	*proto = fh[0];
	c->off += 8;
	return PKT_OK;
}

/*
 * The parser of every program. has_eth: data starts at an Ethernet header,
 * else at the IP header and l3proto (skb->protocol) names the family.
 *
 * frags (the tc programs of the edge, which follow fragments: frag.h): an
 * IP fragment of TCP/UDP comes back with p->frag set, as PKT_OK when it is
 * the first (p as for an unfragmented packet, l4_off behind any IPv6
 * extension headers) or PKT_FRAG_LATER; a fragment of anything else is
 * CRBPF_ST_PASS_FRAGMENT. IPv6 extension headers are walked for a Fragment
 * header only here; without one they stay CRBPF_ST_PASS_PROTO. Without
 * frags (XDP, home) every fragment is CRBPF_ST_PASS_FRAGMENT.
 */
static __always_inline int parse_ip(void *data, void *end, __u32 len,
				    bool has_eth, __be16 l3proto, bool frags,
				    struct pkt *p)
{
	struct cursor c;
	struct iphdr *iph;
	struct ipv6hdr *ip6h;
	struct tcphdr *th;
	struct udphdr *uh;
	bool tagged = false;
	int proto;

	__builtin_memset(p, 0, sizeof(*p));
	cursor_init(&c, data, end, len);
	if (has_eth) {
		proto = parse_eth(&c, &tagged);
		if (proto < 0)
			return CRBPF_ST_PASS_MALFORMED;
		l3proto = proto;
	}
	p->tagged = tagged;
	p->l3_off = c.off;

	if (l3proto == bpf_htons(ETH_P_IP)) {
		proto = parse_ipv4(&c, &iph);
		if (proto < 0)
			return proto == PARSE_INVALID ? CRBPF_ST_PASS_INVALID :
							CRBPF_ST_PASS_MALFORMED;
		if (iph->frag_off & bpf_htons(CRBPF_IP_MF | CRBPF_IP_OFFSET)) {
			if (!frags)
				return CRBPF_ST_PASS_FRAGMENT;
			p->frag = iph->frag_off & bpf_htons(CRBPF_IP_OFFSET) ?
					  PKT_LATER_FRAG :
					  PKT_FIRST_FRAG;
			p->frag_id = iph->id;
		}
		p->family = CRBPF_V4;
		p->saddr[0] = iph->saddr;
		p->daddr[0] = iph->daddr;
		p->ttl = iph->ttl;
		p->tos = iph->tos;
		p->ip_len = bpf_ntohs(iph->tot_len);
	} else if (l3proto == bpf_htons(ETH_P_IPV6)) {
		proto = parse_ipv6(&c, &ip6h);
		if (proto < 0)
			return proto == PARSE_INVALID ? CRBPF_ST_PASS_INVALID :
							CRBPF_ST_PASS_MALFORMED;
		if (proto == CRBPF_NEXTHDR_FRAGMENT && !frags)
			return CRBPF_ST_PASS_FRAGMENT;
		p->family = CRBPF_V6;
		__builtin_memcpy(p->saddr, &ip6h->saddr, sizeof(p->saddr));
		__builtin_memcpy(p->daddr, &ip6h->daddr, sizeof(p->daddr));
		p->ttl = ip6h->hop_limit;
		p->flowinfo = *(__be32 *)ip6h & bpf_htonl(0x0fffffff);
		p->ip_len = bpf_ntohs(ip6h->payload_len) + sizeof(*ip6h);
		if (frags && (proto == CRBPF_NEXTHDR_FRAGMENT ||
			      ipv6_ext_hdr(proto))) {
			int ret;

			/* as without frags when no Fragment header follows */
			p->proto = proto;
			p->l4_off = c.off;
			ret = parse_ipv6_frag(&c, p, &proto,
					      c.off +
						      bpf_ntohs(ip6h->payload_len));
			if (ret != PKT_OK)
				return ret;
		}
	} else {
		return CRBPF_ST_PASS_NOT_IP;
	}

	p->proto = proto;
	p->l4_off = c.off;
	if (p->frag) {
		if (proto != IPPROTO_TCP && proto != IPPROTO_UDP)
			return CRBPF_ST_PASS_FRAGMENT;
		if (p->frag == PKT_LATER_FRAG)
			return PKT_FRAG_LATER;
	}
	if (proto == IPPROTO_TCP) {
		if (parse_tcp(&c, &th) < 0)
			goto short_l4;
		p->sport = th->source;
		p->dport = th->dest;
		p->l4csum = th->check;
		p->tcp_flags = ((__u8 *)th)[13];
	} else if (proto == IPPROTO_UDP) {
		if (parse_udp(&c, &uh) < 0)
			goto short_l4;
		p->sport = uh->source;
		p->dport = uh->dest;
		p->l4csum = uh->check;
		p->udp_nocsum = p->family == CRBPF_V4 && !uh->check;
		if (udp6_nocsum(p))
			return CRBPF_ST_PASS_INVALID;
	} else {
		return CRBPF_ST_PASS_PROTO;
	}
	/* The L4 header must lie inside the IP datagram, not in Ethernet
	 * padding. A zero length field is BIG TCP (GRO beyond 64 KiB): the
	 * skb length is authoritative there (never a fragment's). */
	if (p->ip_len != (p->family == CRBPF_V4 ? 0 : sizeof(*ip6h)) &&
	    p->l3_off + p->ip_len < c.off)
		return CRBPF_ST_PASS_MALFORMED;
	return PKT_OK;
short_l4:
	/* behind IPv6 extension headers it may lie beyond the pull */
	if (frags && p->family == CRBPF_V6 &&
	    p->l4_off > p->l3_off + sizeof(*ip6h))
		return PKT_NEED_PULL;
	return CRBPF_ST_PASS_MALFORMED;
}

/* parse_ip() without frags: what XDP and the home programs handle. */
static __always_inline int parse_pkt(void *data, void *end, __u32 len,
				     bool has_eth, __be16 l3proto,
				     struct pkt *p)
{
	return parse_ip(data, end, len, has_eth, l3proto, false, p);
}

/* Linear bytes parse_ip() may touch: Ethernet, VLAN, IPv4 with options, TCP. */
#define PARSE_PULL_LEN (ETH_HLEN + 4 + 60 + 20)
/* With frags: Ethernet, VLAN, IPv6, extension headers up to 64 bytes each
 * in the usual case, Fragment header, TCP. */
#define FRAG_PULL_LEN (ETH_HLEN + 4 + 40 + 3 * 64 + 8 + 20)

/* parse_ip() for tc. Headers that sit in skb fragments are invisible to
 * direct packet access, so they are pulled into the linear area first (the
 * content does not change): what an ordinary packet needs, and for IPv6
 * extension headers beyond that, more and a second parse. */
static __always_inline int parse_skb(struct __sk_buff *skb, bool has_eth,
				     bool frags, struct pkt *p)
{
	void *data = (void *)(long)skb->data;
	void *data_end = (void *)(long)skb->data_end;
	__u32 want = skb->len < PARSE_PULL_LEN ? skb->len : PARSE_PULL_LEN;
	int ret;

	if (data + want > data_end)
		bpf_skb_pull_data(skb, want);
	ret = parse_ip((void *)(long)skb->data, (void *)(long)skb->data_end,
		       skb->len, has_eth, skb->protocol, frags, p);
	/* frags && ...: the callers without frags lose this code (clang
	 * cannot tell that parse_ip() never returns these then). */
	if (frags && ret == PKT_NEED_PULL) {
		want = skb->len < FRAG_PULL_LEN ? skb->len : FRAG_PULL_LEN;
		ret = CRBPF_ST_PASS_MALFORMED;
		if ((void *)(long)skb->data + want >
			    (void *)(long)skb->data_end &&
		    !bpf_skb_pull_data(skb, want))
			ret = parse_ip((void *)(long)skb->data,
				       (void *)(long)skb->data_end, skb->len,
				       has_eth, skb->protocol, frags, p);
		if (ret == PKT_NEED_PULL)
			ret = CRBPF_ST_PASS_MALFORMED;
	}
	/* The stack moves the outer tag to skb->vlan_tci before tc: a tag
	 * still in the data makes two, which XDP (seeing both) passes too. */
	if ((ret == PKT_OK || (frags && ret == PKT_FRAG_LATER)) && p->tagged &&
	    skb->vlan_present)
		return CRBPF_ST_PASS_NOT_IP;
	return ret;
}

static __always_inline bool addr_eq(const __be32 *a, const __be32 *b)
{
	return a[0] == b[0] && a[1] == b[1] && a[2] == b[2] && a[3] == b[3];
}

/* Offsets of the fields a NAT rewrites, relative to the packet start. */
static __always_inline __u32 pkt_addr_off(const struct pkt *p, bool src)
{
	if (p->family == CRBPF_V4)
		return p->l3_off + (src ? offsetof(struct iphdr, saddr) :
					  offsetof(struct iphdr, daddr));
	return p->l3_off + (src ? offsetof(struct ipv6hdr, saddr) :
				  offsetof(struct ipv6hdr, daddr));
}

static __always_inline __u32 pkt_port_off(const struct pkt *p, bool src)
{
	/* source and dest sit at the same place in TCP and UDP */
	return p->l4_off + (src ? offsetof(struct udphdr, source) :
				  offsetof(struct udphdr, dest));
}

static __always_inline __u32 pkt_l4csum_off(const struct pkt *p)
{
	return p->l4_off + (p->proto == IPPROTO_TCP ?
				    offsetof(struct tcphdr, check) :
				    offsetof(struct udphdr, check));
}

#endif /* CRBPF_PARSING_H */
