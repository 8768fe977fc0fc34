/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * Incremental Internet checksum updates (RFC 1624, eqn. 3:
 * HC' = ~(~HC + ~m + m')) for XDP, where there is no skb and no csum helper.
 *
 * A change is collected as a diff: the one's complement sum of ~old and new
 * for every word replaced. 32-bit words may be summed directly because
 * 2^16 == 1 modulo 0xffff. Values are taken as they lie in the packet, so
 * byte order does not matter as long as it is never converted.
 *
 * tc programs must not use this: an skb may be CHECKSUM_PARTIAL, whose
 * checksum field holds only the pseudo-header sum; bpf_l3/l4_csum_replace()
 * know how to update that, these functions do not.
 */
#ifndef CRBPF_CSUM_H
#define CRBPF_CSUM_H

#include <linux/types.h>

static __always_inline __u16 csum_fold64(__u64 sum)
{
	sum = (sum & 0xffffffff) + (sum >> 32);
	sum = (sum & 0xffffffff) + (sum >> 32);
	sum = (sum & 0xffff) + (sum >> 16);
	sum = (sum & 0xffff) + (sum >> 16);
	return sum;
}

static __always_inline __u64 csum_diff32(__u64 diff, __be32 from, __be32 to)
{
	return diff + (__u32)~from + (__u32)to;
}

static __always_inline __u64 csum_diff16(__u64 diff, __be16 from, __be16 to)
{
	return diff + (__u16)~from + (__u16)to;
}

static __always_inline __u64 csum_diff128(__u64 diff, const __be32 *from,
					  const __be32 *to)
{
	diff = csum_diff32(diff, from[0], to[0]);
	diff = csum_diff32(diff, from[1], to[1]);
	diff = csum_diff32(diff, from[2], to[2]);
	return csum_diff32(diff, from[3], to[3]);
}

static __always_inline void csum_apply(__sum16 *csum, __u64 diff)
{
	*csum = ~csum_fold64((__u16)~*csum + diff);
}

/* UDP: a zero checksum means "none" (IPv4) and a computed zero is sent as
 * 0xffff (RFC 768). */
static __always_inline void csum_apply_udp(__sum16 *csum, __u64 diff)
{
	if (!*csum)
		return;
	csum_apply(csum, diff);
	if (!*csum)
		*csum = 0xffff;
}

#endif /* CRBPF_CSUM_H */
