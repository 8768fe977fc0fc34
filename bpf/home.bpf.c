// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * Home datapath. The tunnel's ingress learns every TCP/UDP flow that arrives
 * through it by its exact tuple; a served bridge's egress learns the same
 * flow again as it leaves for a container, after Docker's DNAT changed its
 * destination. A served bridge's ingress marks replies of those very tuples
 * so that an ip rule steers them into the tunnel, and the home line's egress
 * moves a wildcard-bound UDP service's replies there. A packet that merely
 * came from some endpoint steers nothing else to that endpoint (issue 11
 * item 2): the home's own flows to it keep their route. Untouched packets
 * return TC_ACT_UNSPEC, so that other tcx programs on the same device still
 * see them.
 */
#include <linux/bpf.h>
#include <linux/pkt_cls.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_endian.h>
#include "home_maps.h"
#include "parsing.h"
#include "icmp_quote.h"
#include "nat.h"
#include "flowstate.h"
#include "unit_hook.h" /* last: unit builds wrap the redirect helpers */

/* Set by the tool between open and load. */
const volatile __u32 home_mark = CRBPF_HOME_MARK_DEFAULT;
/* The tunnel this instance serves and its addresses (zero: family absent). */
const volatile __u32 tun_ifindex;
const volatile __be32 tun_addr4;
const volatile __be32 tun_addr6[4];

/* The tuple of p; in: p goes client -> home (the remote is its source),
 * else home -> client (a reply). */
static __always_inline void hflow_key(struct crbpf_hflow_key *k,
				      const struct pkt *p, bool in)
{
	__builtin_memset(k, 0, sizeof(*k));
	__builtin_memcpy(k->remote, in ? p->saddr : p->daddr, sizeof(k->remote));
	__builtin_memcpy(k->local, in ? p->daddr : p->saddr, sizeof(k->local));
	k->remote_port = in ? p->sport : p->dport;
	k->local_port = in ? p->dport : p->sport;
	k->family = p->family;
	k->proto = p->proto;
}

/* Idle past the edge's default timeout for its state: treated as absent. */
static __always_inline bool hflow_expired(const struct crbpf_hflow *h,
					  __u8 proto, __u64 now)
{
	/* zero: the defaults (crbpf_flow_timeout()), conntrack's */
	struct crbpf_timeouts to = {};

	if (!flow_idle_expired(&to, h->seen_ns, proto, h->flags, now))
		return false;
	count(CRBPF_ST_FLOW_EXPIRED);
	return true;
}

/* Can a packet from the client go on with entry h of a flow on ifindex? */
static __always_inline bool hflow_usable(const struct crbpf_hflow *h,
					 const struct pkt *p, __u32 ifindex,
					 __u64 now)
{
	return h->tunnel_ifindex == ifindex && !hflow_expired(h, p->proto, now) &&
	       !flow_flags_reopened(h->flags, p);
}

/*
 * A packet client -> home of a flow that came through tunnel ifindex. A new
 * tuple starts in crbpf_hunreplied and moves to crbpf_hflows when assured
 * (flow_flags_assured()), so that spoofed tuples, answered or not, only
 * ever evict each other. An expired entry, one of another tunnel or of a
 * TCP connection that ended and is opened again starts over.
 */
static __always_inline void hflow_learn(const struct pkt *p, __u32 ifindex)
{
	__u16 add = flow_pkt_flags(p, false);
	struct crbpf_hflow_key k;
	struct crbpf_hflow val;
	struct crbpf_hflow *h;
	__u64 now = flow_now();

	hflow_key(&k, p, true);
	h = bpf_map_lookup_elem(&crbpf_hflows, &k);
	if (h) {
		if (hflow_usable(h, p, ifindex, now)) {
			flow_touch(&h->flags, &h->seen_ns, add, now);
			return;
		}
		bpf_map_delete_elem(&crbpf_hflows, &k);
	}
	h = bpf_map_lookup_elem(&crbpf_hunreplied, &k);
	if (h && hflow_usable(h, p, ifindex, now)) {
		if (!flow_flags_assured(h->flags, p)) {
			flow_touch(&h->flags, &h->seen_ns, add, now);
			return;
		}
		val = *h;
		val.flags |= add;
		val.seen_ns = now;
		if (!bpf_map_update_elem(&crbpf_hflows, &k, &val, BPF_ANY))
			bpf_map_delete_elem(&crbpf_hunreplied, &k);
		return;
	}
	__builtin_memset(&val, 0, sizeof(val));
	val.tunnel_ifindex = ifindex;
	val.flags = add;
	val.seen_ns = now;
	bpf_map_update_elem(&crbpf_hunreplied, &k, &val, BPF_ANY);
}

/* The live entry of the flow whose reply (home -> client) has tuple k, in
 * either table; NULL when there is none. */
static __always_inline struct crbpf_hflow *
hflow_reply_lookup(const struct crbpf_hflow_key *k, __u64 now)
{
	struct crbpf_hflow *h;

	h = bpf_map_lookup_elem(&crbpf_hflows, k);
	if (!h)
		h = bpf_map_lookup_elem(&crbpf_hunreplied, k);
	if (!h || h->tunnel_ifindex != tun_ifindex ||
	    hflow_expired(h, k->proto, now))
		return NULL;
	return h;
}

/*
 * An ICMP error quotes the packet it is about. One bound for a tunnelled
 * client quotes a packet that client sent: fills k with the tuple of that
 * flow (remote = the quote's source). False for anything else (no error, no
 * TCP/UDP quote with its ports, a non-first fragment, a quote from someone
 * other than the error's destination).
 */
static __always_inline bool icmp_quote_key(struct __sk_buff *skb,
					   const struct pkt *p,
					   struct crbpf_hflow_key *k)
{
	struct icmp_quote q;

	__builtin_memset(k, 0, sizeof(*k));
	if (icmp_quote_parse(skb, p, k->remote, k->local, &q) != PKT_OK ||
	    !addr_eq(k->remote, p->daddr))
		return false;
	k->remote_port = q.sport;
	k->local_port = q.dport;
	k->family = p->family;
	k->proto = q.proto;
	return true;
}

/* Data starts at the IP header: the tunnel is a layer 3 device. */
SEC("tc")
int crbpf_home_tun(struct __sk_buff *skb)
{
	struct pkt p;

	if (parse_skb(skb, false, false, &p) != PKT_OK) {
		count(CRBPF_ST_HOME_PASS);
		return TC_ACT_UNSPEC;
	}
	hflow_learn(&p, skb->ingress_ifindex);
	count(CRBPF_ST_HOME_LEARN);
	return TC_ACT_UNSPEC;
}

/*
 * Egress of a served bridge: a tunnelled packet on its way to a container,
 * after Docker's DNAT (PREROUTING) gave it the container's address and port.
 * Its tuple is the one the container's replies carry on the bridge's
 * ingress, where crbpf_home_srv looks for it (their source is un-DNATed
 * only after routing). skb->ingress_ifindex is the device the packet came
 * in by: forwarding keeps it.
 */
SEC("tc")
int crbpf_home_fwd(struct __sk_buff *skb)
{
	struct pkt p;

	if (skb->ingress_ifindex != tun_ifindex ||
	    parse_skb(skb, true, false, &p) != PKT_OK)
		return TC_ACT_UNSPEC;
	hflow_learn(&p, tun_ifindex);
	count(CRBPF_ST_HOME_LEARN);
	return TC_ACT_UNSPEC;
}

/* Data starts at an Ethernet header: a bridge such as docker0. */
SEC("tc")
int crbpf_home_srv(struct __sk_buff *skb)
{
	struct crbpf_hflow_key k;
	struct crbpf_hflow *h;
	__u64 now;
	struct pkt p;
	int ret;

	ret = parse_skb(skb, true, false, &p);
	if (ret == PKT_OK) {
		hflow_key(&k, &p, false);
	} else if (ret != CRBPF_ST_PASS_PROTO || !icmp_quote_key(skb, &p, &k)) {
		/* An ICMP error a container sends about a tunnelled flow goes
		 * back the way that flow came, like the flow's replies. */
		count(CRBPF_ST_HOME_PASS);
		return TC_ACT_UNSPEC;
	}
	now = flow_now();
	h = hflow_reply_lookup(&k, now);
	if (!h) {
		count(CRBPF_ST_HOME_PASS);
		return TC_ACT_UNSPEC;
	}
	/* an error is no reply: it makes nothing assured */
	if (ret == PKT_OK)
		flow_touch(&h->flags, &h->seen_ns, flow_pkt_flags(&p, true), now);
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
	__u64 now;
	struct pkt p;
	int ret;

	ret = parse_skb(skb, true, false, &p);
	if (ret == PKT_OK && p.proto == IPPROTO_UDP)
		hflow_key(&k, &p, false);
	else if (ret == CRBPF_ST_PASS_PROTO && icmp_quote_key(skb, &p, &k))
		icmp = true;
	else
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
	/* The flow came to the tunnel address, where the reply goes back
	 * from; its source here is the line's. An ICMP error's quote carries
	 * the flow's own tuple (conntrack undid any DNAT in it). */
	if (!icmp)
		__builtin_memcpy(k.local, to, sizeof(k.local));
	now = flow_now();
	hf = hflow_reply_lookup(&k, now);
	if (!hf)
		return TC_ACT_UNSPEC;
	if (!icmp)
		flow_touch(&hf->flags, &hf->seen_ns, CRBPF_FLOW_REPLIED, now);

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
