// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * gen: line-rate UDP generator (BPF_PROG_TEST_RUN, live-frames mode).
 *
 *   gen --dev DEV --dst ADDR:PORT --dst-mac MAC [--src-mac MAC] [--src ADDR]
 *       [--sport PORT] [--size BYTES] [--flows N] [--ipv6] [--vary-dst]
 *       [--duration SEC] [--rate PPS] [--cpu N] [--batch N]
 *
 * Runs gen.bpf.o over a frame template with BPF_F_TEST_XDP_LIVE_FRAMES; the
 * program rewrites every header and returns XDP_TX, which sends the frame out
 * of DEV, i.e. into the receive queue of DEV's veth peer. The peer must have
 * an XDP program attached or GRO enabled (`ethtool -K PEER gro on`), else
 * veth drops the frames (no NAPI to deliver them).
 *
 *   --dev DEV        device to send on (a veth; run in its network namespace)
 *   --dst A:P        destination address and UDP port ([v6]:port for IPv6)
 *   --dst-mac MAC    destination MAC (the peer's address)
 *   --src-mac MAC    source MAC (default: DEV's address)
 *   --src ADDR       first source address (default 198.51.100.10 /
 *                    2001:db8:100::10); further flows add 1 to its last 32 bits
 *   --sport PORT     first source port (default 1024)
 *   --size BYTES     frame size without FCS, 64..1500 (default 64)
 *   --flows N        distinct flows (default 1); source ports vary fastest
 *                    (up to 64000 per address), then source addresses
 *   --ipv6           IPv6 instead of IPv4
 *   --vary-dst       flows vary destination port/address (from --dst) and
 *                    keep --src/--sport fixed: replies from one backend to
 *                    many clients
 *   --duration SEC   how long to send (default 5, fractions allowed)
 *   --rate PPS       pace to this many packets per second (default: flat out);
 *                    the program drops frames that are ahead of schedule, so
 *                    the CPU still spins; late slots are skipped, not burst
 *   --cpu N          pin to CPU N (the test run executes on the calling CPU)
 *   --batch N        live-frames batch size (default 64, kernel max 256)
 *
 * Prints one line: "sent=N seconds=T pps=R start=UNIXTIME". Packets counted are frames the
 * program handed to XDP_TX; a full veth ring downstream drops silently, so
 * measure received packets at the sink.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <getopt.h>
#include <net/if.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>
#include <linux/if_ether.h>
#include <linux/ip.h>
#include <linux/ipv6.h>
#include <linux/udp.h>
#include <bpf/libbpf.h>
#include <bpf/bpf.h>
#include "util.h"
#include "bench/gen.skel.h"

#define MAX_PORTS_PER_ADDR 64000

static volatile sig_atomic_t stop;

static void on_signal(int sig)
{
	(void)sig;
	stop = 1;
}

static double wall(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

static int parse_mac(const char *s, __u8 *mac)
{
	unsigned int b[ETH_ALEN];
	int i;

	if (sscanf(s, "%x:%x:%x:%x:%x:%x", &b[0], &b[1], &b[2], &b[3], &b[4],
		   &b[5]) != ETH_ALEN)
		return -EINVAL;
	for (i = 0; i < ETH_ALEN; i++)
		mac[i] = b[i];
	return 0;
}

/* "1.2.3.4:80" or "[2001:db8::1]:80" */
static int parse_addr_port(const char *s, int v6, __be32 *addr, __be16 *port)
{
	char buf[INET6_ADDRSTRLEN + 8], *colon, *host = buf;
	long p;

	snprintf(buf, sizeof(buf), "%s", s);
	colon = strrchr(buf, ':');
	if (!colon)
		return -EINVAL;
	*colon = '\0';
	p = strtol(colon + 1, NULL, 10);
	if (p <= 0 || p > 65535)
		return -EINVAL;
	*port = htons(p);
	if (host[0] == '[') {
		host++;
		host[strlen(host) - 1] = '\0';
	}
	if (inet_pton(v6 ? AF_INET6 : AF_INET, host, addr) != 1)
		return -EINVAL;
	return 0;
}

struct gen_state {
	__u32 flow, port_idx, addr_idx, pad;
	__u64 sent, next_ps;
};

static unsigned long long read_sent(int map_fd)
{
	int ncpu = libbpf_num_possible_cpus(), i;
	unsigned long long sent = 0;
	struct gen_state *v;
	__u32 zero = 0;

	if (ncpu < 0)
		return 0;
	v = calloc(ncpu, sizeof(*v));
	if (v && !bpf_map_lookup_elem(map_fd, &zero, v))
		for (i = 0; i < ncpu; i++)
			sent += v[i].sent;
	free(v);
	return sent;
}

static void usage(FILE *f)
{
	fprintf(f,
		"Usage: gen --dev DEV --dst ADDR:PORT --dst-mac MAC [--src-mac MAC]\n"
		"           [--src ADDR] [--sport PORT] [--size BYTES] [--flows N]\n"
		"           [--ipv6] [--vary-dst] [--duration SEC] [--rate PPS] [--cpu N]\n"
		"           [--batch N]\n");
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "dev", required_argument, NULL, 'd' },
		{ "dst", required_argument, NULL, 'D' },
		{ "dst-mac", required_argument, NULL, 'M' },
		{ "src-mac", required_argument, NULL, 'm' },
		{ "src", required_argument, NULL, 's' },
		{ "sport", required_argument, NULL, 'p' },
		{ "size", required_argument, NULL, 'S' },
		{ "flows", required_argument, NULL, 'f' },
		{ "ipv6", no_argument, NULL, '6' },
		{ "duration", required_argument, NULL, 't' },
		{ "rate", required_argument, NULL, 'r' },
		{ "cpu", required_argument, NULL, 'c' },
		{ "batch", required_argument, NULL, 'b' },
		{ "vary-dst", no_argument, NULL, 'V' },
		{ "help", no_argument, NULL, 'h' },
		{}
	};
	const char *dev = NULL, *dst = NULL, *dst_mac = NULL, *src_mac = NULL,
		   *src = NULL;
	long size = 64, flows = 1, sport = 1024, cpu = -1, batch = 64;
	double duration = 5, rate = 0;
	int v6 = 0, opt, ifindex, hdr, err, ret = 1;
	struct gen_bpf *skel = NULL;
	__be32 daddr[4] = {}, saddr[4] = {};
	__be16 dport;
	__u8 *pkt = NULL;
	__u32 nports, sum, udp_len;
	__be32 *fixed_addr, *var_addr;
	__u16 pseudo[2];
	__be16 ulen, fixed_port;
	int vary_dst = 0;
	unsigned long long sent = 0;
	double t0, t1, chunk_s, wall_start;
	__u32 chunk;
	sigset_t sigs;

	while ((opt = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		switch (opt) {
		case 'd': dev = optarg; break;
		case 'D': dst = optarg; break;
		case 'M': dst_mac = optarg; break;
		case 'm': src_mac = optarg; break;
		case 's': src = optarg; break;
		case 'p': sport = strtol(optarg, NULL, 0); break;
		case 'S': size = strtol(optarg, NULL, 0); break;
		case 'f': flows = strtol(optarg, NULL, 0); break;
		case '6': v6 = 1; break;
		case 't': duration = strtod(optarg, NULL); break;
		case 'r': rate = strtod(optarg, NULL); break;
		case 'c': cpu = strtol(optarg, NULL, 0); break;
		case 'b': batch = strtol(optarg, NULL, 0); break;
		case 'V': vary_dst = 1; break;
		case 'h': usage(stdout); return 0;
		default: usage(stderr); return 2;
		}
	}
	if (!dev || !dst || !dst_mac || optind != argc) {
		usage(stderr);
		return 2;
	}
	hdr = ETH_HLEN + (v6 ? sizeof(struct ipv6hdr) : sizeof(struct iphdr)) +
	      sizeof(struct udphdr);
	if (size < 64 || size > 1500 || size < hdr) {
		fprintf(stderr, "gen: --size must be 64..1500\n");
		return 2;
	}
	if (flows < 1 || flows > 64000L * 65536 || sport < 1 || sport > 65535 ||
	    duration <= 0 || rate < 0 || batch < 1 || batch > 256) {
		fprintf(stderr, "gen: bad --flows, --sport, --duration, --rate or --batch\n");
		return 2;
	}
	nports = flows < MAX_PORTS_PER_ADDR ? flows : MAX_PORTS_PER_ADDR;

	ifindex = if_nametoindex(dev);
	if (!ifindex) {
		fprintf(stderr, "gen: no device %s: %s\n", dev, strerror(errno));
		return 1;
	}
	if (cpu >= 0) {
		cpu_set_t set;

		CPU_ZERO(&set);
		CPU_SET(cpu, &set);
		if (sched_setaffinity(0, sizeof(set), &set)) {
			fprintf(stderr, "gen: pin to CPU %ld: %s\n", cpu, strerror(errno));
			return 1;
		}
	}
	libbpf_set_print(libbpf_quiet);

	skel = gen_bpf__open();
	if (!skel) {
		fprintf(stderr, "gen: open BPF object: %s\n", strerror(errno));
		return 1;
	}
	if (parse_mac(dst_mac, (__u8 *)skel->rodata->dst_mac)) {
		fprintf(stderr, "gen: bad --dst-mac %s\n", dst_mac);
		ret = 2;
		goto out;
	}
	err = src_mac ? parse_mac(src_mac, (__u8 *)skel->rodata->src_mac) :
			dev_mac(dev, (__u8 *)skel->rodata->src_mac);
	if (err) {
		fprintf(stderr, "gen: source MAC: %s\n", src_mac ? src_mac : dev);
		ret = 2;
		goto out;
	}
	if (parse_addr_port(dst, v6, daddr, &dport)) {
		fprintf(stderr, "gen: bad --dst %s\n", dst);
		ret = 2;
		goto out;
	}
	if ((vary_dst ? ntohs(dport) : sport) + nports > 65536) {
		fprintf(stderr, "gen: first varied port leaves no room for %u ports\n",
			nports);
		ret = 2;
		goto out;
	}
	if (!src)
		src = v6 ? "2001:db8:100::10" : "198.51.100.10";
	if (inet_pton(v6 ? AF_INET6 : AF_INET, src, saddr) != 1) {
		fprintf(stderr, "gen: bad --src %s\n", src);
		ret = 2;
		goto out;
	}

	/* Template: headers are rewritten by the program; the payload stays
	 * zero, so the constant parts of both checksums are summed here once:
	 * everything but the varied address word and the varied port. */
	pkt = calloc(1, size);
	if (!pkt)
		goto out;
	udp_len = size - ETH_HLEN -
		  (v6 ? sizeof(struct ipv6hdr) : sizeof(struct iphdr));
	ulen = htons(udp_len);
	skel->rodata->ipv6 = v6;
	skel->rodata->vary_dst = vary_dst;
	skel->rodata->udp_len = udp_len;
	skel->rodata->ip_len = v6 ? udp_len : size - ETH_HLEN;
	skel->rodata->port_base = vary_dst ? ntohs(dport) : sport;
	skel->rodata->fixed_port = vary_dst ? htons(sport) : dport;
	skel->rodata->nports = nports;
	skel->rodata->nflows = flows;
	if (!v6) {
		/* IPv4 addresses go to word [3], the word the program varies. */
		saddr[3] = saddr[0];
		daddr[3] = daddr[0];
		saddr[0] = daddr[0] = 0;
	}
	memcpy((void *)skel->rodata->dst_addr, daddr, 16);
	memcpy((void *)skel->rodata->src_addr, saddr, 16);
	fixed_addr = vary_dst ? saddr : daddr;
	var_addr = vary_dst ? daddr : saddr;
	if (!v6) {
		struct iphdr ip = {
			.version = 4, .ihl = 5, .ttl = 64, .protocol = IPPROTO_UDP,
			.tot_len = htons(size - ETH_HLEN),
		};

		if (vary_dst)
			ip.saddr = fixed_addr[3];
		else
			ip.daddr = fixed_addr[3];
		skel->rodata->ip_csum_base = csum_partial(&ip, sizeof(ip), 0);
		sum = csum_partial(&fixed_addr[3], 4, 0);
	} else {
		sum = csum_partial(fixed_addr, 16, 0);
		sum = csum_partial(var_addr, 12, sum);
	}
	pseudo[0] = htons(IPPROTO_UDP);
	pseudo[1] = ulen;
	sum = csum_partial(pseudo, sizeof(pseudo), sum);
	fixed_port = skel->rodata->fixed_port;
	sum = csum_partial(&fixed_port, 2, sum);
	sum = csum_partial(&ulen, 2, sum);
	sum = csum_partial(pkt + hdr, size - hdr, sum);
	skel->rodata->udp_csum_base = sum;

	if (rate > 0)
		skel->rodata->pace_ps = 1e12 / rate;

	err = gen_bpf__load(skel);
	if (err) {
		fprintf(stderr, "gen: load BPF object: %s\n", strerror(-err));
		goto out;
	}

	signal(SIGINT, on_signal);
	signal(SIGTERM, on_signal);
	sigemptyset(&sigs);
	sigaddset(&sigs, SIGINT);
	sigaddset(&sigs, SIGTERM);

	chunk = 1 << 16;
	t0 = now();
	wall_start = wall();
	t1 = t0;
	while (!stop) {
		struct xdp_md ctx = { .data_end = size, .ingress_ifindex = ifindex };
		LIBBPF_OPTS(bpf_test_run_opts, topts, .data_in = pkt,
			    .data_size_in = size, .ctx_in = &ctx,
			    .ctx_size_in = sizeof(ctx), .repeat = chunk,
			    .flags = BPF_F_TEST_XDP_LIVE_FRAMES,
			    .batch_size = batch);
		double before = now(), after;

		if (before - t0 >= duration)
			break;
		/* A signal would cut a run short with -EINTR: hold signals
		 * until the run is done (the count is read from the map). */
		sigprocmask(SIG_BLOCK, &sigs, NULL);
		err = bpf_prog_test_run_opts(bpf_program__fd(skel->progs.crb_gen),
					     &topts);
		sigprocmask(SIG_UNBLOCK, &sigs, NULL);
		if (err) {
			if (errno == EINTR || stop)
				break;
			fprintf(stderr, "gen: BPF_PROG_TEST_RUN on %s: %s\n", dev,
				strerror(errno));
			goto out;
		}
		after = now();
		t1 = after;
		/* Size runs to ~50 ms so the duration check stays fine-grained. */
		chunk_s = after - before;
		if (chunk_s > 0) {
			double want = chunk * 0.05 / chunk_s;

			chunk = want < 4096 ? 4096 : want > (1 << 24) ? 1 << 24 : want;
		}
	}
	sent = read_sent(bpf_map__fd(skel->maps.gen_state));
	printf("sent=%llu seconds=%.3f pps=%.0f start=%.3f\n", sent, t1 - t0,
	       t1 > t0 ? sent / (t1 - t0) : 0.0, wall_start);
	ret = 0;
out:
	free(pkt);
	gen_bpf__destroy(skel);
	return ret;
}
