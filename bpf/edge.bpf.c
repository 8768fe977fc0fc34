// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/* STUB: replaced by the real edge datapath. */
#include <linux/bpf.h>
#include <linux/pkt_cls.h>
#include <bpf/bpf_helpers.h>
#include "edge_maps.h"

SEC("xdp")
int crbpf_edge_xdp(struct xdp_md *ctx)
{
	return XDP_PASS;
}

SEC("tc")
int crbpf_edge_tc(struct __sk_buff *skb)
{
	return TC_ACT_OK;
}

SEC("tc")
int crbpf_tun_tc(struct __sk_buff *skb)
{
	return TC_ACT_OK;
}

SEC("tc")
int crbpf_rev_tc(struct __sk_buff *skb)
{
	return TC_ACT_OK;
}

SEC("xdp")
int crbpf_rev_xdp(struct xdp_md *ctx)
{
	return XDP_PASS;
}

char LICENSE[] SEC("license") = "Dual BSD/GPL";
