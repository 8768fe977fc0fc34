// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/* Command-line values -> network byte order, and back for printing. */
#include "tool.h"
#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <netinet/in.h>
#include <unistd.h>

static int parse_port(const char *s, size_t len, __u16 *port)
{
	unsigned long v = 0;
	size_t i;

	if (!len || len > 5)
		return -EINVAL;
	for (i = 0; i < len; i++) {
		if (s[i] < '0' || s[i] > '9')
			return -EINVAL;
		v = v * 10 + (s[i] - '0');
	}
	if (v < 1 || v > 65535)
		return -EINVAL;
	*port = v;
	return 0;
}

int parse_port_range(const char *s, __u16 *first, __u16 *last)
{
	const char *dash = strchr(s, '-');

	if (!dash) {
		if (parse_port(s, strlen(s), first))
			return usage_err("invalid port '%s' (expected 1-65535)", s);
		*last = *first;
		return 0;
	}
	if (parse_port(s, dash - s, first) ||
	    parse_port(dash + 1, strlen(dash + 1), last))
		return usage_err("invalid port range '%s' (expected PORT[-LAST], 1-65535)", s);
	if (*last < *first)
		return usage_err("invalid port range '%s': last port is below the first", s);
	return 0;
}

int parse_proto(const char *s, __u8 *proto)
{
	if (!strcmp(s, "tcp"))
		*proto = IPPROTO_TCP;
	else if (!strcmp(s, "udp"))
		*proto = IPPROTO_UDP;
	else
		return usage_err("invalid protocol '%s' (expected tcp or udp)", s);
	return 0;
}

/* Decimal, or hexadecimal after 0x. A leading 0 is refused, not read as
 * octal (strtoul's base 0 and ip(8) take 0100 for 64, a reader for 100). */
int parse_u32(const char *s, __u32 *v)
{
	unsigned long long x;
	int base = 10;
	char *end;

	if (s[0] == '0' && (s[1] == 'x' || s[1] == 'X')) {
		base = 16;
		s += 2;
	} else if (s[0] == '0' && s[1]) {
		return -EINVAL;
	}
	/* strtoull would take a sign or leading blanks. */
	if (!(base == 16 ? isxdigit((unsigned char)*s) : isdigit((unsigned char)*s)))
		return -EINVAL;
	errno = 0;
	x = strtoull(s, &end, base);
	if (errno || *end || x > 0xffffffffULL)
		return -EINVAL;
	*v = x;
	return 0;
}

/* --flows / Flows =: what (the option's name) names it in the message. */
int parse_flows(const char *what, const char *s, __u32 *v)
{
	if (parse_u32(s, v) || *v < CRBPF_FLOWS_MIN || *v > CRBPF_FLOWS_MAX)
		return usage_err("invalid %s '%s' (expected %u-%u)", what, s,
				 CRBPF_FLOWS_MIN, CRBPF_FLOWS_MAX);
	return 0;
}

int parse_iface(const char *s)
{
	if (!*s || strlen(s) >= IFNAMSIZ || strchr(s, '/') || strchr(s, ':') ||
	    strpbrk(s, " \t\n") || !strcmp(s, ".") || !strcmp(s, ".."))
		return usage_err("invalid interface name '%s'", s);
	return 0;
}

/* ADDR | ADDR:PORT | [ADDR6] | [ADDR6]:PORT. A bare IPv6 address is refused:
 * "fd00::2:80" would read as an address or as address and port. */
int parse_backend(const char *s, struct addr *addr, __u16 *port)
{
	char buf[INET6_ADDRSTRLEN + 8];
	const char *p = NULL;
	char *colon;

	memset(addr, 0, sizeof(*addr));
	*port = 0;
	if (strlen(s) >= sizeof(buf))
		goto bad;
	if (s[0] == '[') {
		const char *close = strchr(s, ']');

		if (!close || close == s + 1)
			goto bad;
		memcpy(buf, s + 1, close - s - 1);
		buf[close - s - 1] = 0;
		if (close[1] == ':')
			p = close + 2;
		else if (close[1])
			goto bad;
		if (inet_pton(AF_INET6, buf, addr->a) != 1) {
			struct in_addr tmp;

			if (inet_pton(AF_INET, buf, &tmp) == 1)
				return usage_err("invalid backend '%s': brackets are for IPv6 addresses", s);
			goto bad;
		}
		addr->family = CRBPF_V6;
	} else if (inet_pton(AF_INET6, s, addr->a) == 1) {
		return usage_err("invalid backend '%s': IPv6 addresses go in brackets ([%s])",
				 s, s);
	} else {
		strcpy(buf, s);
		colon = strchr(buf, ':');
		if (colon) {
			*colon = 0;
			p = s + (colon - buf) + 1;
		}
		if (inet_pton(AF_INET, buf, &addr->a[0]) != 1)
			goto bad;
		addr->family = CRBPF_V4;
	}
	if (p && parse_port(p, strlen(p), port))
		return usage_err("invalid backend port in '%s' (expected 1-65535)", s);
	return 0;
bad:
	return usage_err("invalid backend '%s' (expected ADDR, ADDR:PORT, [ADDR6] or [ADDR6]:PORT)", s);
}

int af_of(__u8 family)
{
	return family == CRBPF_V6 ? AF_INET6 : AF_INET;
}

__u8 family_of_af(int af)
{
	return af == AF_INET6 ? CRBPF_V6 : CRBPF_V4;
}

const char *addr_str(const struct addr *a, char *buf, size_t len)
{
	if (!inet_ntop(af_of(a->family), a->a, buf, len))
		snprintf(buf, len, "?");
	return buf;
}

const char *proto_str(__u8 proto)
{
	return proto == IPPROTO_TCP ? "tcp" : proto == IPPROTO_UDP ? "udp" : "?";
}

const char *family_str(__u8 family)
{
	return family == CRBPF_V6 ? "ipv6" : "ipv4";
}

int resolve_iface(const char *name, int *ifindex)
{
	unsigned int idx = if_nametoindex(name);

	if (!idx)
		return -errno;
	*ifindex = idx;
	return 0;
}

/* buf must hold IF_NAMESIZE bytes. */
const char *ifname(int ifindex, char *buf)
{
	if (!if_indextoname(ifindex, buf))
		snprintf(buf, IF_NAMESIZE, "if%d", ifindex);
	return buf;
}

void json_str(FILE *f, const char *s)
{
	fputc('"', f);
	for (; *s; s++) {
		if (*s == '"' || *s == '\\')
			fprintf(f, "\\%c", *s);
		else if ((unsigned char)*s < 0x20)
			fprintf(f, "\\u%04x", *s);
		else
			fputc(*s, f);
	}
	fputc('"', f);
}

/* IFF_UP of the device in this network namespace (not /sys, which belongs
 * to whichever namespace mounted it). */
bool if_is_up(const char *name)
{
	struct ifreq ifr = {};
	int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	bool up = false;

	if (fd < 0)
		return false;
	snprintf(ifr.ifr_name, sizeof(ifr.ifr_name), "%s", name);
	if (!ioctl(fd, SIOCGIFFLAGS, &ifr))
		up = ifr.ifr_flags & IFF_UP;
	close(fd);
	return up;
}

/* RFC 1918, RFC 6598 (carrier-grade NAT) and IPv6 unique local addresses:
 * what a tunnel, never the internet, reaches. */
bool addr_is_private(const struct addr *a)
{
	__u32 v = ntohl(a->a[0]);

	if (a->family == CRBPF_V6)
		return (v >> 25) == (0xfc000000U >> 25);
	return (v >> 24) == 10 || (v >> 20) == (0xac100000U >> 20) ||
	       (v >> 16) == 0xc0a8 || (v >> 22) == (0x64400000U >> 22);
}

/* A set of ports (bit p of bits: port p) as "22,2222,60000-60100"; empty
 * when none. Stops before buf would overflow. */
void port_set_text(const __u8 *bits, char *buf, size_t len)
{
	size_t used = 0;
	int p, q;

	buf[0] = 0;
#define BIT(p) (bits[(p) / 8] & (1 << ((p) % 8)))
	for (p = 1; p <= 65535; p++) {
		if (!BIT(p))
			continue;
		for (q = p; q < 65535 && BIT(q + 1); q++)
			;
		if (used + 16 >= len)
			break;
		used += q == p ? snprintf(buf + used, len - used, "%s%d",
					  used ? "," : "", p) :
				 snprintf(buf + used, len - used, "%s%d-%d",
					  used ? "," : "", p, q);
		p = q;
	}
#undef BIT
}
