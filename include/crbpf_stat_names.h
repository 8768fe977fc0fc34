/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/* Names of the crbpf_stats counters, as `crbpf stats` prints them; user
 * space only (the tool and the unit tests). */
#ifndef CRBPF_STAT_NAMES_H
#define CRBPF_STAT_NAMES_H

#include "crbpf.h"

/* In enum crbpf_stat order. */
static const char *const crbpf_stat_names[] = {
	"pass_not_ip",
	"pass_malformed",
	"pass_not_local",
	"pass_proto",
	"pass_fragment",
	"pass_no_mapping",
	"pass_ttl",
	"pass_to_tc",
	"fwd_xdp",
	"fwd_tc",
	"rev_xdp",
	"rev_tc",
	"rev_neigh",
	"rev_static",
	"pass_rev_miss",
	"drop_no_route",
	"drop_error",
	"flow_new",
	"flow_full",
	"home_learn",
	"home_mark",
	"home_pass",
	"home_reroute",
	"flow_expired",
	"frag_first",
	"frag_follow",
	"frag_early",
	"frag_early_wrong",
	"drop_frag_ambiguous",
	"pass_except",
	"pass_local_sock",
	"mss_clamped",
	"icmp_too_big",
	"fwd_oversize",
	"pass_oversize",
	"pass_invalid",
	"drop_invalid",
	"flow_conflict",
	"drop_no_xlate",
	"fwd_handoff",
	"drop_handoff_forged",
	"handoff_meta",
	"drop_acl_deny",
	"drop_acl_allow",
	"drop_limit_pps",
	"drop_limit_flows",
	"fo_sticky",
};
_Static_assert(sizeof(crbpf_stat_names) / sizeof(crbpf_stat_names[0]) == CRBPF_ST__MAX,
	       "crbpf_stat_names must follow enum crbpf_stat");

#endif /* CRBPF_STAT_NAMES_H */
