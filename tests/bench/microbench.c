// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * microbench: ns per packet of crbpf's XDP programs, BPF_PROG_TEST_RUN.
 *
 *   microbench --pub DEV --nh DEV [--repeat N] [--rounds N] [--many-flows N]
 *
 * Run inside the benchmark's VPS namespace (bench.sh does): DEV names must
 * exist there, because the hit and the reverse case do a real
 * bpf_fib_lookup. Loads build/edge.bpf.o through its skeleton with every map
 * unpinned (nothing touches a live crbpf), fills the maps as `crbpf attach
 * PUB` + `crbpf port add udp 7000 10.99.0.2:9000` do, and measures three
 * 64-byte UDP frames:
 *   hit   198.51.100.10:1024 -> 203.0.113.10:7000 on PUB (L2 backend on NH:
 *         rewrite, flow record, FIB, devmap redirect)
 *   miss  same to port 7001 (not mapped: XDP_PASS)
 *   rev   10.99.0.2:9000 -> 198.51.100.10:1024 on NH (crbpf_rev_xdp)
 *   hit_many  the hit from N clients in turn (--many-flows, default
 *         1,000,000: ports 1024.. of 198.51.100.10, .11, ... 60,000 per
 *         address), one flow entry each, so lookups miss the caches
 * A repeated test run does not reset the frame, so each case runs under
 * micro.bpf.o's harness (restore headers, tail call); the harness alone
 * (tail call to a program that returns XDP_PASS) is measured and subtracted.
 * Prints "hit_ns=.. hit_many_ns=.. miss_ns=.. rev_ns=.. harness_ns=.. ...";
 * figures are medians over --rounds (default 3) runs of --repeat (default
 * 5000000) packets.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <getopt.h>
#include <net/if.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>
#include <linux/if_ether.h>
#include <linux/ip.h>
#include <linux/udp.h>
#include <bpf/libbpf.h>
#include <bpf/bpf.h>
#include "util.h"
#include "crbpf.h"
#include "edge.skel.h"
#include "bench/micro.skel.h"

#define FRAME 64
#define MICRO_HDR 64

static __u16 csum_fold(__u32 sum)
{
	sum = (sum & 0xffff) + (sum >> 16);
	sum = (sum & 0xffff) + (sum >> 16);
	return ~sum;
}

/* A complete 64-byte IPv4/UDP frame with valid checksums. */
static void udp4_frame(__u8 *f, const __u8 *dmac, const __u8 *smac,
		       const char *src, const char *dst, __u16 sport,
		       __u16 dport)
{
	struct ethhdr *eth = (void *)f;
	struct iphdr *ip = (void *)(eth + 1);
	struct udphdr *udp = (void *)(ip + 1);
	__u16 ulen = FRAME - ETH_HLEN - sizeof(*ip);
	__u16 pseudo[2] = { htons(IPPROTO_UDP), htons(ulen) };
	__u32 sum;

	memset(f, 0, FRAME);
	memcpy(eth->h_dest, dmac, ETH_ALEN);
	memcpy(eth->h_source, smac, ETH_ALEN);
	eth->h_proto = htons(ETH_P_IP);
	ip->version = 4;
	ip->ihl = 5;
	ip->tot_len = htons(FRAME - ETH_HLEN);
	ip->ttl = 64;
	ip->protocol = IPPROTO_UDP;
	inet_pton(AF_INET, src, &ip->saddr);
	inet_pton(AF_INET, dst, &ip->daddr);
	ip->check = csum_fold(csum_partial(ip, sizeof(*ip), 0));
	udp->source = htons(sport);
	udp->dest = htons(dport);
	udp->len = htons(ulen);
	sum = csum_partial(&ip->saddr, 8, 0);
	sum = csum_partial(pseudo, sizeof(pseudo), sum);
	sum = csum_partial(udp, ulen, sum);
	udp->check = csum_fold(sum) ?: 0xffff;
}

/* Clients for --many-flows: 60,000 ports per address from 198.51.100.10. */
#define MANY_PORTS 60000
#define MANY_MAX (MANY_PORTS * 240L)

/* micro_cycle[k] = the hit frame from client k. */
static int fill_cycle(struct micro_bpf *m, long n, const __u8 *dmac,
		      const __u8 *smac)
{
	int fd = bpf_map__fd(m->maps.micro_cycle);
	__u8 f[FRAME];
	char src[32];
	__u32 k;

	for (k = 0; k < n; k++) {
		snprintf(src, sizeof(src), "198.51.100.%u", 10 + k / MANY_PORTS);
		udp4_frame(f, dmac, smac, src, "203.0.113.10",
			   1024 + k % MANY_PORTS, 7000);
		if (bpf_map_update_elem(fd, &k, f, BPF_ANY))
			return -errno;
	}
	m->bss->cycle_n = n;
	return 0;
}

static const char *xdp_ret(int r)
{
	static const char *n[] = { "ABORTED", "DROP", "PASS", "TX", "REDIRECT" };

	return r >= 0 && r < 5 ? n[r] : "?";
}

/* One test run: returns ns per packet (kernel's average) or -1. */
static int run(int prog_fd, const __u8 *frame, int ifindex, __u32 repeat,
	       __u32 *retval)
{
	__u8 out[FRAME + 256];
	struct xdp_md ctx = { .data_end = FRAME, .ingress_ifindex = ifindex };
	LIBBPF_OPTS(bpf_test_run_opts, o, .data_in = frame,
		    .data_size_in = FRAME, .data_out = out,
		    .data_size_out = sizeof(out), .ctx_in = &ctx,
		    .ctx_size_in = sizeof(ctx), .repeat = repeat);

	if (bpf_prog_test_run_opts(prog_fd, &o))
		return -1;
	*retval = o.retval;
	return o.duration;
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

/* Median over rounds of (harness + prog) - (harness + null), ns/packet.
 * frame NULL: the cycling harness, over the frames already in micro_cycle. */
static int measure(struct micro_bpf *m, int prog_fd, const __u8 *frame,
		   int ifindex, __u32 repeat, int rounds, double *ns,
		   double *harness, __u32 *retval)
{
	int jmp = bpf_map__fd(m->maps.micro_jmp);
	int null_fd = bpf_program__fd(m->progs.crb_null);
	int harness_fd = bpf_program__fd(frame ? m->progs.crb_micro :
						 m->progs.crb_micro_cycle);
	__u8 first[FRAME];
	double d[16], h[16];
	__u32 zero = 0, rv;
	int i, t;

	if (!frame) {
		if (bpf_map_lookup_elem(bpf_map__fd(m->maps.micro_cycle), &zero, first))
			return -errno;
		frame = first;
	} else if (bpf_map_update_elem(bpf_map__fd(m->maps.micro_tmpl), &zero,
				       frame, BPF_ANY)) {
		return -errno;
	}
	for (i = 0; i < rounds; i++) {
		if (bpf_map_update_elem(jmp, &zero, &prog_fd, BPF_ANY))
			return -errno;
		t = run(harness_fd, frame, ifindex, repeat, retval);
		if (t < 0)
			return -errno;
		d[i] = t;
		if (bpf_map_update_elem(jmp, &zero, &null_fd, BPF_ANY))
			return -errno;
		t = run(harness_fd, frame, ifindex, repeat, &rv);
		if (t < 0)
			return -errno;
		h[i] = t;
	}
	qsort(d, rounds, sizeof(d[0]), cmp_double);
	qsort(h, rounds, sizeof(h[0]), cmp_double);
	*ns = d[rounds / 2] - h[rounds / 2];
	*harness = h[rounds / 2];
	return 0;
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "pub", required_argument, NULL, 'p' },
		{ "nh", required_argument, NULL, 'n' },
		{ "repeat", required_argument, NULL, 'r' },
		{ "rounds", required_argument, NULL, 'R' },
		{ "many-flows", required_argument, NULL, 'F' },
		{}
	};
	const char *pub = NULL, *nh = NULL;
	long repeat = 5000000, rounds = 3, many = 1000000;
	struct edge_bpf *e = NULL;
	struct micro_bpf *m = NULL;
	__u8 pub_mac[ETH_ALEN], nh_mac[ETH_ALEN], other[ETH_ALEN] = { 2, 0, 0, 0, 0, 1 };
	__u8 hit[FRAME], miss[FRAME], rev[FRAME];
	int pub_if, nh_if, opt, err, ret = 1;
	struct bpf_map *map;
	__u32 r_hit, r_miss, r_rev, r1, r2, r3, r4;
	double hit_ns, miss_ns, rev_ns, many_ns, h1, h2, h3, h4;

	while ((opt = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (opt) {
		case 'p': pub = optarg; break;
		case 'n': nh = optarg; break;
		case 'r': repeat = strtol(optarg, NULL, 0); break;
		case 'R': rounds = strtol(optarg, NULL, 0); break;
		case 'F': many = strtol(optarg, NULL, 0); break;
		default: goto usage;
		}
	}
	if (!pub || !nh || repeat < 1 || rounds < 1 || rounds > 16 ||
	    many < 1 || many > MANY_MAX)
		goto usage;
	pub_if = if_nametoindex(pub);
	nh_if = if_nametoindex(nh);
	if (!pub_if || !nh_if || dev_mac(pub, pub_mac) || dev_mac(nh, nh_mac)) {
		fprintf(stderr, "microbench: %s / %s: no such device here\n", pub, nh);
		return 1;
	}
	libbpf_set_print(libbpf_quiet);

	e = edge_bpf__open();
	m = micro_bpf__open();
	if (!e || !m || bpf_map__set_max_entries(m->maps.micro_cycle, many) ||
	    micro_bpf__load(m)) {
		fprintf(stderr, "microbench: open BPF objects: %s\n", strerror(errno));
		goto out;
	}
	bpf_object__for_each_map(map, e->obj)
		bpf_map__set_pin_path(map, NULL);
	/* Room for every cycled flow with LRU slack, as `attach --flows`.
	 * The cycled flows never see a reply, so they stay in
	 * crbpf_unreplied: it gets the same room (the tool gives it a
	 * quarter), so that hit_many times a hit, not LRU churn. */
	if (bpf_map__max_entries(e->maps.crbpf_flows) < 2 * many)
		bpf_map__set_max_entries(e->maps.crbpf_flows, 2 * many);
	if (bpf_map__max_entries(e->maps.crbpf_unreplied) < 2 * many)
		bpf_map__set_max_entries(e->maps.crbpf_unreplied, 2 * many);
	err = edge_bpf__load(e);
	if (err) {
		fprintf(stderr, "microbench: load edge.bpf.o: %s\n", strerror(-err));
		goto out;
	}

	/* As `crbpf attach PUB` and `crbpf port add udp 7000 10.99.0.2:9000`. */
	{
		struct crbpf_addr_key ak = { .family = CRBPF_V4 };
		struct crbpf_port_key pk = { .ifindex = pub_if, .family = CRBPF_V4,
					     .proto = IPPROTO_UDP, .port = htons(7000) };
		struct crbpf_backend be = { .port = htons(9000), .flags = CRBPF_BE_L2,
					    .ifindex = nh_if, .mapping = 1 };
		struct crbpf_rev_key rk = { .port = htons(9000), .family = CRBPF_V4,
					    .proto = IPPROTO_UDP };
		struct crbpf_rev rv = { .public_port = htons(7000), .refs = 1,
					.public_ifindex = pub_if, .mapping = 1 };
		int ncpu = libbpf_num_possible_cpus();
		struct crbpf_mstats *ms = calloc(ncpu > 0 ? ncpu : 1, sizeof(*ms));
		__u32 v;

		inet_pton(AF_INET, "203.0.113.10", &ak.addr[0]);
		inet_pton(AF_INET, "10.99.0.2", &be.addr[0]);
		inet_pton(AF_INET, "10.99.0.2", &rk.addr[0]);
		inet_pton(AF_INET, "203.0.113.10", &rv.public_addr[0]);
		v = pub_if;
		struct crbpf_local loc = { .ifindex = pub_if };

		err = bpf_map_update_elem(bpf_map__fd(e->maps.crbpf_local), &ak, &loc, BPF_ANY) ||
		      bpf_map_update_elem(bpf_map__fd(e->maps.crbpf_txports), &v, &v, BPF_ANY) ||
		      bpf_map_update_elem(bpf_map__fd(e->maps.crbpf_ports), &pk, &be, BPF_ANY) ||
		      !ms ||
		      bpf_map_update_elem(bpf_map__fd(e->maps.crbpf_mstats), &be.mapping, ms,
					  BPF_ANY) ||
		      bpf_map_update_elem(bpf_map__fd(e->maps.crbpf_rev), &rk, &rv, BPF_ANY);
		v = nh_if;
		err = err || bpf_map_update_elem(bpf_map__fd(e->maps.crbpf_txports), &v, &v, BPF_ANY);
		free(ms);
		if (err) {
			fprintf(stderr, "microbench: fill maps: %s\n", strerror(errno));
			goto out;
		}
	}

	udp4_frame(hit, pub_mac, other, "198.51.100.10", "203.0.113.10", 1024, 7000);
	udp4_frame(miss, pub_mac, other, "198.51.100.10", "203.0.113.10", 1024, 7001);
	udp4_frame(rev, nh_mac, other, "10.99.0.2", "198.51.100.10", 9000, 1024);
	if (fill_cycle(m, many, pub_mac, other)) {
		fprintf(stderr, "microbench: fill %ld frames: %s\n", many, strerror(errno));
		goto out;
	}

	/* Straight runs first: the verdicts, and the hit creates the flow
	 * entry the reverse case then finds (an established flow). */
	if (run(bpf_program__fd(e->progs.crbpf_edge_xdp), hit, pub_if, 1, &r_hit) < 0 ||
	    run(bpf_program__fd(e->progs.crbpf_edge_xdp), miss, pub_if, 1, &r_miss) < 0 ||
	    run(bpf_program__fd(e->progs.crbpf_rev_xdp), rev, nh_if, 1, &r_rev) < 0) {
		fprintf(stderr, "microbench: test run: %s\n", strerror(errno));
		goto out;
	}
	err = measure(m, bpf_program__fd(e->progs.crbpf_edge_xdp), hit, pub_if,
		      repeat, rounds, &hit_ns, &h1, &r1) ||
	      measure(m, bpf_program__fd(e->progs.crbpf_edge_xdp), miss, pub_if,
		      repeat, rounds, &miss_ns, &h2, &r2) ||
	      measure(m, bpf_program__fd(e->progs.crbpf_rev_xdp), rev, nh_if,
		      repeat, rounds, &rev_ns, &h3, &r3);
	/* One pass creates every flow entry; then the timed runs. */
	err = err ||
	      measure(m, bpf_program__fd(e->progs.crbpf_edge_xdp), NULL, pub_if,
		      many, 1, &many_ns, &h4, &r4) ||
	      measure(m, bpf_program__fd(e->progs.crbpf_edge_xdp), NULL, pub_if,
		      repeat > 2 * many ? repeat : 2 * many, rounds, &many_ns,
		      &h4, &r4);
	if (err) {
		fprintf(stderr, "microbench: test run: %s\n", strerror(errno));
		goto out;
	}
	if (r1 != r_hit || r2 != r_miss || r3 != r_rev || r4 != r_hit)
		fprintf(stderr, "microbench: verdict under the harness differs from a straight run\n");
	printf("hit_ns=%.1f hit_many_ns=%.1f miss_ns=%.1f rev_ns=%.1f harness_ns=%.1f many_harness_ns=%.1f many_flows=%ld hit_ret=%s miss_ret=%s rev_ret=%s many_ret=%s repeat=%ld rounds=%ld\n",
	       hit_ns, many_ns, miss_ns, rev_ns, (h1 + h2 + h3) / 3, h4, many,
	       xdp_ret(r_hit), xdp_ret(r_miss), xdp_ret(r_rev), xdp_ret(r4),
	       repeat, rounds);
	ret = (r_hit == XDP_REDIRECT && r_miss == XDP_PASS && r_rev == XDP_REDIRECT &&
	       r4 == XDP_REDIRECT) ? 0 : 1;
	if (ret)
		fprintf(stderr, "microbench: unexpected verdicts (want REDIRECT, PASS, REDIRECT, REDIRECT)\n");
out:
	micro_bpf__destroy(m);
	edge_bpf__destroy(e);
	return ret;
usage:
	fprintf(stderr, "Usage: microbench --pub DEV --nh DEV [--repeat N] [--rounds N] [--many-flows N]\n");
	return 2;
}
