/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * What a flow's packets say about its state, apart from any table: the edge's
 * flows (flow.h) and the home's learned tuples (home.bpf.c) follow the same
 * rules, so that both end and time out alike (include/crbpf.h
 * crbpf_flow_timeout()).
 */
#ifndef CRBPF_FLOWSTATE_H
#define CRBPF_FLOWSTATE_H

#include "parsing.h"

#define CRBPF_NSEC_PER_SEC 1000000000ULL
/* Granularity of seen_ns, so timeouts hold to within a second. */
#define CRBPF_FLOW_SEEN_STEP CRBPF_NSEC_PER_SEC

/* TCP header byte 13. */
#define CRBPF_TCP_FIN 0x01
#define CRBPF_TCP_SYN 0x02
#define CRBPF_TCP_RST 0x04
#define CRBPF_TCP_ACK 0x10

/* The clock of created_ns and seen_ns: jiffy resolution is plenty for
 * timeouts in seconds, and it is cheaper than bpf_ktime_get_ns() (5.11+). */
static __always_inline __u64 flow_now(void)
{
	return bpf_ktime_get_coarse_ns();
}

/* Has a flow last seen at seen, with flags, been idle past its timeout? */
static __always_inline bool flow_idle_expired(const struct crbpf_timeouts *to,
					      __u64 seen, __u8 proto,
					      __u16 flags, __u64 now)
{
	return now > seen &&
	       now - seen > (__u64)crbpf_flow_timeout(to, proto == IPPROTO_TCP,
						      flags) *
				    CRBPF_NSEC_PER_SEC;
}

/* What this packet adds to a flow's flags. */
static __always_inline __u16 flow_pkt_flags(const struct pkt *p, bool reply)
{
	__u16 add = reply ? CRBPF_FLOW_REPLIED : 0;

	if (p->proto != IPPROTO_TCP)
		return add;
	if (p->tcp_flags & CRBPF_TCP_RST)
		add |= CRBPF_FLOW_RST;
	if (p->tcp_flags & CRBPF_TCP_FIN)
		add |= reply ? CRBPF_FLOW_FIN_OUT : CRBPF_FLOW_FIN_IN;
	return add;
}

/* A packet of a live flow adds to its flags and moves its last-seen time.
 * Flags are written only when they change, seen_ns at most once a second:
 * a busy flow's entry is not dirtied for them per packet. */
static __always_inline void flow_touch(__u8 *flags, __u64 *seen_ns, __u16 add,
				       __u64 now)
{
	if ((*flags | add) != *flags)
		*flags |= add;
	if (now - *seen_ns >= CRBPF_FLOW_SEEN_STEP)
		*seen_ns = now;
}

/* A client SYN on a flow that has ended (FIN, RST) opens a new connection
 * on the same ports: it starts a new entry instead of inheriting the end. */
static __always_inline bool flow_flags_reopened(__u16 flags,
						const struct pkt *p)
{
	return p->proto == IPPROTO_TCP &&
	       (p->tcp_flags & (CRBPF_TCP_SYN | CRBPF_TCP_ACK)) == CRBPF_TCP_SYN &&
	       (flags & (CRBPF_FLOW_FIN_IN | CRBPF_FLOW_FIN_OUT | CRBPF_FLOW_RST));
}

/*
 * Does this client packet make a flow with flags one that belongs among
 * the established ones? As conntrack's "assured": the other side has
 * replied and the client then sent again -- for TCP a packet with ACK and
 * without SYN, the end of the handshake. A reply alone does not do it: a
 * service answers every spoofed SYN or query too, and that flood must stay
 * among its own kind. (A blind spoofer that follows each SYN with an ACK
 * after the SYN-ACK would get through: telling that ACK apart needs the
 * sequence numbers, which crbpf does not track.)
 */
static __always_inline bool flow_flags_assured(__u16 flags,
					       const struct pkt *p)
{
	if (!(flags & CRBPF_FLOW_REPLIED))
		return false;
	return p->proto != IPPROTO_TCP ||
	       (p->tcp_flags & (CRBPF_TCP_SYN | CRBPF_TCP_ACK)) == CRBPF_TCP_ACK;
}

#endif /* CRBPF_FLOWSTATE_H */
