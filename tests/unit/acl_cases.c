// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * Allow and deny lists (bpf/acl.h). acl_setup() adds, as `crbpf port add`
 * and `crbpf acl load` would, on pub0:
 *
 *   tcp 6100 (IPv4) -> BE3_4:100, id 100, CRBPF_BE_ACL:
 *       allow 198.51.100.0/24, deny 198.51.100.66/32
 *   tcp 6100 (IPv6) -> BE3_6:100, id 101, CRBPF_BE_ACL:
 *       allow 2001:db8:100::/48
 *   tcp 6101 (IPv4) -> BE3_4:101, id 102, no lists and no CRBPF_BE_ACL
 *       (what the tool writes when no list applies)
 *   tcp 6102 (IPv4) -> BE3_4:102, id 103, CRBPF_BE_ACL, no lists of its own
 *   global deny 192.0.2.99/32 and 2001:db8:bad::/48
 *
 * Every case checks the verdict, the global reason counter and, for drops,
 * the crbpf_aclstats slot of the list that decided.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <linux/bpf.h>
#include <linux/pkt_cls.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include "unit.h"

#define ID_V4 100
#define ID_V6 101
#define ID_NONE 102
#define ID_GLOBAL_ONLY 103
#define DENIED4 "198.51.100.66" /* in the allow /24 and the deny /32 */
#define OUTSIDE4 "203.0.113.77" /* in no list */
#define GDENY4 "192.0.2.99" /* in the global deny list */
#define OUTSIDE6 "2001:db8:999::1"
#define GDENY6 "2001:db8:bad::5"

static bool acl_ready;
static __u64 slot_before[CRBPF_ACL_SLOTS];

static int trie_new(void)
{
	LIBBPF_OPTS(bpf_map_create_opts, o, .map_flags = BPF_F_NO_PREALLOC);

	return bpf_map_create(BPF_MAP_TYPE_LPM_TRIE, "unit_acl",
			      sizeof(struct crbpf_acl_key), 1,
			      CRBPF_ACL_MAX_PREFIXES, &o);
}

static int trie_add(int fd, int family, const char *addr, __u32 len)
{
	struct crbpf_acl_key k;
	__be32 a[4] = {};
	__u8 one = 1;

	parse_addr(family, addr, a);
	crbpf_acl_key_of(&k, family == 6 ? CRBPF_V6 : CRBPF_V4, a, len);
	return bpf_map_update_elem(fd, &k, &one, BPF_ANY);
}

/* one list: family/addr/len triples until NULL */
static int list_put(__u32 slot, const char *const *pfx)
{
	int fd = trie_new(), err = fd < 0 ? fd : 0;

	for (; !err && *pfx; pfx += 3)
		err = trie_add(fd, atoi(pfx[0]), pfx[1], atoi(pfx[2]));
	if (!err)
		err = bpf_map_update_elem(edge_map_fd("crbpf_acl"), &slot, &fd,
					  BPF_ANY);
	if (fd >= 0)
		close(fd);
	return err;
}

static int port_put(int family, __u16 port, const char *be, __u16 bport,
		    __u32 id, bool acl)
{
	return unit_port_put(family, IPPROTO_TCP, port, be, bport, id,
			     acl ? CRBPF_BE_ACL : 0, DEV_TUN) ?:
	       mstats_zero(id);
}

static void acl_setup(void)
{
	static const char *const allow4[] = { "4", "198.51.100.0", "24", NULL };
	static const char *const deny4[] = { "4", "198.51.100.66", "32", NULL };
	static const char *const allow6[] = { "6", "2001:db8:100::", "48", NULL };
	static const char *const gdeny[] = { "4", GDENY4, "32",
					     "6", "2001:db8:bad::", "48", NULL };
	__u64 *v = calloc(libbpf_num_possible_cpus(), sizeof(__u64));
	__u32 s;
	int c;

	if (!acl_ready) {
		if (port_put(4, 6100, BE3_4, 100, ID_V4, true) ||
		    port_put(6, 6100, BE3_6, 100, ID_V6, true) ||
		    port_put(4, 6101, BE3_4, 101, ID_NONE, false) ||
		    port_put(4, 6102, BE3_4, 102, ID_GLOBAL_ONLY, true) ||
		    list_put(crbpf_acl_slot(ID_V4, CRBPF_ACL_ALLOW), allow4) ||
		    list_put(crbpf_acl_slot(ID_V4, CRBPF_ACL_DENY), deny4) ||
		    list_put(crbpf_acl_slot(ID_V6, CRBPF_ACL_ALLOW), allow6) ||
		    list_put(crbpf_acl_slot(0, CRBPF_ACL_DENY), gdeny))
			unit_fail("acl_setup: %s", strerror(errno));
		else
			acl_ready = true;
	}
	for (s = 0; v && s < CRBPF_ACL_SLOTS; s++) {
		slot_before[s] = 0;
		if (bpf_map_lookup_elem(edge_map_fd("crbpf_aclstats"), &s, v))
			continue;
		for (c = 0; c < libbpf_num_possible_cpus(); c++)
			slot_before[s] += v[c];
	}
	free(v);
}

/* The drops of the list in slot since acl_setup() ran for this case. */
static bool slot_delta(__u32 slot, __u64 want)
{
	int n = libbpf_num_possible_cpus(), c;
	__u64 *v = calloc(n, sizeof(__u64)), sum = 0;
	char what[64];

	if (!v || bpf_map_lookup_elem(edge_map_fd("crbpf_aclstats"), &slot, v)) {
		free(v);
		return ASSERT_TRUE(false, "crbpf_aclstats lookup");
	}
	for (c = 0; c < n; c++)
		sum += v[c];
	free(v);
	snprintf(what, sizeof(what), "crbpf_aclstats[%u] delta", slot);
	return ASSERT_EQ(sum - slot_before[slot], want, what);
}

/* no list counted anything */
static bool no_list_drop(void)
{
	return slot_delta(crbpf_acl_slot(0, CRBPF_ACL_DENY), 0) &
	       slot_delta(crbpf_acl_slot(ID_V4, CRBPF_ACL_ALLOW), 0) &
	       slot_delta(crbpf_acl_slot(ID_V4, CRBPF_ACL_DENY), 0) &
	       slot_delta(crbpf_acl_slot(ID_V6, CRBPF_ACL_ALLOW), 0);
}

static bool v4_allow_dropped(void)
{
	return slot_delta(crbpf_acl_slot(ID_V4, CRBPF_ACL_ALLOW), 1);
}

static bool v4_deny_dropped(void)
{
	return slot_delta(crbpf_acl_slot(ID_V4, CRBPF_ACL_DENY), 1) &
	       slot_delta(crbpf_acl_slot(ID_V4, CRBPF_ACL_ALLOW), 0);
}

static bool v6_allow_dropped(void)
{
	return slot_delta(crbpf_acl_slot(ID_V6, CRBPF_ACL_ALLOW), 1);
}

static bool global_deny_dropped(void)
{
	return slot_delta(crbpf_acl_slot(0, CRBPF_ACL_DENY), 1);
}

/* CLI4 denied too: a datagram whose first fragment passed before. */
static void acl_setup_deny_cli(void)
{
	static const char *const deny4[] = { "4", "198.51.100.66", "32",
					     "4", CLI4, "32", NULL };

	acl_setup();
	if (list_put(crbpf_acl_slot(ID_V4, CRBPF_ACL_DENY), deny4))
		unit_fail("acl_setup_deny_cli: %s", strerror(errno));
}

#define ACL .setup = acl_setup
#define DROP_TC(reason) .verdict = TC_ACT_SHOT, .st = { ST(reason, 1) }
#define DROP_XDP(reason) .verdict = XDP_DROP, .st = { ST(reason, 1) }
#define TC_FWD(a, p) .verdict = TC_ACT_REDIRECT, DNAT(a, p), .macs = M_KEEP, \
	.st = { ST(CRBPF_ST_FWD_TC, 1), ST(CRBPF_ST_DROP_ACL_DENY, 0), \
		ST(CRBPF_ST_DROP_ACL_ALLOW, 0) }
#define XDP_TO_TC .verdict = XDP_PASS, \
	.st = { ST(CRBPF_ST_PASS_TO_TC, 1), ST(CRBPF_ST_DROP_ACL_DENY, 0), \
		ST(CRBPF_ST_DROP_ACL_ALLOW, 0) }

const struct tcase acl_cases[] = {
	{ "acl_tc_allowed", P_EDGE_TC, { PUB, TCP4(CLI4, 41001, VPS4, 6100) },
	  TC_FWD(BE3_4, 100), ACL, .check = no_list_drop,
	  .note = "a source in the allow list is forwarded" },
	{ "acl_xdp_allowed", P_EDGE_XDP, { PUB, TCP4(CLI4, 41002, VPS4, 6100) },
	  XDP_TO_TC, ACL, .check = no_list_drop,
	  .note = "XDP lets an allowed source on (to tc: tunnel backend)" },
	{ "acl_tc_not_allowed", P_EDGE_TC, { PUB, TCP4(OUTSIDE4, 41003, VPS4, 6100) },
	  DROP_TC(CRBPF_ST_DROP_ACL_ALLOW), ACL, .check = v4_allow_dropped,
	  .note = "a non-empty allow list means only these" },
	{ "acl_xdp_not_allowed", P_EDGE_XDP, { PUB, TCP4(OUTSIDE4, 41004, VPS4, 6100) },
	  DROP_XDP(CRBPF_ST_DROP_ACL_ALLOW), ACL, .check = v4_allow_dropped,
	  .note = "dropped in XDP where XDP runs" },
	{ "acl_tc_deny_beats_allow", P_EDGE_TC, { PUB, TCP4(DENIED4, 41005, VPS4, 6100) },
	  DROP_TC(CRBPF_ST_DROP_ACL_DENY), ACL, .check = v4_deny_dropped,
	  .note = "in the allow /24 and the deny /32: deny wins, counted for the deny list" },
	{ "acl_xdp_deny_beats_allow", P_EDGE_XDP, { PUB, TCP4(DENIED4, 41006, VPS4, 6100) },
	  DROP_XDP(CRBPF_ST_DROP_ACL_DENY), ACL, .check = v4_deny_dropped },
	{ "acl_tc_v6_allowed", P_EDGE_TC, { PUB, TCP6(CLI6, 41007, VPS6, 6100) },
	  TC_FWD(BE3_6, 100), ACL, .check = no_list_drop },
	{ "acl_tc_v6_not_allowed", P_EDGE_TC, { PUB, TCP6(OUTSIDE6, 41008, VPS6, 6100) },
	  DROP_TC(CRBPF_ST_DROP_ACL_ALLOW), ACL, .check = v6_allow_dropped },
	{ "acl_xdp_v6_not_allowed", P_EDGE_XDP, { PUB, TCP6(OUTSIDE6, 41009, VPS6, 6100) },
	  DROP_XDP(CRBPF_ST_DROP_ACL_ALLOW), ACL, .check = v6_allow_dropped },
	{ "acl_xdp_v6_global_deny", P_EDGE_XDP, { PUB, TCP6(GDENY6, 41010, VPS6, 6100) },
	  DROP_XDP(CRBPF_ST_DROP_ACL_DENY), ACL, .check = global_deny_dropped,
	  .note = "the global deny list (IPv6 /48) applies to a mapping with lists" },
	{ "acl_tc_global_deny", P_EDGE_TC, { PUB, TCP4(GDENY4, 41011, VPS4, 6102) },
	  DROP_TC(CRBPF_ST_DROP_ACL_DENY), ACL, .check = global_deny_dropped,
	  .note = "a mapping with only global lists: the global deny list decides" },
	{ "acl_tc_global_only_allowed", P_EDGE_TC, { PUB, TCP4(OUTSIDE4, 41012, VPS4, 6102) },
	  TC_FWD(BE3_4, 102), ACL, .check = no_list_drop,
	  .note = "no allow list anywhere: any source not denied passes" },
	{ "acl_tc_mapping_without_lists", P_EDGE_TC, { PUB, TCP4(GDENY4, 41013, VPS4, 6101) },
	  TC_FWD(BE3_4, 101), ACL, .check = no_list_drop,
	  .note = "no CRBPF_BE_ACL: no list is read" },
	{ "acl_xdp_mapping_without_lists", P_EDGE_XDP, { PUB, TCP4(GDENY4, 41014, VPS4, 6101) },
	  XDP_TO_TC, ACL, .check = no_list_drop },
	{ "acl_tc_unmapped_untouched", P_EDGE_TC, { PUB, TCP4(GDENY4, 41015, VPS4, 22) },
	  .verdict = TC_ACT_UNSPEC,
	  .st = { ST(CRBPF_ST_PASS_NO_MAPPING, 1), ST(CRBPF_ST_DROP_ACL_DENY, 0) },
	  ACL, .check = no_list_drop,
	  .note = "the VPS's own SSH from a globally denied source passes" },
	{ "acl_xdp_unmapped_untouched", P_EDGE_XDP, { PUB, TCP4(GDENY4, 41016, VPS4, 22) },
	  .verdict = XDP_PASS,
	  .st = { ST(CRBPF_ST_PASS_NO_MAPPING, 1), ST(CRBPF_ST_DROP_ACL_DENY, 0) },
	  ACL, .check = no_list_drop },
	{ "acl_xdp_v6_unmapped_untouched", P_EDGE_XDP, { PUB, UDP6(GDENY6, 41017, VPS6, 51820) },
	  .verdict = XDP_PASS,
	  .st = { ST(CRBPF_ST_PASS_NO_MAPPING, 1), ST(CRBPF_ST_DROP_ACL_DENY, 0) },
	  ACL, .check = no_list_drop,
	  .note = "the WireGuard listener from a globally denied source passes" },
	/* last: CLI4 stays denied on tcp 6100 */
	{ "acl_tc_frag_first_allowed", P_EDGE_TC,
	  { PUB, TCP4(CLI4, 41018, VPS4, 6100), .frag = 0x2000, .frag_id = 0x6100 },
	  TC_FWD(BE3_4, 100), ACL, .check = no_list_drop },
	{ "acl_tc_frag_later_denied", P_EDGE_TC,
	  { PUB, .family = 4, .proto = IPPROTO_TCP, .src = CLI4, .dst = VPS4,
	    .frag = 0x00b9, .frag_id = 0x6100, .plen = 100 },
	  DROP_TC(CRBPF_ST_DROP_ACL_DENY), .setup = acl_setup_deny_cli,
	  .check = v4_deny_dropped,
	  .note = "a later fragment is checked against the lists of the mapping its first went through" },
};

const int n_acl_cases = sizeof(acl_cases) / sizeof(acl_cases[0]);
