// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * crbpf_edge_xdp's next-hop cache (include/crbpf.h crbpf_nh): an Ethernet
 * backend's FIB answer kept per CPU, used while crbpf_nhcfg has it on, the
 * generation matches and it is younger than 1 s. The cases plant entries
 * whose MTU (20) no real route has: a packet the cache serves then goes to
 * tc as too big, and one the FIB serves goes out. Every CPU's copy is
 * written, since BPF_PROG_TEST_RUN runs on whichever CPU the test is on.
 * The last case turns the cache off again for whatever runs after.
 */
#include <net/if.h>
#include <netinet/in.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>
#include <linux/bpf.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include "unit.h"

#define NH_TINY_MTU 20
#define NH_GEN 7

static __u64 coarse_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC_COARSE, &ts);
	return ts.tv_sec * 1000000000ULL + ts.tv_nsec;
}

static void nh_cfg(__u32 gen, __u32 on)
{
	struct crbpf_nhcfg cfg = { .gen = gen, .on = on };
	__u32 key = 0;

	if (bpf_map_update_elem(edge_map_fd("crbpf_nhcfg"), &key, &cfg, BPF_ANY))
		unit_fail("fixture: cannot write crbpf_nhcfg");
}

/* Every CPU's copy of slot: e; or read them into all (ncpu entries). */
static void nh_put(__u32 slot, const struct crbpf_nh *e)
{
	int i, n = libbpf_num_possible_cpus();
	struct crbpf_nh all[n];

	for (i = 0; i < n; i++)
		all[i] = *e;
	if (bpf_map_update_elem(edge_map_fd("crbpf_nh"), &slot, all, BPF_ANY))
		unit_fail("fixture: cannot write crbpf_nh");
}

/* A valid, fresh entry for backend be (family 4/6) behind nh0 whose MTU
 * sends every packet to tc. */
static struct crbpf_nh nh_tiny(int family, const char *be)
{
	struct crbpf_nh e = { .oif = topo.ifindex[DEV_NH],
			      .ifindex = topo.ifindex[DEV_NH],
			      .mtu = NH_TINY_MTU, .valid = 1, .gen = NH_GEN,
			      .family = family == 6 ? CRBPF_V6 : CRBPF_V4 };

	parse_addr(family, be, e.addr);
	memcpy(e.dmac, topo.peer_mac[DEV_NH], 6);
	memcpy(e.smac, topo.mac[DEV_NH], 6);
	e.checked_ns = coarse_ns();
	return e;
}

static __u32 be_slot(int family, const char *be)
{
	__be32 a[4] = {};

	parse_addr(family, be, a);
	return crbpf_nh_slot(a);
}

static void clear_slot(int family, const char *be)
{
	struct crbpf_nh zero = {};

	nh_put(be_slot(family, be), &zero);
}

static void fill_v4(void)
{
	clear_slot(4, BE2_4);
	nh_cfg(NH_GEN, 1);
}

static void fill_v6(void)
{
	clear_slot(6, BE2_6);
	nh_cfg(NH_GEN, 1);
}

static void planted(void)
{
	struct crbpf_nh e = nh_tiny(4, BE2_4);

	nh_cfg(NH_GEN, 1);
	nh_put(be_slot(4, BE2_4), &e);
}

static void planted_old_gen(void)
{
	planted();
	nh_cfg(NH_GEN + 1, 1);
}

static void planted_aged(void)
{
	struct crbpf_nh e = nh_tiny(4, BE2_4);

	e.checked_ns -= 2000000000ULL;
	nh_cfg(NH_GEN, 1);
	nh_put(be_slot(4, BE2_4), &e);
}

static void planted_off(void)
{
	planted();
	nh_cfg(NH_GEN, 0);
}

/* Another backend's entry in BE2_4's slot (a collision). */
static void planted_other(void)
{
	struct crbpf_nh e = nh_tiny(4, BENH2_4);

	nh_cfg(NH_GEN, 1);
	nh_put(be_slot(4, BE2_4), &e);
}

static void planted_unresolved(void)
{
	clear_slot(4, BENN_4);
	nh_cfg(NH_GEN, 1);
}

static int nh0_mtu(void)
{
	struct ifreq ifr = {};
	int s = socket(AF_INET, SOCK_DGRAM, 0), ret = -1;

	snprintf(ifr.ifr_name, sizeof(ifr.ifr_name), "%s", dev_name(DEV_NH));
	if (s >= 0 && !ioctl(s, SIOCGIFMTU, &ifr))
		ret = ifr.ifr_mtu;
	if (s >= 0)
		close(s);
	return ret;
}

/* The copy the run filled (the CPU it ran on): valid, for be, with what
 * the FIB says about nh0, and the only such copy. */
static bool filled(int family, const char *be, __u32 gen)
{
	int i, n = libbpf_num_possible_cpus(), hits = 0;
	__u32 slot = be_slot(family, be);
	struct crbpf_nh all[n];
	__be32 a[4] = {};
	bool ok = true;

	parse_addr(family, be, a);
	if (bpf_map_lookup_elem(edge_map_fd("crbpf_nh"), &slot, all))
		return ASSERT_TRUE(false, "crbpf_nh readable");
	for (i = 0; i < n; i++) {
		/* the other CPUs' planted copies are left as they were */
		if (!all[i].valid || memcmp(all[i].addr, a, sizeof(a)) ||
		    all[i].mtu == NH_TINY_MTU)
			continue;
		hits++;
		ok &= ASSERT_EQ(all[i].ifindex, (__u32)topo.ifindex[DEV_NH], "cached egress device (nh0)");
		ok &= ASSERT_EQ(all[i].oif, (__u32)topo.ifindex[DEV_NH], "cached route device");
		ok &= ASSERT_EQ((int)all[i].mtu, nh0_mtu(), "cached MTU (nh0's)");
		ok &= ASSERT_EQ(all[i].gen, gen, "cached generation");
		ok &= ASSERT_TRUE(!memcmp(all[i].dmac, topo.peer_mac[DEV_NH], 6), "cached destination MAC (the backend's)");
		ok &= ASSERT_TRUE(!memcmp(all[i].smac, topo.mac[DEV_NH], 6), "cached source MAC (nh0's)");
		ok &= ASSERT_EQ((int)all[i].family, family == 6 ? CRBPF_V6 : CRBPF_V4, "cached family");
	}
	return ok & ASSERT_EQ(hits, 1, "CPUs holding a valid entry for the backend");
}

static bool filled_v4(void)
{
	return filled(4, BE2_4, NH_GEN);
}

static bool filled_v6(void)
{
	return filled(6, BE2_6, NH_GEN);
}

static bool refilled_new_gen(void)
{
	return filled(4, BE2_4, NH_GEN + 1);
}

/* With the cache off the entry serves its packet only: never valid. */
static bool not_kept(void)
{
	int i, n = libbpf_num_possible_cpus(), valid = 0;
	__u32 slot = be_slot(4, BE2_4);
	struct crbpf_nh all[n];

	if (bpf_map_lookup_elem(edge_map_fd("crbpf_nh"), &slot, all))
		return ASSERT_TRUE(false, "crbpf_nh readable");
	for (i = 0; i < n; i++)
		valid += all[i].valid;
	nh_cfg(0, 0);
	return ASSERT_EQ(valid, n - 1, "valid copies (the run's CPU cleared its planted one)");
}

static bool unresolved_not_cached(void)
{
	int i, n = libbpf_num_possible_cpus(), valid = 0;
	__u32 slot = be_slot(4, BENN_4);
	struct crbpf_nh all[n];

	if (bpf_map_lookup_elem(edge_map_fd("crbpf_nh"), &slot, all))
		return ASSERT_TRUE(false, "crbpf_nh readable");
	for (i = 0; i < n; i++)
		valid += all[i].valid;
	return ASSERT_EQ(valid, 0, "valid entries for a backend without a neighbour");
}

const struct tcase nh_cases[] = {
	{ "nh_fill_v4", P_EDGE_XDP, { PUB, UDP4(CLI4, 43001, VPS4, 7000) },
	  XDP_REDIRECT, DNAT(BE2_4, 7000), M_FWD_L2, { ST(CRBPF_ST_FWD_XDP, 1) },
	  .setup = fill_v4, .check = filled_v4,
	  .note = "a miss looks the FIB up and keeps its answer, MTU included" },
	{ "nh_fill_v6", P_EDGE_XDP, { PUB, UDP6(CLI6, 43002, VPS6, 7000) },
	  XDP_REDIRECT, DNAT(BE2_6, 7000), M_FWD_L2, { ST(CRBPF_ST_FWD_XDP, 1) },
	  .setup = fill_v6, .check = filled_v6 },
	{ "nh_hit_uses_entry", P_EDGE_XDP, { PUB, UDP4(CLI4, 43003, VPS4, 7000) },
	  XDP_PASS, .macs = M_KEEP, { ST(CRBPF_ST_PASS_TO_TC, 1), ST(CRBPF_ST_FWD_XDP, 0) },
	  .setup = planted,
	  .note = "a good entry answers without the FIB: its MTU of 20 sends the packet to tc" },
	{ "nh_new_generation", P_EDGE_XDP, { PUB, UDP4(CLI4, 43004, VPS4, 7000) },
	  XDP_REDIRECT, DNAT(BE2_4, 7000), M_FWD_L2, { ST(CRBPF_ST_FWD_XDP, 1) },
	  .setup = planted_old_gen, .check = refilled_new_gen,
	  .note = "watch/attach bumped the generation: the entry is looked up again" },
	{ "nh_aged", P_EDGE_XDP, { PUB, UDP4(CLI4, 43005, VPS4, 7000) },
	  XDP_REDIRECT, DNAT(BE2_4, 7000), M_FWD_L2, { ST(CRBPF_ST_FWD_XDP, 1) },
	  .setup = planted_aged, .check = filled_v4,
	  .note = "an entry checked 2 s ago is looked up again" },
	{ "nh_other_backend", P_EDGE_XDP, { PUB, UDP4(CLI4, 43006, VPS4, 7000) },
	  XDP_REDIRECT, DNAT(BE2_4, 7000), M_FWD_L2, { ST(CRBPF_ST_FWD_XDP, 1) },
	  .setup = planted_other, .check = filled_v4,
	  .note = "another backend's entry in the same slot is not taken" },
	{ "nh_unresolved", P_EDGE_XDP, { PUB, TCP4(CLI4, 43007, VPS4, 3333), SYN },
	  XDP_PASS, .macs = M_KEEP, { ST(CRBPF_ST_PASS_TO_TC, 1) },
	  .setup = planted_unresolved, .check = unresolved_not_cached,
	  .note = "no neighbour: tc resolves it, nothing cached" },
	{ "nh_off", P_EDGE_XDP, { PUB, UDP4(CLI4, 43008, VPS4, 7000) },
	  XDP_REDIRECT, DNAT(BE2_4, 7000), M_FWD_L2, { ST(CRBPF_ST_FWD_XDP, 1) },
	  .setup = planted_off, .check = not_kept,
	  .note = "policy rules turned the cache off: every packet looks the FIB up" },
};

const int n_nh_cases = sizeof(nh_cases) / sizeof(nh_cases[0]);
