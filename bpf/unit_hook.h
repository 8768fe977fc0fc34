/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * Unit-test builds (-DCRBPF_UNIT, the objects in build/unit) record where each
 * redirect goes: BPF_PROG_TEST_RUN returns only the verdict, and the test
 * machines' kernel refuses kprobe and fentry programs that could watch the
 * helpers. Included after every other header, so the macros below replace
 * the helpers in the program's own code only. Production objects compile
 * none of it.
 */
#ifndef CRBPF_UNIT_HOOK_H
#define CRBPF_UNIT_HOOK_H
#ifdef CRBPF_UNIT

struct crbpf_unit_redirect crbpf_unit_redirect;

static __always_inline void unit_saw(__u32 kind, __u64 target)
{
	crbpf_unit_redirect.calls++;
	crbpf_unit_redirect.kind = kind;
	crbpf_unit_redirect.target = target;
}

#define bpf_redirect(ifindex, flags)                                           \
	({                                                                     \
		unit_saw(CRBPF_REDIR_TC, (ifindex));                           \
		(bpf_redirect)((ifindex), (flags));                            \
	})
#define bpf_redirect_neigh(ifindex, params, plen, flags)                       \
	({                                                                     \
		unit_saw(CRBPF_REDIR_NEIGH, (ifindex));                        \
		(bpf_redirect_neigh)((ifindex), (params), (plen), (flags));    \
	})
#define bpf_redirect_map(map, key, flags)                                      \
	({                                                                     \
		unit_saw(CRBPF_REDIR_MAP, (key));                              \
		(bpf_redirect_map)((map), (key), (flags));                     \
	})

/* which rewrite a tc program chose (tc_nat_direct() or the helpers) */
#define unit_nat(direct)                                                       \
	(crbpf_unit_redirect.nat = (direct) ? CRBPF_UNIT_NAT_DIRECT :          \
					      CRBPF_UNIT_NAT_HELPERS)

#else
#define unit_nat(direct) ((void)(direct))
#endif /* CRBPF_UNIT */
#endif /* CRBPF_UNIT_HOOK_H */
