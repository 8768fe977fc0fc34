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

/* One mapping: a `port add` or config line, its entries sharing one id. */
struct mstat_row {
	struct crbpf_port_key k; /* of its lowest port */
	struct crbpf_backend be; /* of its lowest port */
	__u16 first, last; /* public ports; 0: `all` */
	struct crbpf_mstats t;
	/* drops of its allow and deny lists; -1: no such list */
	long long acl_drops[2];
	struct crbpf_limit lim; /* its per-source limits, zero: none */
	__u64 lim_drops[2]; /* by the packet limit, the flow limit */
};

static int row_cmp(const void *a, const void *b)
{
	return port_key_cmp(&((const struct mstat_row *)a)->k,
			    &((const struct mstat_row *)b)->k);
}

/* The counters of mapping id summed over CPUs (v: scratch of ncpu). */
static void mstats_sum(int fd, __u32 id, struct crbpf_mstats *v, int ncpu,
		       struct crbpf_mstats *t)
{
	int c;

	memset(t, 0, sizeof(*t));
	if (bpf_map_lookup_elem(fd, &id, v))
		return;
	for (c = 0; c < ncpu; c++) {
		t->in_packets += v[c].in_packets;
		t->in_bytes += v[c].in_bytes;
		t->out_packets += v[c].out_packets;
		t->out_bytes += v[c].out_bytes;
		t->new_flows += v[c].new_flows;
	}
}

/* Each row's limits and their drops (crbpf_limits, crbpf_limstats). */
static void limit_rows(struct mstat_row *rows, int n)
{
	int lim = pin_map_open_quiet("crbpf_limits");
	int st = pin_map_open_quiet("crbpf_limstats");
	int i;

	for (i = 0; i < n; i++) {
		limit_get(lim, rows[i].be.mapping, &rows[i].lim);
		if (limit_on(&rows[i].lim))
			limit_drops(st, rows[i].be.mapping, &rows[i].lim_drops[0],
				    &rows[i].lim_drops[1]);
	}
	if (lim >= 0)
		close(lim);
	if (st >= 0)
		close(st);
}

/* The drops of each row's lists (crbpf_acl, crbpf_aclstats). */
static void acl_rows(struct mstat_row *rows, int n)
{
	int acl = pin_map_open_quiet("crbpf_acl");
	int st = pin_map_open_quiet("crbpf_aclstats");
	int i, kind;

	for (i = 0; i < n; i++) {
		for (kind = 0; kind < 2; kind++) {
			__u32 slot = crbpf_acl_slot(rows[i].be.mapping, kind);

			rows[i].acl_drops[kind] = acl_slot_used(acl, slot) ?
				(long long)acl_slot_drops(st, slot) : -1;
		}
	}
	if (acl >= 0)
		close(acl);
	if (st >= 0)
		close(st);
}

/* The global lists' drops: -1 for a list that is not there. */
static void acl_global(long long drops[2])
{
	int acl = pin_map_open_quiet("crbpf_acl");
	int st = pin_map_open_quiet("crbpf_aclstats");
	int kind;

	for (kind = 0; kind < 2; kind++) {
		__u32 slot = crbpf_acl_slot(0, kind);

		drops[kind] = acl_slot_used(acl, slot) ?
				      (long long)acl_slot_drops(st, slot) : -1;
	}
	if (acl >= 0)
		close(acl);
	if (st >= 0)
		close(st);
}

/* The mappings (crbpf_ports entries by mapping id) with their counters
 * summed over CPUs, sorted; *out is the caller's to free. Returns the
 * number of rows or -errno. */
static int mapping_rows(int only, struct mstat_row **out)
{
	int ncpu = libbpf_num_possible_cpus();
	struct crbpf_port_key *pk = NULL;
	struct crbpf_backend *pv = NULL;
	struct mstat_row *rows = NULL, *r;
	struct crbpf_mstats *v = NULL;
	int *row_of = NULL;
	int fd, pfd, i, np, n = 0;

	*out = NULL;
	fd = pin_map_open("crbpf_mstats");
	if (fd < 0)
		return fd;
	pfd = pin_map_open("crbpf_ports");
	if (pfd < 0) {
		close(fd);
		return pfd;
	}
	np = map_dump(pfd, sizeof(*pk), sizeof(*pv), (void **)&pk, (void **)&pv);
	close(pfd);
	if (np < 0) {
		close(fd);
		return np;
	}
	v = calloc(ncpu, sizeof(*v));
	rows = calloc(np + 1, sizeof(*rows));
	row_of = calloc(CRBPF_MAX_MAPPINGS, sizeof(*row_of));
	if (!v || !rows || !row_of) {
		n = -ENOMEM;
		goto out;
	}
	for (i = 0; i < np; i++) {
		__u32 id = pv[i].mapping;
		__u16 port = ntohs(pk[i].port);

		if ((only && (int)pk[i].ifindex != only) || !id ||
		    id >= CRBPF_MAX_MAPPINGS)
			continue;
		if (!row_of[id]) {
			row_of[id] = ++n;
			r = &rows[n - 1];
			r->k = pk[i];
			r->be = pv[i];
			r->first = r->last = port;
			mstats_sum(fd, id, v, ncpu, &r->t);
			continue;
		}
		r = &rows[row_of[id] - 1];
		if (port < r->first) {
			r->first = port;
			r->k = pk[i];
			r->be = pv[i];
		}
		if (port > r->last)
			r->last = port;
	}
	acl_rows(rows, n);
	limit_rows(rows, n);
	if (n)
		qsort(rows, n, sizeof(*rows), row_cmp);
out:
	close(fd);
	free(pk);
	free(pv);
	free(v);
	free(row_of);
	if (n < 0) {
		free(rows);
		return n;
	}
	*out = rows;
	return n;
}

/* A mapping's public side as text: address ("*" for any), its ports
 * ("all", "8000", "52000-65535") and the backend ("10.9.0.2",
 * "10.9.0.2:8080" where the port differs, "[fd00::2]"). */
static void mapping_names(const struct mstat_row *r, char *pbuf, size_t plen,
			  char *ports, size_t portlen, char *be, size_t belen)
{
	struct addr pub = { .family = r->k.family }, ba = { .family = r->k.family };
	char abuf[INET6_ADDRSTRLEN];
	__u16 bport = ntohs(r->be.port);

	memcpy(pub.a, r->k.addr, sizeof(pub.a));
	if (key_has_addr(&r->k))
		addr_str(&pub, pbuf, plen);
	else
		snprintf(pbuf, plen, "*");
	if (r->k.port == CRBPF_PORT_ALL)
		snprintf(ports, portlen, "all");
	else if (r->first == r->last)
		snprintf(ports, portlen, "%u", r->first);
	else
		snprintf(ports, portlen, "%u-%u", r->first, r->last);
	memcpy(ba.a, r->be.addr, sizeof(ba.a));
	addr_str(&ba, abuf, sizeof(abuf));
	if (r->k.port == CRBPF_PORT_ALL || bport == r->first)
		snprintf(be, belen, r->k.family == CRBPF_V6 ? "[%s]" : "%s", abuf);
	else
		snprintf(be, belen, r->k.family == CRBPF_V6 ? "[%s]:%u" : "%s:%u",
			 abuf, bport);
}

static int print_mappings(int only, bool json)
{
	struct mstat_row *rows;
	char dname[IF_NAMESIZE];
	int i, n, kind;

	n = mapping_rows(only, &rows);
	if (n < 0)
		return n;
	for (i = 0; i < n; i++) {
		const struct crbpf_port_key *k = &rows[i].k;
		const struct crbpf_mstats *t = &rows[i].t;
		char pbuf[INET6_ADDRSTRLEN], ports[16], be[INET6_ADDRSTRLEN + 10];

		mapping_names(&rows[i], pbuf, sizeof(pbuf), ports, sizeof(ports),
			      be, sizeof(be));
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
			printf(",\"proto\":\"%s\",\"port\":%u,\"last_port\":%u,\"ports\":\"%s\",\"backend\":\"%s\",\"family\":\"%s\",\"in_packets\":%llu,\"in_bytes\":%llu,\"out_packets\":%llu,\"out_bytes\":%llu,\"new_flows\":%llu",
			       proto_str(k->proto), rows[i].first, rows[i].last,
			       ports, be, family_str(k->family),
			       (unsigned long long)t->in_packets,
			       (unsigned long long)t->in_bytes,
			       (unsigned long long)t->out_packets,
			       (unsigned long long)t->out_bytes,
			       (unsigned long long)t->new_flows);
			/* packets its lists dropped; absent: no such list */
			for (kind = 0; kind < 2; kind++)
				if (rows[i].acl_drops[kind] >= 0)
					printf(",\"%s_dropped\":%lld",
					       acl_kind_names[kind],
					       rows[i].acl_drops[kind]);
			/* limits and their drops; absent: no such limit */
			if (rows[i].lim.pkt_ns)
				printf(",\"limit_pps\":%u,\"limit_pps_burst\":%u,\"limit_pps_dropped\":%llu",
				       rows[i].lim.pkt_rate, rows[i].lim.pkt_burst,
				       (unsigned long long)rows[i].lim_drops[0]);
			if (rows[i].lim.flow_ns)
				printf(",\"limit_flows\":%u,\"limit_flows_burst\":%u,\"limit_flows_dropped\":%llu",
				       rows[i].lim.flow_rate, rows[i].lim.flow_burst,
				       (unsigned long long)rows[i].lim_drops[1]);
			if (limit_on(&rows[i].lim))
				printf(",\"limit_prefix4\":%u,\"limit_prefix6\":%u",
				       rows[i].lim.prefix4, rows[i].lim.prefix6);
			printf("}");
		} else {
			printf("  %-12s %s %s -> %s  %s %s  in %llu pkts %llu bytes  out %llu pkts %llu bytes  new flows %llu\n",
			       dname, proto_str(k->proto), ports, be,
			       family_str(k->family), pbuf,
			       (unsigned long long)t->in_packets,
			       (unsigned long long)t->in_bytes,
			       (unsigned long long)t->out_packets,
			       (unsigned long long)t->out_bytes,
			       (unsigned long long)t->new_flows);
			for (kind = 0; kind < 2; kind++)
				if (rows[i].acl_drops[kind] >= 0)
					printf("  %-12s %s list dropped %lld\n", "",
					       acl_kind_names[kind],
					       rows[i].acl_drops[kind]);
			if (rows[i].lim.pkt_ns)
				printf("  %-12s limit %u pps (burst %u) per /%u,/%u source dropped %llu\n",
				       "", rows[i].lim.pkt_rate, rows[i].lim.pkt_burst,
				       rows[i].lim.prefix4, rows[i].lim.prefix6,
				       (unsigned long long)rows[i].lim_drops[0]);
			if (rows[i].lim.flow_ns)
				printf("  %-12s limit %u new flows/s (burst %u) per /%u,/%u source dropped %llu\n",
				       "", rows[i].lim.flow_rate, rows[i].lim.flow_burst,
				       rows[i].lim.prefix4, rows[i].lim.prefix6,
				       (unsigned long long)rows[i].lim_drops[1]);
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

/* The labels that name a mapping's series: interface, family, protocol,
 * port (its range) and public address. */
static void prom_mapping_labels(FILE *f, const char *dname,
				const struct crbpf_port_key *k, const char *port,
				const char *addr)
{
	prom_label(f, "interface", dname);
	fputc(',', f);
	prom_label(f, "family", family_str(k->family));
	fputc(',', f);
	prom_label(f, "protocol", proto_str(k->proto));
	fputc(',', f);
	prom_label(f, "port", port);
	fputc(',', f);
	prom_label(f, "address", addr);
}

/* Failover mappings: each backend up (1) or not (0), and which one is
 * active, as crbpf watch last saw them. */
static void prom_failover(FILE *f, const struct mstat_row *rows, int n)
{
	char dname[IF_NAMESIZE], pbuf[INET6_ADDRSTRLEN], port[16];
	char be[INET6_ADDRSTRLEN + 10], abuf[INET6_ADDRSTRLEN];
	int fd = fo_open(), i, j, shown = 0;
	struct crbpf_fo fo;

	for (i = 0; fd >= 0 && i < n; i++) {
		if (fo_get(fd, rows[i].be.mapping, &fo))
			continue;
		if (!shown++)
			fprintf(f, "# HELP crbpf_failover_backend_up %s\n# TYPE crbpf_failover_backend_up gauge\n",
				"A failover mapping's backend is healthy (1) or not (0); active: new flows go there.");
		mapping_names(&rows[i], pbuf, sizeof(pbuf), port, sizeof(port),
			      be, sizeof(be));
		ifname(rows[i].k.ifindex, dname);
		for (j = 0; j < fo.n && j < CRBPF_FO_MAX; j++) {
			struct addr a = { .family = fo.family };

			memcpy(a.a, fo.be[j].addr, sizeof(a.a));
			fputs("crbpf_failover_backend_up{", f);
			prom_mapping_labels(f, dname, &rows[i].k, port, pbuf);
			fputc(',', f);
			prom_label(f, "backend", addr_str(&a, abuf, sizeof(abuf)));
			fputc(',', f);
			prom_label(f, "active", j == fo.active ? "true" : "false");
			fprintf(f, "} %d\n", fo.be[j].state == CRBPF_FO_UP);
		}
	}
	if (fd >= 0)
		close(fd);
}

/*
 * Every counter in the text exposition format (node_exporter's textfile
 * collector reads the same). Mappings are labelled by their public side
 * only (interface, family, protocol, port -- the mapping's range, "8000",
 * "52000-65535" or "all" -- and the public address or "*"): one series per
 * mapping, not per port, and client addresses never become labels.
 */

/* What the per-source limits of the mappings that have them dropped, by
 * kind (pps, flows); the limit itself (per second) and its burst are
 * labels, as every series here is a counter. */
static void prom_limits(FILE *f, const struct mstat_row *rows, int n)
{
	static const char name[] = "crbpf_limit_dropped_packets_total";
	char dname[IF_NAMESIZE], pbuf[INET6_ADDRSTRLEN], port[16], num[16];
	char be[INET6_ADDRSTRLEN + 10];
	int i, kind, any = 0;

	for (i = 0; i < n; i++)
		any |= limit_on(&rows[i].lim);
	if (!any)
		return;
	prom_head(f, name,
		  "Packets a mapping's per-source limit dropped (kind pps: packets, flows: new flows; rate per second and burst per source prefix).");
	for (i = 0; i < n; i++) {
		const struct crbpf_limit *l = &rows[i].lim;

		mapping_names(&rows[i], pbuf, sizeof(pbuf), port, sizeof(port),
			      be, sizeof(be));
		ifname(rows[i].k.ifindex, dname);
		for (kind = 0; kind < 2; kind++) {
			if (!(kind ? l->flow_ns : l->pkt_ns))
				continue;
			fprintf(f, "%s{", name);
			prom_mapping_labels(f, dname, &rows[i].k, port, pbuf);
			fputc(',', f);
			prom_label(f, "kind", kind ? "flows" : "pps");
			fputc(',', f);
			snprintf(num, sizeof(num), "%u", kind ? l->flow_rate : l->pkt_rate);
			prom_label(f, "rate", num);
			fputc(',', f);
			snprintf(num, sizeof(num), "%u", kind ? l->flow_burst : l->pkt_burst);
			prom_label(f, "burst", num);
			fprintf(f, "} %llu\n", (unsigned long long)rows[i].lim_drops[kind]);
		}
	}
}

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
	long long gdrops[2] = { -1, -1 };
	int i, m, d, n = 0, kind;

	prom_head(f, "crbpf_outcomes_total",
		  "Packets by what crbpf did with them (crbpf stats; flow_* and home_learn count flows).");
	for (i = 0; i < CRBPF_ST__MAX; i++) {
		if (i == CRBPF_ST_RETIRED_REV_XDP)
			continue;
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
			char pbuf[INET6_ADDRSTRLEN], port[16];
			char be[INET6_ADDRSTRLEN + 10];

			mapping_names(&rows[i], pbuf, sizeof(pbuf), port,
				      sizeof(port), be, sizeof(be));
			ifname(k->ifindex, dname);
			for (d = 0; d < (m == 2 ? 1 : 2); d++) {
				fprintf(f, "%s{", per_mapping[m].name);
				prom_mapping_labels(f, dname, k, port, pbuf);
				if (m != 2) {
					fputc(',', f);
					prom_label(f, "direction", d ? "out" : "in");
				}
				fprintf(f, "} %llu\n", (unsigned long long)val[m][d]);
			}
		}
	}
	acl_global(gdrops);
	if (n || gdrops[0] >= 0 || gdrops[1] >= 0)
		prom_head(f, "crbpf_acl_dropped_packets_total",
			  "Packets an allow or deny list dropped (scope global: the lists of every mapping).");
	for (kind = 0; kind < 2; kind++) {
		if (gdrops[kind] < 0)
			continue;
		fputs("crbpf_acl_dropped_packets_total{", f);
		prom_label(f, "scope", "global");
		fputc(',', f);
		prom_label(f, "list", acl_kind_names[kind]);
		fprintf(f, "} %lld\n", gdrops[kind]);
	}
	for (i = 0; i < n; i++) {
		const struct crbpf_port_key *k = &rows[i].k;
		char pbuf[INET6_ADDRSTRLEN], port[16], be[INET6_ADDRSTRLEN + 10];

		mapping_names(&rows[i], pbuf, sizeof(pbuf), port, sizeof(port),
			      be, sizeof(be));
		ifname(k->ifindex, dname);
		for (kind = 0; kind < 2; kind++) {
			if (rows[i].acl_drops[kind] < 0)
				continue;
			fputs("crbpf_acl_dropped_packets_total{", f);
			prom_label(f, "scope", "mapping");
			fputc(',', f);
			prom_mapping_labels(f, dname, k, port, pbuf);
			fputc(',', f);
			prom_label(f, "list", acl_kind_names[kind]);
			fprintf(f, "} %lld\n", rows[i].acl_drops[kind]);
		}
	}
	prom_limits(f, rows, n);
	prom_failover(f, rows, n);
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
	long long gdrops[2];
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
			if (i != CRBPF_ST_RETIRED_REV_XDP)
				printf("%s\"%s\":%llu", i ? "," : "",
				       crbpf_stat_names[i],
				       (unsigned long long)sum[i]);
		printf("},\"mappings\":[");
	} else {
		printf("counters:\n");
		for (i = 0; i < CRBPF_ST__MAX; i++)
			if (i != CRBPF_ST_RETIRED_REV_XDP)
				printf("  %-16s %llu\n", crbpf_stat_names[i],
				       (unsigned long long)sum[i]);
		printf("mappings:\n");
	}
	if (edge_attached_count(NULL, 0))
		print_mappings(only, json);
	else if (!json)
		printf("  (none)\n");
	acl_global(gdrops);
	if (json) {
		printf("],\"global_lists\":{");
		for (i = 0, n = 0; i < 2; i++)
			if (gdrops[i] >= 0)
				printf("%s\"%s_dropped\":%lld", n++ ? "," : "",
				       acl_kind_names[i], gdrops[i]);
		printf("}}\n");
	} else {
		for (i = 0; i < 2; i++)
			if (gdrops[i] >= 0)
				printf("global %s list dropped %lld\n",
				       acl_kind_names[i], gdrops[i]);
	}
	return 0;
}
