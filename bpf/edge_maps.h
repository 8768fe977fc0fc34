/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
#ifndef CRBPF_EDGE_MAPS_H
#define CRBPF_EDGE_MAPS_H

#include "maps.h"

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__uint(max_entries, CRBPF_MAX_PORTS);
	__type(key, struct crbpf_port_key);
	__type(value, struct crbpf_backend);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} crbpf_ports SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, CRBPF_FLOWS_DEFAULT);
	__type(key, struct crbpf_flow_key);
	__type(value, struct crbpf_flow);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} crbpf_flows SEC(".maps");

/* Flows without a reply yet (include/crbpf.h); sized by the tool. */
struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, CRBPF_FLOWS_DEFAULT / 4);
	__type(key, struct crbpf_flow_key);
	__type(value, struct crbpf_flow);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} crbpf_unreplied SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__uint(max_entries, CRBPF_MAX_PORTS);
	__type(key, struct crbpf_rev_key);
	__type(value, struct crbpf_rev);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} crbpf_rev SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__uint(max_entries, CRBPF_MAX_LOCAL);
	__type(key, struct crbpf_addr_key);
	__type(value, struct crbpf_local);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} crbpf_local SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__uint(max_entries, CRBPF_MAX_PORTS);
	__type(key, struct crbpf_port_key);
	__type(value, __u8);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} crbpf_except SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, CRBPF_MAX_MAPPINGS);
	__type(key, __u32);
	__type(value, struct crbpf_mstats);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} crbpf_mstats SEC(".maps");

/* Flow timeouts (crbpf attach --timeout), read on every flow lookup. */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct crbpf_timeouts);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} crbpf_timeouts SEC(".maps");

/* ifindex -> ifindex of devices XDP may redirect to. */
struct {
	__uint(type, BPF_MAP_TYPE_DEVMAP_HASH);
	__uint(max_entries, CRBPF_MAX_TXPORTS);
	__type(key, __u32);
	__type(value, __u32);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} crbpf_txports SEC(".maps");

/* crbpf_edge_xdp's next-hop cache (crbpf.h) and the tool's switch for it. */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, CRBPF_NH_SLOTS);
	__type(key, __u32);
	__type(value, struct crbpf_nh);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} crbpf_nh SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct crbpf_nhcfg);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} crbpf_nhcfg SEC(".maps");

/* The last local address per family (crbpf.h): private to each loaded
 * object, so not pinned. */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 2);
	__type(key, __u32);
	__type(value, struct crbpf_lcache);
} crbpf_lcache SEC(".maps");

#endif /* CRBPF_EDGE_MAPS_H */
