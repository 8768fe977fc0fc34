// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * Home datapath. The tunnel's ingress learns the remote endpoint of every
 * TCP/UDP flow that arrives through it; a served bridge's ingress marks
 * replies to those endpoints so that an ip rule steers them into the tunnel.
 * Untouched packets return TC_ACT_UNSPEC, so that other tcx programs on the
 * same device still see them.
 */
#include <linux/bpf.h>
#include <linux/pkt_cls.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_endian.h>
#include "home_maps.h"
#include "parsing.h"
#include "nat.h"
#include "unit_hook.h" /* last: unit builds wrap the redirect helpers */

/* Set by the tool between open and load. */
const volatile __u32 home_mark = CRBPF_HOME_MARK_DEFAULT;
/* The tunnel this instance serves and its addresses (zero: family absent). */
const volatile __u32 tun_ifindex;
const volatile __be32 tun_addr4;
const volatile __be32 tun_addr6[4];

static __always_inline void hflow_key(struct crbpf_hflow_key *k,
				      const struct pkt *p, bool src)
{
	__builtin_memset(k, 0, sizeof(*k));
	__builtin_memcpy(k->addr, src ? p->saddr : p->daddr, sizeof(k->addr));
	k->port = src ? p->sport : p->dport;
	k->family = p->family;
	k->proto = p->proto;
}

/*
 * An ICMP error quotes the packet it is about. One bound for a tunnelled
 * client quotes a packet that client sent, so the quote's source is the
 * learned endpoint: fills k from it. False for anything else (no error, no
 * TCP/UDP quote, a non-first fragment, a quote from someone other than the
 * error's destination).
 */
static __always_inline bool icmp_quote_key(struct __sk_buff *skb,
					   const struct pkt *p,
					   struct crbpf_hflow_key *k)
{
	__u32 off = p->l4_off, in_l3 = off + 8, in_l4;
	union {
		struct iphdr v4;
		struct ipv6hdr v6;
	} ip;
	__be16 ports[2];
	__u8 type, proto;

	if (bpf_skb_load_bytes(skb, off, &type, 1))
		return false;
	__builtin_memset(k, 0, sizeof(*k));
	if (p->family == CRBPF_V4) {
		/* destination unreachable, time exceeded, parameter problem */
		if (p->proto != IPPROTO_ICMP ||
		    (type != 3 && type != 11 && type != 12))
			return false;
		if (bpf_skb_load_bytes(skb, in_l3, &ip.v4, sizeof(ip.v4)) ||
		    ip.v4.version != 4 || ip.v4.ihl < 5 ||
		    (ip.v4.frag_off & bpf_htons(CRBPF_IP_OFFSET)))
			return false;
		proto = ip.v4.protocol;
		in_l4 = in_l3 + ip.v4.ihl * 4;
		k->addr[0] = ip.v4.saddr;
	} else {
		/* ICMPv6 errors are types 1 to 4 */
		if (p->proto != IPPROTO_ICMPV6 || type < 1 || type > 4)
			return false;
		if (bpf_skb_load_bytes(skb, in_l3, &ip.v6, sizeof(ip.v6)) ||
		    ip.v6.version != 6)
			return false;
		proto = ip.v6.nexthdr;
		in_l4 = in_l3 + sizeof(ip.v6);
		__builtin_memcpy(k->addr, &ip.v6.saddr, sizeof(k->addr));
	}
	if ((proto != IPPROTO_TCP && proto != IPPROTO_UDP) ||
	    !addr_eq(k->addr, p->daddr) ||
	    bpf_skb_load_bytes(skb, in_l4, ports, sizeof(ports)))
		return false;
	k->port = ports[0];
	k->family = p->family;
	k->proto = proto;
	return true;
}

/* Data starts at the IP header: the tunnel is a layer 3 device. */
SEC("tc")
int crbpf_home_tun(struct __sk_buff *skb)
{
	struct crbpf_hflow_key k;
	struct crbpf_hflow val;
	struct crbpf_hflow *cur;
	__u32 ifindex = skb->ingress_ifindex;
	struct pkt p;

	if (parse_skb(skb, false, &p) != PKT_OK) {
		count(CRBPF_ST_HOME_PASS);
		return TC_ACT_UNSPEC;
	}

	hflow_key(&k, &p, true);
	/* The lookup also refreshes the LRU entry; writing only on a change
	 * keeps the per-packet cost to one hash lookup. */
	cur = bpf_map_lookup_elem(&crbpf_hflows, &k);
	if (!cur || cur->tunnel_ifindex != ifindex ||
	    cur->local_port != p.dport) {
		__builtin_memset(&val, 0, sizeof(val));
		val.tunnel_ifindex = ifindex;
		val.local_port = p.dport;
		bpf_map_update_elem(&crbpf_hflows, &k, &val, BPF_ANY);
	}
	count(CRBPF_ST_HOME_LEARN);
	return TC_ACT_UNSPEC;
}

/* Data starts at an Ethernet header: a bridge such as docker0. */
SEC("tc")
int crbpf_home_srv(struct __sk_buff *skb)
{
	struct crbpf_hflow_key k;
	struct pkt p;
	int ret;

	ret = parse_skb(skb, true, &p);
	if (ret == PKT_OK) {
		hflow_key(&k, &p, false);
	} else if (ret != CRBPF_ST_PASS_PROTO || !icmp_quote_key(skb, &p, &k)) {
		/* An ICMP error a container sends about a tunnelled flow goes
		 * back the way that flow came, like the flow's replies. */
		count(CRBPF_ST_HOME_PASS);
		return TC_ACT_UNSPEC;
	}
	if (!bpf_map_lookup_elem(&crbpf_hflows, &k)) {
		count(CRBPF_ST_HOME_PASS);
		return TC_ACT_UNSPEC;
	}
	skb->mark = home_mark;
	count(CRBPF_ST_HOME_MARK);
	return TC_ACT_UNSPEC;
}

/*
 * Egress of the home line's device. A UDP server bound to the wildcard
 * address picks the source of a reply from the main table, so its answer to
 * a tunnelled client would leave through the ISP, from the ISP address, and
 * never reach the client. Such a reply (UDP, to a learned endpoint, from the
 * port the flow arrived on) gets the tunnel address and goes into the tunnel.
 * TCP needs none of this: an accepted socket answers from the address the
 * SYN came to, which the "from" rule already steers. The same holds for an
 * ICMP error this host sends about a tunnelled packet it forwards (an MTU
 * error on the way to a container, say): the kernel takes its source from
 * the route back to the client, the home line.
 */
SEC("tc")
int crbpf_home_out(struct __sk_buff *skb)
{
	struct crbpf_hflow_key k;
	struct crbpf_hflow *hf;
	__be32 to[4] = {};
	bool icmp = false;
	struct pkt p;
	int ret;

	ret = parse_skb(skb, true, &p);
	if (ret == PKT_OK && p.proto == IPPROTO_UDP)
		hflow_key(&k, &p, false);
	else if (ret == CRBPF_ST_PASS_PROTO && icmp_quote_key(skb, &p, &k))
		icmp = true;
	else
		return TC_ACT_UNSPEC;

	hf = bpf_map_lookup_elem(&crbpf_hflows, &k);
	if (!hf || hf->tunnel_ifindex != tun_ifindex ||
	    (!icmp && hf->local_port != p.sport))
		return TC_ACT_UNSPEC;

	if (p.family == CRBPF_V4) {
		if (!tun_addr4)
			return TC_ACT_UNSPEC;
		to[0] = tun_addr4;
	} else {
		if (!(tun_addr6[0] | tun_addr6[1] | tun_addr6[2] | tun_addr6[3]))
			return TC_ACT_UNSPEC;
		to[0] = tun_addr6[0];
		to[1] = tun_addr6[1];
		to[2] = tun_addr6[2];
		to[3] = tun_addr6[3];
	}
	/* The ICMPv6 checksum covers the pseudo header, ICMPv4's does not. */
	if (icmp ? tc_nat_addr(skb, &p, true, to,
			       p.family == CRBPF_V6 ? p.l4_off + 2 : 0, 0) :
		   tc_nat(skb, &p, true, to, p.sport)) {
		count(CRBPF_ST_DROP_ERROR);
		return TC_ACT_SHOT;
	}
	count(CRBPF_ST_HOME_REROUTE);
	/* Layer 3 tunnel: the kernel strips the MAC header on the way in. */
	return bpf_redirect(tun_ifindex, 0);
}

char LICENSE[] SEC("license") = "Dual BSD/GPL";
