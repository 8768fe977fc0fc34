// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/* crbpf stats: outcome counters summed over CPUs, and per-mapping counters. */
#include "tool.h"
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include "crbpf_stat_names.h"


static int read_counters(__u64 *sum)
{
	int ncpu = libbpf_num_possible_cpus();
	__u64 *v = calloc(ncpu, sizeof(*v));
	int fd, c, ret = 0;
	__u32 i;

	if (!v)
		return -ENOMEM;
	fd = pin_map_open("crbpf_stats");
	if (fd < 0) {
		free(v);
		return fd;
	}
	for (i = 0; i < CRBPF_ST__MAX; i++) {
		sum[i] = 0;
		if (bpf_map_lookup_elem(fd, &i, v)) {
			ret = -errno;
			break;
		}
		for (c = 0; c < ncpu; c++)
			sum[i] += v[c];
	}
	close(fd);
	free(v);
	return ret;
}

struct mstat_row {
	struct crbpf_port_key k;
	struct crbpf_mstats t;
};

static int print_mappings(int only, bool json)
{
	int ncpu = libbpf_num_possible_cpus();
	struct crbpf_port_key key, *prev = NULL;
	struct mstat_row *rows = NULL, *r;
	struct crbpf_mstats *v;
	char dname[IF_NAMESIZE];
	int fd, c, i, n = 0, cap = 0;

	fd = pin_map_open("crbpf_mstats");
	if (fd < 0)
		return fd;
	v = calloc(ncpu, sizeof(*v));
	if (!v) {
		close(fd);
		return -ENOMEM;
	}
	while (!bpf_map_get_next_key(fd, prev, &key)) {
		prev = &key;
		if (only && (int)key.ifindex != only)
			continue;
		if (bpf_map_lookup_elem(fd, &key, v))
			continue;
		if (n == cap) {
			cap = cap ? cap * 2 : 64;
			r = realloc(rows, cap * sizeof(*rows));
			if (!r)
				break;
			rows = r;
		}
		r = &rows[n++];
		memset(r, 0, sizeof(*r));
		r->k = key;
		for (c = 0; c < ncpu; c++) {
			r->t.in_packets += v[c].in_packets;
			r->t.in_bytes += v[c].in_bytes;
			r->t.out_packets += v[c].out_packets;
			r->t.out_bytes += v[c].out_bytes;
			r->t.new_flows += v[c].new_flows;
		}
	}
	free(v);
	close(fd);
	if (n)
		qsort(rows, n, sizeof(*rows), port_key_cmp);
	for (i = 0; i < n; i++) {
		const struct crbpf_port_key *k = &rows[i].k;
		const struct crbpf_mstats *t = &rows[i].t;

		struct addr pub = { .family = k->family };
		char pbuf[INET6_ADDRSTRLEN], port[8];

		memcpy(pub.a, k->addr, sizeof(pub.a));
		if (key_has_addr(k))
			addr_str(&pub, pbuf, sizeof(pbuf));
		else
			snprintf(pbuf, sizeof(pbuf), "*");
		if (k->port == CRBPF_PORT_ALL)
			snprintf(port, sizeof(port), "all");
		else
			snprintf(port, sizeof(port), "%u", ntohs(k->port));
		ifname(k->ifindex, dname);
		if (json) {
			printf("%s{\"dev\":", i ? "," : "");
			json_str(stdout, dname);
			printf(",\"addr\":");
			if (key_has_addr(k))
				printf("\"%s\"", pbuf);
			else
				printf("null");
			printf(",\"all\":%s", k->port == CRBPF_PORT_ALL ? "true" : "false");
			printf(",\"proto\":\"%s\",\"port\":%u,\"family\":\"%s\",\"in_packets\":%llu,\"in_bytes\":%llu,\"out_packets\":%llu,\"out_bytes\":%llu,\"new_flows\":%llu}",
			       proto_str(k->proto), ntohs(k->port),
			       family_str(k->family), (unsigned long long)t->in_packets,
			       (unsigned long long)t->in_bytes,
			       (unsigned long long)t->out_packets,
			       (unsigned long long)t->out_bytes,
			       (unsigned long long)t->new_flows);
		} else {
			printf("  %-12s %s %-5s %s %s  in %llu pkts %llu bytes  out %llu pkts %llu bytes  new flows %llu\n",
			       dname, proto_str(k->proto), port,
			       family_str(k->family), pbuf, (unsigned long long)t->in_packets,
			       (unsigned long long)t->in_bytes,
			       (unsigned long long)t->out_packets,
			       (unsigned long long)t->out_bytes,
			       (unsigned long long)t->new_flows);
		}
	}
	if (!json && !n)
		printf("  (none)\n");
	free(rows);
	return 0;
}

/*
 * The common start of the read-only commands `crbpf CMD [--dev IFACE]
 * [--json]`: parses those options, checks privileges and that map (a pinned
 * map name) exists. *only is the device's ifindex with --dev, else 0.
 */
int read_cmd_prepare(int argc, char **argv, const char *cmd, const char *map,
		     bool *json, int *only)
{
	char name[IF_NAMESIZE], path[PATH_MAX];
	const char *dev = NULL;
	int i, ret;

	*json = false;
	*only = 0;
	for (i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--json")) {
			*json = true;
		} else if (!strcmp(argv[i], "--dev") && i + 1 < argc) {
			dev = argv[++i];
			if (parse_iface(dev))
				return USAGE;
		} else {
			return usage_err("usage: crbpf %s [--dev IFACE] [--json]", cmd);
		}
	}
	ret = tool_prepare();
	if (ret)
		return ret;
	if (dev) {
		ret = port_pick_dev(dev, name, only);
		if (ret)
			return ret;
	}
	pin_path(path, sizeof(path), "maps", NULL, map);
	if (!pin_exists(path)) {
		err("nothing is attached (no %s)", path);
		return -ENOENT;
	}
	return 0;
}

int cmd_stats(int argc, char **argv)
{
	__u64 sum[CRBPF_ST__MAX];
	bool json;
	int i, ret, only;

	ret = read_cmd_prepare(argc, argv, "stats", "crbpf_stats", &json, &only);
	if (ret)
		return ret;
	ret = read_counters(sum);
	if (ret)
		return ret;
	if (json) {
		printf("{\"counters\":{");
		for (i = 0; i < CRBPF_ST__MAX; i++)
			printf("%s\"%s\":%llu", i ? "," : "", crbpf_stat_names[i],
			       (unsigned long long)sum[i]);
		printf("},\"mappings\":[");
	} else {
		printf("counters:\n");
		for (i = 0; i < CRBPF_ST__MAX; i++)
			printf("  %-16s %llu\n", crbpf_stat_names[i],
			       (unsigned long long)sum[i]);
		printf("mappings:\n");
	}
	if (edge_attached_count(NULL, 0))
		print_mappings(only, json);
	else if (!json)
		printf("  (none)\n");
	if (json)
		printf("]}\n");
	return 0;
}
