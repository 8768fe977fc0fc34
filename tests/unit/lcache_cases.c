// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * crbpf_lcache: the last local address per family, kept per CPU, so a hit
 * skips the crbpf_local lookup. It answers while its generation is
 * crbpf_nhcfg's and the address is the packet's. The cases plant an entry
 * on every CPU and take the address out of crbpf_local: a packet the cache
 * serves is still forwarded, one crbpf_local serves is not. Each check puts
 * crbpf_local back and clears the cache for whatever runs after.
 */
#include <errno.h>
#include <netinet/in.h>
#include <string.h>
#include <linux/bpf.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include "unit.h"

#define LC_GEN 41

static struct crbpf_addr_key taken_key;
static struct crbpf_local taken_val;
static bool taken;

static void lc_cfg(__u32 gen)
{
	/* the next-hop cache off: these packets look the FIB up */
	struct crbpf_nhcfg cfg = { .gen = gen, .on = 0 };
	__u32 key = 0;

	if (bpf_map_update_elem(edge_map_fd("crbpf_nhcfg"), &key, &cfg, BPF_ANY))
		unit_fail("fixture: cannot write crbpf_nhcfg");
}

static void lc_put(int family, const struct crbpf_lcache *e)
{
	int i, n = libbpf_num_possible_cpus();
	__u32 slot = family == 6;
	struct crbpf_lcache all[n];

	for (i = 0; i < n; i++)
		all[i] = *e;
	if (bpf_map_update_elem(edge_map_fd("crbpf_lcache"), &slot, all, BPF_ANY))
		unit_fail("fixture: cannot write crbpf_lcache");
}

void lcache_clear(void)
{
	struct crbpf_lcache zero = {};

	if (edge_map_fd("crbpf_lcache") < 0)
		return;
	lc_put(4, &zero);
	lc_put(6, &zero);
}

/* addr out of crbpf_local (kept for lc_restore()); its flags, as a fill
 * would have copied them, into every CPU's cache entry at gen. */
static void lc_plant_and_take(int family, const char *addr, __u32 gen)
{
	struct crbpf_lcache e = { .filled = 1, .gen = gen };

	memset(&taken_key, 0, sizeof(taken_key));
	taken_key.family = family == 6 ? CRBPF_V6 : CRBPF_V4;
	parse_addr(family, addr, taken_key.addr);
	if (bpf_map_lookup_elem(edge_map_fd("crbpf_local"), &taken_key, &taken_val)) {
		unit_fail("fixture: %s not in crbpf_local", addr);
		return;
	}
	if (bpf_map_delete_elem(edge_map_fd("crbpf_local"), &taken_key))
		unit_fail("fixture: cannot delete %s from crbpf_local", addr);
	taken = true;
	memcpy(e.addr, taken_key.addr, sizeof(e.addr));
	e.flags = taken_val.flags;
	lc_put(family, &e);
}

static bool lc_restore(void)
{
	bool ok = true;

	if (taken)
		ok = ASSERT_OK(bpf_map_update_elem(edge_map_fd("crbpf_local"), &taken_key,
						   &taken_val, BPF_NOEXIST) ? -errno : 0,
			       "crbpf_local entry put back");
	taken = false;
	lcache_clear();
	return ok;
}

static void cached_v4(void)
{
	lc_cfg(LC_GEN);
	lc_plant_and_take(4, VPS4, LC_GEN);
}

static void cached_v6(void)
{
	lc_cfg(LC_GEN);
	lc_plant_and_take(6, VPS6, LC_GEN);
}

/* The tool changed crbpf_local and bumped the generation. */
static void cached_old_gen(void)
{
	lc_cfg(LC_GEN + 1);
	lc_plant_and_take(4, VPS4, LC_GEN);
}

/* An address the VPS does not have, after a packet to VPS4. */
#define NOT_LOCAL4 "203.0.113.99"

static void empty(void)
{
	lc_cfg(LC_GEN);
	lcache_clear();
}

/* The run's CPU filled its copy from crbpf_local: VPS4 at LC_GEN with the
 * flags crbpf_local holds; the other CPUs' copies stay empty. */
static bool filled_v4(void)
{
	int i, n = libbpf_num_possible_cpus(), hits = 0;
	struct crbpf_addr_key k = { .family = CRBPF_V4 };
	struct crbpf_lcache all[n];
	struct crbpf_local loc;
	__u32 slot = 0;
	bool ok = true;

	parse_addr(4, VPS4, k.addr);
	if (bpf_map_lookup_elem(edge_map_fd("crbpf_lcache"), &slot, all) ||
	    bpf_map_lookup_elem(edge_map_fd("crbpf_local"), &k, &loc))
		return ASSERT_TRUE(false, "crbpf_lcache and crbpf_local readable");
	for (i = 0; i < n; i++) {
		if (!all[i].filled)
			continue;
		hits++;
		ok &= ASSERT_TRUE(!memcmp(all[i].addr, k.addr, sizeof(k.addr)), "cached address (VPS4)");
		ok &= ASSERT_EQ(all[i].gen, LC_GEN, "cached generation");
		ok &= ASSERT_EQ(all[i].flags, loc.flags, "cached flags (crbpf_local's)");
	}
	ok &= ASSERT_EQ(hits, 1, "CPUs holding an entry");
	return lc_restore() && ok;
}

const struct tcase lcache_cases[] = {
	{ "lc_fill", P_EDGE_XDP, { PUB, UDP4(CLI4, 44001, VPS4, 7000) },
	  XDP_REDIRECT, DNAT(BE2_4, 7000), M_FWD_L2, { ST(CRBPF_ST_FWD_XDP, 1) },
	  .setup = empty, .check = filled_v4,
	  .note = "the first packet to an address asks crbpf_local and keeps its answer" },
	{ "lc_hit_v4", P_EDGE_XDP, { PUB, UDP4(CLI4, 44002, VPS4, 7000) },
	  XDP_REDIRECT, DNAT(BE2_4, 7000), M_FWD_L2, { ST(CRBPF_ST_FWD_XDP, 1) },
	  .setup = cached_v4, .check = lc_restore,
	  .note = "the cached answer serves: crbpf_local is not asked (its entry is gone)" },
	{ "lc_hit_v6", P_EDGE_XDP, { PUB, UDP6(CLI6, 44003, VPS6, 7000) },
	  XDP_REDIRECT, DNAT(BE2_6, 7000), M_FWD_L2, { ST(CRBPF_ST_FWD_XDP, 1) },
	  .setup = cached_v6, .check = lc_restore },
	{ "lc_new_generation", P_EDGE_XDP, { PUB, UDP4(CLI4, 44004, VPS4, 7000) },
	  XDP_PASS, .macs = M_KEEP, { ST(CRBPF_ST_PASS_NOT_LOCAL, 1), ST(CRBPF_ST_FWD_XDP, 0) },
	  .setup = cached_old_gen, .check = lc_restore,
	  .note = "the tool bumped the generation after removing the address: not local" },
	{ "lc_other_address", P_EDGE_XDP, { PUB, UDP4(CLI4, 44005, NOT_LOCAL4, 7000) },
	  XDP_PASS, .macs = M_KEEP, { ST(CRBPF_ST_PASS_NOT_LOCAL, 1), ST(CRBPF_ST_FWD_XDP, 0) },
	  .setup = cached_v4, .check = lc_restore,
	  .note = "the entry for VPS4 says nothing of another address: crbpf_local does" },
};
const int n_lcache_cases = sizeof(lcache_cases) / sizeof(lcache_cases[0]);
