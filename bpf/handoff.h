/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * The XDP -> tc hand-off for layer 3 (tunnel) backends. crbpf_edge_xdp
 * decides and rewrites the packet, then writes the verdict into the Ethernet
 * header and passes it; crbpf_edge_tc on the same device only redirects it.
 *
 *   h_dest   = 02:T0:T1:T2:T3:T4  locally administered unicast, T a secret
 *                                 the tool draws once (user/layout.c)
 *   h_source = target ifindex (4 bytes, host order), flags, 0
 *
 * Fail-safe: a marked frame that reaches the stack without crbpf's tc (its
 * link removed, another tc program ahead returning a verdict, an older
 * crbpf's tc) is PACKET_OTHERHOST, since h_dest is not the device's MAC, and
 * ip_rcv()/ipv6_rcv() drop it: it is never delivered rewritten. These bytes
 * never reach a wire: bpf_redirect() to a layer 3 device strips them.
 *
 * Where the kernel allows bpf_xdp_adjust_meta (the tool probes it and sets
 * handoff_meta), XDP also puts {magic, target} in front of the frame as
 * metadata, which no packet from the wire can carry; tc takes the target
 * from there and drops a marked frame whose metadata disagrees. A driver
 * that keeps no metadata leaves the marker alone to carry it.
 */
#ifndef CRBPF_HANDOFF_H
#define CRBPF_HANDOFF_H

#include <linux/bpf.h>
#include <linux/if_ether.h>
#include <bpf/bpf_helpers.h>

#define HANDOFF_L3 0x01 /* flags: the target is a layer 3 device */
#define HANDOFF_LAA 0x02 /* first byte of h_dest */
#ifndef PACKET_OTHERHOST
#define PACKET_OTHERHOST 3
#endif

struct handoff_mark {
	__u32 dst_lo; /* h_dest bytes 0-3, as in memory: 02 T0 T1 T2 */
	__u16 dst_hi; /* h_dest bytes 4-5: T3 T4 */
	__u32 ifindex;
	__u8 flags;
	__u8 zero;
} __attribute__((packed));

/* Set by the tool, per device: h_dest of the marker as two words in memory
 * order; 0 leaves the hand-off off (`--mode tc`, a bridge port, tests). */
const volatile __u32 handoff_dst_lo = 0;
const volatile __u16 handoff_dst_hi = 0;

/* Set by the tool where bpf_xdp_adjust_meta is allowed. The helper is
 * called only under it: the verifier skips what frozen rodata rules out, so
 * a kernel that refuses the helper still loads the program. */
const volatile bool handoff_meta = false;

#define HANDOFF_META_MAGIC 0x4d425243 /* "CRBM" */

struct handoff_meta {
	__u32 magic;
	__u32 ifindex;
};

static __always_inline bool handoff_on(void)
{
	return handoff_dst_lo != 0;
}

static __always_inline bool handoff_is_ours(const struct handoff_mark *m)
{
	return m->dst_lo == handoff_dst_lo && m->dst_hi == handoff_dst_hi;
}

/* Only a frame XDP passed unmarked can be written here: bounds checked. */
static __always_inline int handoff_write(void *data, void *data_end,
					 __u32 ifindex)
{
	struct handoff_mark *m = data;

	if ((void *)(m + 1) > data_end)
		return -1;
	m->dst_lo = handoff_dst_lo;
	m->dst_hi = handoff_dst_hi;
	m->ifindex = ifindex;
	m->flags = HANDOFF_L3;
	m->zero = 0;
	return 0;
}

/* After the marker: the metadata, when the kernel and driver allow it.
 * Invalidates packet pointers. */
static __always_inline void handoff_write_meta(struct xdp_md *ctx,
					       __u32 ifindex)
{
	struct handoff_meta *hm;

	if (!handoff_meta ||
	    bpf_xdp_adjust_meta(ctx, -(int)sizeof(struct handoff_meta)))
		return;
	hm = (void *)(long)ctx->data_meta;
	if ((void *)(hm + 1) > (void *)(long)ctx->data)
		return;
	hm->magic = HANDOFF_META_MAGIC;
	hm->ifindex = ifindex;
}

/* tc, for a frame with our marker: the metadata's target, 0 when there is
 * none (the marker's stands), -1 when it disagrees with the marker's. */
static __always_inline long handoff_read_meta(struct __sk_buff *skb,
					      __u32 mark_ifindex)
{
	struct handoff_meta *hm = (void *)(long)skb->data_meta;

	if (!handoff_meta || (void *)(hm + 1) > (void *)(long)skb->data ||
	    hm->magic != HANDOFF_META_MAGIC)
		return 0;
	return hm->ifindex == mark_ifindex ? hm->ifindex : -1;
}

#endif /* CRBPF_HANDOFF_H */
