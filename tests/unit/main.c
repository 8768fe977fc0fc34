// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * crbpf unit tests: every case of edge_cases.c and home_cases.c runs the real
 * BPF object through BPF_PROG_TEST_RUN inside a private network namespace and
 * prints one line "[unit/<name>] PASS|FAIL [(reason)]" (details indented
 * below). Exit status 1 when any case failed. The objects are the unit
 * builds (build/unit, -DCRBPF_UNIT): the programs as shipped plus
 * a record of each redirect's target (bpf/unit_hook.h), so a REDIRECT
 * verdict is checked against the device it names.
 *
 *   build/unit_tests [-v] [-w PCAP] [SUBSTRING...]
 *     -v       libbpf debug output
 *     -w PCAP  also write every input and output frame to PCAP, for an
 *              independent look (tcpdump -vv -r PCAP checks checksums)
 *     SUBSTRING  run only cases whose name contains one of them
 *   build/unit_tests --fuzz SECONDS [SEED]: the packet fuzzer (fuzz.c)
 *   build/unit_tests --fuzz-replay FILE: one frame it saved, checked again
 *   build/unit_tests --csum-complete [SUBSTRING...]: every tc case with
 *     BPF_F_TEST_SKB_CHECKSUM_COMPLETE, the kernel then checking skb->csum
 *     after each run (tcase.csum_complete); one SKIP line where the kernel
 *     lacks the flag. UNIT_CSUM_COMPLETE=1 in the environment does the same.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <time.h>
#include <linux/if_link.h>
#include <linux/pkt_cls.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include "unit.h"
#include "crbpf_stat_names.h"
#include "edge.skel.h"
#include "home.skel.h"

/* ---- failure recording ---- */

static char first_fail[512];
static char notes[4096];
static bool case_failed;
static bool verbose;
static FILE *pcap;
static bool csum_complete_all; /* --csum-complete */

void unit_fail(const char *fmt, ...)
{
	char line[512];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	if (!case_failed) {
		snprintf(first_fail, sizeof(first_fail), "%s", line);
		case_failed = true;
	} else {
		unit_note("%s", line);
	}
}

void unit_note(const char *fmt, ...)
{
	size_t used = strlen(notes);
	va_list ap;

	if (used + 8 >= sizeof(notes))
		return;
	memcpy(notes + used, "    ", 4);
	used += 4;
	va_start(ap, fmt);
	vsnprintf(notes + used, sizeof(notes) - used - 1, fmt, ap);
	va_end(ap);
	used = strlen(notes);
	if (used + 1 < sizeof(notes)) {
		notes[used] = '\n';
		notes[used + 1] = 0;
	}
}

/* ---- pcap dump (-w) ---- */

static void pcap_open(const char *path)
{
	const __u32 hdr[6] = { 0xa1b2c3d4, 0x00040002, 0, 0, 65535, 1 };

	pcap = fopen(path, "w");
	if (!pcap) {
		perror(path);
		exit(2);
	}
	fwrite(hdr, sizeof(hdr), 1, pcap);
}

/* l3only frames get an Ethernet header so one link type serves all. */
static void pcap_write(const __u8 *frame, int len, bool l3only)
{
	static __u32 seq;
	__u8 eth[14] = { 0x02, 0, 0, 0, 0, 0xee, 0x02, 0, 0, 0, 0, 0xef };
	__u32 rec[4] = { 0, ++seq, (__u32)len, (__u32)len };

	if (!pcap)
		return;
	if (l3only) {
		eth[12] = len && (frame[0] >> 4) == 6 ? 0x86 : 0x08;
		eth[13] = len && (frame[0] >> 4) == 6 ? 0xdd : 0x00;
		rec[2] += 14;
		rec[3] += 14;
	}
	fwrite(rec, sizeof(rec), 1, pcap);
	if (l3only)
		fwrite(eth, sizeof(eth), 1, pcap);
	fwrite(frame, len, 1, pcap);
}

/* ---- objects ---- */

static struct edge_bpf *edge, *edgeh;
static const __u8 unit_handoff[6] = UNIT_HANDOFF;
static struct home_bpf *home, *home2, *home3, *home4;
static int ncpus;
static char edge_err[128], home_err[128];

/* Nothing may reach the real pin root: maps of a test object are private. */
static void unpin_all(struct bpf_object *obj)
{
	struct bpf_map *map;

	bpf_object__for_each_map(map, obj)
		bpf_map__set_pin_path(map, NULL);
}

static int libbpf_quiet(enum libbpf_print_level level, const char *fmt,
			va_list ap)
{
	if (!verbose && level != LIBBPF_WARN)
		return 0;
	return vfprintf(stderr, fmt, ap);
}

static int home_share_maps(struct home_bpf *h)
{
	int err;

	err = bpf_map__reuse_fd(h->maps.crbpf_hflows,
				bpf_map__fd(home->maps.crbpf_hflows));
	if (!err)
		err = bpf_map__reuse_fd(h->maps.crbpf_hunreplied,
					bpf_map__fd(home->maps.crbpf_hunreplied));
	if (!err)
		err = bpf_map__reuse_fd(h->maps.crbpf_stats,
					bpf_map__fd(home->maps.crbpf_stats));
	return err;
}

/* The object the tool loads for a device with XDP: the hand-off on, every
 * map shared with edge as the pins share them. */
static void load_edgeh(void)
{
	struct bpf_map *m, *em;
	int err = 0;

	edgeh = edge_bpf__open();
	if (!edgeh) {
		snprintf(edge_err, sizeof(edge_err), "edge_bpf__open (hand-off): %s",
			 strerror(errno));
		goto fail;
	}
	unpin_all(edgeh->obj);
	edgeh->rodata->edge_xdp_attached = true;
	memcpy((void *)&edgeh->rodata->handoff_dst_lo, unit_handoff, 4);
	memcpy((void *)&edgeh->rodata->handoff_dst_hi, unit_handoff + 4, 2);
	bpf_object__for_each_map(m, edgeh->obj) {
		if (bpf_map__is_internal(m))
			continue;
		em = bpf_object__find_map_by_name(edge->obj, bpf_map__name(m));
		err = em ? bpf_map__reuse_fd(m, bpf_map__fd(em)) : -ENOENT;
		if (err)
			break;
	}
	if (!err)
		err = edge_bpf__load(edgeh);
	if (!err)
		return;
	snprintf(edge_err, sizeof(edge_err), "edge_bpf__load (hand-off): %s",
		 strerror(-err));
fail:
	edge_bpf__destroy(edgeh);
	edgeh = NULL;
	edge_bpf__destroy(edge);
	edge = NULL;
}

static void load_objects(void)
{
	__be32 a4[4];
	int err;

	edge = edge_bpf__open();
	if (!edge) {
		snprintf(edge_err, sizeof(edge_err), "edge_bpf__open: %s",
			 strerror(errno));
	} else {
		struct bpf_map *unreplied;

		unpin_all(edge->obj);
		bpf_map__set_max_entries(edge->maps.crbpf_flows, UNIT_FLOWS);
		bpf_map__set_max_entries(edge->maps.crbpf_frags, UNIT_FRAGS);
		unreplied = bpf_object__find_map_by_name(edge->obj, "crbpf_unreplied");
		if (unreplied)
			bpf_map__set_max_entries(unreplied,
						 crbpf_unreplied_entries(UNIT_FLOWS));
		err = edge_bpf__load(edge);
		if (err) {
			snprintf(edge_err, sizeof(edge_err),
				 "edge_bpf__load: %s", strerror(-err));
			edge_bpf__destroy(edge);
			edge = NULL;
		}
	}

	if (edge)
		load_edgeh();

	home = home_bpf__open();
	home2 = home_bpf__open();
	home3 = home_bpf__open();
	home4 = home_bpf__open();
	if (!home || !home2 || !home3 || !home4) {
		snprintf(home_err, sizeof(home_err), "home_bpf__open: %s",
			 strerror(errno));
		goto home_fail;
	}
	unpin_all(home->obj);
	unpin_all(home2->obj);
	unpin_all(home3->obj);
	unpin_all(home4->obj);
	home2->rodata->home_mark = HOME_MARK2;
	/* small tables, so that a flood case fills them (the tool keeps the
	 * proportion: crbpf_hunreplied is a quarter) */
	bpf_map__set_max_entries(home->maps.crbpf_hflows, UNIT_FLOWS);
	bpf_map__set_max_entries(home->maps.crbpf_hunreplied,
				 crbpf_unreplied_entries(UNIT_FLOWS));
	/* the tunnel whose flows crbpf_home_fwd learns and crbpf_home_srv
	 * answers, as the tool sets it */
	home->rodata->tun_ifindex = topo.ifindex[DEV_HTUN];
	home2->rodata->tun_ifindex = topo.ifindex[DEV_HTUN];
	/* crbpf_home_out instances: the tool sets the tunnel's ifindex and
	 * addresses; home4's tunnel carries no IPv6 */
	parse_addr(4, HTUN4, a4);
	home3->rodata->tun_ifindex = topo.ifindex[DEV_HTUN];
	home3->rodata->tun_addr4 = a4[0];
	parse_addr(6, HTUN6, home3->rodata->tun_addr6);
	home4->rodata->tun_ifindex = topo.ifindex[DEV_HTUN];
	home4->rodata->tun_addr4 = a4[0];
	err = home_bpf__load(home);
	if (!err)
		err = home_bpf__load(home2);
	/* Like the pinned maps in production, home3/home4 answer from the
	 * endpoints home's crbpf_home_tun learns and count into its stats. */
	if (!err)
		err = home_share_maps(home3);
	if (!err)
		err = home_share_maps(home4);
	if (!err)
		err = home_bpf__load(home3);
	if (!err)
		err = home_bpf__load(home4);
	if (err) {
		snprintf(home_err, sizeof(home_err), "home_bpf__load: %s",
			 strerror(-err));
		goto home_fail;
	}
	return;
home_fail:
	home_bpf__destroy(home);
	home_bpf__destroy(home2);
	home_bpf__destroy(home3);
	home_bpf__destroy(home4);
	home = home2 = home3 = home4 = NULL;
}

static bool is_home(enum prog p)
{
	return p == P_HOME_TUN || p == P_HOME_SRV || p == P_HOME_SRV_MARK ||
	       p == P_HOME_OUT || p == P_HOME_OUT_NO6 || p == P_HOME_FWD;
}

static bool is_xdp(enum prog p)
{
	return p == P_EDGE_XDP || p == P_EDGE_XDP_H;
}

static int prog_fd(enum prog p)
{
	switch (p) {
	case P_EDGE_XDP:
		return bpf_program__fd(edge->progs.crbpf_edge_xdp);
	case P_EDGE_TC:
		return bpf_program__fd(edge->progs.crbpf_edge_tc);
	case P_EDGE_XDP_H:
		return bpf_program__fd(edgeh->progs.crbpf_edge_xdp);
	case P_EDGE_TC_H:
		return bpf_program__fd(edgeh->progs.crbpf_edge_tc);
	case P_REV_TC:
		return bpf_program__fd(edge->progs.crbpf_rev_tc);
	case P_TUN_TC:
		return bpf_program__fd(edge->progs.crbpf_tun_tc);
	case P_HOME_TUN:
		return bpf_program__fd(home->progs.crbpf_home_tun);
	case P_HOME_SRV:
		return bpf_program__fd(home->progs.crbpf_home_srv);
	case P_HOME_SRV_MARK:
		return bpf_program__fd(home2->progs.crbpf_home_srv);
	case P_HOME_OUT:
		return bpf_program__fd(home3->progs.crbpf_home_out);
	case P_HOME_OUT_NO6:
		return bpf_program__fd(home4->progs.crbpf_home_out);
	case P_HOME_FWD:
		return bpf_program__fd(home->progs.crbpf_home_fwd);
	default:
		return -1;
	}
}

static int stats_fd(enum prog p)
{
	if (p == P_HOME_SRV_MARK)
		return bpf_map__fd(home2->maps.crbpf_stats);
	if (is_home(p))
		return bpf_map__fd(home->maps.crbpf_stats);
	return bpf_map__fd(edge->maps.crbpf_stats);
}

static int hflows_fd(enum prog p)
{
	if (p == P_HOME_SRV_MARK)
		return bpf_map__fd(home2->maps.crbpf_hflows);
	return bpf_map__fd(home->maps.crbpf_hflows);
}

static int hunreplied_fd(enum prog p)
{
	if (p == P_HOME_SRV_MARK)
		return bpf_map__fd(home2->maps.crbpf_hunreplied);
	return bpf_map__fd(home->maps.crbpf_hunreplied);
}

int home_map_fd(const char *name)
{
	struct bpf_map *m = home ? bpf_object__find_map_by_name(home->obj, name) : NULL;

	return m ? bpf_map__fd(m) : -1;
}

/* ---- map content, written as the crbpf tool writes it ---- */

struct mapping {
	int family;
	__u8 proto;
	__u16 port, last; /* public range */
	const char *be;
	__u16 be_port; /* backend port of the first public port */
	enum dev dev; /* where the routing table sends it: DEV_TUN is layer 3 */
};

/* The port maps every edge case runs against (public device pub0). */
static const struct mapping mappings[] = {
	{ 4, IPPROTO_TCP, 80, 80, BE3_4, 80, DEV_TUN },
	{ 4, IPPROTO_TCP, 8080, 8080, BE3_4, 80, DEV_TUN }, /* 2 ports, 1 backend port */
	{ 4, IPPROTO_UDP, 53, 53, BE3_4, 5353, DEV_TUN },
	{ 6, IPPROTO_TCP, 443, 443, BE3_6, 8443, DEV_TUN },
	{ 6, IPPROTO_UDP, 5000, 5000, BE3_6, 6000, DEV_TUN },
	{ 6, IPPROTO_TCP, 80, 80, BE3_6, 80, DEV_TUN },
	{ 4, IPPROTO_TCP, 8000, 8010, BE3_4, 9000, DEV_TUN }, /* range */
	{ 4, IPPROTO_TCP, 2222, 2222, BE2_4, 22, DEV_NH },
	{ 4, IPPROTO_TCP, 2223, 2223, BE2_4, 22, DEV_NH }, /* 2 ports, 1 backend port */
	{ 4, IPPROTO_UDP, 7000, 7000, BE2_4, 7000, DEV_NH },
	{ 4, IPPROTO_UDP, 7100, 7103, BE2_4, 7100, DEV_NH }, /* L2 range */
	{ 4, IPPROTO_TCP, 3333, 3333, BENN_4, 33, DEV_NH }, /* neighbour unresolved */
	{ 6, IPPROTO_TCP, 2222, 2222, BE2_6, 22, DEV_NH },
	{ 6, IPPROTO_UDP, 7000, 7000, BE2_6, 7000, DEV_NH },
	{ 6, IPPROTO_TCP, 3333, 3333, BENN_6, 33, DEV_NH },
	/* L3 backends whose replies can be fed to crbpf_tun_tc (l3only) */
	{ 4, IPPROTO_TCP, 9443, 9443, L3SRC4_BE, 443, DEV_TUN },
	{ 4, IPPROTO_UDP, 9053, 9053, L3SRC4_BE, 53, DEV_TUN },
	{ 6, IPPROTO_TCP, 9443, 9443, L3SRC6_BE, 443, DEV_TUN },
	/* L2 backend behind nh2, which the test leaves out of crbpf_txports */
	{ 4, IPPROTO_TCP, 5555, 5555, BENH2_4, 55, DEV_NH2 },
	/* L2 backend without any route: owned packet with nowhere to go */
	{ 4, IPPROTO_TCP, 4444, 4444, NOROUTE4, 44, DEV_NH },
};

static int fail_setup(const char *what, int err)
{
	fprintf(stderr, "unit: map setup: %s: %s\n", what, strerror(-err));
	return err;
}

/* Fresh counters in the crbpf_mstats slot of mapping id, as the tool
 * writes them before an entry takes the id. */
int mstats_zero(__u32 id)
{
	size_t sz = (size_t)ncpus * sizeof(struct crbpf_mstats);
	void *zero = calloc(1, sz);
	int err;

	err = bpf_map_update_elem(bpf_map__fd(edge->maps.crbpf_mstats), &id,
				  zero, BPF_ANY);
	free(zero);
	return err;
}

/* A crbpf_ports entry on pub0 (any address): family 4/6, proto, public
 * port -> be:bport reached through dev, mapping id, flags. */
int unit_port_put(int family, __u8 proto, __u16 port, const char *be,
		  __u16 bport, __u32 id, __u16 flags, enum dev dev)
{
	struct crbpf_port_key k = {
		.ifindex = topo.ifindex[DEV_PUB],
		.family = family == 6 ? CRBPF_V6 : CRBPF_V4,
		.proto = proto,
		.port = htons(port),
	};
	struct crbpf_backend v = {
		.port = htons(bport),
		.flags = flags,
		.ifindex = topo.ifindex[dev],
		.mapping = id,
	};

	parse_addr(family, be, v.addr);
	return bpf_map_update_elem(bpf_map__fd(edge->maps.crbpf_ports), &k, &v,
				   BPF_ANY);
}

/* The mapping id of the crbpf_ports entry (pub0, family, proto, port,
 * addr or any; port 0: the `all` entry), 0 when there is none. */
__u32 unit_mapping_of(int family, __u8 proto, __u16 port, const char *addr)
{
	struct crbpf_port_key k = {
		.ifindex = topo.ifindex[DEV_PUB],
		.family = family == 6 ? CRBPF_V6 : CRBPF_V4,
		.proto = proto,
		.port = htons(port),
	};
	struct crbpf_backend be;

	if (addr)
		parse_addr(family, addr, k.addr);
	if (bpf_map_lookup_elem(bpf_map__fd(edge->maps.crbpf_ports), &k, &be))
		return 0;
	return be.mapping;
}

static int edge_maps_setup(void)
{
	static const struct {
		int family;
		const char *addr;
	} locals[] = { { 4, VPS4 }, { 6, VPS6 }, { 4, VPS4_2 } };
	/* attach pub0 + port add to L2 backends on nh0; nh2 left out on purpose */
	const enum dev txports[] = { DEV_PUB, DEV_NH };
	__u32 pub = topo.ifindex[DEV_PUB];
	struct crbpf_local loc = { .ifindex = pub };
	size_t i;
	int err, p;

	for (i = 0; i < sizeof(locals) / sizeof(locals[0]); i++) {
		struct crbpf_addr_key lk = {
			.family = locals[i].family == 6 ? CRBPF_V6 : CRBPF_V4,
		};

		parse_addr(locals[i].family, locals[i].addr, lk.addr);
		err = bpf_map_update_elem(bpf_map__fd(edge->maps.crbpf_local),
					  &lk, &loc, BPF_ANY);
		if (err)
			return fail_setup("crbpf_local", err);
	}
	for (i = 0; i < sizeof(txports) / sizeof(txports[0]); i++) {
		__u32 ifindex = topo.ifindex[txports[i]];

		err = bpf_map_update_elem(bpf_map__fd(edge->maps.crbpf_txports),
					  &ifindex, &ifindex, BPF_ANY);
		if (err)
			return fail_setup("crbpf_txports", err);
	}

	for (i = 0; i < sizeof(mappings) / sizeof(mappings[0]); i++) {
		const struct mapping *m = &mappings[i];

		for (p = m->port; p <= m->last; p++) {
			struct crbpf_port_key k = {
				.ifindex = pub,
				.family = m->family == 6 ? CRBPF_V6 : CRBPF_V4,
				.proto = m->proto,
				.port = htons(p),
			};
			/* one id per mapping row, its range included */
			struct crbpf_backend be = {
				.port = htons(m->be_port + (p - m->port)),
				.flags = m->dev == DEV_TUN ? 0 : CRBPF_BE_L2,
				.ifindex = topo.ifindex[m->dev],
				.mapping = i + 1,
			};
			struct crbpf_rev_key rk = {
				.family = k.family,
				.proto = k.proto,
				.port = be.port,
			};
			struct crbpf_rev rv = {
				.public_port = k.port,
				.public_ifindex = pub,
				.mapping = be.mapping,
			};
			size_t j;
			int q;

			parse_addr(m->family, m->be, be.addr);
			/* refs: public ports that land on this backend port */
			memcpy(rk.addr, be.addr, sizeof(rk.addr));
			parse_addr(m->family, m->family == 6 ? VPS6 : VPS4,
				   rv.public_addr);
			for (j = 0; j < sizeof(mappings) / sizeof(mappings[0]); j++) {
				const struct mapping *o = &mappings[j];

				for (q = o->port; q <= o->last; q++)
					if (o->family == m->family &&
					    o->proto == m->proto &&
					    !strcmp(o->be, m->be) &&
					    o->be_port + (q - o->port) ==
						    m->be_port + (p - m->port))
						rv.refs++;
			}
			/* CRBPF_BE_TRACK as the tool sets it (model.c
			 * track_ops()): several public ports, or any address
			 * of pub0, which has two IPv4 ones */
			if (m->family == 4)
				rv.match |= CRBPF_REV_TRACK;
			if (rv.refs > 1 || (rv.match & CRBPF_REV_TRACK))
				be.flags |= CRBPF_BE_TRACK;
			err = bpf_map_update_elem(bpf_map__fd(edge->maps.crbpf_ports),
						  &k, &be, BPF_ANY);
			if (err)
				return fail_setup("crbpf_ports", err);
			err = mstats_zero(be.mapping);
			if (err)
				return fail_setup("crbpf_mstats", err);
			err = bpf_map_update_elem(bpf_map__fd(edge->maps.crbpf_rev),
						  &rk, &rv, BPF_ANY);
			if (err)
				return fail_setup("crbpf_rev", err);
		}
	}
	return 0;
}

/* ---- counters ---- */

static void stats_read(int fd, __u64 out[CRBPF_ST__MAX])
{
	__u64 *v = calloc(ncpus, sizeof(__u64));
	__u32 k;
	int c;

	for (k = 0; k < CRBPF_ST__MAX; k++) {
		out[k] = 0;
		if (bpf_map_lookup_elem(fd, &k, v))
			continue;
		for (c = 0; c < ncpus; c++)
			out[k] += v[c];
	}
	free(v);
}

/* The counters of the mapping m names: the slot its crbpf_ports entry's id
 * indexes, as `crbpf stats` reads them. */
static bool mstats_read(const struct mst_exp *m, struct crbpf_mstats *sum)
{
	__u32 id = unit_mapping_of(m->family, m->proto, m->all ? 0 : m->port,
				   m->addr);
	struct crbpf_mstats *v = calloc(ncpus, sizeof(*v));
	int c;

	memset(sum, 0, sizeof(*sum));
	if (!id ||
	    bpf_map_lookup_elem(bpf_map__fd(edge->maps.crbpf_mstats), &id, v)) {
		free(v);
		return false;
	}
	for (c = 0; c < ncpus; c++) {
		sum->in_packets += v[c].in_packets;
		sum->in_bytes += v[c].in_bytes;
		sum->out_packets += v[c].out_packets;
		sum->out_bytes += v[c].out_bytes;
		sum->new_flows += v[c].new_flows;
	}
	free(v);
	return true;
}

/* Only for messages: a number out of range prints as such. */
static const char *stat_name(enum crbpf_stat st)
{
	static char buf[16];

	if ((unsigned int)st < CRBPF_ST__MAX)
		return crbpf_stat_names[st];
	snprintf(buf, sizeof(buf), "#%d", (int)st);
	return buf;
}

static int map_count(int fd)
{
	char key[64], next[64];
	void *prev = NULL;
	int n = 0;

	while (!bpf_map_get_next_key(fd, prev, next)) {
		memcpy(key, next, sizeof(key));
		prev = key;
		n++;
	}
	return n;
}

static void expected_frame(const struct tcase *c, const __u8 *in, int in_len,
			   __u8 *out, int *out_len);
/* L4 offset in the last frame expected_frame() built */
static int want_l4_off;

/* ---- flows ---- */

/* The programs' flow clock (bpf_ktime_get_coarse_ns) is CLOCK_MONOTONIC. */
__u64 mono_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (__u64)ts.tv_sec * 1000000000ULL + ts.tv_nsec;
}

static void flow_key(struct crbpf_flow_key *k, int family, __u8 proto,
		     const char *backend, __u16 bport, const char *client,
		     __u16 cport)
{
	memset(k, 0, sizeof(*k));
	parse_addr(family, backend, k->backend);
	parse_addr(family, client, k->client);
	k->backend_port = htons(bport);
	k->client_port = htons(cport);
	k->family = family == 6 ? CRBPF_V6 : CRBPF_V4;
	k->proto = proto;
}

int edge_map_fd(const char *name)
{
	return edge ? bpf_object__find_map_fd_by_name(edge->obj, name) : -1;
}

int flow_lookup(const struct crbpf_flow_key *k, struct crbpf_flow *v)
{
	int fd = edge_map_fd("crbpf_unreplied");

	if (!bpf_map_lookup_elem(edge_map_fd("crbpf_flows"), k, v))
		return 0;
	if (fd >= 0 && !bpf_map_lookup_elem(fd, k, v))
		return 1;
	return -1;
}

bool flow_store(const struct crbpf_flow_key *k, const struct crbpf_flow *v)
{
	int flows = edge_map_fd("crbpf_flows"), unreplied = edge_map_fd("crbpf_unreplied");
	struct crbpf_flow cur;
	int where = flow_lookup(k, &cur), fd;

	if (where < 0)
		where = v->flags & CRBPF_FLOW_REPLIED ? 0 : 1;
	fd = where == 1 && unreplied >= 0 ? unreplied : flows;
	return ASSERT_OK(bpf_map_update_elem(fd, k, v, BPF_ANY) ? -errno : 0,
			 "write flow entry");
}

int unit_run(int prog, struct pkt_spec *s)
{
	static __u8 in[PKT_MAX], out[PKT_MAX * 2];
	LIBBPF_OPTS(bpf_test_run_opts, opts);
	struct __sk_buff skb = {};
	struct xdp_md xdp = {};
	int len;

	len = pkt_build(s, in);
	opts.data_in = in;
	opts.data_size_in = len;
	opts.data_out = out;
	opts.data_size_out = sizeof(out);
	if (is_xdp(prog)) {
		xdp.data_end = len;
		xdp.ingress_ifindex = topo.ifindex[s->dev];
		opts.ctx_in = &xdp;
		opts.ctx_size_in = sizeof(xdp);
	} else {
		skb.ifindex = skb.ingress_ifindex = topo.ifindex[s->dev];
		opts.ctx_in = &skb;
		opts.ctx_size_in = sizeof(skb);
	}
	if (bpf_prog_test_run_opts(prog_fd(prog), &opts))
		return -1;
	return opts.retval;
}

int unit_flood(int prog, const struct pkt_spec *tmpl, int reply_prog,
	       const struct pkt_spec *reply, __u16 sport0, int n, int verdict)
{
	struct pkt_spec s;
	int i, hits = 0, step, run_prog;

	for (i = 0; i < 3 * n; i++) {
		/* per flow: forward, the answer (if any), forward */
		step = i % 3;
		if (step == 1 && !reply)
			continue;
		s = step == 1 ? *reply : *tmpl;
		run_prog = step == 1 ? reply_prog : prog;
		if (step == 1)
			s.dport = sport0 + i / 3;
		else
			s.sport = sport0 + i / 3;
		if (unit_run(run_prog, &s) == verdict && step != 1)
			hits++;
	}
	return hits;
}

bool flow_insert(int family, __u8 proto, const char *backend, __u16 bport,
		 const char *client, __u16 cport, const char *public_addr,
		 __u16 public_port)
{
	struct crbpf_flow_key k;
	struct crbpf_flow v = {};

	flow_key(&k, family, proto, backend, bport, client, cport);
	parse_addr(family, public_addr, v.public_addr);
	v.public_port = htons(public_port);
	v.public_ifindex = topo.ifindex[DEV_PUB];
	v.mapping = unit_mapping_of(family, proto, public_port, NULL);
	/* live: a flow that has just started */
	v.created_ns = v.seen_ns = mono_ns();
	return flow_store(&k, &v);
}

static bool add_flow(const struct tcase *c)
{
	const struct pkt_spec *s = c->in.inner;

	/* the quoted packet goes client -> backend */
	if (s)
		return flow_insert(s->family, s->proto, s->dst, s->dport, s->src,
				   s->sport, c->to_addr, c->to_port);
	s = &c->in;

	return flow_insert(s->family, s->proto, s->src, s->sport, s->dst,
			   s->dport, c->to_addr, c->to_port);
}

/* Picks the first payload word so that the rewritten UDP datagram's
 * checksum computes to 0 (sent as 0xffff). */
static void force_udp_ffff(struct tcase *c)
{
	__u8 f[PKT_MAX];
	__u16 field, sum;
	int len;

	c->in.pay_word_on = true;
	c->in.pay_word = 0;
	len = pkt_build(&c->in, f);
	expected_frame(c, f, len, f, &len);
	field = (__u16)(f[want_l4_off + 6] << 8 | f[want_l4_off + 7]);
	sum = (__u16)~field;
	c->in.pay_word = (__u16)(0xffff - sum);
}

/* Picks the first payload word so that the input's UDP checksum, complete
 * and right, equals its folded pseudo-header sum. */
static void force_csum_eq_pseudo(struct tcase *c)
{
	struct pkt_spec s = c->in;
	__u8 f[PKT_MAX];
	int coff;
	__u32 v;

	s.pay_word_on = true;
	s.pay_word = 0;
	pkt_build(&s, f);
	coff = s.l4_off + 6;
	v = (__u32)(f[coff] << 8 | f[coff + 1]); /* ~(rest of the sum) */
	s.csum_partial = true;
	pkt_build(&s, f);
	/* the word w that makes ~(rest + w) equal P: w = ~P - rest */
	v += (__u16)~(f[coff] << 8 | f[coff + 1]);
	v = (v & 0xffff) + (v >> 16);
	c->in.pay_word_on = true;
	c->in.pay_word = (__u16)v;
}

/* The id of the entry a packet to (addr, port) hits, most specific first,
 * as lookup_mapping() looks. */
static __u32 mapping_hit(int family, __u8 proto, const char *addr, __u16 port)
{
	return unit_mapping_of(family, proto, port, addr) ?:
	       unit_mapping_of(family, proto, port, NULL) ?:
	       unit_mapping_of(family, proto, 0, addr) ?:
	       unit_mapping_of(family, proto, 0, NULL);
}

static bool check_flow(const struct tcase *c)
{
	const struct pkt_spec *s = &c->in;
	struct crbpf_flow_key k;
	struct crbpf_flow v = {};
	__be32 pub[4];
	bool ok = true;

	flow_key(&k, s->family, s->proto, c->to_addr, c->to_port, s->src,
		 s->sport);
	if (flow_lookup(&k, &v) < 0) {
		unit_fail("no crbpf_flows entry {backend %s:%u, client %s:%u}",
			  c->to_addr, c->to_port, s->src, s->sport);
		return false;
	}
	parse_addr(s->family, s->dst, pub);
	ok &= ASSERT_TRUE(!memcmp(v.public_addr, pub, sizeof(pub)),
			  "flow public_addr");
	ok &= ASSERT_EQ(ntohs(v.public_port), s->dport, "flow public_port");
	ok &= ASSERT_EQ(v.public_ifindex, topo.ifindex[s->dev],
			"flow public_ifindex");
	/* replies count for the mapping the flow came through */
	ok &= ASSERT_EQ(v.mapping, mapping_hit(s->family, s->proto, s->dst,
					       s->dport),
			"flow mapping id");
	return ok;
}

/* ---- home ---- */

void hflow_key(struct crbpf_hflow_key *k, int family, __u8 proto,
	       const char *remote, __u16 rport, const char *local, __u16 lport)
{
	memset(k, 0, sizeof(*k));
	parse_addr(family, remote, k->remote);
	parse_addr(family, local, k->local);
	k->remote_port = htons(rport);
	k->local_port = htons(lport);
	k->family = family == 6 ? CRBPF_V6 : CRBPF_V4;
	k->proto = proto;
}

/* Where the tuple k is: 0 crbpf_hflows, 1 crbpf_hunreplied, -1 neither. */
int hflow_lookup(int prog, const struct crbpf_hflow_key *k, struct crbpf_hflow *v)
{
	if (!bpf_map_lookup_elem(hflows_fd(prog), k, v))
		return 0;
	if (!bpf_map_lookup_elem(hunreplied_fd(prog), k, v))
		return 1;
	return -1;
}

/* The tuple a case's reply belongs to, written as the programs would. */
static bool add_hflow(const struct tcase *c)
{
	const struct pkt_spec *s = &c->in;
	struct crbpf_hflow_key k;
	struct crbpf_hflow v = {
		.tunnel_ifindex = topo.ifindex[c->hflow_dev ? c->hflow_dev : DEV_HTUN],
		.flags = c->hflow_flags,
		.seen_ns = mono_ns() - c->hflow_idle * 1000000000ULL,
	};

	if (s->inner)
		hflow_key(&k, s->family, s->inner->proto, s->inner->src,
			  s->inner->sport, s->inner->dst, s->inner->dport);
	else if (c->prog == P_HOME_OUT || c->prog == P_HOME_OUT_NO6)
		hflow_key(&k, s->family, s->proto, s->dst, s->dport,
			  s->family == 6 ? HTUN6 : HTUN4,
			  c->hflow_lport ? c->hflow_lport : s->sport);
	else
		hflow_key(&k, s->family, s->proto, s->dst, s->dport, s->src,
			  s->sport);
	bpf_map_delete_elem(hflows_fd(c->prog), &k);
	bpf_map_delete_elem(hunreplied_fd(c->prog), &k);
	return ASSERT_OK(bpf_map_update_elem(c->hflow_unreplied ? hunreplied_fd(c->prog) :
							       hflows_fd(c->prog),
					     &k, &v, BPF_ANY),
			 "insert hflow");
}

/* ---- one case ---- */

/* The marker crbpf_edge_xdp writes for tun0 (bpf/handoff.h), with
 * UNIT_HANDOFF or (M_HANDOFF_OTHER) a token one bit off. */
static void handoff_macs(enum macs m, __u8 dst[6], __u8 src[6])
{
	__u32 ifindex = topo.ifindex[DEV_TUN];

	memcpy(dst, unit_handoff, 6);
	if (m == M_HANDOFF_OTHER)
		dst[5] ^= 1;
	memcpy(src, &ifindex, 4);
	src[4] = 1;
	src[5] = 0;
}

static struct crbpf_unit_redirect *redirect_seen(enum prog p);
static enum dev dev_of(int ifindex);

/* P_EDGE_TC_H over what P_EDGE_XDP_H passed: a redirect to tun0 that
 * changes nothing. */
static bool run_chain_tc(const __u8 *f, int len)
{
	static __u8 out[PKT_MAX * 2];
	struct __sk_buff skb = {};
	const struct crbpf_unit_redirect *r = redirect_seen(P_EDGE_TC_H);
	LIBBPF_OPTS(bpf_test_run_opts, opts, .data_in = f, .data_size_in = len,
		    .data_out = out, .data_size_out = sizeof(out),
		    .ctx_in = &skb, .ctx_size_in = sizeof(skb));
	bool ok = true;

	skb.ifindex = topo.ifindex[DEV_PUB];
	skb.ingress_ifindex = topo.ifindex[DEV_PUB];
	memset(redirect_seen(P_EDGE_TC_H), 0, sizeof(struct crbpf_unit_redirect));
	if (!ASSERT_OK(bpf_prog_test_run_opts(prog_fd(P_EDGE_TC_H), &opts) ? -errno : 0,
		       "BPF_PROG_TEST_RUN of crbpf_edge_tc on the XDP output"))
		return false;
	ok &= ASSERT_EQ((int)opts.retval, TC_ACT_REDIRECT, "crbpf_edge_tc verdict on the XDP output");
	ok &= ASSERT_EQ(r->calls, 1, "crbpf_edge_tc redirect calls");
	ok &= ASSERT_EQ(r->kind, CRBPF_REDIR_TC, "crbpf_edge_tc redirect kind (bpf_redirect)");
	ok &= ASSERT_EQ(dev_of(r->target), DEV_TUN, "crbpf_edge_tc redirect target (tun0)");
	ok &= pkt_compare(f, len, out, opts.data_size_out, 0);
	return ok;
}

static void expected_frame(const struct tcase *c, const __u8 *in, int in_len,
			   __u8 *out, int *out_len)
{
	struct pkt_spec s = c->in, quoted;
	const __u8 *dmac = c->in.dmac, *smac = c->in.smac;
	__u8 hdst[6], hsrc[6];

	if (c->expect_frame) {
		*out_len = c->expect_frame(c, in, in_len, out);
		want_l4_off = c->in.l4_off;
		return;
	}
	if (c->x == X_NONE) {
		memcpy(out, in, in_len);
		*out_len = in_len;
		want_l4_off = c->in.l4_off;
		return;
	}
	if (c->x == X_SRC) {
		/* crbpf_home_out: new source address, the rest as it was */
		s.src = c->to_addr;
		*out_len = pkt_build_macs(&s, dmac, smac, out);
		want_l4_off = s.l4_off;
		return;
	}
	if (c->x == X_ICMP || c->x == X_ICMP_INNER) {
		quoted = *c->in.inner;
		quoted.dst = c->to_addr;
		quoted.dport = c->to_port;
		s.inner = &quoted;
		if (c->x == X_ICMP)
			s.src = c->to_addr;
	} else if (c->x == X_ICMP_FWD) {
		quoted = *c->in.inner;
		quoted.src = c->to_addr;
		quoted.sport = c->to_port;
		s.inner = &quoted;
		s.dst = c->to_addr;
	} else if (c->x == X_DNAT) {
		s.dst = c->to_addr;
		s.dport = c->to_port;
	} else if (c->x == X_DNAT_ADDR) {
		s.dst = c->to_addr;
	} else if (c->x == X_SNAT_ADDR) {
		s.src = c->to_addr;
	} else {
		s.src = c->to_addr;
		s.sport = c->to_port;
	}
	s.ttl = (c->in.ttl ? c->in.ttl : 64) - 1;
	if (c->untag)
		s.vlan = 0;
	/* crbpf_tun_tc pushes an Ethernet header in front of bare IP */
	s.l3only = false;
	if (c->macs == M_FWD_L2) {
		dmac = topo.peer_mac[DEV_NH];
		smac = topo.mac[DEV_NH];
	} else if (c->macs == M_FWD_NH2) {
		dmac = topo.peer_mac[DEV_NH2];
		smac = topo.mac[DEV_NH2];
	} else if (c->macs == M_REV) {
		dmac = topo.peer_mac[DEV_PUB];
		smac = topo.mac[DEV_PUB];
	} else if (c->macs == M_HANDOFF) {
		handoff_macs(c->macs, hdst, hsrc);
		dmac = hdst;
		smac = hsrc;
	}
	if (c->expect)
		c->expect(c, &s);
	*out_len = pkt_build_macs(&s, dmac, smac, out);
	want_l4_off = s.l4_off;
}

/* ---- redirect targets (bpf/unit_hook.h) ---- */

/* The unit build's record of the last redirect, in the object of prog. */
static struct crbpf_unit_redirect *redirect_seen(enum prog p)
{
	switch (p) {
	case P_HOME_TUN:
	case P_HOME_SRV:
	case P_HOME_FWD:
		return &home->bss->crbpf_unit_redirect;
	case P_HOME_SRV_MARK:
		return &home2->bss->crbpf_unit_redirect;
	case P_HOME_OUT:
		return &home3->bss->crbpf_unit_redirect;
	case P_HOME_OUT_NO6:
		return &home4->bss->crbpf_unit_redirect;
	case P_EDGE_XDP_H:
	case P_EDGE_TC_H:
		return &edgeh->bss->crbpf_unit_redirect;
	default:
		return &edge->bss->crbpf_unit_redirect;
	}
}

static enum dev dev_of(int ifindex)
{
	int d;

	for (d = DEV_NONE + 1; d < DEV__MAX; d++)
		if (topo.ifindex[d] == ifindex)
			return d;
	return DEV_NONE;
}

/* The device a redirecting case must leave by: the next hop whose MAC
 * header the expected frame carries, else the tunnel of its layer-3 path. */
static enum dev redirect_dev(const struct tcase *c)
{
	if (c->redirect_dev)
		return c->redirect_dev;
	switch (c->macs) {
	case M_FWD_L2:
		return DEV_NH;
	case M_FWD_NH2:
		return DEV_NH2;
	case M_REV:
		return DEV_PUB;
	default:
		break;
	}
	switch (c->prog) {
	case P_EDGE_XDP:
	case P_EDGE_TC:
	case P_EDGE_XDP_H:
	case P_EDGE_TC_H:
		return DEV_TUN;
	case P_REV_TC:
	case P_TUN_TC:
		return DEV_PUB;
	default:
		return DEV_HTUN;
	}
}

static bool check_redirect(const struct tcase *c)
{
	const struct crbpf_unit_redirect *r = redirect_seen(c->prog);
	static const char *const kinds[] = { "none", "bpf_redirect", "bpf_redirect_neigh",
					     "bpf_redirect_map" };
	enum dev want = redirect_dev(c), got = dev_of(r->target);

	if (!ASSERT_TRUE(r->calls > 0, "a redirect helper was called"))
		return false;
	if (is_xdp(c->prog) && !ASSERT_EQ(r->kind, CRBPF_REDIR_MAP, "XDP redirects through crbpf_txports"))
		return false;
	if (got != want) {
		unit_fail("redirected to %s by %s(%llu), expected %s", dev_name(got),
			  kinds[r->kind < 4 ? r->kind : 0], (unsigned long long)r->target,
			  dev_name(want));
		return false;
	}
	return true;
}

/*
 * Why --csum-complete cannot judge a case, or NULL. test_run sums skb->csum
 * from skb_network_offset(), 14: on an l3only frame that is inside the IP
 * header, and with a VLAN tag in the data the pop adjusts skb->csum for
 * bytes partly outside that range; neither is what a real tc hook sees (a
 * tunnel's skb->csum starts at the IP header, the stack untags before tc).
 * An ICMP error crbpf builds from the packet (tc_send_too_big()) leaves
 * skb->csum as it was: it is sent, and transmit ignores CHECKSUM_COMPLETE.
 */
static const char *csum_complete_skip(const struct tcase *c)
{
	if (c->in.l3only)
		return "l3only frame: test_run sums from byte 14";
	if (c->in.vlan)
		return "VLAN tag in the data: test_run sums from byte 14";
	if (c->expect_frame)
		return "an ICMP error crbpf builds keeps the old skb->csum";
	return NULL;
}

static bool run_case(const struct tcase *tc)
{
	static __u8 in[PKT_MAX], want[PKT_MAX], got[PKT_MAX * 2];
	__u64 st_before[CRBPF_ST__MAX], st_after[CRBPF_ST__MAX];
	struct crbpf_mstats m_before = {}, m_after = {};
	struct __sk_buff skb_in = {}, skb_out = {};
	struct xdp_md xdp_in = {};
	struct tcase c = *tc;
	int in_len, want_len, err, i, hcount = 0;
	bool ok = true, udp_zero;
	LIBBPF_OPTS(bpf_test_run_opts, opts);

	if (is_home(c.prog) ? !home : !edge) {
		unit_fail("object not loaded (%s)", is_home(c.prog) ? home_err : edge_err);
		return false;
	}

	if (c.in_macs == M_HANDOFF || c.in_macs == M_HANDOFF_OTHER) {
		__u8 hdst[6], hsrc[6];

		handoff_macs(c.in_macs, hdst, hsrc);
		in_len = pkt_build_macs(&c.in, hdst, hsrc, in);
	} else {
		in_len = pkt_build(&c.in, in);
	}
	expected_frame(&c, in, in_len, want, &want_len);

	if (c.udp_ffff) {
		force_udp_ffff(&c);
		in_len = pkt_build(&c.in, in);
		expected_frame(&c, in, in_len, want, &want_len);
		if (!ASSERT_EQ(want[want_l4_off + 6] << 8 | want[want_l4_off + 7],
			       0xffff, "fixture: expected UDP checksum 0xffff"))
			return false;
	}
	if (c.csum_eq_pseudo) {
		struct pkt_spec s = c.in;
		__u8 f[PKT_MAX];
		__u16 field, pseudo;

		force_csum_eq_pseudo(&c);
		in_len = pkt_build(&c.in, in);
		expected_frame(&c, in, in_len, want, &want_len);
		field = (__u16)(in[c.in.l4_off + 6] << 8 | in[c.in.l4_off + 7]);
		s.csum_partial = true;
		pkt_build(&s, f);
		pseudo = (__u16)(f[s.l4_off + 6] << 8 | f[s.l4_off + 7]);
		if (!ASSERT_EQ(field, pseudo, "fixture: UDP checksum equals the pseudo-header sum") ||
		    !ASSERT_TRUE(pkt_verify_csums(in, in_len, &udp_zero), "fixture: input checksums"))
			return false;
	}
	if (c.add_flow && !add_flow(&c))
		return false;
	if (c.setup)
		c.setup();
	if (c.add_hflow && !add_hflow(&c))
		return false;
	if (c.learn)
		hcount = map_count(hflows_fd(c.prog)) + map_count(hunreplied_fd(c.prog));
	stats_read(stats_fd(c.prog), st_before);
	if (c.mst.on && !mstats_read(&c.mst, &m_before)) {
		unit_fail("no crbpf_mstats entry for the mapping (tool writes one)");
		return false;
	}

	opts.data_in = in;
	opts.data_size_in = in_len;
	opts.data_out = got;
	opts.data_size_out = sizeof(got);
	if (is_xdp(c.prog)) {
		xdp_in.data_end = in_len;
		xdp_in.ingress_ifindex = topo.ifindex[c.in.dev];
		opts.ctx_in = &xdp_in;
		opts.ctx_size_in = sizeof(xdp_in);
	} else {
		skb_in.ifindex = topo.ifindex[c.in.dev];
		skb_in.ingress_ifindex = topo.ifindex[c.in.dev];
		if (c.from_dev || c.prog == P_HOME_FWD)
			skb_in.ingress_ifindex =
				topo.ifindex[c.from_dev ? c.from_dev : DEV_HTUN];
		skb_in.mark = c.mark_in;
		skb_in.gso_size = c.gso_size;
		opts.ctx_in = &skb_in;
		opts.ctx_size_in = sizeof(skb_in);
		opts.ctx_out = &skb_out;
		opts.ctx_size_out = sizeof(skb_out);
		if (c.csum_complete || (csum_complete_all && !csum_complete_skip(&c)))
			opts.flags |= BPF_F_TEST_SKB_CHECKSUM_COMPLETE;
	}
	memset(redirect_seen(c.prog), 0, sizeof(struct crbpf_unit_redirect));
	/* S_MISS/S_HIT: production's 1 in 16, the draw a miss or a hit */
	if (!is_home(c.prog)) {
		edge->bss->flow_sample_log2 = c.sample ? 4 : 0;
		edge->bss->crbpf_unit_rand = c.sample == S_MISS;
	}
	err = bpf_prog_test_run_opts(prog_fd(c.prog), &opts);
	if (!is_home(c.prog))
		edge->bss->flow_sample_log2 = edge->bss->crbpf_unit_rand = 0;
	if (!ASSERT_OK(err ? -errno : 0, "BPF_PROG_TEST_RUN"))
		return false;
	/* The target of every redirect; a redirect helper whose verdict the
	 * program then overrode (XDP_PASS default) needs no target. */
	if ((int)opts.retval == c.verdict &&
	    c.verdict == (is_xdp(c.prog) ? XDP_REDIRECT : TC_ACT_REDIRECT))
		ok &= check_redirect(&c);
	pcap_write(in, in_len, c.in.l3only);
	pcap_write(got, opts.data_size_out,
		   c.in.l3only && opts.data_size_out == (__u32)in_len);

	/* retval is the program's int verdict carried in a __u32 (TC_ACT_UNSPEC is -1). */
	ok &= ASSERT_EQ((int)opts.retval, c.verdict, "verdict");
	if (c.nat)
		ok &= ASSERT_EQ(redirect_seen(c.prog)->nat, c.nat,
				"rewrite (1 direct writes, 2 csum helpers)");
	ok &= pkt_compare(want, want_len, got, opts.data_size_out,
			  c.macs == M_SKIP ? 12 : 0);
	udp_zero = false;
	/* Untouched output is the input: a fixture built with a bogus checksum
	 * or length field (checksums cover the bytes built, not the length
	 * written) has nothing to verify. */
	if (!(c.in.l3only && c.x == X_NONE) && !c.in.csum_partial &&
	    !(c.x == X_NONE && (c.in.ip_csum_bad || c.in.len_raw ||
				(c.in.csum0 && c.in.family == 6))))
		ok &= pkt_verify_csums(got, opts.data_size_out, &udp_zero);
	if (c.in.csum0 && c.x != X_NONE)
		ok &= ASSERT_TRUE(udp_zero, "UDP checksum 0 stays 0");
	else if (udp_zero && !c.in.csum0)
		ok &= ASSERT_TRUE(false, "UDP checksum became 0");

	if (c.chain_tc && (int)opts.retval == c.verdict)
		ok &= run_chain_tc(got, opts.data_size_out);

	stats_read(stats_fd(c.prog), st_after);
	if (getenv("UNIT_STATS"))
		for (i = 0; i < CRBPF_ST__MAX; i++)
			if (st_after[i] != st_before[i])
				unit_note("stat %s +%llu", stat_name(i),
					  (unsigned long long)(st_after[i] - st_before[i]));
	for (i = 0; i < 3; i++) {
		char what[64];

		if (!c.st[i].on)
			continue;
		snprintf(what, sizeof(what), "crbpf_stats[%s] delta",
			 stat_name(c.st[i].st));
		ok &= ASSERT_EQ(st_after[c.st[i].st] - st_before[c.st[i].st],
				c.st[i].delta, what);
	}
	if (c.mst.on) {
		if (!mstats_read(&c.mst, &m_after)) {
			unit_fail("crbpf_mstats entry vanished");
			ok = false;
		} else {
			ok &= ASSERT_EQ(m_after.in_packets - m_before.in_packets,
					c.mst.in_packets, "mstats in_packets delta");
			ok &= ASSERT_EQ(m_after.out_packets - m_before.out_packets,
					c.mst.out_packets, "mstats out_packets delta");
			ok &= ASSERT_EQ(m_after.new_flows - m_before.new_flows,
					c.mst.new_flows, "mstats new_flows delta");
			if (c.mst.in_packets)
				ok &= ASSERT_TRUE(m_after.in_bytes > m_before.in_bytes,
						  "mstats in_bytes grew");
			if (c.mst.out_packets)
				ok &= ASSERT_TRUE(m_after.out_bytes > m_before.out_bytes,
						  "mstats out_bytes grew");
		}
	}
	if (c.check_flow)
		ok &= check_flow(&c);
	if (c.check)
		ok &= c.check();
	if (c.learn > 0) {
		struct crbpf_hflow_key k;
		struct crbpf_hflow v = {};
		int where;

		hflow_key(&k, c.in.family, c.in.proto, c.in.src, c.in.sport,
			  c.in.dst, c.in.dport);
		where = hflow_lookup(c.prog, &k, &v);
		if (where < 0) {
			unit_fail("flow %s:%u -> %s:%u not learned", c.in.src,
				  c.in.sport, c.in.dst, c.in.dport);
			ok = false;
		} else {
			ok &= ASSERT_EQ(where, c.learn == 1 ? 1 : 0,
					c.learn == 1 ? "tuple in crbpf_hunreplied (0: crbpf_hflows)" :
						       "tuple in crbpf_hflows (1: crbpf_hunreplied)");
			ok &= ASSERT_EQ(v.tunnel_ifindex, skb_in.ingress_ifindex,
					"hflow tunnel_ifindex");
			ok &= ASSERT_TRUE(mono_ns() - v.seen_ns < 2000000000ULL,
					  "hflow seen_ns is now");
			ok &= ASSERT_TRUE(!v.pad[0] && !v.pad[1] && !v.pad[2], "hflow pad");
		}
	} else if (c.learn < 0) {
		ok &= ASSERT_EQ(map_count(hflows_fd(c.prog)) +
					map_count(hunreplied_fd(c.prog)),
				hcount, "crbpf_hflows + crbpf_hunreplied entries (must not grow)");
	}
	if (c.check_mark)
		ok &= ASSERT_EQ(skb_out.mark, c.mark_out, "skb->mark");
	if (c.check_case)
		ok &= c.check_case(&c);
	return ok;
}

/* ---- self-tests of the harness: a green run must mean something ---- */

/* Runs a check that must fail, without letting its failure count. */
static bool must_fail(bool (*check)(const __u8 *, int), const __u8 *f, int len)
{
	char saved_first[sizeof(first_fail)], saved_notes[sizeof(notes)];
	bool saved_failed = case_failed, result;

	memcpy(saved_first, first_fail, sizeof(saved_first));
	memcpy(saved_notes, notes, sizeof(saved_notes));
	result = check(f, len);
	case_failed = saved_failed;
	memcpy(first_fail, saved_first, sizeof(saved_first));
	memcpy(notes, saved_notes, sizeof(saved_notes));
	return !result;
}

static bool verify(const __u8 *f, int len)
{
	bool udp_zero;

	return pkt_verify_csums(f, len, &udp_zero);
}

static __u8 cmp_ref[PKT_MAX];
static int cmp_ref_len;

static bool compare_to_ref(const __u8 *f, int len)
{
	return pkt_compare(cmp_ref, cmp_ref_len, f, len, 0);
}

static bool harness_csum_golden(void)
{
	/* RFC 1071 style example header (Wikipedia "IPv4 header checksum"):
	 * 192.168.0.1 -> 192.168.0.199, UDP, checksum 0xb861. */
	static const __u8 hdr[20] = { 0x45, 0x00, 0x00, 0x73, 0x00, 0x00, 0x40,
				      0x00, 0x40, 0x11, 0x00, 0x00, 0xc0, 0xa8,
				      0x00, 0x01, 0xc0, 0xa8, 0x00, 0xc7 };

	return ASSERT_EQ(csum_fold(csum_add(0, hdr, sizeof(hdr))), 0xb861,
			 "IPv4 header checksum of the golden header");
}

static bool harness_verify_catches(void)
{
	static const struct pkt_spec specs[] = {
		{ .dev = DEV_PUB, .family = 4, .proto = IPPROTO_TCP, .src = CLI4,
		  .dst = VPS4, .sport = 1, .dport = 2, .opt_words = 2 },
		{ .dev = DEV_PUB, .family = 4, .proto = IPPROTO_UDP, .src = CLI4,
		  .dst = VPS4, .sport = 1, .dport = 2 },
		{ .dev = DEV_PUB, .family = 6, .proto = IPPROTO_TCP, .src = CLI6,
		  .dst = VPS6, .sport = 1, .dport = 2 },
		{ .dev = DEV_PUB, .family = 6, .proto = IPPROTO_UDP, .src = CLI6,
		  .dst = VPS6, .sport = 1, .dport = 2, .vlan = 3 },
	};
	__u8 f[PKT_MAX];
	bool ok = true, udp_zero;
	size_t i;
	int len, off;

	for (i = 0; i < sizeof(specs) / sizeof(specs[0]); i++) {
		struct pkt_spec s = specs[i];

		len = pkt_build(&s, f);
		ok &= ASSERT_TRUE(verify(f, len), "built packet verifies");
		/* one bit anywhere in IP header, pseudo header or segment */
		for (off = s.l3_off; off < len; off++) {
			if (s.family == 6 && off < s.l3_off + 8)
				continue; /* unsummed, or re-frames the packet */
			if (s.family == 4 && off == s.l3_off)
				continue; /* IHL change re-frames the header */
			f[off] ^= 0x10;
			if (!must_fail(verify, f, len)) {
				unit_fail("spec %zu: flipped bit at byte %d not detected", i, off);
				ok = false;
			}
			f[off] ^= 0x10;
		}
	}
	/* IPv4 UDP checksum 0 is "none"; IPv6 UDP checksum 0 is an error */
	{
		struct pkt_spec s = specs[1];

		s.csum0 = true;
		len = pkt_build(&s, f);
		ok &= ASSERT_TRUE(pkt_verify_csums(f, len, &udp_zero) && udp_zero,
				  "IPv4 UDP checksum 0 reported as zero");
		s = specs[3];
		len = pkt_build(&s, f);
		f[s.l4_off + 6] = f[s.l4_off + 7] = 0;
		ok &= ASSERT_TRUE(must_fail(verify, f, len),
				  "IPv6 UDP checksum 0 rejected");
	}
	return ok;
}

static bool harness_compare_catches(void)
{
	struct pkt_spec s = { .dev = DEV_PUB, .family = 4, .proto = IPPROTO_TCP,
			      .src = CLI4, .dst = VPS4, .sport = 1, .dport = 2 };
	__u8 f[PKT_MAX];
	bool ok = true;
	int off;

	cmp_ref_len = pkt_build(&s, cmp_ref);
	memcpy(f, cmp_ref, cmp_ref_len);
	ok &= ASSERT_TRUE(compare_to_ref(f, cmp_ref_len), "identical frames compare equal");
	for (off = 0; off < cmp_ref_len; off++) {
		f[off] ^= 1;
		if (!must_fail(compare_to_ref, f, cmp_ref_len)) {
			unit_fail("changed byte %d not detected", off);
			ok = false;
		}
		f[off] ^= 1;
	}
	ok &= ASSERT_TRUE(must_fail(compare_to_ref, f, cmp_ref_len - 1),
			  "shorter frame detected");
	return ok;
}

static const struct {
	const char *name;
	bool (*fn)(void);
} harness_tests[] = {
	{ "harness_csum_golden", harness_csum_golden },
	{ "harness_verify_catches", harness_verify_catches },
	{ "harness_compare_catches", harness_compare_catches },
};

int unit_prog_fd(enum prog p)
{
	return prog_fd(p);
}

struct crbpf_unit_redirect *unit_redirect_seen(enum prog p)
{
	return redirect_seen(p);
}

int unit_fuzz_setup(void)
{
	if (!edge || !home) {
		fprintf(stderr, "unit: %s\n", edge ? home_err : edge_err);
		return -1;
	}
	return unit_all_setup();
}

/* Does BPF_PROG_TEST_RUN take BPF_F_TEST_SKB_CHECKSUM_COMPLETE (6.11+)?
 * An older kernel refuses any flag for tc with EINVAL. */
static bool csum_complete_known(void)
{
	struct pkt_spec s = { .dev = DEV_PUB, .family = 4, .proto = IPPROTO_UDP,
			      .src = CLI4, .dst = "192.0.2.9", .sport = 1, .dport = 2 };
	__u8 f[PKT_MAX], out[PKT_MAX * 2];
	LIBBPF_OPTS(bpf_test_run_opts, opts);

	opts.data_in = f;
	opts.data_size_in = pkt_build(&s, f);
	opts.data_out = out;
	opts.data_size_out = sizeof(out);
	opts.flags = BPF_F_TEST_SKB_CHECKSUM_COMPLETE;
	return edge && (!bpf_prog_test_run_opts(prog_fd(P_EDGE_TC), &opts) ||
			errno != EINVAL);
}

static bool selected(const char *name, int argc, char **argv, int first)
{
	int i;

	if (first >= argc)
		return true;
	for (i = first; i < argc; i++)
		if (strstr(name, argv[i]))
			return true;
	return false;
}

int main(int argc, char **argv)
{
	int first = 1, passed = 0, failed = 0, i, t;
	const char *mode;
	const struct {
		const struct tcase *cases;
		int n;
	} tables[] = {
		/* One line per tests/unit/<area>_cases.c file. */
		{ edge_cases, n_edge_cases },
		/* before all_cases, whose `all` entries would take port 22 */
		{ acl_cases, n_acl_cases },
		{ limit_cases, n_limit_cases },
		{ fo_cases, n_fo_cases },
		{ home_cases, n_home_cases },
		{ flow_cases, n_flow_cases },
		{ frag_cases, n_frag_cases },
		{ all_cases, n_all_cases },
		{ mtu_cases, n_mtu_cases },
		{ sample_cases, n_sample_cases },
		{ nh_cases, n_nh_cases },
		{ lcache_cases, n_lcache_cases },
	};

	while (first < argc && argv[first][0] == '-' &&
	       strncmp(argv[first], "--fuzz", 6)) {
		if (!strcmp(argv[first], "-v")) {
			verbose = true;
			first++;
		} else if (!strcmp(argv[first], "--csum-complete")) {
			csum_complete_all = true;
			first++;
		} else if (!strcmp(argv[first], "-w") && first + 1 < argc) {
			pcap_open(argv[first + 1]);
			first += 2;
		} else {
			fprintf(stderr, "usage: %s [-v] [-w PCAP] [--csum-complete] [SUBSTRING...]\n",
				argv[0]);
			return 2;
		}
	}
	setvbuf(stdout, NULL, _IOLBF, 0);
	/* The flow cases write entries up to ~135 s into the past of
	 * CLOCK_MONOTONIC, which cannot go below zero: a machine (or test VM)
	 * booted moments ago waits until it has been up that long. */
	if (mono_ns() < UNIT_MIN_UPTIME_NS) {
		unsigned int wait = (UNIT_MIN_UPTIME_NS - mono_ns()) / 1000000000ULL + 1;

		printf("# unit: up for less than %llu s, waiting %u s (flow cases age entries)\n",
		       UNIT_MIN_UPTIME_NS / 1000000000ULL, wait);
		sleep(wait);
	}
	libbpf_set_print(libbpf_quiet);
	ncpus = libbpf_num_possible_cpus();
	if (ncpus <= 0 || topo_setup()) {
		printf("[unit/setup] FAIL (private netns topology)\n");
		return 1;
	}
	load_objects();
	if (edge && edge_maps_setup()) {
		snprintf(edge_err, sizeof(edge_err), "map setup failed");
		edge_bpf__destroy(edge);
		edge = NULL;
	}

	if (getenv("UNIT_CSUM_COMPLETE"))
		csum_complete_all = true;
	if (csum_complete_all && !csum_complete_known()) {
		printf("[unit/csum_complete] SKIP (kernel lacks BPF_F_TEST_SKB_CHECKSUM_COMPLETE)\n");
		return 0;
	}

	/* The packet fuzzer against the same objects and maps (fuzz.c). */
	if (first < argc && !strcmp(argv[first], "--fuzz"))
		return fuzz_main(argc - first - 1, argv + first + 1);
	if (first + 1 < argc && !strcmp(argv[first], "--fuzz-replay"))
		return fuzz_replay(argv[first + 1]);

	for (i = 0; i < (int)(sizeof(harness_tests) / sizeof(harness_tests[0])); i++) {
		if (csum_complete_all ||
		    !selected(harness_tests[i].name, argc, argv, first))
			continue;
		case_failed = false;
		first_fail[0] = 0;
		notes[0] = 0;
		if (harness_tests[i].fn() && !case_failed) {
			printf("[unit/%s] PASS\n", harness_tests[i].name);
			passed++;
		} else {
			printf("[unit/%s] FAIL (%s)\n", harness_tests[i].name, first_fail);
			fputs(notes, stdout);
			failed++;
		}
	}

	/* the same cases again under another name: the XDP ones as well,
	 * since later cases build on the flows earlier ones leave */
	mode = csum_complete_all ? "csum_complete/" : "";
	for (t = 0; t < (int)(sizeof(tables) / sizeof(tables[0])); t++) {
		for (i = 0; i < tables[t].n; i++) {
			const struct tcase *c = &tables[t].cases[i];
			bool ok;

			if (!selected(c->name, argc, argv, first))
				continue;
			case_failed = false;
			first_fail[0] = 0;
			notes[0] = 0;
			ok = run_case(c) && !case_failed;
			if (ok && csum_complete_all && !c->csum_complete &&
			    !is_xdp(c->prog) && csum_complete_skip(c)) {
				/* run without the flag: later cases build on it */
				printf("[unit/%s%s] SKIP (%s)\n", mode, c->name,
				       csum_complete_skip(c));
			} else if (ok) {
				printf("[unit/%s%s] PASS\n", mode, c->name);
				passed++;
			} else {
				printf("[unit/%s%s] FAIL (%s)\n", mode, c->name,
				       first_fail[0] ? first_fail : "?");
				if (c->note)
					printf("    (%s)\n", c->note);
				fputs(notes, stdout);
				failed++;
			}
		}
	}
	printf("# unit: %d cases PASS, %d cases FAIL\n", passed, failed);
	edge_bpf__destroy(edgeh);
	edge_bpf__destroy(edge);
	home_bpf__destroy(home);
	home_bpf__destroy(home2);
	home_bpf__destroy(home3);
	home_bpf__destroy(home4);
	if (pcap)
		fclose(pcap);
	return failed ? 1 : 0;
}
