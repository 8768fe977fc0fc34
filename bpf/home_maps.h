/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
#ifndef CRBPF_HOME_MAPS_H
#define CRBPF_HOME_MAPS_H

#include "maps.h"

/* Assured flows (include/crbpf.h). */
struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, CRBPF_MAX_HFLOWS);
	__type(key, struct crbpf_hflow_key);
	__type(value, struct crbpf_hflow);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} crbpf_hflows SEC(".maps");

/* Flows not assured yet: what a spoofer can fill evicts only these. */
struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, CRBPF_MAX_HFLOWS / 4);
	__type(key, struct crbpf_hflow_key);
	__type(value, struct crbpf_hflow);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} crbpf_hunreplied SEC(".maps");

#endif /* CRBPF_HOME_MAPS_H */
