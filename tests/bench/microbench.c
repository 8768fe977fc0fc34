// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * microbench: ns per packet of crbpf's edge programs, BPF_PROG_TEST_RUN.
 *
 *   microbench --pub DEV [--nh DEV] [--tun DEV] [--repeat N] [--rounds N]
 *              [--many-flows N]
 *
 * Run inside a namespace that has the devices (bench.sh runs it in its VPS
 * namespaces): the hit, the reply and the tc cases do a real
 * bpf_fib_lookup, and the MTU checks a real bpf_check_mtu. Loads
 * build/edge.bpf.o through its skeleton with every map unpinned (nothing
 * touches a live crbpf), twice: as `crbpf attach PUB` (XDP and tc) and as
 * `crbpf attach PUB --mode tc`, fills the maps as `crbpf port add udp 7000
 * 10.99.0.2:9000` (L2 backend on NH) and `crbpf port add udp 7002
 * 10.98.0.2:9000` (L3 backend on TUN) do, and times 64-byte UDP frames.
 * With --nh:
 *   hit   198.51.100.10:1024 -> 203.0.113.10:7000 on PUB, crbpf_edge_xdp
 *         (rewrite, flow record, FIB, devmap redirect)
 *   hit_many  the hit from N clients in turn (--many-flows, default
 *         1,000,000: ports 1024.. of 198.51.100.10, .11, ... 60,000 per
 *         address), one flow entry each, so lookups miss the caches
 *   miss  the hit's frame to port 7001 (not mapped: XDP_PASS)
 *   rev   10.99.0.2:9000 -> 198.51.100.10:1024 on NH (crbpf_rev_tc)
 *   acl   198.51.100.10:1024 -> 203.0.113.10:7004 on PUB (the hit, through a
 *         mapping with an allow list of 100,000 prefixes that holds it)
 *   limit 198.51.100.10:1024 -> 203.0.113.10:7006 on PUB (the hit, through a
 *         mapping with a per-source packet limit the source never reaches:
 *         1e9 packets/s and a burst of ~1e12, beyond what the CLI takes,
 *         so no timed packet is dropped; the bucket's lookup and update)
 *   tc    the hit through crbpf_edge_tc of the --mode tc object (what
 *         `--mode tc` runs per packet: everything, then bpf_redirect)
 * With --tun:
 *   tun   a tunnel packet's whole BPF cost: 198.51.100.10:1024 ->
 *         203.0.113.10:7002 through crbpf_edge_xdp (tun_xdp), then
 *         crbpf_edge_tc on exactly the bytes XDP returned (tun_tc). Right
 *         whether XDP passes the frame untouched and tc does the work, or
 *         XDP rewrites it and tc only redirects.
 * A repeated test run does not reset the frame (nor the skb), so each case
 * runs under micro.bpf.o's harness (restore the frame, tail call); the
 * harness alone (tail call to a program that does nothing) is measured and
 * subtracted.
 *
 * Every case is checked before it is timed, and its figure is withheld if a
 * check fails (exit 1, one line on stderr naming the case and what is
 * wrong): the verdict, the output frame (addresses, ports, source MAC,
 * checksums), and crbpf_stats. A straight run's verdict counters (pass_*,
 * fwd_*, rev_*, drop_*) are the path's signature: the timed runs must move
 * them by exactly repeats x signature, so every timed packet took the path
 * the case names (not, say, a miss on its own rewritten output).
 * Prints "hit_ns=.. hit_many_ns=.. miss_ns=.. rev_ns=.. acl_ns=.. limit_ns=..
 * tc_ns=.. tun_ns=..
 * ..." for the cases that ran; figures are medians over --rounds (default
 * 3) runs of --repeat (default 5000000) packets.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <getopt.h>
#include <net/if.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>
#include <linux/if_ether.h>
#include <linux/pkt_cls.h>
#include <linux/ip.h>
#include <linux/udp.h>
#include <bpf/libbpf.h>
#include <bpf/bpf.h>
#include "util.h"
#include "crbpf.h"
#include "crbpf_stat_names.h"
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
	__u16 partial;
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
	udp->check = csum_fold(csum_partial(udp, ulen, sum)) ?: 0xffff;
	/* A checksum equal to the folded pseudo header looks like
	 * CHECKSUM_PARTIAL, and crbpf's XDP passes such frames to tc (about
	 * one client port in 32,768): change the payload, so that every
	 * frame takes the path its case names. */
	partial = ~csum_fold(sum);
	if (udp->check == partial) {
		*(__u8 *)(udp + 1) = 1;
		udp->check = 0;
		udp->check = csum_fold(csum_partial(udp, ulen, sum)) ?: 0xffff;
	}
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


#define MICRO_BROKEN 0x7e57 /* micro.bpf.c: the harness could not run */
#define UDP_LEN (FRAME - ETH_HLEN - sizeof(struct iphdr))

static const char *xdp_ret(int r)
{
	static const char *n[] = { "ABORTED", "DROP", "PASS", "TX", "REDIRECT" };

	return r >= 0 && r < 5 ? n[r] : "?";
}

static const char *tc_ret(int r)
{
	switch (r) {
	case TC_ACT_UNSPEC: return "UNSPEC";
	case TC_ACT_OK: return "OK";
	case TC_ACT_SHOT: return "SHOT";
	case TC_ACT_REDIRECT: return "REDIRECT";
	default: return "?";
	}
}

/* One test run of prog_fd, the XDP or the tc way: ns per packet (the
 * kernel's average) or -1. out/out_len, if given, get the frame after the
 * last repeat. */
static int run(int prog_fd, bool tc, const __u8 *frame, int ifindex,
	       __u32 repeat, __u32 *retval, __u8 *out, __u32 *out_len)
{
	__u8 buf[FRAME + 256];
	struct xdp_md xdp = { .data_end = FRAME, .ingress_ifindex = ifindex };
	struct __sk_buff skb = { .ifindex = ifindex, .ingress_ifindex = ifindex };
	LIBBPF_OPTS(bpf_test_run_opts, o, .data_in = frame,
		    .data_size_in = FRAME, .data_out = out ? out : buf,
		    .data_size_out = sizeof(buf), .repeat = repeat);

	o.ctx_in = tc ? (void *)&skb : (void *)&xdp;
	o.ctx_size_in = tc ? sizeof(skb) : sizeof(xdp);
	if (bpf_prog_test_run_opts(prog_fd, &o))
		return -1;
	*retval = o.retval;
	if (out_len)
		*out_len = o.data_size_out;
	return o.duration;
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

/* The harness one kind of program runs under (micro.bpf.c). */
struct harness {
	int run_fd; /* crb_micro, crb_micro_cycle or crb_micro_tc */
	int null_fd; /* crb_null or crb_null_tc */
	int jmp_fd; /* micro_jmp or micro_jmp_tc */
	int tmpl_fd; /* micro_tmpl; -1: the frames are in micro_cycle */
	__u32 tmpl_key; /* micro_tmpl slot: 0 XDP, 1 tc */
	bool tc;
};

/* Median over rounds of (harness + prog) - (harness + null), ns/packet;
 * *retval is the verdict of the last (harness + prog) run. */
static int measure(const struct harness *h, int prog_fd, const __u8 *frame,
		   int ifindex, __u32 repeat, int rounds, double *ns,
		   double *harness, __u32 *retval)
{
	double d[16], t[16];
	__u32 zero = 0, rv;
	int i, r;

	if (h->tmpl_fd >= 0 &&
	    bpf_map_update_elem(h->tmpl_fd, &h->tmpl_key, frame, BPF_ANY))
		return -errno;
	for (i = 0; i < rounds; i++) {
		if (bpf_map_update_elem(h->jmp_fd, &zero, &prog_fd, BPF_ANY))
			return -errno;
		r = run(h->run_fd, h->tc, frame, ifindex, repeat, retval, NULL, NULL);
		if (r < 0)
			return -errno;
		d[i] = r;
		if (bpf_map_update_elem(h->jmp_fd, &zero, &h->null_fd, BPF_ANY))
			return -errno;
		r = run(h->run_fd, h->tc, frame, ifindex, repeat, &rv, NULL, NULL);
		if (r < 0)
			return -errno;
		t[i] = r;
	}
	qsort(d, rounds, sizeof(d[0]), cmp_double);
	qsort(t, rounds, sizeof(t[0]), cmp_double);
	*ns = d[rounds / 2] - t[rounds / 2];
	*harness = t[rounds / 2];
	return 0;
}

/* crbpf_stats summed over CPUs. */
static int stats_read(struct edge_bpf *e, __u64 *sum)
{
	int fd = bpf_map__fd(e->maps.crbpf_stats);
	int ncpu = libbpf_num_possible_cpus();
	__u64 v[1024];
	__u32 k;
	int c;

	if (ncpu < 1 || ncpu > 1024)
		return -EINVAL;
	for (k = 0; k < CRBPF_ST__MAX; k++) {
		if (bpf_map_lookup_elem(fd, &k, v))
			return -errno;
		for (sum[k] = 0, c = 0; c < ncpu; c++)
			sum[k] += v[c];
	}
	return 0;
}

/* The counters that say what happened to a packet: exactly one path each. */
static bool verdict_stat(int k)
{
	static const char *const pre[] = { "pass_", "fwd_", "rev_", "drop_" };
	unsigned int i;

	/* How a reply found its answer, not where it went: a static
	 * mapping's reply takes the rule, except the 1 in 16 that is sampled
	 * and reads its flow (edge.bpf.c flow_sampled()). */
	if (!strcmp(crbpf_stat_names[k], "rev_static"))
		return false;
	for (i = 0; i < sizeof(pre) / sizeof(pre[0]); i++)
		if (!strncmp(crbpf_stat_names[k], pre[i], strlen(pre[i])))
			return true;
	return false;
}

/* "fwd_xdp=1 pass_to_tc=1": the verdict counters that moved. */
static const char *sig_str(const __u64 *sig)
{
	static char s[512];
	size_t n = 0;
	int k;

	s[0] = 0;
	for (k = 0; k < CRBPF_ST__MAX && n < sizeof(s); k++)
		if (sig[k])
			n += snprintf(s + n, sizeof(s) - n, "%s%s=%llu",
				      n ? " " : "", crbpf_stat_names[k],
				      (unsigned long long)sig[k]);
	return n ? s : "none";
}

/* One case as the timed runs will see it, run straight: twice, since the
 * first packet may create state (the flow entry); the second gives the
 * verdict, the output frame and the signature (verdict counters moved). */
struct shot {
	__u32 retval;
	__u8 out[FRAME + 256];
	__u32 out_len;
	__u64 sig[CRBPF_ST__MAX];
};

static int shoot(struct edge_bpf *e, int prog_fd, bool tc, const __u8 *frame,
		 int ifindex, struct shot *s)
{
	__u64 a[CRBPF_ST__MAX], b[CRBPF_ST__MAX];
	int k;

	if (run(prog_fd, tc, frame, ifindex, 1, &s->retval, s->out, &s->out_len) < 0 ||
	    stats_read(e, a) ||
	    run(prog_fd, tc, frame, ifindex, 1, &s->retval, s->out, &s->out_len) < 0 ||
	    stats_read(e, b))
		return -1;
	for (k = 0; k < CRBPF_ST__MAX; k++)
		s->sig[k] = verdict_stat(k) ? b[k] - a[k] : 0;
	return 0;
}

static bool sig_has_drop(const __u64 *sig)
{
	int k;

	for (k = 0; k < CRBPF_ST__MAX; k++)
		if (sig[k] && !strncmp(crbpf_stat_names[k], "drop_", 5))
			return true;
	return false;
}

static int stat_index(const char *name)
{
	int k;

	for (k = 0; k < CRBPF_ST__MAX; k++)
		if (!strcmp(crbpf_stat_names[k], name))
			return k;
	return -1;
}

/* The timed runs moved the verdict counters by n x the signature. */
static bool timed_ok(const char *row, struct edge_bpf *e, const __u64 *before,
		     const __u64 *sig, __u64 n)
{
	__u64 after[CRBPF_ST__MAX];
	int k;

	if (stats_read(e, after)) {
		fprintf(stderr, "microbench: %s: read crbpf_stats: %s\n", row, strerror(errno));
		return false;
	}
	for (k = 0; k < CRBPF_ST__MAX; k++) {
		if (!verdict_stat(k) || after[k] - before[k] == sig[k] * n)
			continue;
		fprintf(stderr, "microbench: %s: the timed runs moved %s by %llu, want %llu (%llu packets of %s): they did not all take the path measured\n",
			row, crbpf_stat_names[k],
			(unsigned long long)(after[k] - before[k]),
			(unsigned long long)(sig[k] * n), (unsigned long long)n,
			sig_str(sig));
		return false;
	}
	return true;
}

/* What a case's output frame must show (NULL / 0: not checked). */
struct want {
	const char *saddr, *daddr;
	__u16 sport, dport;
	const __u8 *smac;
};

static bool frame_ok(const char *row, const __u8 *f, __u32 len,
		     const struct want *w)
{
	const struct ethhdr *eth = (const void *)f;
	const struct iphdr *ip = (const void *)(eth + 1);
	const struct udphdr *udp = (const void *)(ip + 1);
	__u16 pseudo[2] = { htons(IPPROTO_UDP), htons(UDP_LEN) };
	char got[INET_ADDRSTRLEN];
	struct in_addr a;
	const char *bad = NULL;
	__u32 sum;

	if (len != FRAME)
		bad = "length changed";
	else if (eth->h_proto != htons(ETH_P_IP) || ip->ihl != 5 ||
		 ip->protocol != IPPROTO_UDP)
		bad = "not the IPv4/UDP frame sent";
	else if (csum_fold(csum_partial(ip, sizeof(*ip), 0)))
		bad = "bad IPv4 header checksum";
	else if (w->smac && memcmp(eth->h_source, w->smac, ETH_ALEN))
		bad = "wrong source MAC";
	else if (w->saddr && (inet_pton(AF_INET, w->saddr, &a) != 1 ||
			      ip->saddr != a.s_addr))
		bad = "wrong source address";
	else if (w->daddr && (inet_pton(AF_INET, w->daddr, &a) != 1 ||
			      ip->daddr != a.s_addr))
		bad = "wrong destination address";
	else if ((w->sport && udp->source != htons(w->sport)) ||
		 (w->dport && udp->dest != htons(w->dport)))
		bad = "wrong port";
	if (!bad && udp->check) {
		sum = csum_partial(&ip->saddr, 8, 0);
		sum = csum_partial(pseudo, sizeof(pseudo), sum);
		if (csum_fold(csum_partial(udp, UDP_LEN, sum)))
			bad = "bad UDP checksum";
	}
	if (!bad)
		return true;
	if (len < FRAME || !inet_ntop(AF_INET, &ip->daddr, got, sizeof(got)))
		snprintf(got, sizeof(got), "?");
	fprintf(stderr, "microbench: %s: output frame: %s (%u bytes, to %s:%u)\n",
		row, bad, len, got, len >= FRAME ? ntohs(udp->dest) : 0);
	return false;
}

/* The allow list of the acl case: ACL_PREFIXES distinct /24s spread over
 * the unicast IPv4 space, the client's 198.51.100.0/24 among them, loaded
 * as `crbpf port add ... --allow-file` loads a list: its own trie in the
 * mapping's allow slot. */
#define ACL_PREFIXES 100000

static int fill_acl(struct edge_bpf *e, __u32 mapping)
{
	LIBBPF_OPTS(bpf_map_create_opts, o, .map_flags = BPF_F_NO_PREALLOC);
	struct crbpf_acl_key k;
	__u32 slot = crbpf_acl_slot(mapping, CRBPF_ACL_ALLOW), i, n = 0;
	__be32 a;
	__u8 one = 1;
	int fd, err = 0;

	fd = bpf_map_create(BPF_MAP_TYPE_LPM_TRIE, "crbpf_acl_list", sizeof(k),
			    sizeof(one), CRBPF_ACL_MAX_PREFIXES, &o);
	if (fd < 0)
		return -1;
	inet_pton(AF_INET, "198.51.100.0", &a);
	crbpf_acl_key_of(&k, CRBPF_V4, &a, 24);
	err = bpf_map_update_elem(fd, &k, &one, BPF_ANY);
	/* i * an odd constant walks all 2^24 /24s once; first octets 1-223 */
	for (i = 1; !err && n < ACL_PREFIXES - 1; i++) {
		__u32 net = (i * 2654435761u) & 0xffffff;

		if ((net >> 16) < 1 || (net >> 16) > 223 || net == 0xc63364)
			continue;
		a = htonl(net << 8);
		crbpf_acl_key_of(&k, CRBPF_V4, &a, 24);
		err = bpf_map_update_elem(fd, &k, &one, BPF_NOEXIST);
		n++;
	}
	if (!err)
		err = bpf_map_update_elem(bpf_map__fd(e->maps.crbpf_acl), &slot, &fd,
					  BPF_ANY);
	close(fd); /* the outer map holds it */
	return err ? -1 : 0;
}

/* As `crbpf attach PUB`, `crbpf port add udp 7000 10.99.0.2:9000` and
 * `crbpf port add udp 7004 10.99.0.2:9000 --allow-file` (a list of
 * ACL_PREFIXES; if nh_if), and `crbpf port add udp 7002 10.98.0.2:9000`
 * (if tun_if). */
static int fill_maps(struct edge_bpf *e, int pub_if, int nh_if, int tun_if)
{
	struct crbpf_addr_key ak = { .family = CRBPF_V4 };
	struct crbpf_local loc = { .ifindex = pub_if };
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
	/* sources by /32, 1 ns a packet, a burst of 2^40 ns: never reached */
	struct crbpf_limit lim = { .pkt_ns = 1, .pkt_tol = 1ULL << 40,
				   .mask4 = 0xffffffff, .pkt_rate = 1000000000,
				   .pkt_burst = 1u << 31, .prefix4 = 32,
				   .prefix6 = 64 };
	__u32 v = pub_if;
	int err;

	inet_pton(AF_INET, "203.0.113.10", &ak.addr[0]);
	inet_pton(AF_INET, "10.99.0.2", &be.addr[0]);
	inet_pton(AF_INET, "10.99.0.2", &rk.addr[0]);
	inet_pton(AF_INET, "203.0.113.10", &rv.public_addr[0]);
	/* the next-hop cache on, as attach sets it without policy rules */
	struct crbpf_nhcfg nhcfg = { .gen = 1, .on = 1 };
	__u32 zero = 0;

	err = !ms ||
	      bpf_map_update_elem(bpf_map__fd(e->maps.crbpf_nhcfg), &zero, &nhcfg,
				  BPF_ANY) ||
	      bpf_map_update_elem(bpf_map__fd(e->maps.crbpf_local), &ak, &loc, BPF_ANY) ||
	      bpf_map_update_elem(bpf_map__fd(e->maps.crbpf_txports), &v, &v, BPF_ANY);
	if (!err && nh_if) {
		v = nh_if;
		err = bpf_map_update_elem(bpf_map__fd(e->maps.crbpf_txports), &v, &v, BPF_ANY) ||
		      bpf_map_update_elem(bpf_map__fd(e->maps.crbpf_ports), &pk, &be, BPF_ANY) ||
		      bpf_map_update_elem(bpf_map__fd(e->maps.crbpf_mstats), &be.mapping, ms,
					  BPF_ANY) ||
		      bpf_map_update_elem(bpf_map__fd(e->maps.crbpf_rev), &rk, &rv, BPF_ANY);
		pk.port = htons(7004);
		be.flags |= CRBPF_BE_ACL;
		be.mapping = 3;
		err = err || fill_acl(e, be.mapping) ||
		      bpf_map_update_elem(bpf_map__fd(e->maps.crbpf_ports), &pk, &be, BPF_ANY) ||
		      bpf_map_update_elem(bpf_map__fd(e->maps.crbpf_mstats), &be.mapping, ms,
					  BPF_ANY);
		pk.port = htons(7006);
		be.flags = CRBPF_BE_L2 | CRBPF_BE_LIMIT;
		be.mapping = 4;
		err = err ||
		      bpf_map_update_elem(bpf_map__fd(e->maps.crbpf_limits), &be.mapping,
					  &lim, BPF_ANY) ||
		      bpf_map_update_elem(bpf_map__fd(e->maps.crbpf_ports), &pk, &be, BPF_ANY) ||
		      bpf_map_update_elem(bpf_map__fd(e->maps.crbpf_mstats), &be.mapping, ms,
					  BPF_ANY);
		pk.port = htons(7000);
		be.flags = CRBPF_BE_L2;
		be.mapping = 1;
	}
	if (!err && tun_if) {
		pk.port = htons(7002);
		be.flags = 0;
		be.ifindex = tun_if;
		be.mapping = 2;
		inet_pton(AF_INET, "10.98.0.2", &be.addr[0]);
		err = bpf_map_update_elem(bpf_map__fd(e->maps.crbpf_ports), &pk, &be, BPF_ANY) ||
		      bpf_map_update_elem(bpf_map__fd(e->maps.crbpf_mstats), &be.mapping, ms,
					  BPF_ANY);
	}
	free(ms);
	return err ? -1 : 0;
}

/* edge.bpf.o unpinned, as the tool loads it for xdp_attached (auto) or
 * --mode tc (only crbpf_edge_tc then), with room for many flows. */
static struct edge_bpf *edge_load(bool xdp_attached, bool rev, long many)
{
	struct edge_bpf *e = edge_bpf__open();
	struct bpf_map *map;
	int err;

	if (!e)
		return NULL;
	bpf_object__for_each_map(map, e->obj)
		bpf_map__set_pin_path(map, NULL);
	e->rodata->edge_xdp_attached = xdp_attached;
	/* A token, as attach draws one for a device with XDP: the tunnel
	 * case then times the hand-off (handoff.h), not XDP_PASS + all in tc */
	if (xdp_attached) {
		e->rodata->handoff_dst_lo = htonl(0x02c0ffee);
		e->rodata->handoff_dst_hi = htons(0x1234);
	}
	bpf_program__set_autoload(e->progs.crbpf_edge_xdp, xdp_attached);
	bpf_program__set_autoload(e->progs.crbpf_tun_tc, false);
	bpf_program__set_autoload(e->progs.crbpf_rev_tc, rev);
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
		edge_bpf__destroy(e);
		errno = -err;
		return NULL;
	}
	return e;
}

/* A case: its straight run checked, then timed with its counters checked. */
struct bcase {
	const char *name;
	struct edge_bpf *e;
	int prog_fd;
	const struct harness *h;
	const __u8 *frame;
	int ifindex;
	struct shot s;
	double ns, harness;
	bool ok;
};

static void bcase_init(struct bcase *c, const char *name, struct edge_bpf *e,
		       int prog_fd, const struct harness *h, const __u8 *frame,
		       int ifindex)
{
	memset(c, 0, sizeof(*c));
	c->name = name;
	c->e = e;
	c->prog_fd = prog_fd;
	c->h = h;
	c->frame = frame;
	c->ifindex = ifindex;
}

static bool timed(struct bcase *c, __u32 repeat, int rounds)
{
	__u64 before[CRBPF_ST__MAX];
	__u32 rv;

	if (stats_read(c->e, before) ||
	    measure(c->h, c->prog_fd, c->frame, c->ifindex, repeat, rounds,
		    &c->ns, &c->harness, &rv)) {
		fprintf(stderr, "microbench: %s: test run: %s\n", c->name, strerror(errno));
		return c->ok = false;
	}
	if (rv != c->s.retval) {
		fprintf(stderr, "microbench: %s: verdict %u under the harness, %u in a straight run%s\n",
			c->name, rv, c->s.retval,
			rv == MICRO_BROKEN || rv == XDP_ABORTED ? " (the harness could not restore the frame)" : "");
		return c->ok = false;
	}
	return c->ok = timed_ok(c->name, c->e, before, c->s.sig,
				(__u64)repeat * rounds);
}

/* The straight run: verdict, then the one verdict counter the case names. */
static bool shot_ok(struct bcase *c, __u32 want_ret, const char *want_stat,
		    const char *(*ret_name)(int))
{
	int k = want_stat ? stat_index(want_stat) : -1;

	if (shoot(c->e, c->prog_fd, c->h->tc, c->frame, c->ifindex, &c->s)) {
		fprintf(stderr, "microbench: %s: test run: %s\n", c->name, strerror(errno));
		return false;
	}
	if (c->s.retval != want_ret) {
		fprintf(stderr, "microbench: %s: verdict %s, want %s (counters: %s)\n",
			c->name, ret_name(c->s.retval), ret_name(want_ret), sig_str(c->s.sig));
		return false;
	}
	if (sig_has_drop(c->s.sig) || (want_stat && (k < 0 || c->s.sig[k] != 1))) {
		fprintf(stderr, "microbench: %s: counters %s, want %s=1 and no drop\n",
			c->name, sig_str(c->s.sig), want_stat ? want_stat : "(any)");
		return false;
	}
	return true;
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "pub", required_argument, NULL, 'p' },
		{ "nh", required_argument, NULL, 'n' },
		{ "tun", required_argument, NULL, 't' },
		{ "repeat", required_argument, NULL, 'r' },
		{ "rounds", required_argument, NULL, 'R' },
		{ "many-flows", required_argument, NULL, 'F' },
		{}
	};
	const char *pub = NULL, *nh = NULL, *tun = NULL;
	long repeat = 5000000, rounds = 3, many = 1000000;
	struct edge_bpf *e = NULL, *et = NULL;
	struct micro_bpf *m = NULL;
	__u8 pub_mac[ETH_ALEN], nh_mac[ETH_ALEN], other[ETH_ALEN] = { 2, 0, 0, 0, 0, 1 };
	__u8 hit[FRAME], miss[FRAME], rev[FRAME], tunf[FRAME], aclf[FRAME], limf[FRAME];
	int pub_if, nh_if = 0, tun_if = 0, opt, ret = 1, fwd, n;
	struct harness hx, hc, ht;
	struct bcase hitc = {}, many_c = {}, missc = {}, revc = {}, tcc = {},
		     tunx = {}, tunt = {}, aclc = {}, limc = {};
	double tun_ns;
	char line[1024];
	int len = 0;
	__u32 k;

	while ((opt = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (opt) {
		case 'p': pub = optarg; break;
		case 'n': nh = optarg; break;
		case 't': tun = optarg; break;
		case 'r': repeat = strtol(optarg, NULL, 0); break;
		case 'R': rounds = strtol(optarg, NULL, 0); break;
		case 'F': many = strtol(optarg, NULL, 0); break;
		default: goto usage;
		}
	}
	if (!pub || (!nh && !tun) || optind != argc || repeat < 1 ||
	    repeat > 0xffffffffL || rounds < 1 || rounds > 16 || many < 1 ||
	    many > MANY_MAX)
		goto usage;
	pub_if = if_nametoindex(pub);
	if (!pub_if || dev_mac(pub, pub_mac)) {
		fprintf(stderr, "microbench: %s: no such Ethernet device here\n", pub);
		return 1;
	}
	if (nh && (!(nh_if = if_nametoindex(nh)) || dev_mac(nh, nh_mac))) {
		fprintf(stderr, "microbench: %s: no such Ethernet device here\n", nh);
		return 1;
	}
	if (tun && !(tun_if = if_nametoindex(tun))) {
		fprintf(stderr, "microbench: %s: no such device here\n", tun);
		return 1;
	}
	if (!nh)
		many = 1;
	libbpf_set_print(libbpf_quiet);

	m = micro_bpf__open();
	if (!m || bpf_map__set_max_entries(m->maps.micro_cycle, many) ||
	    micro_bpf__load(m)) {
		fprintf(stderr, "microbench: load micro.bpf.o: %s\n", strerror(errno));
		goto out;
	}
	e = edge_load(true, nh, many);
	if (!e || (nh && !(et = edge_load(false, false, 1)))) {
		fprintf(stderr, "microbench: load edge.bpf.o: %s\n", strerror(errno));
		goto out;
	}
	if (fill_maps(e, pub_if, nh_if, tun_if) ||
	    (et && fill_maps(et, pub_if, nh_if, 0))) {
		fprintf(stderr, "microbench: fill maps: %s\n", strerror(errno));
		goto out;
	}
	hx = (struct harness){ bpf_program__fd(m->progs.crb_micro),
			       bpf_program__fd(m->progs.crb_null),
			       bpf_map__fd(m->maps.micro_jmp),
			       bpf_map__fd(m->maps.micro_tmpl), 0, false };
	hc = hx;
	hc.run_fd = bpf_program__fd(m->progs.crb_micro_cycle);
	hc.tmpl_fd = -1;
	ht = (struct harness){ bpf_program__fd(m->progs.crb_micro_tc),
			       bpf_program__fd(m->progs.crb_null_tc),
			       bpf_map__fd(m->maps.micro_jmp_tc),
			       bpf_map__fd(m->maps.micro_tmpl), 1, true };
	ret = 0;

	if (nh) {
		struct want w_hit = { .daddr = "10.99.0.2", .dport = 9000, .smac = nh_mac };
		struct want w_rev = { .saddr = "203.0.113.10", .sport = 7000, .smac = pub_mac };

		udp4_frame(hit, pub_mac, other, "198.51.100.10", "203.0.113.10", 1024, 7000);
		udp4_frame(miss, pub_mac, other, "198.51.100.10", "203.0.113.10", 1024, 7001);
		udp4_frame(aclf, pub_mac, other, "198.51.100.10", "203.0.113.10", 1024, 7004);
		udp4_frame(limf, pub_mac, other, "198.51.100.10", "203.0.113.10", 1024, 7006);
		udp4_frame(rev, nh_mac, other, "10.99.0.2", "198.51.100.10", 9000, 1024);
		if (fill_cycle(m, many, pub_mac, other)) {
			fprintf(stderr, "microbench: fill %ld frames: %s\n", many, strerror(errno));
			ret = 1;
			goto out;
		}
		bcase_init(&hitc, "hit", e, bpf_program__fd(e->progs.crbpf_edge_xdp), &hx, hit, pub_if);
		bcase_init(&missc, "miss", e, hitc.prog_fd, &hx, miss, pub_if);
		bcase_init(&aclc, "acl", e, hitc.prog_fd, &hx, aclf, pub_if);
		bcase_init(&limc, "limit", e, hitc.prog_fd, &hx, limf, pub_if);
		bcase_init(&revc, "rev", e, bpf_program__fd(e->progs.crbpf_rev_tc), &ht, rev, nh_if);
		bcase_init(&tcc, "tc", et, bpf_program__fd(et->progs.crbpf_edge_tc), &ht, hit, pub_if);
		/* The cycling harness ignores the frame it is given. */
		bcase_init(&many_c, "hit_many", e, hitc.prog_fd, &hc, hit, pub_if);
		/* Straight runs first, in this order: a sampled hit creates the
		 * flow entry the reverse case's sampled packets then find. */
		hitc.ok = shot_ok(&hitc, XDP_REDIRECT, "fwd_xdp", xdp_ret) &&
			  frame_ok("hit", hitc.s.out, hitc.s.out_len, &w_hit);
		missc.ok = shot_ok(&missc, XDP_PASS, "pass_no_mapping", xdp_ret);
		if (missc.ok && (missc.s.out_len != FRAME || memcmp(missc.s.out, miss, FRAME))) {
			fprintf(stderr, "microbench: miss: the frame was changed\n");
			missc.ok = false;
		}
		aclc.ok = shot_ok(&aclc, XDP_REDIRECT, "fwd_xdp", xdp_ret) &&
			  frame_ok("acl", aclc.s.out, aclc.s.out_len, &w_hit);
		limc.ok = shot_ok(&limc, XDP_REDIRECT, "fwd_xdp", xdp_ret) &&
			  frame_ok("limit", limc.s.out, limc.s.out_len, &w_hit);
		revc.ok = shot_ok(&revc, TC_ACT_REDIRECT, "rev_tc", tc_ret) &&
			  frame_ok("rev", revc.s.out, revc.s.out_len, &w_rev);
		tcc.ok = shot_ok(&tcc, TC_ACT_REDIRECT, "fwd_tc", tc_ret) &&
			 frame_ok("tc", tcc.s.out, tcc.s.out_len, &w_hit);
		many_c.s = hitc.s;
		hitc.ok = hitc.ok && timed(&hitc, repeat, rounds);
		missc.ok = missc.ok && timed(&missc, repeat, rounds);
		revc.ok = revc.ok && timed(&revc, repeat, rounds);
		aclc.ok = aclc.ok && timed(&aclc, repeat, rounds);
		limc.ok = limc.ok && timed(&limc, repeat, rounds);
		tcc.ok = tcc.ok && timed(&tcc, repeat, rounds);
		/* One pass creates every flow entry; then the timed runs. Each
		 * cycled packet is a hit as the straight one was. */
		many_c.ok = hitc.ok && timed(&many_c, many, 1) &&
			    timed(&many_c, repeat > 2 * many ? repeat : 2 * many, rounds);
		ret |= !(hitc.ok && missc.ok && revc.ok && tcc.ok && many_c.ok &&
			 aclc.ok && limc.ok);
	}
	if (tun) {
		struct want w_tun = { .daddr = "10.98.0.2", .dport = 9000 };

		udp4_frame(tunf, pub_mac, other, "198.51.100.10", "203.0.113.10", 1024, 7002);
		bcase_init(&tunx, "tun_xdp", e, bpf_program__fd(e->progs.crbpf_edge_xdp), &hx, tunf, pub_if);
		bcase_init(&tunt, "tun_tc", e, bpf_program__fd(e->progs.crbpf_edge_tc), &ht, NULL, pub_if);
		/* XDP passes (rewritten or not); tc gets exactly its output. */
		tunx.ok = shot_ok(&tunx, XDP_PASS, NULL, xdp_ret);
		if (tunx.ok && tunx.s.out_len != FRAME) {
			fprintf(stderr, "microbench: tun_xdp: XDP returned %u bytes, the harness restores %d\n",
				tunx.s.out_len, FRAME);
			tunx.ok = false;
		}
		tunt.frame = tunx.s.out;
		tunt.ok = tunx.ok && shot_ok(&tunt, TC_ACT_REDIRECT, NULL, tc_ret) &&
			  frame_ok("tun", tunt.s.out, tunt.s.out_len, &w_tun);
		/* Both halves together forward the packet once: one fwd_*
		 * counter moves by one, XDP's or tc's. */
		for (fwd = 0, n = 0, k = 0; tunt.ok && k < CRBPF_ST__MAX; k++)
			if (!strncmp(crbpf_stat_names[k], "fwd_", 4)) {
				fwd += tunx.s.sig[k] + tunt.s.sig[k];
				n += !!(tunx.s.sig[k] + tunt.s.sig[k]);
			}
		if (tunt.ok && (fwd != 1 || n != 1)) {
			fprintf(stderr, "microbench: tun: counters XDP %s, tc %s: want one fwd_* counter moved once\n",
				sig_str(tunx.s.sig), sig_str(tunt.s.sig));
			tunt.ok = false;
		}
		tunx.ok = tunt.ok && timed(&tunx, repeat, rounds);
		tunt.ok = tunx.ok && timed(&tunt, repeat, rounds);
		ret |= !tunt.ok;
	}

#define OUT(...) (len += snprintf(line + len, sizeof(line) - len, __VA_ARGS__))
	if (hitc.ok)
		OUT("hit_ns=%.1f ", hitc.ns);
	if (many_c.ok)
		OUT("hit_many_ns=%.1f ", many_c.ns);
	if (missc.ok)
		OUT("miss_ns=%.1f ", missc.ns);
	if (revc.ok)
		OUT("rev_ns=%.1f ", revc.ns);
	if (aclc.ok)
		OUT("acl_ns=%.1f ", aclc.ns);
	if (limc.ok)
		OUT("limit_ns=%.1f ", limc.ns);
	if (tcc.ok)
		OUT("tc_ns=%.1f ", tcc.ns);
	if (tunt.ok) {
		tun_ns = tunx.ns + tunt.ns;
		OUT("tun_ns=%.1f tun_xdp_ns=%.1f tun_tc_ns=%.1f ", tun_ns, tunx.ns, tunt.ns);
	}
	if (nh)
		OUT("harness_ns=%.1f many_harness_ns=%.1f many_flows=%ld ",
		    (hitc.harness + missc.harness) / 2, many_c.harness, many);
	if (tcc.ok || tunt.ok)
		OUT("tc_harness_ns=%.1f ", tcc.ok ? tcc.harness : tunt.harness);
	OUT("repeat=%ld rounds=%ld", repeat, rounds);
	printf("%s\n", line);
	if (ret)
		fprintf(stderr, "microbench: a case failed its checks; its figure is left out\n");
out:
	micro_bpf__destroy(m);
	edge_bpf__destroy(et);
	edge_bpf__destroy(e);
	return ret;
usage:
	fprintf(stderr, "Usage: microbench --pub DEV [--nh DEV] [--tun DEV] [--repeat N] [--rounds N] [--many-flows N]\n");
	return 2;
}
