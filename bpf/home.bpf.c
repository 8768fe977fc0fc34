// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/* STUB: replaced by the real home datapath. */
#include <linux/bpf.h>
#include <linux/pkt_cls.h>
#include <bpf/bpf_helpers.h>
#include "home_maps.h"

const volatile __u32 home_mark = CRBPF_HOME_MARK_DEFAULT;

SEC("tc")
int crbpf_home_tun(struct __sk_buff *skb)
{
	return TC_ACT_OK;
}

SEC("tc")
int crbpf_home_srv(struct __sk_buff *skb)
{
	return TC_ACT_OK;
}

char LICENSE[] SEC("license") = "Dual BSD/GPL";
