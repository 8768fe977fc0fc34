/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/* Small helpers the benchmark tools share. */
#ifndef CRBPF_BENCH_UTIL_H
#define CRBPF_BENCH_UTIL_H

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <net/if.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <linux/if_ether.h>
#include <bpf/libbpf.h>

/* libbpf's warnings only: its debug chatter would drown the tables. */
static inline int libbpf_quiet(enum libbpf_print_level level, const char *fmt,
			       va_list ap)
{
	if (level == LIBBPF_WARN)
		return vfprintf(stderr, fmt, ap);
	return 0;
}

static inline double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

static inline int dev_mac(const char *dev, __u8 *mac)
{
	struct ifreq ifr = {};
	int fd, ret = 0;

	fd = socket(AF_INET, SOCK_DGRAM, 0);
	if (fd < 0)
		return -errno;
	snprintf(ifr.ifr_name, sizeof(ifr.ifr_name), "%s", dev);
	if (ioctl(fd, SIOCGIFHWADDR, &ifr) < 0)
		ret = -errno;
	else
		memcpy(mac, ifr.ifr_hwaddr.sa_data, ETH_ALEN);
	close(fd);
	return ret;
}

/* Reads structs of any type as 16-bit words: tell the compiler. */
typedef __u16 __attribute__((may_alias)) u16_alias;

/* Unfolded one's-complement sum of native 16-bit words. */
static inline __u32 csum_partial(const void *buf, size_t len, __u32 sum)
{
	const u16_alias *w = buf;

	for (; len > 1; len -= 2)
		sum += *w++;
	if (len)
		sum += *(const __u8 *)w;
	return sum;
}

#endif /* CRBPF_BENCH_UTIL_H */
