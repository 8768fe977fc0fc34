// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * Line-rate UDP generator: run with BPF_PROG_TEST_RUN in live-frames mode
 * (BPF_F_TEST_XDP_LIVE_FRAMES) on a veth; XDP_TX hands every frame to the
 * veth peer. See gen.c for usage.
 *
 * Live frames are recycled without being reset: the forwarder downstream may
 * have rewritten addresses, ports, TTL and checksums of the very page we get
 * back. So every header byte the receiver relies on is written here on every
 * run. The payload is zero from data_in and nobody downstream touches it; its
 * checksum contribution is precomputed by gen.c.
 */
#include <linux/bpf.h>
#include <linux/if_ether.h>
#include <linux/ip.h>
#include <linux/ipv6.h>
#include <linux/udp.h>
#include <linux/in.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_endian.h>

/* Set by gen.c between open and load. Addresses and ports in network order;
 * an IPv4 address lives in word [3], the word that flows vary. */
const volatile __u8 dst_mac[ETH_ALEN];
const volatile __u8 src_mac[ETH_ALEN];
const volatile __u32 ipv6;
const volatile __u32 vary_dst; /* flows vary the destination, not the source */
const volatile __u32 ip_len; /* IPv4 tot_len or IPv6 payload_len, host order */
const volatile __u32 udp_len; /* host order */
const volatile __be32 dst_addr[4];
const volatile __be32 src_addr[4];
const volatile __be16 fixed_port; /* the port that does not vary */
const volatile __u16 port_base; /* first varied port, host order */
const volatile __u32 nports; /* varied ports per varied address */
const volatile __u32 nflows;
/* Unfolded one's-complement sums (native 16-bit words) of everything in the
 * IPv4 header / UDP pseudo header + header + payload except the varied
 * address word and the varied port. */
const volatile __u32 ip_csum_base;
const volatile __u32 udp_csum_base;
/* Pacing: picoseconds between frames, 0 = flat out. A run over many frames
 * cannot sleep, so frames ahead of schedule are dropped here (cheap: the
 * page is recycled at once) and only frames on schedule are sent. */
const volatile __u64 pace_ps;

struct gen_state {
	__u32 flow; /* 0 .. nflows-1 */
	__u32 port_idx; /* flow % nports, kept without a division */
	__u32 addr_idx; /* flow / nports */
	__u32 pad;
	__u64 sent; /* frames returned as XDP_TX */
	__u64 next_ps; /* pacing: when the next frame is due */
};

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct gen_state);
} gen_state SEC(".maps");

static __always_inline __u16 csum_fold(__u32 sum)
{
	sum = (sum & 0xffff) + (sum >> 16);
	sum = (sum & 0xffff) + (sum >> 16);
	return (__u16)~sum;
}

static __always_inline __u32 csum_add32(__u32 sum, __u32 word)
{
	return sum + (word & 0xffff) + (word >> 16);
}

SEC("xdp")
int crb_gen(struct xdp_md *ctx)
{
	void *data = (void *)(long)ctx->data;
	void *data_end = (void *)(long)ctx->data_end;
	struct ethhdr *eth = data;
	struct gen_state *st;
	struct udphdr *udp;
	__u32 zero = 0, sum;
	__be32 var_addr, saddr, daddr;
	__be16 var_port, sport, dport;

	st = bpf_map_lookup_elem(&gen_state, &zero);
	if (!st)
		return XDP_ABORTED;
	if (pace_ps) {
		__u64 now_ps = bpf_ktime_get_ns() * 1000;

		if (now_ps < st->next_ps)
			return XDP_DROP;
		/* Late by more than a batch or so (preempted, a slow flush):
		 * restart the schedule rather than burst into the veth ring. */
		if (now_ps - st->next_ps > 128 * pace_ps)
			st->next_ps = now_ps;
		st->next_ps += pace_ps;
	}

	var_addr = bpf_htonl(bpf_ntohl(vary_dst ? dst_addr[3] : src_addr[3]) +
			     st->addr_idx);
	var_port = bpf_htons(port_base + st->port_idx);
	saddr = vary_dst ? src_addr[3] : var_addr;
	daddr = vary_dst ? var_addr : dst_addr[3];
	sport = vary_dst ? fixed_port : var_port;
	dport = vary_dst ? var_port : fixed_port;

	st->flow++;
	st->port_idx++;
	if (st->port_idx >= nports) {
		st->port_idx = 0;
		st->addr_idx++;
	}
	if (st->flow >= nflows) {
		st->flow = 0;
		st->port_idx = 0;
		st->addr_idx = 0;
	}

	if ((void *)(eth + 1) > data_end)
		return XDP_ABORTED;
	/* Byte by byte: a memcpy from rodata cast non-volatile gets folded to
	 * the zeros the object file holds. */
#pragma unroll
	for (int i = 0; i < ETH_ALEN; i++) {
		eth->h_dest[i] = dst_mac[i];
		eth->h_source[i] = src_mac[i];
	}

	if (!ipv6) {
		struct iphdr *ip = (void *)(eth + 1);

		udp = (void *)(ip + 1);
		if ((void *)(udp + 1) > data_end)
			return XDP_ABORTED;
		eth->h_proto = bpf_htons(ETH_P_IP);
		ip->version = 4;
		ip->ihl = 5;
		ip->tos = 0;
		ip->tot_len = bpf_htons(ip_len);
		ip->id = 0;
		ip->frag_off = 0;
		ip->ttl = 64;
		ip->protocol = IPPROTO_UDP;
		ip->saddr = saddr;
		ip->daddr = daddr;
		ip->check = csum_fold(csum_add32(ip_csum_base, var_addr));
	} else {
		struct ipv6hdr *ip6 = (void *)(eth + 1);

		udp = (void *)(ip6 + 1);
		if ((void *)(udp + 1) > data_end)
			return XDP_ABORTED;
		eth->h_proto = bpf_htons(ETH_P_IPV6);
		*(__be32 *)ip6 = bpf_htonl(0x60000000);
		ip6->payload_len = bpf_htons(ip_len);
		ip6->nexthdr = IPPROTO_UDP;
		ip6->hop_limit = 64;
		ip6->saddr.in6_u.u6_addr32[0] = src_addr[0];
		ip6->saddr.in6_u.u6_addr32[1] = src_addr[1];
		ip6->saddr.in6_u.u6_addr32[2] = src_addr[2];
		ip6->saddr.in6_u.u6_addr32[3] = saddr;
		ip6->daddr.in6_u.u6_addr32[0] = dst_addr[0];
		ip6->daddr.in6_u.u6_addr32[1] = dst_addr[1];
		ip6->daddr.in6_u.u6_addr32[2] = dst_addr[2];
		ip6->daddr.in6_u.u6_addr32[3] = daddr;
	}

	udp->source = sport;
	udp->dest = dport;
	udp->len = bpf_htons(udp_len);
	sum = csum_add32(udp_csum_base, var_addr);
	sum += var_port;
	udp->check = csum_fold(sum) ?: 0xffff;
	st->sent++;
	return XDP_TX;
}

char LICENSE[] SEC("license") = "Dual BSD/GPL";
