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
 * tc programs use this only for skbs known not to be CHECKSUM_PARTIAL
 * (nat.h: tc_nat_direct()): a partial checksum field holds only the
 * pseudo-header sum; bpf_l3/l4_csum_replace() know how to update that, these
 * functions do not.
 */
#ifndef CRBPF_CSUM_H
#define CRBPF_CSUM_H

#include <stdbool.h>
#include <linux/types.h>
#include <bpf/bpf_endian.h>

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

/*
 * The checksum sums 16-bit words aligned to the start of the header it
 * covers. A 16-bit field at an odd offset (a TCP option after a NOP)
 * straddles two of them: its high byte is the low byte of one word, its low
 * byte the high byte of the next, so it adds to the sum as its byte-swapped
 * value (RFC 1071 2.(B), byte order independence). An update with the
 * swapped old and new values is the update of the two words that hold it.
 * bpf_l4_csum_replace() with size 2 is the same arithmetic, so tc uses this
 * too.
 */
static __always_inline __be16 csum_word16(__be16 v, bool odd)
{
	return odd ? __builtin_bswap16(v) : v;
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

/*
 * A packet from a local sender with tx checksum offload (veth, containers)
 * can reach XDP still CHECKSUM_PARTIAL: its L4 checksum field then holds
 * just the folded pseudo-header sum, and XDP cannot see the skb state that
 * says so. A complete checksum equals that value only by chance (1 in 65536),
 * so a match is taken as "partial": the caller leaves such packets to tc,
 * whose helpers update them correctly. A false match costs only speed.
 */
static __always_inline bool csum_looks_partial(const __be32 *saddr,
					       const __be32 *daddr, bool v6,
					       __u8 proto, __u16 l4_len,
					       __sum16 l4csum)
{
	__u64 sum = (__u64)saddr[0] + daddr[0];

	if (v6)
		sum += (__u64)saddr[1] + saddr[2] + saddr[3] + daddr[1] +
		       daddr[2] + daddr[3];
	sum += bpf_htons((__u16)proto) + bpf_htons(l4_len);
	return csum_fold64(sum) == l4csum;
}

#endif /* CRBPF_CSUM_H */
