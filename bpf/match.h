/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * Which crbpf_ports entry a packet to the VPS matches: public address and
 * port mappings, and the forward-everything (`all`) entries with what they
 * must never take.
 */
#ifndef CRBPF_MATCH_H
#define CRBPF_MATCH_H

#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>
#include "edge_maps.h"
#include "parsing.h"

static __always_inline void port_key(struct crbpf_port_key *pk, __u32 ifindex,
				     __u8 family, __u8 proto, __be16 port)
{
	__builtin_memset(pk, 0, sizeof(*pk));
	pk->ifindex = ifindex;
	pk->family = family;
	pk->proto = proto;
	pk->port = port;
}

/* (address, port) when crbpf_local says entries keyed on the address
 * exist, then (any, port). Leaves pk as the key that hit. */
static __always_inline struct crbpf_backend *
ports_lookup(struct crbpf_port_key *pk, const __be32 *daddr, __u32 lflags)
{
	struct crbpf_backend *val;

	if (lflags & CRBPF_LOCAL_ADDR) {
		__builtin_memcpy(pk->addr, daddr, sizeof(pk->addr));
		val = bpf_map_lookup_elem(&crbpf_ports, pk);
		if (val)
			return val;
		__builtin_memset(pk->addr, 0, sizeof(pk->addr));
	}
	return bpf_map_lookup_elem(&crbpf_ports, pk);
}

/*
 * Forward direction lookup: addressed to an attached public address, on a
 * mapped port of the device it arrived on. The local check comes first
 * (only the VPS's own addresses are forwarded): crbpf_lcache answers for
 * the address the last packet went to, crbpf_local for any other. Its flags
 * tell which of the crbpf_ports lookups can hit, so a port mapping without
 * --addr costs one hash lookup while the address stays the same. An `all`
 * entry leaves the port as it is.
 */
static __always_inline int lookup_mapping(__u8 family, __u8 proto,
					  const __be32 *daddr, __be16 dport,
					  __u32 ifindex,
					  struct crbpf_port_key *pk,
					  struct crbpf_backend *be)
{
	struct crbpf_addr_key ak;
	struct crbpf_backend *val;
	struct crbpf_local *loc;
	struct crbpf_lcache *lc;
	struct crbpf_nhcfg *cfg;
	__u32 lflags, gen;

	/* gen first: an entry filled from a crbpf_local older than the
	 * tool's last bump carries the older gen */
	cfg = bpf_map_lookup_elem(&crbpf_nhcfg, &key_zero);
	gen = cfg ? *(volatile __u32 *)&cfg->gen : 0;
	lc = bpf_map_lookup_elem(&crbpf_lcache,
				 family == CRBPF_V6 ? &key_one : &key_zero);
	if (lc && lc->filled && lc->gen == gen && lc->addr[0] == daddr[0] &&
	    lc->addr[1] == daddr[1] && lc->addr[2] == daddr[2] &&
	    lc->addr[3] == daddr[3]) {
		lflags = lc->flags;
	} else {
		__builtin_memset(&ak, 0, sizeof(ak));
		ak.family = family;
		__builtin_memcpy(ak.addr, daddr, sizeof(ak.addr));
		loc = bpf_map_lookup_elem(&crbpf_local, &ak);
		if (!loc)
			return CRBPF_ST_PASS_NOT_LOCAL;
		lflags = loc->flags;
		if (lc) {
			__builtin_memcpy(lc->addr, daddr, sizeof(lc->addr));
			lc->flags = lflags;
			lc->gen = gen;
			lc->filled = 1;
		}
	}

	port_key(pk, ifindex, family, proto, dport);
	val = ports_lookup(pk, daddr, lflags);
	if (!val && (lflags & CRBPF_LOCAL_ALL)) {
		pk->port = CRBPF_PORT_ALL;
		val = ports_lookup(pk, daddr, lflags);
	}
	if (!val)
		return CRBPF_ST_PASS_NO_MAPPING;
	/* A copy: the tool may replace the entry meanwhile. */
	*be = *val;
	if (be->flags & CRBPF_BE_ALL)
		be->port = dport;
	return PKT_OK;
}

/* The kind of entry lookup_mapping() hit, as flows record it. */
static __always_inline __u8 match_of(const struct crbpf_port_key *pk,
				     const struct crbpf_backend *be)
{
	__u8 m = 0;

	if (pk->addr[0] | pk->addr[1] | pk->addr[2] | pk->addr[3])
		m |= CRBPF_MATCH_ADDR;
	if (be->flags & CRBPF_BE_ALL)
		m |= CRBPF_MATCH_ALL;
	return m;
}

/*
 * What an `all` entry never takes: ports listed in --except, and anything a
 * local socket owns. The socket lookup finds listeners (TCP listen, bound
 * UDP such as the WireGuard listener or a DNS server), and the VPS's own
 * connections by their full 4-tuple (the replies of package downloads, DNS
 * and NTP queries): no port range is guessed. For TCP the skc variant also
 * finds request and time-wait sockets. 5.15 has both helpers for tc.
 */
static __always_inline int all_check(struct __sk_buff *skb, const struct pkt *p,
				     const struct crbpf_port_key *pk)
{
	struct crbpf_port_key ek = *pk;
	struct bpf_sock_tuple t;
	struct bpf_sock *sk;
	__u32 tlen;

	ek.port = p->dport;
	if (bpf_map_lookup_elem(&crbpf_except, &ek))
		return CRBPF_ST_PASS_EXCEPT;

	__builtin_memset(&t, 0, sizeof(t));
	if (p->family == CRBPF_V4) {
		t.ipv4.saddr = p->saddr[0];
		t.ipv4.daddr = p->daddr[0];
		t.ipv4.sport = p->sport;
		t.ipv4.dport = p->dport;
		tlen = sizeof(t.ipv4);
	} else {
		__builtin_memcpy(t.ipv6.saddr, p->saddr, sizeof(t.ipv6.saddr));
		__builtin_memcpy(t.ipv6.daddr, p->daddr, sizeof(t.ipv6.daddr));
		t.ipv6.sport = p->sport;
		t.ipv6.dport = p->dport;
		tlen = sizeof(t.ipv6);
	}
	if (p->proto == IPPROTO_TCP)
		sk = bpf_skc_lookup_tcp(skb, &t, tlen, BPF_F_CURRENT_NETNS, 0);
	else
		sk = bpf_sk_lookup_udp(skb, &t, tlen, BPF_F_CURRENT_NETNS, 0);
	if (sk) {
		bpf_sk_release(sk);
		return CRBPF_ST_PASS_LOCAL_SOCK;
	}
	return PKT_OK;
}

#endif /* CRBPF_MATCH_H */
