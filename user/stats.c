// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/* crbpf stats: outcome counters summed over CPUs, and per-mapping counters. */
#include "tool.h"
#include <errno.h>
#include <fcntl.h>
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
		/* A map pinned by an older crbpf ends before the counters
		 * added since (map_sync_pins() keeps its size): they read 0. */
		if (bpf_map_lookup_elem(fd, &i, v)) {
			if (errno == ENOENT)
				continue;
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

/* The per-mapping counters summed over CPUs, sorted; *out is the caller's
 * to free. Returns the number of rows or -errno. */
static int mapping_rows(int only, struct mstat_row **out)
{
	int ncpu = libbpf_num_possible_cpus();
	struct crbpf_port_key key, *prev = NULL;
	struct mstat_row *rows = NULL, *r;
	struct crbpf_mstats *v;
	int fd, c, n = 0, cap = 0;

	*out = NULL;
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
	*out = rows;
	return n;
}

/* A mapping's public side as text: address ("*" for any) and port ("all"). */
static void mapping_names(const struct crbpf_port_key *k, char *pbuf,
			  size_t plen, char *port, size_t portlen)
{
	struct addr pub = { .family = k->family };

	memcpy(pub.a, k->addr, sizeof(pub.a));
	if (key_has_addr(k))
		addr_str(&pub, pbuf, plen);
	else
		snprintf(pbuf, plen, "*");
	if (k->port == CRBPF_PORT_ALL)
		snprintf(port, portlen, "all");
	else
		snprintf(port, portlen, "%u", ntohs(k->port));
}

static int print_mappings(int only, bool json)
{
	struct mstat_row *rows;
	char dname[IF_NAMESIZE];
	int i, n;

	n = mapping_rows(only, &rows);
	if (n < 0)
		return n;
	for (i = 0; i < n; i++) {
		const struct crbpf_port_key *k = &rows[i].k;
		const struct crbpf_mstats *t = &rows[i].t;
		char pbuf[INET6_ADDRSTRLEN], port[8];

		mapping_names(k, pbuf, sizeof(pbuf), port, sizeof(port));
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
 * use is the command's usage line, printed for any other argument.
 */
int read_cmd_prepare(int argc, char **argv, const char *use, const char *map,
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
			return usage_err("usage: %s", use);
		}
	}
	ret = tool_prepare_read();
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

/* Prometheus text format: a label, its value escaped (\\, \", newline). */
static void prom_label(FILE *f, const char *name, const char *v)
{
	fprintf(f, "%s=\"", name);
	for (; *v; v++) {
		if (*v == '\\' || *v == '"')
			fprintf(f, "\\%c", *v);
		else if (*v == '\n')
			fputs("\\n", f);
		else
			fputc(*v, f);
	}
	fputc('"', f);
}

static void prom_head(FILE *f, const char *name, const char *help)
{
	fprintf(f, "# HELP %s %s\n# TYPE %s counter\n", name, help, name);
}

/*
 * Every counter in the text exposition format (node_exporter's textfile
 * collector reads the same). Mappings are labelled by their public side
 * only (interface, family, protocol, port, the public address or "*"):
 * client addresses never become labels, so the series stay few.
 */
static int print_prometheus(FILE *f, const __u64 *sum, int only, bool mappings)
{
	static const struct {
		const char *name, *help;
	} per_mapping[] = {
		{ "crbpf_mapping_packets_total",
		  "Packets translated for a mapping (direction in: client to backend, out: replies)." },
		{ "crbpf_mapping_bytes_total",
		  "Bytes of those packets as received, IP header included." },
		{ "crbpf_mapping_flows_total", "Flows a mapping has started." },
	};
	struct mstat_row *rows = NULL;
	char dname[IF_NAMESIZE];
	int i, m, d, n = 0;

	prom_head(f, "crbpf_outcomes_total",
		  "Packets by what crbpf did with them (crbpf stats; flow_* and home_learn count flows).");
	for (i = 0; i < CRBPF_ST__MAX; i++) {
		fputs("crbpf_outcomes_total{", f);
		prom_label(f, "outcome", crbpf_stat_names[i]);
		fprintf(f, "} %llu\n", (unsigned long long)sum[i]);
	}
	if (mappings) {
		n = mapping_rows(only, &rows);
		if (n < 0)
			return n;
	}
	for (m = 0; m < 3 && n; m++) {
		prom_head(f, per_mapping[m].name, per_mapping[m].help);
		for (i = 0; i < n; i++) {
			const struct crbpf_port_key *k = &rows[i].k;
			const struct crbpf_mstats *t = &rows[i].t;
			const __u64 val[3][2] = { { t->in_packets, t->out_packets },
						  { t->in_bytes, t->out_bytes },
						  { t->new_flows, 0 } };
			char pbuf[INET6_ADDRSTRLEN], port[8];

			mapping_names(k, pbuf, sizeof(pbuf), port, sizeof(port));
			ifname(k->ifindex, dname);
			for (d = 0; d < (m == 2 ? 1 : 2); d++) {
				fprintf(f, "%s{", per_mapping[m].name);
				prom_label(f, "interface", dname);
				fputc(',', f);
				prom_label(f, "family", family_str(k->family));
				fputc(',', f);
				prom_label(f, "protocol", proto_str(k->proto));
				fputc(',', f);
				prom_label(f, "port", port);
				fputc(',', f);
				prom_label(f, "address", pbuf);
				if (m != 2) {
					fputc(',', f);
					prom_label(f, "direction", d ? "out" : "in");
				}
				fprintf(f, "} %llu\n", (unsigned long long)val[m][d]);
			}
		}
	}
	free(rows);
	return 0;
}

/* Writes the exposition to path through a temporary file in the same
 * directory and a rename, so a reader never sees half of it. */
static int write_prometheus(const char *path, const __u64 *sum, int only,
			    bool mappings)
{
	char tmp[PATH_MAX];
	FILE *f;
	int fd, ret;

	if (snprintf(tmp, sizeof(tmp), "%s.tmp.%d", path, (int)getpid()) >= (int)sizeof(tmp)) {
		err("%s: path too long", path);
		return -ENAMETOOLONG;
	}
	fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
	if (fd < 0 || !(f = fdopen(fd, "w"))) {
		ret = -errno;
		err("Failed to write %s: %s", tmp, strerror(errno));
		if (fd >= 0)
			close(fd);
		return ret;
	}
	ret = print_prometheus(f, sum, only, mappings);
	if (!ret && (fflush(f) || fsync(fileno(f))))
		ret = -errno;
	if (fclose(f) && !ret)
		ret = -errno;
	if (!ret && rename(tmp, path))
		ret = -errno;
	if (ret) {
		err("Failed to write %s: %s", path, strerror(-ret));
		unlink(tmp);
	}
	return ret;
}

#define STATS_USAGE "crbpf stats [--dev IFACE] [--json | --prometheus [--output FILE]]"

int cmd_stats(int argc, char **argv)
{
	__u64 sum[CRBPF_ST__MAX];
	const char *output = NULL;
	char *rest[8];
	bool json = false, prom = false;
	int i, n = 0, ret, only;

	/* --prometheus and --output here; the rest is read_cmd_prepare()'s. */
	for (i = 0; i < argc; i++) {
		if (i && !strcmp(argv[i], "--prometheus")) {
			prom = true;
		} else if (i && !strcmp(argv[i], "--output")) {
			if (i + 1 >= argc || !argv[i + 1][0])
				return usage_err("--output needs a file name; usage: %s", STATS_USAGE);
			output = argv[++i];
		} else if (n < (int)(sizeof(rest) / sizeof(rest[0]))) {
			json |= i && !strcmp(argv[i], "--json");
			rest[n++] = argv[i];
		} else {
			return usage_err("usage: %s", STATS_USAGE);
		}
	}
	if (output && !prom)
		return usage_err("--output goes with --prometheus; usage: %s", STATS_USAGE);
	if (json && prom)
		return usage_err("--json or --prometheus, not both; usage: %s", STATS_USAGE);
	ret = read_cmd_prepare(n, rest, STATS_USAGE, "crbpf_stats", &json, &only);
	if (ret)
		return ret;
	ret = read_counters(sum);
	if (ret)
		return ret;
	if (prom && output)
		return write_prometheus(output, sum, only, edge_attached_count(NULL, 0) > 0);
	if (prom)
		return print_prometheus(stdout, sum, only, edge_attached_count(NULL, 0) > 0);
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
