// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/* attach --timeout: the flow timeouts by name, and crbpf_timeouts. */
#include "tool.h"
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <bpf/bpf.h>

/* --timeout names, in struct crbpf_timeouts order. */
static const struct {
	const char *name;
	size_t off;
	__u32 def;
} timeout_names[] = {
	{ "tcp", offsetof(struct crbpf_timeouts, tcp), CRBPF_TO_TCP_DEFAULT },
	{ "tcp-syn", offsetof(struct crbpf_timeouts, tcp_syn),
	  CRBPF_TO_TCP_SYN_DEFAULT },
	{ "tcp-fin", offsetof(struct crbpf_timeouts, tcp_fin),
	  CRBPF_TO_TCP_FIN_DEFAULT },
	{ "tcp-close", offsetof(struct crbpf_timeouts, tcp_close),
	  CRBPF_TO_TCP_CLOSE_DEFAULT },
	{ "udp", offsetof(struct crbpf_timeouts, udp), CRBPF_TO_UDP_DEFAULT },
	{ "udp-stream", offsetof(struct crbpf_timeouts, udp_stream),
	  CRBPF_TO_UDP_STREAM_DEFAULT },
};

static __u32 *timeout_field(struct crbpf_timeouts *t, size_t i)
{
	return (__u32 *)((char *)t + timeout_names[i].off);
}

/*
 * NAME=SECONDS[,NAME=SECONDS]... into t; *set gets a bit per name given.
 * "default" as the value goes back to the built-in default (stored as 0).
 */
int timeouts_parse(const char *arg, struct crbpf_timeouts *t, __u32 *set)
{
	char buf[256], *item, *save = NULL, *eq, *end;
	unsigned long long v;
	size_t i;

	if (snprintf(buf, sizeof(buf), "%s", arg) >= (int)sizeof(buf) || !*buf)
		return usage_err("invalid --timeout '%s' (expected NAME=SECONDS[,NAME=SECONDS]...)",
				 arg);
	for (item = strtok_r(buf, ",", &save); item;
	     item = strtok_r(NULL, ",", &save)) {
		eq = strchr(item, '=');
		if (eq)
			*eq = 0;
		for (i = 0; i < ARRAY_SIZE(timeout_names); i++)
			if (!strcmp(item, timeout_names[i].name))
				break;
		if (!eq || i == ARRAY_SIZE(timeout_names))
			return usage_err("invalid --timeout '%s' (expected NAME=SECONDS, NAME one of tcp, tcp-syn, tcp-fin, tcp-close, udp, udp-stream)",
					 arg);
		if (!strcmp(eq + 1, "default")) {
			v = 0;
		} else {
			errno = 0;
			v = strtoull(eq + 1, &end, 10);
			if (eq[1] < '0' || eq[1] > '9' || *end || errno || !v ||
			    v > 0xffffffffULL)
				return usage_err("invalid --timeout value '%s=%s' (expected seconds from 1 to 4294967295, or default)",
						 item, eq + 1);
		}
		*timeout_field(t, i) = v;
		*set |= 1U << i;
	}
	if (!*set)
		return usage_err("invalid --timeout '%s' (expected NAME=SECONDS[,NAME=SECONDS]...)",
				 arg);
	return 0;
}

/* The NAME of --timeout for field i of struct crbpf_timeouts (NULL past
 * the last), and that field's value in t. */
const char *timeout_name(unsigned int i)
{
	return i < ARRAY_SIZE(timeout_names) ? timeout_names[i].name : NULL;
}

__u32 timeout_value(const struct crbpf_timeouts *t, unsigned int i)
{
	return *timeout_field((struct crbpf_timeouts *)t, i);
}

__u32 timeout_default(unsigned int i)
{
	return i < ARRAY_SIZE(timeout_names) ? timeout_names[i].def : 0;
}

/* Writes the timeouts named in set into crbpf_timeouts, keeping the rest. */
int timeouts_apply(int fd, const struct crbpf_timeouts *t, __u32 set,
		   struct undo *u)
{
	struct crbpf_timeouts cur = {};
	__u32 key = 0;
	size_t i;
	int ret;

	if (!set)
		return 0;
	if (bpf_map_lookup_elem(fd, &key, &cur))
		return -errno;
	for (i = 0; i < ARRAY_SIZE(timeout_names); i++)
		if (set & (1U << i))
			*timeout_field(&cur, i) = *timeout_field((struct crbpf_timeouts *)t, i);
	ret = undo_map(u, fd, &key, sizeof(key), sizeof(cur));
	if (!ret && bpf_map_update_elem(fd, &key, &cur, BPF_ANY))
		ret = -errno;
	return ret;
}
