// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * sink: counting XDP sink for the benchmark (sink.bpf.o). Counts UDP frames
 * per CPU and drops them; everything else passes.
 *
 *   sink run --dev DEV [--duration SEC]     attach, print rate each second,
 *                                           detach on exit or Ctrl-C
 *   sink attach --dev DEV --pin DIR         attach and pin (DIR/link, DIR/count)
 *   sink redirect --dev DEV --to DEV2 --pin DIR
 *                                           attach crb_redirect (every frame
 *                                           XDP-redirected to DEV2, untouched)
 *                                           and pin its link as DIR/link
 *   sink tcredirect --dev DEV --to DEV2 --pin DIR
 *                                           attach crb_pass (XDP) and a tcx
 *                                           ingress link of crb_tcredirect
 *                                           (every packet bpf_redirect()ed to
 *                                           DEV2, untouched), pin them as
 *                                           DIR/link and DIR/tclink
 *   sink read --pin DIR                     print "packets=N bytes=N"
 *   sink measure --pin DIR --duration SEC   count over SEC seconds: "received=N
 *                                           seconds=T pps=R gbps=G start=UNIXTIME"
 *   sink detach --pin DIR                   unpin (detaches the program)
 *
 * DEV is resolved in the caller's network namespace (use nsenter --net=...);
 * DIR must be on bpffs. Native XDP: on veth this also enables the NAPI that
 * XDP_TX/XDP_REDIRECT from the peer needs.
 */
#include <errno.h>
#include <getopt.h>
#include <net/if.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include <bpf/libbpf.h>
#include <bpf/bpf.h>
#include "util.h"
#include "bench/sink.skel.h"

#ifndef BPF_TCX_INGRESS /* uapi headers older than 6.6 */
#define BPF_TCX_INGRESS 46
#endif

struct sink_count {
	__u64 packets;
	__u64 bytes;
};

static volatile sig_atomic_t stop;

static void on_signal(int sig)
{
	(void)sig;
	stop = 1;
}

static int read_count(int map_fd, struct sink_count *total)
{
	int ncpu = libbpf_num_possible_cpus(), i;
	struct sink_count *v;
	__u32 zero = 0;

	if (ncpu < 0)
		return ncpu;
	v = calloc(ncpu, sizeof(*v));
	if (!v)
		return -ENOMEM;
	if (bpf_map_lookup_elem(map_fd, &zero, v)) {
		free(v);
		return -errno;
	}
	memset(total, 0, sizeof(*total));
	for (i = 0; i < ncpu; i++) {
		total->packets += v[i].packets;
		total->bytes += v[i].bytes;
	}
	free(v);
	return 0;
}

static void sleep_s(double s)
{
	struct timespec ts = { .tv_sec = (time_t)s,
			       .tv_nsec = (long)((s - (time_t)s) * 1e9) };

	while (nanosleep(&ts, &ts) && errno == EINTR && !stop)
		;
}

static int measure(int map_fd, double duration, int every_second)
{
	struct sink_count a, b, start;
	double t0, ta, tb, wall_start;
	struct timespec ts;
	int err;

	err = read_count(map_fd, &start);
	if (err)
		return err;
	t0 = ta = now();
	clock_gettime(CLOCK_REALTIME, &ts);
	wall_start = ts.tv_sec + ts.tv_nsec / 1e9;
	a = start;
	while (!stop && now() - t0 < duration) {
		double left = duration - (now() - t0);

		sleep_s(every_second && left > 1 ? 1 : left);
		err = read_count(map_fd, &b);
		if (err)
			return err;
		tb = now();
		if (every_second)
			printf("%.0f pps %.3f Gbit/s\n",
			       (b.packets - a.packets) / (tb - ta),
			       (b.bytes - a.bytes) * 8 / (tb - ta) / 1e9);
		a = b;
		ta = tb;
	}
	printf("received=%llu seconds=%.3f pps=%.0f gbps=%.3f start=%.3f\n",
	       (unsigned long long)(a.packets - start.packets), ta - t0,
	       (a.packets - start.packets) / (ta - t0),
	       (a.bytes - start.bytes) * 8 / (ta - t0) / 1e9, wall_start);
	return 0;
}

/* crb_tcredirect as a tcx ingress link on ifindex, pinned as pin/tclink
 * (tcx: Linux 6.6+, as crbpf uses where the kernel has it). */
static int tc_pin(struct sink_bpf *skel, int ifindex, const char *pin)
{
	char path[512];
	int fd, err = 0;

	fd = bpf_link_create(bpf_program__fd(skel->progs.crb_tcredirect),
			     ifindex, BPF_TCX_INGRESS, NULL);
	if (fd < 0) {
		fprintf(stderr, "sink: attach tcx ingress: %s\n", strerror(errno));
		return -1;
	}
	snprintf(path, sizeof(path), "%s/tclink", pin);
	if (bpf_obj_pin(fd, path)) {
		fprintf(stderr, "sink: pin %s: %s\n", path, strerror(errno));
		err = -1;
	}
	close(fd);
	return err;
}

static void usage(FILE *f)
{
	fprintf(f,
		"Usage: sink run --dev DEV [--duration SEC]\n"
		"       sink attach --dev DEV --pin DIR\n"
		"       sink redirect --dev DEV --to DEV2 --pin DIR\n"
		"       sink tcredirect --dev DEV --to DEV2 --pin DIR\n"
		"       sink read --pin DIR\n"
		"       sink measure --pin DIR --duration SEC\n"
		"       sink detach --pin DIR\n");
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "dev", required_argument, NULL, 'd' },
		{ "pin", required_argument, NULL, 'p' },
		{ "to", required_argument, NULL, 'T' },
		{ "duration", required_argument, NULL, 't' },
		{ "help", no_argument, NULL, 'h' },
		{}
	};
	const char *cmd, *dev = NULL, *pin = NULL, *to = NULL;
	char path[512];
	double duration = 0;
	struct sink_bpf *skel = NULL;
	struct bpf_link *link = NULL;
	struct sink_count c;
	int opt, ifindex, fd, err, ret = 1;

	if (argc < 2) {
		usage(stderr);
		return 2;
	}
	cmd = argv[1];
	optind = 2;
	while ((opt = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		switch (opt) {
		case 'd': dev = optarg; break;
		case 'p': pin = optarg; break;
		case 'T': to = optarg; break;
		case 't': duration = strtod(optarg, NULL); break;
		case 'h': usage(stdout); return 0;
		default: usage(stderr); return 2;
		}
	}
	libbpf_set_print(libbpf_quiet);
	signal(SIGINT, on_signal);
	signal(SIGTERM, on_signal);

	if (!strcmp(cmd, "run") || !strcmp(cmd, "attach") ||
	    !strcmp(cmd, "redirect") || !strcmp(cmd, "tcredirect")) {
		int tcred = !strcmp(cmd, "tcredirect");
		int redirect = tcred || !strcmp(cmd, "redirect");
		int pinned = strcmp(cmd, "run") != 0;
		__u32 to_ifindex = 0, zero = 0;

		if (!dev || (pinned && !pin) || (redirect && !to)) {
			usage(stderr);
			return 2;
		}
		ifindex = if_nametoindex(dev);
		if (!ifindex) {
			fprintf(stderr, "sink: no device %s: %s\n", dev, strerror(errno));
			return 1;
		}
		if (redirect && !(to_ifindex = if_nametoindex(to))) {
			fprintf(stderr, "sink: no device %s: %s\n", to, strerror(errno));
			return 1;
		}
		skel = sink_bpf__open_and_load();
		if (!skel) {
			fprintf(stderr, "sink: load BPF object: %s\n", strerror(errno));
			return 1;
		}
		skel->bss->tc_to = to_ifindex;
		if (redirect && !tcred &&
		    bpf_map_update_elem(bpf_map__fd(skel->maps.sink_tx),
					&zero, &to_ifindex, BPF_ANY)) {
			fprintf(stderr, "sink: devmap slot for %s: %s\n", to, strerror(errno));
			goto out;
		}
		link = bpf_program__attach_xdp(tcred ? skel->progs.crb_pass :
					       redirect ? skel->progs.crb_redirect :
							  skel->progs.crb_sink,
					       ifindex);
		if (!link) {
			fprintf(stderr, "sink: attach XDP to %s: %s\n", dev, strerror(errno));
			goto out;
		}
		if (pinned) {
			if (mkdir(pin, 0700) && errno != EEXIST) {
				fprintf(stderr, "sink: mkdir %s: %s\n", pin, strerror(errno));
				goto out;
			}
			snprintf(path, sizeof(path), "%s/count", pin);
			if (bpf_map__pin(skel->maps.sink_count, path)) {
				fprintf(stderr, "sink: pin %s: %s\n", path, strerror(errno));
				goto out;
			}
			if (tcred && tc_pin(skel, ifindex, pin)) {
				snprintf(path, sizeof(path), "%s/count", pin);
				unlink(path);
				goto out;
			}
			snprintf(path, sizeof(path), "%s/link", pin);
			if (bpf_link__pin(link, path)) {
				fprintf(stderr, "sink: pin %s: %s\n", path, strerror(errno));
				snprintf(path, sizeof(path), "%s/count", pin);
				unlink(path);
				snprintf(path, sizeof(path), "%s/tclink", pin);
				unlink(path);
				goto out;
			}
			/* The pin keeps the link; closing our fd must not detach. */
			bpf_link__disconnect(link);
			ret = 0;
			goto out;
		}
		err = measure(bpf_map__fd(skel->maps.sink_count),
			      duration > 0 ? duration : 1e12, 1);
		ret = err ? 1 : 0;
		goto out;
	}

	if (!pin) {
		usage(stderr);
		return 2;
	}
	snprintf(path, sizeof(path), "%s/count", pin);
	if (!strcmp(cmd, "detach")) {
		unlink(path);
		snprintf(path, sizeof(path), "%s/tclink", pin);
		unlink(path);
		snprintf(path, sizeof(path), "%s/link", pin);
		unlink(path);
		rmdir(pin);
		return 0;
	}
	fd = bpf_obj_get(path);
	if (fd < 0) {
		fprintf(stderr, "sink: open %s: %s\n", path, strerror(errno));
		return 1;
	}
	if (!strcmp(cmd, "read")) {
		err = read_count(fd, &c);
		if (!err)
			printf("packets=%llu bytes=%llu\n",
			       (unsigned long long)c.packets,
			       (unsigned long long)c.bytes);
	} else if (!strcmp(cmd, "measure") && duration > 0) {
		err = measure(fd, duration, 0);
	} else {
		usage(stderr);
		close(fd);
		return 2;
	}
	close(fd);
	if (err)
		fprintf(stderr, "sink: read %s: %s\n", path, strerror(-err));
	return err ? 1 : 0;
out:
	bpf_link__destroy(link);
	sink_bpf__destroy(skel);
	return ret;
}
