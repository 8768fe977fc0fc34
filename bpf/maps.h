/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/* Maps of the edge and home programs. All are pinned by name under
 * $CRBPF_PIN_ROOT/maps, so every program instance and the tool share them. */
#ifndef CRBPF_MAPS_H
#define CRBPF_MAPS_H

#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>
#include "crbpf.h"

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, CRBPF_ST__MAX);
	__type(key, __u32);
	__type(value, __u64);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} crbpf_stats SEC(".maps");

/* The key of every one-entry map (per-CPU scratch, the tool's switches):
 * read-only data rather than a stack slot, which 6.1's 512-byte limit on
 * crbpf_edge_tc's frame plus the MSS subprogram's cannot spare. */
static const __u32 key_zero = 0;
static const __u32 key_one = 1;

static __always_inline void count(enum crbpf_stat reason)
{
	__u32 key = reason;
	__u64 *v = bpf_map_lookup_elem(&crbpf_stats, &key);

	if (v)
		*v += 1;
}

#endif /* CRBPF_MAPS_H */
