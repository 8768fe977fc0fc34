// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/* crbpf flows: the live entries of crbpf_flows. */
#include "tool.h"
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <bpf/bpf.h>

static __u64 mono_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (__u64)ts.tv_sec * 1000000000ULL + ts.tv_nsec;
}

static const char *flow_state(__u8 proto, __u16 flags)
{
	if (proto != IPPROTO_TCP)
		return flags & CRBPF_FLOW_REPLIED ? "stream" : "new";
	if (flags & CRBPF_FLOW_RST)
		return "close";
	if ((flags & CRBPF_FLOW_FIN_IN) && (flags & CRBPF_FLOW_FIN_OUT))
		return "time_wait";
	if (flags & (CRBPF_FLOW_FIN_IN | CRBPF_FLOW_FIN_OUT))
		return "fin_wait";
	return flags & CRBPF_FLOW_REPLIED ? "established" : "new";
}

struct flow_row {
	struct crbpf_flow_key k;
	struct crbpf_flow v;
};

static int flow_row_cmp(const void *a, const void *b)
{
	const struct flow_row *x = a, *y = b;
	int c;

	if (x->k.proto != y->k.proto)
		return x->k.proto - y->k.proto;
	if (x->v.public_port != y->v.public_port)
		return ntohs(x->v.public_port) - ntohs(y->v.public_port);
	c = memcmp(x->k.client, y->k.client, sizeof(x->k.client));
	if (c)
		return c;
	return ntohs(x->k.client_port) - ntohs(y->k.client_port);
}

static const char *endpoint(__u8 family, const __be32 *a, __be16 port,
			    char *buf, size_t len)
{
	struct addr ad = { .family = family };
	char abuf[INET6_ADDRSTRLEN];

	memcpy(ad.a, a, sizeof(ad.a));
	addr_str(&ad, abuf, sizeof(abuf));
	snprintf(buf, len, family == CRBPF_V6 ? "[%s]:%u" : "%s:%u", abuf,
		 ntohs(port));
	return buf;
}

static void json_endpoint(const char *name, __u8 family, const __be32 *a,
			  __be16 port)
{
	struct addr ad = { .family = family };
	char abuf[INET6_ADDRSTRLEN];

	memcpy(ad.a, a, sizeof(ad.a));
	printf(",\"%s\":\"%s\",\"%s_port\":%u", name,
	       addr_str(&ad, abuf, sizeof(abuf)), name, ntohs(port));
}

static void print_flow(const struct flow_row *r, __u64 now, __u32 timeout,
		       bool json, int shown)
{
	__u64 age = now > r->v.created_ns ? (now - r->v.created_ns) / 1000000000ULL : 0;
	__u64 idle = now > r->v.seen_ns ? (now - r->v.seen_ns) / 1000000000ULL : 0;
	const char *state = flow_state(r->k.proto, r->v.flags);
	char dname[IF_NAMESIZE], cli[64], pub[64], be[64];

	ifname(r->v.public_ifindex, dname);
	if (json) {
		printf("%s{\"dev\":", shown ? "," : "");
		json_str(stdout, dname);
		printf(",\"proto\":\"%s\",\"family\":\"%s\"", proto_str(r->k.proto),
		       family_str(r->k.family));
		json_endpoint("client", r->k.family, r->k.client, r->k.client_port);
		json_endpoint("public", r->k.family, r->v.public_addr,
			      r->v.public_port);
		json_endpoint("backend", r->k.family, r->k.backend,
			      r->k.backend_port);
		printf(",\"state\":\"%s\",\"age\":%llu,\"idle\":%llu,\"seen_ms\":%llu,\"timeout\":%u,\"in_packets\":%llu,\"in_bytes\":%llu,\"out_packets\":%llu,\"out_bytes\":%llu}",
		       state, (unsigned long long)age, (unsigned long long)idle,
		       (unsigned long long)(r->v.seen_ns / 1000000ULL),
		       timeout, (unsigned long long)r->v.in_packets,
		       (unsigned long long)r->v.in_bytes,
		       (unsigned long long)r->v.out_packets,
		       (unsigned long long)r->v.out_bytes);
		return;
	}
	endpoint(r->k.family, r->k.client, r->k.client_port, cli, sizeof(cli));
	endpoint(r->k.family, r->v.public_addr, r->v.public_port, pub, sizeof(pub));
	endpoint(r->k.family, r->k.backend, r->k.backend_port, be, sizeof(be));
	printf("%-5s %-24s %-24s %-24s %-11s %7llus %6llus %9llu %9llu\n",
	       proto_str(r->k.proto), cli, pub, be, state,
	       (unsigned long long)age, (unsigned long long)idle,
	       (unsigned long long)r->v.in_packets,
	       (unsigned long long)r->v.out_packets);
}

/*
 * The entries of crbpf_flows (replied) and crbpf_unreplied (waiting for a
 * reply) together: a flow is in one or the other. A crbpf_unreplied the
 * pins do not have yet (maps of an older crbpf) adds nothing.
 */
static int flows_dump(struct crbpf_flow_key **keys, struct crbpf_flow **vals)
{
	struct crbpf_flow_key *k2 = NULL, *k;
	struct crbpf_flow *v2 = NULL, *v;
	int fd, n, n2 = 0;

	fd = pin_map_open("crbpf_flows");
	if (fd < 0)
		return fd;
	n = map_dump(fd, sizeof(**keys), sizeof(**vals), (void **)keys,
		     (void **)vals);
	close(fd);
	if (n < 0)
		return n;
	fd = pin_map_open_quiet("crbpf_unreplied");
	if (fd >= 0) {
		n2 = map_dump(fd, sizeof(*k2), sizeof(*v2), (void **)&k2,
			      (void **)&v2);
		close(fd);
	}
	if (n2 <= 0) {
		free(k2);
		free(v2);
		return n;
	}
	k = realloc(*keys, (n + n2) * sizeof(*k));
	if (k)
		*keys = k;
	v = realloc(*vals, (n + n2) * sizeof(*v));
	if (v)
		*vals = v;
	if (!k || !v) {
		free(*keys);
		free(*vals);
		free(k2);
		free(v2);
		return -ENOMEM;
	}
	memcpy(k + n, k2, n2 * sizeof(*k));
	memcpy(v + n, v2, n2 * sizeof(*v));
	free(k2);
	free(v2);
	return n + n2;
}

static int flows_print(int only, bool json)
{
	struct crbpf_timeouts to = {};
	struct crbpf_flow_key *keys;
	struct crbpf_flow *vals;
	struct flow_row *rows;
	__u32 key = 0, timeout;
	int fd, i, n, live = 0, expired = 0, shown = 0;
	size_t t;
	__u64 now;

	fd = pin_map_open("crbpf_timeouts");
	if (fd < 0)
		return fd;
	if (bpf_map_lookup_elem(fd, &key, &to)) {
		close(fd);
		return -errno;
	}
	close(fd);
	n = flows_dump(&keys, &vals);
	if (n < 0)
		return n;
	now = mono_ns();
	rows = calloc(n + 1, sizeof(*rows));
	if (!rows) {
		free(keys);
		free(vals);
		return -ENOMEM;
	}
	for (i = 0; i < n; i++) {
		if (only && (int)vals[i].public_ifindex != only)
			continue;
		timeout = crbpf_flow_timeout(&to, keys[i].proto == IPPROTO_TCP,
					     vals[i].flags);
		/* the programs' test: idle for longer than the timeout */
		if (now > vals[i].seen_ns &&
		    now - vals[i].seen_ns > (__u64)timeout * 1000000000ULL) {
			expired++;
			continue;
		}
		rows[live].k = keys[i];
		rows[live].v = vals[i];
		live++;
	}
	free(keys);
	free(vals);
	qsort(rows, live, sizeof(*rows), flow_row_cmp);

	if (json) {
		printf("{\"timeouts\":{");
		/* effective values: 0 in the map stands for the default */
		for (t = 0; timeout_name(t); t++)
			printf("%s\"%s\":%u", t ? "," : "", timeout_name(t),
			       timeout_value(&to, t) ?: timeout_default(t));
		/* now_ms and each flow's seen_ms: CLOCK_MONOTONIC, the clock the
		 * programs stamp flows with, so that a reader can tell how long
		 * a flow lived from the listings alone */
		printf("},\"now_ms\":%llu,\"expired\":%d,\"flows\":[",
		       (unsigned long long)(now / 1000000ULL), expired);
	} else {
		printf("%-5s %-24s %-24s %-24s %-11s %8s %7s %9s %9s\n", "PROTO",
		       "CLIENT", "PUBLIC", "BACKEND", "STATE", "AGE", "IDLE",
		       "PKTS_IN", "PKTS_OUT");
	}
	for (i = 0; i < live; i++)
		print_flow(&rows[i], now,
			   crbpf_flow_timeout(&to, rows[i].k.proto == IPPROTO_TCP,
					      rows[i].v.flags),
			   json, shown++);
	if (json)
		printf("]}\n");
	else
		printf("%d flows (%d expired entries not shown)\n", live, expired);
	free(rows);
	return 0;
}

int cmd_flows(int argc, char **argv)
{
	bool json;
	int ret, only;

	ret = read_cmd_prepare(argc, argv, "crbpf flows [--dev IFACE] [--json]",
			       "crbpf_flows", &json, &only);
	if (ret)
		return ret;
	ret = flows_print(only, json);
	if (ret)
		err("failed to read the flow table: %s", strerror(-ret));
	return ret;
}
