// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/* Per-source limits (bpf/limit.h): the --limit-* options of port add and
 * Forward lines, what they put in crbpf_limits, and how the tool shows
 * them (port list, stats, config). */
#include "tool.h"
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>

bool limit_is_option(const char *opt)
{
	return !strcmp(opt, "--limit-pps") || !strcmp(opt, "--limit-flows") ||
	       !strcmp(opt, "--limit-prefix");
}

static int lim_u32(const char *s, __u32 min, __u32 max, __u32 *out)
{
	unsigned long v;
	char *end;

	if (*s < '0' || *s > '9')
		return -1;
	errno = 0;
	v = strtoul(s, &end, 10);
	if (errno || *end || v < min || v > max)
		return -1;
	*out = v;
	return 0;
}

/* RATE[:BURST] or off (rate 0). */
static int parse_rate(const char *opt, const char *val, __u32 *rate,
		      __u32 *burst)
{
	char buf[32], *colon;

	if (!strcmp(val, "off")) {
		*rate = *burst = 0;
		return 0;
	}
	if (strlen(val) >= sizeof(buf))
		goto bad;
	snprintf(buf, sizeof(buf), "%s", val);
	colon = strchr(buf, ':');
	if (colon)
		*colon++ = 0;
	if (lim_u32(buf, 1, CRBPF_LIMIT_RATE_MAX, rate))
		goto bad;
	*burst = *rate;
	if (colon && lim_u32(colon, 1, CRBPF_LIMIT_BURST_MAX, burst))
		goto bad;
	return 0;
bad:
	return usage_err("invalid %s '%s' (expected RATE[:BURST], RATE 1-%u per second, BURST 1-%u, or off)",
			 opt, val, CRBPF_LIMIT_RATE_MAX, CRBPF_LIMIT_BURST_MAX);
}

/* --limit-pps RATE[:BURST], --limit-flows RATE[:BURST],
 * --limit-prefix V4LEN[,V6LEN] (val NULL: missing). */
int limit_args_option(struct limit_args *a, const char *opt, const char *val)
{
	char buf[16], *comma;
	__u32 v4, v6 = CRBPF_LIMIT_PREFIX6_DEFAULT;

	if (!val)
		return usage_err("%s needs %s", opt,
				 strcmp(opt, "--limit-prefix") ? "RATE[:BURST]" :
								 "V4LEN[,V6LEN]");
	a->given = true;
	if (!strcmp(opt, "--limit-pps"))
		return parse_rate(opt, val, &a->pps, &a->pps_burst);
	if (!strcmp(opt, "--limit-flows"))
		return parse_rate(opt, val, &a->flows, &a->flows_burst);
	if (strlen(val) >= sizeof(buf))
		goto bad;
	snprintf(buf, sizeof(buf), "%s", val);
	comma = strchr(buf, ',');
	if (comma)
		*comma++ = 0;
	if (lim_u32(buf, 0, 32, &v4) || (comma && lim_u32(comma, 0, 128, &v6)))
		goto bad;
	a->prefix_given = true;
	a->prefix4 = v4;
	a->prefix6 = v6;
	return 0;
bad:
	return usage_err("invalid --limit-prefix '%s' (expected V4LEN[,V6LEN], 0-32 and 0-128)",
			 val);
}

/* After all options: a prefix alone limits nothing. */
int limit_args_check(const struct limit_args *a)
{
	if (a->prefix_given && !a->pps && !a->flows)
		return usage_err("--limit-prefix needs --limit-pps or --limit-flows");
	return 0;
}

static __u64 tol_of(__u64 ns)
{
	return ns < CRBPF_LIMIT_TOL_MIN_NS ? CRBPF_LIMIT_TOL_MIN_NS : ns;
}

/* The crbpf_limits value of a (all zero: no limit). */
void limit_of_args(const struct limit_args *a, struct crbpf_limit *l)
{
	int p4 = a->prefix_given ? a->prefix4 : CRBPF_LIMIT_PREFIX4_DEFAULT;
	int p6 = a->prefix_given ? a->prefix6 : CRBPF_LIMIT_PREFIX6_DEFAULT;
	int i;

	memset(l, 0, sizeof(*l));
	if (!a->pps && !a->flows)
		return;
	if (a->pps) {
		l->pkt_rate = a->pps;
		l->pkt_burst = a->pps_burst;
		l->pkt_ns = 1000000000ULL / a->pps;
		l->pkt_tol = tol_of(l->pkt_ns * a->pps_burst);
	}
	if (a->flows) {
		l->flow_rate = a->flows;
		l->flow_burst = a->flows_burst;
		l->flow_ns = 1000000000ULL / a->flows;
		l->flow_tol = tol_of(l->flow_ns * a->flows_burst);
	}
	l->prefix4 = p4;
	l->prefix6 = p6;
	l->mask4 = p4 ? htonl(~0u << (32 - p4)) : 0;
	for (i = 0; i < 4; i++) {
		int bits = p6 - 32 * i;

		l->mask6[i] = bits <= 0 ? 0 :
			      bits >= 32 ? ~0u : htonl(~0u << (32 - bits));
	}
}

bool limit_on(const struct crbpf_limit *l)
{
	return l->pkt_ns || l->flow_ns;
}

/* Mapping id's limits (zero: none, or no crbpf_limits pin). */
void limit_get(int fd, __u32 id, struct crbpf_limit *l)
{
	if (fd < 0 || id >= CRBPF_MAX_MAPPINGS ||
	    bpf_map_lookup_elem(fd, &id, l))
		memset(l, 0, sizeof(*l));
}

/* " --limit-pps R:B --limit-flows R:B [--limit-prefix P4,P6]" (the prefix
 * only where it is not the default); "" without limits. */
const char *limit_words(const struct crbpf_limit *l, char *buf, size_t len)
{
	size_t used = 0;

	buf[0] = 0;
	if (l->pkt_ns)
		used += snprintf(buf + used, len - used, " --limit-pps %u:%u",
				 l->pkt_rate, l->pkt_burst);
	if (l->flow_ns && used < len)
		used += snprintf(buf + used, len - used, " --limit-flows %u:%u",
				 l->flow_rate, l->flow_burst);
	if (limit_on(l) && used < len &&
	    (l->prefix4 != CRBPF_LIMIT_PREFIX4_DEFAULT ||
	     l->prefix6 != CRBPF_LIMIT_PREFIX6_DEFAULT))
		snprintf(buf + used, len - used, " --limit-prefix %u,%u",
			 l->prefix4, l->prefix6);
	return buf;
}

/* What mapping id's limits dropped, summed over CPUs. */
void limit_drops(int stats, __u32 id, __u64 *pkt, __u64 *flow)
{
	int n = libbpf_num_possible_cpus(), c;
	struct crbpf_limstats *v = n > 0 ? calloc(n, sizeof(*v)) : NULL;

	*pkt = *flow = 0;
	if (v && stats >= 0 && !bpf_map_lookup_elem(stats, &id, v))
		for (c = 0; c < n; c++) {
			*pkt += v[c].pkt_drops;
			*flow += v[c].flow_drops;
		}
	free(v);
}

static void limit_drops_zero(int stats, __u32 id)
{
	int n = libbpf_num_possible_cpus();
	void *zero = n > 0 ? calloc(n, sizeof(struct crbpf_limstats)) : NULL;

	if (zero && stats >= 0)
		bpf_map_update_elem(stats, &id, zero, BPF_ANY);
	free(zero);
}

/* The buckets of mapping id go: left from another configuration (or a
 * deleted mapping that had the id), a bucket could run further ahead of
 * now than the new burst allows and drop until that time has passed. */
static void limit_sources_flush(__u32 id)
{
	int fd = pin_map_open_quiet("crbpf_limsrc");
	struct crbpf_limsrc_key k, next, *prev = NULL;

	if (fd < 0)
		return;
	while (!bpf_map_get_next_key(fd, prev, &next)) {
		if (prev && prev->mapping == id)
			bpf_map_delete_elem(fd, prev);
		k = next;
		prev = &k;
	}
	if (prev && prev->mapping == id)
		bpf_map_delete_elem(fd, prev);
	close(fd);
}

/*
 * The mapping's limits go into crbpf_limits before the entries that carry
 * its id, as maps_write() sets CRBPF_BE_LIMIT from them; the write is
 * journaled in u. An id handed out now starts with none (a deleted
 * mapping's may linger) and zeroed counters; an existing mapping keeps its
 * limits unless a --limit-* option names new ones.
 */
int limit_before_write(const struct limit_args *a, __u32 id, bool fresh,
		       struct undo *u)
{
	struct crbpf_limit want, have;
	int fd, stats, ret;

	if (!id || (!fresh && !a->given))
		return 0;
	fd = a->given ? pin_map_open("crbpf_limits") :
			pin_map_open_quiet("crbpf_limits");
	if (fd < 0) {
		if (!a->given)
			return 0; /* pins of a crbpf without limits */
		err("per-source limits need crbpf_limits: detach and attach again after an upgrade");
		return fd;
	}
	limit_of_args(a, &want);
	limit_get(fd, id, &have);
	if (fresh) {
		stats = pin_map_open_quiet("crbpf_limstats");
		limit_drops_zero(stats, id);
		if (stats >= 0)
			close(stats);
	}
	ret = 0;
	if (memcmp(&want, &have, sizeof(want))) {
		ret = undo_map(u, fd, &id, sizeof(id), sizeof(want));
		if (!ret && bpf_map_update_elem(fd, &id, &want, BPF_ANY))
			ret = -errno;
		if (ret)
			err("failed to update crbpf_limits: %s", strerror(-ret));
		else
			limit_sources_flush(id);
	}
	close(fd);
	return ret;
}
