// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * Counting sink: XDP program that counts UDP frames (IPv4 and IPv6) per CPU
 * and drops them. Everything else (ARP, ND, ...) passes, so neighbour
 * resolution towards the sink still works. crb_redirect is the benchmark's
 * floor for an XDP forwarder: no parsing, no rewrite, one devmap redirect to
 * the device user space put in slot 0. crb_pass and crb_tcredirect are the
 * floor of the skb path into a layer-3 device: an XDP program that passes
 * everything (as crbpf's XDP passes a tunnel packet to tc, and as on veth
 * any XDP program makes the receive copy short-headroom skbs), and a tc
 * program that redirects every packet to tc_to, untouched (the kernel strips
 * the MAC header for a TUN or wg device). See sink.c for usage.
 */
#include <linux/bpf.h>
#include <linux/if_ether.h>
#include <linux/ip.h>
#include <linux/ipv6.h>
#include <linux/in.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_endian.h>

struct sink_count {
	__u64 packets;
	__u64 bytes;
};

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct sink_count);
} sink_count SEC(".maps");

SEC("xdp")
int crb_sink(struct xdp_md *ctx)
{
	void *data = (void *)(long)ctx->data;
	void *data_end = (void *)(long)ctx->data_end;
	struct ethhdr *eth = data;
	struct sink_count *c;
	__u32 zero = 0;
	__u8 proto;

	if ((void *)(eth + 1) > data_end)
		return XDP_PASS;
	if (eth->h_proto == bpf_htons(ETH_P_IP)) {
		struct iphdr *ip = (void *)(eth + 1);

		if ((void *)(ip + 1) > data_end)
			return XDP_PASS;
		proto = ip->protocol;
	} else if (eth->h_proto == bpf_htons(ETH_P_IPV6)) {
		struct ipv6hdr *ip6 = (void *)(eth + 1);

		if ((void *)(ip6 + 1) > data_end)
			return XDP_PASS;
		proto = ip6->nexthdr;
	} else {
		return XDP_PASS;
	}
	if (proto != IPPROTO_UDP)
		return XDP_PASS;

	c = bpf_map_lookup_elem(&sink_count, &zero);
	if (c) {
		c->packets++;
		c->bytes += data_end - data;
	}
	return XDP_DROP;
}

struct {
	__uint(type, BPF_MAP_TYPE_DEVMAP);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, __u32);
} sink_tx SEC(".maps");

SEC("xdp")
int crb_redirect(struct xdp_md *ctx)
{
	return bpf_redirect_map(&sink_tx, 0, XDP_PASS);
}

SEC("xdp")
int crb_pass(struct xdp_md *ctx)
{
	return XDP_PASS;
}

__u32 tc_to; /* ifindex, set by user space */

SEC("tc")
int crb_tcredirect(struct __sk_buff *skb)
{
	return bpf_redirect(tc_to, 0);
}

char LICENSE[] SEC("license") = "Dual BSD/GPL";
