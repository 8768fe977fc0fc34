// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * Edge (VPS) datapath. Public side: packets to a mapped (device, family,
 * proto, port) get their destination rewritten to the backend and are handed
 * to the device that reaches it. Backend side: replies get their source
 * rewritten back to the public address and port and leave via the public NIC.
 * The entry points; each direction reads top to bottom in its own file:
 * edge_common.h (shared steps), forward.h, reverse.h.
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

#include "edge_common.h"
#include "limit.h"
#include "failover.h"
#include "forward.h"
#include "reverse.h"

SEC("tc")
int crbpf_edge_tc(struct __sk_buff *skb)
{
	return edge_tc(skb);
}

SEC("xdp")
int crbpf_edge_xdp(struct xdp_md *ctx)
{
	return edge_xdp(ctx);
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

char LICENSE[] SEC("license") = "Dual BSD/GPL";
