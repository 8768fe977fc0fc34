/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * Allow and deny lists of the forward path (include/crbpf.h, crbpf_acl).
 * Only a mapping's packets come here, and only when its backend entry
 * carries CRBPF_BE_ACL: a VPS's own traffic (SSH, the WireGuard listener)
 * is never checked, whatever a global list holds.
 */
#ifndef CRBPF_ACL_H
#define CRBPF_ACL_H

#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_endian.h>
#include "maps.h"
#include "parsing.h"

struct crbpf_acl_trie {
	__uint(type, BPF_MAP_TYPE_LPM_TRIE);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__uint(max_entries, CRBPF_ACL_MAX_PREFIXES);
	/* sizes, not types: libbpf 1.1 cannot size a type an inner map
	 * definition alone refers to */
	__uint(key_size, sizeof(struct crbpf_acl_key));
	__uint(value_size, sizeof(__u8));
};

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY_OF_MAPS);
	__uint(max_entries, CRBPF_ACL_SLOTS);
	__type(key, __u32);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
	__array(values, struct crbpf_acl_trie); /* last: a flexible array */
} crbpf_acl SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, CRBPF_ACL_SLOTS);
	__type(key, __u32);
	__type(value, __u64);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} crbpf_aclstats SEC(".maps");

/* The trie key and the slot keys, off the stack: crbpf_edge_tc's frame
 * plus the MSS subprogram's is at 6.1's 512-byte limit already. */
struct acl_tmp {
	struct crbpf_acl_key k;
	__u32 slot;
};

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct acl_tmp);
} crbpf_acltmp SEC(".maps");

/* Does the list in slot hold t->k? -1: there is no such list. */
static __always_inline int acl_has(struct acl_tmp *t, __u32 slot)
{
	void *trie;

	t->slot = slot;
	trie = bpf_map_lookup_elem(&crbpf_acl, &t->slot);
	if (!trie)
		return -1;
	return bpf_map_lookup_elem(trie, &t->k) ? 1 : 0;
}

static __always_inline int acl_drop(struct acl_tmp *t, enum crbpf_stat reason)
{
	__u64 *n = bpf_map_lookup_elem(&crbpf_aclstats, &t->slot);

	if (n)
		*n += 1;
	count(reason);
	return reason;
}

/*
 * 0 when the source may reach the mapping, else the reason it is dropped
 * (counted, globally and for the list that decided). Deny lists first (a
 * deny wins over any allow); then each allow list that exists must hold
 * the source. Inlined, every key in the per-CPU scratch: as a subprogram
 * it cost crbpf_edge_tc 8 more bytes of frame (spills around the call),
 * over 6.1's 512 with the MSS subprogram's 32.
 */
static __always_inline int acl_check(const struct pkt *p,
				const struct crbpf_backend *be)
{
	const __be32 *saddr = p->saddr;
	__u32 mapping = be->mapping;
	struct acl_tmp *t;
	__u32 *w;

	t = bpf_map_lookup_elem(&crbpf_acltmp, &key_zero);
	if (!t)
		return 0;
	t->k.prefixlen = 128;
	w = (__u32 *)t->k.addr;
	if (p->family == CRBPF_V6) {
		w[0] = saddr[0];
		w[1] = saddr[1];
		w[2] = saddr[2];
		w[3] = saddr[3];
	} else {
		w[0] = 0;
		w[1] = 0;
		w[2] = bpf_htonl(0xffff);
		w[3] = saddr[0];
	}
	if (acl_has(t, crbpf_acl_slot(0, CRBPF_ACL_DENY)) > 0 ||
	    acl_has(t, crbpf_acl_slot(mapping, CRBPF_ACL_DENY)) > 0)
		return acl_drop(t, CRBPF_ST_DROP_ACL_DENY);
	if (!acl_has(t, crbpf_acl_slot(0, CRBPF_ACL_ALLOW)) ||
	    !acl_has(t, crbpf_acl_slot(mapping, CRBPF_ACL_ALLOW)))
		return acl_drop(t, CRBPF_ST_DROP_ACL_ALLOW);
	return 0;
}

#endif /* CRBPF_ACL_H */
