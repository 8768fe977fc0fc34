/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * Path MTU through the tunnel, for the edge programs: MSS clamping of SYNs
 * and SYN-ACKs, and "fragmentation needed" / "packet too big" for clients
 * whose packets do not fit the tunnel (a redirect skips the stack's own MTU
 * check, so nobody else would tell them).
 *
 * The MTU comes from bpf_check_mtu() (5.12+, XDP and tc alike): it reads the
 * device's MTU at the moment the packet passes, so a changed tunnel MTU
 * applies at once and the tool stores nothing per backend.
 */
#ifndef CRBPF_MTU_H
#define CRBPF_MTU_H

#include <linux/bpf.h>
#include <linux/if_ether.h>
#include <linux/ip.h>
#include <linux/ipv6.h>
#include <linux/tcp.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_endian.h>
#include "maps.h"
#include "parsing.h"
#include "csum.h"

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__uint(max_entries, CRBPF_MAX_TXPORTS);
	__type(key, __u32);
	__type(value, struct crbpf_mss_cfg);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} crbpf_mss SEC(".maps");

#define CRBPF_TCPOPT_EOL 0
#define CRBPF_TCPOPT_NOP 1
#define CRBPF_TCPOPT_MSS 2
#define CRBPF_TCP_SYN 0x02 /* in the flags byte, offset 13 */
#define CRBPF_TCPOPT_MAX 40 /* option bytes a TCP header can carry (doff 15) */
/* Largest L4 offset parse_pkt() accepts: Ethernet, one tag, IPv4 with options. */
#define CRBPF_L4_OFF_MAX (ETH_HLEN + 4 + 60)
/* IP + TCP headers without options, subtracted from the MTU for the MSS. */
#define CRBPF_MSS_HDR4 40
#define CRBPF_MSS_HDR6 60
/* The whole error stays within 576 bytes (RFC 1812 4.3.2.3, as Linux does)
 * for IPv4, within the IPv6 minimum MTU for ICMPv6 (RFC 4443 2.4 (c)). */
#define CRBPF_ICMP4_MAX 576
#define CRBPF_ICMP6_MAX 1280
#define CRBPF_ICMP_FRAG_NEEDED 4 /* code of type 3 */
#define CRBPF_ICMPV6_PKT_TOOBIG 2
#define CRBPF_ICMP_TTL 64
#define CRBPF_IP_DF 0x4000
#define CRBPF_SUM_CHUNK 64 /* quote bytes summed per helper call */

/*
 * MSS a SYN crossing public device pub may announce; 0: leave it alone.
 * ifindex is the tunnel or next-hop device (0: the one the packet is on).
 */
static __always_inline __u16 mss_limit(void *ctx, __u32 pub, __u32 ifindex,
				       __u8 family)
{
	struct crbpf_mss_cfg *cfg = bpf_map_lookup_elem(&crbpf_mss, &pub);
	__u32 hdr = family == CRBPF_V4 ? CRBPF_MSS_HDR4 : CRBPF_MSS_HDR6;
	__u32 mtu = 0;

	if (cfg && cfg->mode == CRBPF_MSS_OFF)
		return 0;
	if (cfg && cfg->mode == CRBPF_MSS_FIXED)
		return cfg->mss;
	/* Only the MTU it reports back is used, not the verdict. */
	if (bpf_check_mtu(ctx, ifindex, &mtu, 0, 0) < 0 || mtu <= hdr)
		return 0;
	return mtu - hdr > 0xffff ? 0xffff : mtu - hdr;
}

/*
 * Offset of the 2-byte MSS value in the options of a TCP SYN whose header
 * starts at l4_off, 0 when there is none. Walks the option list as it is
 * (MSS need not come first), stopping at anything malformed.
 */
static __always_inline __u32 tcp_syn_mss_off(void *data, void *end,
					     __u64 l4_off)
{
	struct tcphdr *th;
	/* 64-bit: a 32-bit offset gets zero-extended into a copy, and the
	 * bound checked on the copy never reaches the register in use */
	__u64 off, stop, len;
	__u8 *opt;
	int i;

	/* checked on the register used below, not on a zero-extended copy */
	asm volatile("" : "+r"(l4_off));
	if (l4_off > CRBPF_L4_OFF_MAX)
		return 0;
	th = data + l4_off;
	asm volatile("" : "+r"(th));
	if ((void *)(th + 1) > end || !th->syn)
		return 0;
	off = l4_off + sizeof(*th);
	stop = l4_off + th->doff * 4;
	/* A constant trip count for the verifier: every step consumes at
	 * least one option byte, so 40 steps cover the longest list. */
	for (i = 0; i < CRBPF_TCPOPT_MAX; i++) {
		/* constant bound on off, which the verifier cannot take from
		 * the comparison with stop */
		if (off >= stop || off > CRBPF_L4_OFF_MAX + 60)
			return 0;
		opt = data + off;
		asm volatile("" : "+r"(opt));
		if ((void *)(opt + 2) > end)
			return 0;
		if (opt[0] == CRBPF_TCPOPT_EOL)
			return 0;
		if (opt[0] == CRBPF_TCPOPT_NOP) {
			off++;
			continue;
		}
		len = opt[1];
		if (len < 2 || off + len > stop)
			return 0;
		if (opt[0] == CRBPF_TCPOPT_MSS)
			return len == 4 && (void *)(opt + 4) <= end ? off + 2 : 0;
		off += len;
	}
	return 0;
}

/*
 * Global functions: the verifier checks them once, on their own, instead of
 * walking the option loop again for every path of the caller that reaches
 * it (which exceeds its budget).
 */
__attribute__((noinline)) int crbpf_tc_mss_off(struct __sk_buff *skb,
					       __u32 l4_off)
{
	return tcp_syn_mss_off((void *)(long)skb->data,
			       (void *)(long)skb->data_end, l4_off);
}

__attribute__((noinline)) int crbpf_xdp_mss_off(struct xdp_md *ctx,
						__u32 l4_off)
{
	return tcp_syn_mss_off((void *)(long)ctx->data,
			       (void *)(long)ctx->data_end, l4_off);
}

/* tc: lowers the MSS of a SYN crossing public device pub and tunnel or
 * next-hop device ifindex (0: the device it came from). Packet pointers die
 * here. */
static __always_inline int tc_clamp_mss(struct __sk_buff *skb,
					const struct pkt *p, __u32 pub,
					__u32 ifindex)
{
	__u32 want = p->l4_off + sizeof(struct tcphdr) + CRBPF_TCPOPT_MAX;
	__be16 old, new;
	__u16 limit;
	__u32 off;
	bool odd;

	/* the parser read the flags: only a SYN costs a helper */
	if (p->proto != IPPROTO_TCP || !(p->tcp_flags & CRBPF_TCP_SYN))
		return 0;
	/* options may lie beyond what parse_skb() pulled */
	if (want > skb->len)
		want = skb->len;
	if (bpf_skb_pull_data(skb, want))
		return 0;
	off = crbpf_tc_mss_off(skb, p->l4_off);
	if (!off || bpf_skb_load_bytes(skb, off, &old, sizeof(old)))
		return 0;
	limit = mss_limit(skb, pub, ifindex, p->family);
	if (!limit || bpf_ntohs(old) <= limit)
		return 0;
	new = bpf_htons(limit);
	odd = (off - p->l4_off) & 1;
	if (bpf_l4_csum_replace(skb, pkt_l4csum_off(p), csum_word16(old, odd),
				csum_word16(new, odd), sizeof(new)) ||
	    bpf_skb_store_bytes(skb, off, &new, sizeof(new), 0))
		return -1;
	count(CRBPF_ST_MSS_CLAMPED);
	return 0;
}

/* XDP: the same with an RFC 1624 update (partial checksums went to tc). */
static __always_inline void xdp_clamp_mss(struct xdp_md *ctx,
					  const struct pkt *p, __u32 pub,
					  __u32 ifindex)
{
	void *data, *data_end;
	__u64 off, csum_off = pkt_l4csum_off(p);
	__be16 *mss, new;
	__sum16 *csum;
	__u16 limit;
	bool odd;

	if (p->proto != IPPROTO_TCP)
		return;
	off = (__u32)crbpf_xdp_mss_off(ctx, p->l4_off);
	if (!off)
		return;
	odd = (off - p->l4_off) & 1;
	limit = mss_limit(ctx, pub, ifindex, p->family);
	if (!limit)
		return;
	/* The bounds must be checked on the registers used right after: 6.1
	 * loses them when off is kept across mss_limit() in a stack slot
	 * written before the check ("R1 offset is outside of the packet"). */
	asm volatile("" : "+r"(off));
	asm volatile("" : "+r"(csum_off));
	if (off > CRBPF_L4_OFF_MAX + 60 || csum_off > CRBPF_L4_OFF_MAX + 20)
		return;
	data = (void *)(long)ctx->data;
	data_end = (void *)(long)ctx->data_end;
	mss = data + off;
	csum = data + csum_off;
	/* opaque, so each keeps the range its own check gives it */
	asm volatile("" : "+r"(mss));
	asm volatile("" : "+r"(csum));
	if ((void *)(mss + 1) > data_end || (void *)(csum + 1) > data_end ||
	    bpf_ntohs(*mss) <= limit)
		return;
	new = bpf_htons(limit);
	csum_apply(csum, csum_diff16(0, csum_word16(*mss, odd),
				     csum_word16(new, odd)));
	*mss = new;
	count(CRBPF_ST_MSS_CLAMPED);
}

/*
 * What the device toward the backend can take: 0 when the packet fits,
 * else that device's MTU. A GSO skb is judged by its segments.
 */
static __always_inline __u32 tc_too_big(struct __sk_buff *skb,
					const struct pkt *p, __u32 ifindex)
{
	__u32 mtu = 0;
	long rc;

	if (skb->gso_size) {
		rc = bpf_check_mtu(skb, ifindex, &mtu, 0, BPF_MTU_CHK_SEGS);
	} else {
		/* the IP length, as the device's MTU counts it (skb->len has
		 * the Ethernet header a layer 3 device will not carry) */
		mtu = p->ip_len ? p->ip_len : skb->len - p->l3_off;
		rc = bpf_check_mtu(skb, ifindex, &mtu, 0, 0);
	}
	return rc == BPF_MTU_CHK_RET_SUCCESS || rc < 0 ? 0 : mtu;
}

/* What becomes of a packet too big for the device toward its backend. */
enum oversize {
	OVERSIZE_NONE, /* it fits */
	OVERSIZE_ICMP, /* DF or IPv6: the client gets the error instead */
	/* IPv4 without DF into a layer 3 tunnel: sent whole; the tunnel's
	 * outer packets are fragmented (wireguard-go and the kernel's wg both
	 * encrypt oversize inner packets, the UDP socket fragments) */
	OVERSIZE_WHOLE,
	/* IPv4 without DF to an Ethernet next hop, which would drop a frame
	 * above its MTU: translated, then left to the stack's forwarding,
	 * which fragments (needs forwarding on, as any router does) */
	OVERSIZE_STACK,
};

static __always_inline enum oversize tc_oversize(struct __sk_buff *skb,
						 const struct pkt *p, bool l2)
{
	__be16 frag_off;

	if (p->family == CRBPF_V6)
		return OVERSIZE_ICMP;
	if (bpf_skb_load_bytes(skb, p->l3_off + offsetof(struct iphdr, frag_off),
			       &frag_off, sizeof(frag_off)) ||
	    frag_off & bpf_htons(CRBPF_IP_DF))
		return OVERSIZE_ICMP;
	return l2 ? OVERSIZE_STACK : OVERSIZE_WHOLE;
}

struct too_big4 {
	struct ethhdr eth;
	struct iphdr ip;
	__u8 type;
	__u8 code;
	__sum16 csum;
	__be16 unused;
	__be16 mtu;
} __attribute__((packed));

struct too_big6 {
	struct ethhdr eth;
	struct ipv6hdr ip;
	__u8 type;
	__u8 code;
	__sum16 csum;
	__be32 mtu;
} __attribute__((packed));

/* Ones' complement sum of len bytes of the skb from off, len <= 1280. */
static __always_inline __u64 skb_sum(struct __sk_buff *skb, __u32 off,
				     __u32 len)
{
	__u8 buf[CRBPF_SUM_CHUNK];
	__u32 done = 0, rest;
	__s64 sum = 0;
	int i;

	/* constant trip count: 1280 / 64 chunks at most */
	for (i = 0; i < CRBPF_ICMP6_MAX / CRBPF_SUM_CHUNK; i++) {
		if (done + CRBPF_SUM_CHUNK > len)
			break;
		if (bpf_skb_load_bytes(skb, off + done, buf, sizeof(buf)))
			return 0;
		sum = bpf_csum_diff(NULL, 0, (__be32 *)buf, sizeof(buf), sum);
		if (sum < 0)
			return 0;
		done += CRBPF_SUM_CHUNK;
	}
	rest = len - done;
	if (rest >= CRBPF_SUM_CHUNK)
		return sum;
	if (!rest)
		return sum;
	/* clang would hand the helper an unbounded copy of rest: bound the
	 * register that is passed. rest is 1..63 here, and this form keeps it
	 * so while showing the verifier 1..64: 6.1 does not learn "non-zero"
	 * from the branch above and rejects a possibly zero-sized read. */
	asm volatile("" : "+r"(rest));
	rest = ((rest - 1) & (CRBPF_SUM_CHUNK - 1)) + 1;
	/* zero padding adds nothing; an odd last byte is a high byte */
	__builtin_memset(buf, 0, sizeof(buf));
	if (bpf_skb_load_bytes(skb, off + done, buf, rest))
		return 0;
	sum = bpf_csum_diff(NULL, 0, (__be32 *)buf, sizeof(buf), sum);
	return sum < 0 ? 0 : sum;
}

/*
 * Whether the skb is CHECKSUM_PARTIAL, which BPF cannot read: a checksum
 * update that covers no pseudo-header field leaves the checksum of a
 * partial skb alone (the device will compute it over the data) and changes
 * any other (inet_proto_csum_replace4()). The probe is undone by writing
 * the field back as it was, which for a CHECKSUM_COMPLETE skb also restores
 * what skb->csum covers (the probe did not touch skb->csum). Only for a
 * packet whose checksum already looks partial: a complete checksum equals
 * the pseudo-header sum once in 65536 packets.
 */
static __always_inline bool tc_csum_partial(struct __sk_buff *skb,
					    const struct pkt *p)
{
	__u32 off = pkt_l4csum_off(p);
	__sum16 now;

	if (bpf_l4_csum_replace(skb, off, 0, bpf_htons(1), sizeof(__u16)) ||
	    bpf_skb_load_bytes(skb, off, &now, sizeof(now)))
		return true; /* as before: the value decides */
	if (now == p->l4csum)
		return true;
	bpf_skb_store_bytes(skb, off, &p->l4csum, sizeof(p->l4csum), 0);
	return false;
}

/*
 * Turns a client's packet that is too big for the tunnel into the ICMP error
 * about it, in place, and sends it back out of the public device: source is
 * the public address the client used, the quote the packet as it arrived.
 * The caller has checked that p is TCP/UDP to a mapping, untagged or with
 * the tag in skb->vlan_tci (which the reply keeps).
 *
 * A CHECKSUM_PARTIAL packet (GRO, local senders) keeps that state through
 * the helpers, so whoever completes it (a NIC, skb_checksum_help()) will
 * write the quoted L4 checksum over the quoted segment; the region then sums
 * to ~P for the field value P it held. The ICMP checksum is computed for
 * that final state. A complete checksum that merely equals the
 * pseudo-header sum (csum_looks_partial()) must not be taken for partial:
 * a quote cut short of the datagram then sums to something else.
 */
static __always_inline int tc_send_too_big(struct __sk_buff *skb,
					   const struct pkt *p, __u32 mtu)
{
	bool v4 = p->family == CRBPF_V4;
	__u32 hlen = v4 ? sizeof(struct too_big4) : sizeof(struct too_big6);
	__u32 max = (v4 ? CRBPF_ICMP4_MAX : CRBPF_ICMP6_MAX) -
		    (hlen - ETH_HLEN);
	__u32 l3 = p->l3_off, l4 = p->l4_off, avail = skb->len - l3;
	__u32 quote = p->ip_len && p->ip_len < avail ? p->ip_len : avail;
	struct ethhdr eth;
	union {
		struct too_big4 v4;
		struct too_big6 v6;
	} h;
	__u64 sum;

	if (l3 != ETH_HLEN || l4 > CRBPF_L4_OFF_MAX || l4 < l3)
		return -1;
	if (quote > max)
		quote = max;
	if (quote < l4 - l3 + 8)
		return -1;
	if (bpf_skb_load_bytes(skb, 0, &eth, sizeof(eth)))
		return -1;

	/* the quote: IP header as is, then the transport part */
	sum = skb_sum(skb, l3, l4 - l3);
	if (csum_looks_partial(p->saddr, p->daddr, !v4, p->proto,
			       p->ip_len - (l4 - l3), p->l4csum) &&
	    tc_csum_partial(skb, p))
		sum += (__u16)~p->l4csum;
	else
		sum += skb_sum(skb, l4, quote - (l4 - l3));

	__builtin_memset(&h, 0, sizeof(h));
	if (v4) {
		__builtin_memcpy(h.v4.eth.h_dest, eth.h_source, ETH_ALEN);
		__builtin_memcpy(h.v4.eth.h_source, eth.h_dest, ETH_ALEN);
		h.v4.eth.h_proto = bpf_htons(ETH_P_IP);
		h.v4.ip.version = 4;
		h.v4.ip.ihl = 5;
		h.v4.ip.tos = 0xc0; /* internetwork control, as Linux sends errors */
		h.v4.ip.tot_len = bpf_htons(sizeof(h.v4) - ETH_HLEN + quote);
		h.v4.ip.ttl = CRBPF_ICMP_TTL;
		h.v4.ip.protocol = IPPROTO_ICMP;
		h.v4.ip.saddr = p->daddr[0];
		h.v4.ip.daddr = p->saddr[0];
		/* the header's words that are not zero */
		h.v4.ip.check = ~csum_fold64(bpf_htons(0x45c0) + h.v4.ip.tot_len +
					     bpf_htons(CRBPF_ICMP_TTL << 8 | IPPROTO_ICMP) +
					     (__u64)h.v4.ip.saddr + h.v4.ip.daddr);
		h.v4.type = 3;
		h.v4.code = CRBPF_ICMP_FRAG_NEEDED;
		h.v4.mtu = bpf_htons(mtu);
		sum += bpf_htons(3 << 8 | CRBPF_ICMP_FRAG_NEEDED) + h.v4.mtu;
		h.v4.csum = ~csum_fold64(sum);
	} else {
		__builtin_memcpy(h.v6.eth.h_dest, eth.h_source, ETH_ALEN);
		__builtin_memcpy(h.v6.eth.h_source, eth.h_dest, ETH_ALEN);
		h.v6.eth.h_proto = bpf_htons(ETH_P_IPV6);
		h.v6.ip.version = 6;
		h.v6.ip.payload_len = bpf_htons(8 + quote);
		h.v6.ip.nexthdr = IPPROTO_ICMPV6;
		h.v6.ip.hop_limit = CRBPF_ICMP_TTL;
		__builtin_memcpy(&h.v6.ip.saddr, p->daddr, 16);
		__builtin_memcpy(&h.v6.ip.daddr, p->saddr, 16);
		h.v6.type = CRBPF_ICMPV6_PKT_TOOBIG;
		h.v6.mtu = bpf_htonl(mtu);
		/* pseudo header: addresses, length, next header */
		sum += (__u64)p->saddr[0] + p->saddr[1] + p->saddr[2] +
		       p->saddr[3] + p->daddr[0] + p->daddr[1] + p->daddr[2] +
		       p->daddr[3];
		sum += (__u64)bpf_htonl(8 + quote) + bpf_htonl(IPPROTO_ICMPV6);
		sum += bpf_htons(CRBPF_ICMPV6_PKT_TOOBIG << 8) + (__u64)h.v6.mtu;
		h.v6.csum = ~csum_fold64(sum);
	}

	/* cut to the quote, then make room for the new headers in front:
	 * they cover the added bytes and the old Ethernet header */
	if (bpf_skb_change_tail(skb, l3 + quote, 0) ||
	    bpf_skb_change_head(skb, hlen - ETH_HLEN, 0) ||
	    bpf_skb_store_bytes(skb, 0, &h, hlen, 0))
		return -1;
	count(CRBPF_ST_ICMP_TOO_BIG);
	return 0;
}

#endif /* CRBPF_MTU_H */
