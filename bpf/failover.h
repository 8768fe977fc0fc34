/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * Failover mappings (include/crbpf.h, crbpf_fo): the crbpf_ports entry holds
 * the active backend; a flow stays on the backend it began on while its
 * flow entry lives (crbpf_fosticky). Only entries with CRBPF_BE_FAILOVER
 * come here. Per packet: one sticky lookup; a packet whose flow began on
 * another backend than the active one adds a flow lookup (two when its
 * flow has had no reply); a new flow adds one sticky update.
 */
#ifndef CRBPF_FAILOVER_H
#define CRBPF_FAILOVER_H

#include "edge_maps.h"
#include "flow.h"

struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, CRBPF_FO_STICKY);
	__type(key, struct crbpf_fo_key);
	__type(value, struct crbpf_backend);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} crbpf_fosticky SEC(".maps");

/* The tool's list (never read here; pinned with the others so that the
 * programs' object creates it). */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, CRBPF_MAX_MAPPINGS);
	__type(key, __u32);
	__type(value, struct crbpf_fo);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} crbpf_fo SEC(".maps");

/* Both keys off the stack: crbpf_edge_tc's frame plus the MSS
 * subprogram's is at 6.1's 512-byte limit already. */
struct fo_tmp {
	struct crbpf_fo_key k;
	__u32 pad;
	struct crbpf_flow_key fk;
};

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct fo_tmp);
} crbpf_fotmp SEC(".maps");

/*
 * The backend for this packet of failover mapping *be (ifindex: the public
 * device): the one its flow began on while that flow lives, else the
 * active one, which a new flow then sticks to. *be is replaced when the
 * flow stays elsewhere.
 */
static __always_inline void fo_pick(const struct pkt *p, __u32 ifindex,
				    struct crbpf_backend *be)
{
	struct crbpf_backend *s;
	struct crbpf_flow *f;
	struct fo_tmp *t;

	t = bpf_map_lookup_elem(&crbpf_fotmp, &key_zero);
	if (!t)
		return;
	__builtin_memset(&t->k, 0, sizeof(t->k));
	__builtin_memcpy(t->k.client, p->saddr, sizeof(t->k.client));
	__builtin_memcpy(t->k.public_addr, p->daddr, sizeof(t->k.public_addr));
	t->k.ifindex = ifindex;
	t->k.client_port = p->sport;
	t->k.public_port = p->dport;
	t->k.family = p->family;
	t->k.proto = p->proto;
	s = bpf_map_lookup_elem(&crbpf_fosticky, &t->k);
	if (s) {
		if (s->port == be->port && addr_eq(s->addr, be->addr))
			return;
		flow_key(&t->fk, p->family, p->proto, s->addr, s->port,
			 p->saddr, p->sport);
		f = bpf_map_lookup_elem(&crbpf_flows, &t->fk);
		if (!f)
			f = bpf_map_lookup_elem(&crbpf_unreplied, &t->fk);
		/* A flow that ended (FIN, RST and a new SYN) or expired
		 * begins again on the active backend. */
		if (f && flow_is(f, p->daddr, p->dport, ifindex) &&
		    flow_usable(f, p, flow_now())) {
			*be = *s;
			count(CRBPF_ST_FO_STICKY);
			return;
		}
	}
	bpf_map_update_elem(&crbpf_fosticky, &t->k, be, BPF_ANY);
}

/* crbpf_edge_xdp's call, a subprogram of its own: inlined, it grew that
 * frame from 432 to 456 bytes (6.1 allows 512 with the MSS subprogram's
 * 32); called, the frame is 400 and the chain 416 + 64. crbpf_edge_tc
 * inlines it: its frame stays 472, and 480 + 64 would be over. */
static __noinline void fo_pick_xdp(const struct pkt *p, __u32 ifindex,
				   struct crbpf_backend *be)
{
	fo_pick(p, ifindex, be);
}

#endif /* CRBPF_FAILOVER_H */
