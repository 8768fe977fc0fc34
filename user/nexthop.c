// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * The switch of crbpf_edge_xdp's next-hop cache (include/crbpf.h crbpf_nh,
 * crbpf_nhcfg). One cache entry per backend serves every client only while
 * the FIB's answer for a backend cannot depend on the client: while the
 * policy rules of both families are the kernel's own (local, main, default
 * tables, no selectors). Any other rule turns the cache off, and every
 * packet looks the FIB up as before. Each sync also bumps the generation,
 * which makes every entry stale: attach and crbpf watch sync on every route,
 * rule, address, link or neighbour change, and entries older than 1 s are
 * looked up again in any case.
 */
#include "tool.h"
#include <errno.h>
#include <stdlib.h>
#include <unistd.h>
#include <linux/fib_rules.h>
#include <linux/rtnetlink.h>
#include <sys/socket.h>
#include <bpf/bpf.h>

/* A rule the kernel installs by itself, in both families: priority 0 ->
 * local, 32766 -> main, 32767 -> default (IPv4 only). */
static bool rule_is_kernels(const struct nl_rule *r)
{
	if (r->action != FR_ACT_TO_TBL || r->src_len || r->has_fwmark ||
	    r->flags || r->selects)
		return false;
	return (r->priority == 0 && r->table == RT_TABLE_LOCAL) ||
	       (r->priority == 32766 && r->table == RT_TABLE_MAIN) ||
	       (r->priority == 32767 && r->table == RT_TABLE_DEFAULT);
}

/* 1: only the kernel's rules, 0: some other rule, -errno. */
int nh_rules_default(void)
{
	static const int afs[] = { AF_INET, AF_INET6 };
	int f, i, n, ret, deflt = 1;

	for (f = 0; f < 2 && deflt; f++) {
		struct nl_rule *r = NULL;

		ret = nl_rules(afs[f], &r, &n);
		if (ret)
			return ret;
		for (i = 0; i < n && deflt; i++)
			deflt = rule_is_kernels(&r[i]);
		free(r);
	}
	return deflt;
}

/* A new generation, and the switch as the rules stand now. */
int nh_sync(int cfg_fd)
{
	struct crbpf_nhcfg cfg = {};
	__u32 key = 0;
	int deflt = nh_rules_default();

	if (bpf_map_lookup_elem(cfg_fd, &key, &cfg))
		return -errno;
	cfg.gen++;
	/* rules unreadable: off, the safe side */
	cfg.on = deflt > 0;
	if (bpf_map_update_elem(cfg_fd, &key, &cfg, BPF_ANY))
		return -errno;
	return deflt < 0 ? deflt : 0;
}

/* A new generation, the switch as it is: after any change to crbpf_local,
 * so that the datapath's per-CPU copies of it (crbpf_lcache) are looked up
 * again. Nothing to do without an edge. */
void cache_gen_bump(void)
{
	int fd = pin_map_open_quiet("crbpf_nhcfg");
	struct crbpf_nhcfg cfg = {};
	__u32 key = 0;

	if (fd < 0)
		return;
	if (bpf_map_lookup_elem(fd, &key, &cfg) ||
	    (cfg.gen++, bpf_map_update_elem(fd, &key, &cfg, BPF_ANY)))
		warn("failed to renew the datapath's copy of the local addresses: %s",
		     strerror(errno));
	close(fd);
}

/* nh_sync() on the pinned switch; nothing to do without an edge. */
int nh_sync_pinned(void)
{
	int fd = pin_map_open_quiet("crbpf_nhcfg"), ret;

	if (fd < 0)
		return 0;
	ret = nh_sync(fd);
	close(fd);
	return ret;
}
