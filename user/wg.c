// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/* WireGuard peers (keys, endpoints, AllowedIPs, latest handshake) read the
 * way wg(8) reads them, without running it: the kernel module answers on
 * the generic netlink family "wireguard"; wireguard-go and the other
 * userspace implementations on the UAPI socket /var/run/wireguard/NAME.sock
 * ("get=1", key=value lines). The kernel is asked first; a device it does
 * not know (or a kernel without the family) goes to the socket. */
#include "tool.h"
#include <arpa/inet.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/un.h>
#include <unistd.h>
#include <libmnl/libmnl.h>
#include <linux/genetlink.h>
#include <linux/wireguard.h>
#include <netinet/in.h>

#define WG_UAPI_DIR "/var/run/wireguard"

static struct wg_peer *peer_add(struct wg_dev *d)
{
	struct wg_peer *v;

	if (d->npeers == d->cap) {
		int cap = d->cap ? d->cap * 2 : 4;

		v = realloc(d->peers, cap * sizeof(*v));
		if (!v)
			return NULL;
		d->peers = v;
		d->cap = cap;
	}
	v = &d->peers[d->npeers++];
	memset(v, 0, sizeof(*v));
	return v;
}

static int allowed_add(struct wg_peer *p, const struct addr *a, __u8 cidr)
{
	struct wg_allowed *v;

	if (p->nallowed == p->cap) {
		int cap = p->cap ? p->cap * 2 : 4;

		v = realloc(p->allowed, cap * sizeof(*v));
		if (!v)
			return -ENOMEM;
		p->allowed = v;
		p->cap = cap;
	}
	p->allowed[p->nallowed].addr = *a;
	p->allowed[p->nallowed++].cidr = cidr;
	return 0;
}

void wg_dev_free(struct wg_dev *d)
{
	int i;

	for (i = 0; i < d->npeers; i++)
		free(d->peers[i].allowed);
	free(d->peers);
	d->peers = NULL;
	d->npeers = d->cap = 0;
}

void wg_key_str(const __u8 key[32], char out[45])
{
	static const char b64[] =
		"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
	int i, o = 0;

	for (i = 0; i < 30; i += 3) {
		__u32 v = key[i] << 16 | key[i + 1] << 8 | key[i + 2];

		out[o++] = b64[v >> 18 & 63];
		out[o++] = b64[v >> 12 & 63];
		out[o++] = b64[v >> 6 & 63];
		out[o++] = b64[v & 63];
	}
	/* 32 = 30 + 2: the last group carries two bytes and one '='. */
	{
		__u32 v = key[30] << 16 | key[31] << 8;

		out[o++] = b64[v >> 18 & 63];
		out[o++] = b64[v >> 12 & 63];
		out[o++] = b64[v >> 6 & 63];
		out[o++] = '=';
	}
	out[o] = 0;
}

static bool prefix_match(const struct addr *net, const struct addr *a, int len)
{
	const __u8 *x = (const __u8 *)net->a, *y = (const __u8 *)a->a;
	int full = len / 8, rest = len % 8;

	if (memcmp(x, y, full))
		return false;
	return !rest || !((x[full] ^ y[full]) & (0xff << (8 - rest)));
}

/* Whether one of p's AllowedIPs contains the prefix a/len. */
bool wg_allowed_covers(const struct wg_peer *p, const struct addr *a, __u8 len)
{
	int i;

	for (i = 0; i < p->nallowed; i++) {
		const struct wg_allowed *w = &p->allowed[i];

		if (w->addr.family == a->family && w->cidr <= len &&
		    prefix_match(&w->addr, a, w->cidr))
			return true;
	}
	return false;
}

/* --- generic netlink (kernel module) --- */

static int attr_tb_cb(const struct nlattr *attr, void *data)
{
	const struct nlattr **tb = data;

	/* Every table below is sized 16: the highest type used is 10. */
	if (mnl_attr_get_type(attr) < 16)
		tb[mnl_attr_get_type(attr)] = attr;
	return MNL_CB_OK;
}

static int family_cb(const struct nlmsghdr *nlh, void *data)
{
	struct nlattr *tb[16] = {};

	mnl_attr_parse(nlh, sizeof(struct genlmsghdr), attr_tb_cb, tb);
	if (tb[CTRL_ATTR_FAMILY_ID])
		*(int *)data = mnl_attr_get_u16(tb[CTRL_ATTR_FAMILY_ID]);
	return MNL_CB_OK;
}

/* The family id of "wireguard", or -errno (-ENOENT: no module loaded). */
static int wg_family(void)
{
	char buf[MNL_SOCKET_BUFFER_SIZE];
	struct nlmsghdr *nlh = mnl_nlmsg_put_header(buf);
	struct genlmsghdr *g;
	int id = 0, ret;

	nlh->nlmsg_type = GENL_ID_CTRL;
	nlh->nlmsg_flags = NLM_F_REQUEST;
	g = mnl_nlmsg_put_extra_header(nlh, sizeof(*g));
	g->cmd = CTRL_CMD_GETFAMILY;
	g->version = 1;
	mnl_attr_put_strz(nlh, CTRL_ATTR_FAMILY_NAME, WG_GENL_NAME);
	ret = nl_talk(NETLINK_GENERIC, nlh, family_cb, &id);
	if (ret)
		return ret;
	return id ? id : -ENOENT;
}

static int sockaddr_to_addr(const void *sa, size_t len, struct addr *a,
			    __u16 *port)
{
	const struct sockaddr_in *s4 = sa;
	const struct sockaddr_in6 *s6 = sa;

	memset(a, 0, sizeof(*a));
	if (len >= sizeof(*s4) && s4->sin_family == AF_INET) {
		a->family = CRBPF_V4;
		a->a[0] = s4->sin_addr.s_addr;
		*port = ntohs(s4->sin_port);
		return 0;
	}
	if (len >= sizeof(*s6) && s6->sin6_family == AF_INET6) {
		a->family = CRBPF_V6;
		memcpy(a->a, &s6->sin6_addr, 16);
		*port = ntohs(s6->sin6_port);
		return 0;
	}
	return -EAFNOSUPPORT;
}

static int nl_allowed(const struct nlattr *nest, struct wg_peer *p)
{
	const struct nlattr *ip;

	mnl_attr_for_each_nested(ip, nest) {
		struct nlattr *tb[16] = {};
		struct addr a = {};
		__u16 fam;

		mnl_attr_parse_nested(ip, attr_tb_cb, tb);
		if (!tb[WGALLOWEDIP_A_FAMILY] || !tb[WGALLOWEDIP_A_IPADDR] ||
		    !tb[WGALLOWEDIP_A_CIDR_MASK])
			continue;
		fam = mnl_attr_get_u16(tb[WGALLOWEDIP_A_FAMILY]);
		if (fam != AF_INET && fam != AF_INET6)
			continue;
		a.family = family_of_af(fam);
		memcpy(a.a, mnl_attr_get_payload(tb[WGALLOWEDIP_A_IPADDR]),
		       fam == AF_INET ? 4 : 16);
		if (allowed_add(p, &a, mnl_attr_get_u8(tb[WGALLOWEDIP_A_CIDR_MASK])))
			return -ENOMEM;
	}
	return 0;
}

struct wg_dump {
	struct wg_dev *d;
	int err;
};

/* A device with many peers comes in several messages, and one peer's
 * AllowedIPs may continue in the next message under the same key. */
static int device_cb(const struct nlmsghdr *nlh, void *data)
{
	struct nlattr *tb[16] = {};
	struct wg_dump *w = data;
	const struct nlattr *pa;

	mnl_attr_parse(nlh, sizeof(struct genlmsghdr), attr_tb_cb, tb);
	if (tb[WGDEVICE_A_LISTEN_PORT])
		w->d->listen_port = mnl_attr_get_u16(tb[WGDEVICE_A_LISTEN_PORT]);
	if (!tb[WGDEVICE_A_PEERS])
		return MNL_CB_OK;
	mnl_attr_for_each_nested(pa, tb[WGDEVICE_A_PEERS]) {
		struct nlattr *pt[16] = {};
		struct wg_peer *p = NULL;
		const __u8 *key;

		mnl_attr_parse_nested(pa, attr_tb_cb, pt);
		if (!pt[WGPEER_A_PUBLIC_KEY] ||
		    mnl_attr_get_payload_len(pt[WGPEER_A_PUBLIC_KEY]) != 32)
			continue;
		key = mnl_attr_get_payload(pt[WGPEER_A_PUBLIC_KEY]);
		if (w->d->npeers &&
		    !memcmp(w->d->peers[w->d->npeers - 1].key, key, 32))
			p = &w->d->peers[w->d->npeers - 1];
		if (!p) {
			p = peer_add(w->d);
			if (!p)
				goto nomem;
			memcpy(p->key, key, 32);
		}
		if (pt[WGPEER_A_ENDPOINT] &&
		    !sockaddr_to_addr(mnl_attr_get_payload(pt[WGPEER_A_ENDPOINT]),
				      mnl_attr_get_payload_len(pt[WGPEER_A_ENDPOINT]),
				      &p->endpoint, &p->endpoint_port))
			p->has_endpoint = true;
		if (pt[WGPEER_A_LAST_HANDSHAKE_TIME] &&
		    mnl_attr_get_payload_len(pt[WGPEER_A_LAST_HANDSHAKE_TIME]) >= 8) {
			long long sec;

			memcpy(&sec, mnl_attr_get_payload(pt[WGPEER_A_LAST_HANDSHAKE_TIME]),
			       sizeof(sec));
			p->last_handshake = sec;
		}
		if (pt[WGPEER_A_PERSISTENT_KEEPALIVE_INTERVAL])
			p->keepalive = mnl_attr_get_u16(pt[WGPEER_A_PERSISTENT_KEEPALIVE_INTERVAL]);
		if (pt[WGPEER_A_ALLOWEDIPS] && nl_allowed(pt[WGPEER_A_ALLOWEDIPS], p))
			goto nomem;
	}
	return MNL_CB_OK;
nomem:
	w->err = -ENOMEM;
	return MNL_CB_ERROR;
}

static int wg_get_genl(const char *name, struct wg_dev *d)
{
	char buf[MNL_SOCKET_BUFFER_SIZE];
	struct nlmsghdr *nlh = mnl_nlmsg_put_header(buf);
	struct wg_dump w = { .d = d };
	struct genlmsghdr *g;
	int fam, ret;

	fam = wg_family();
	if (fam < 0)
		return fam;
	nlh->nlmsg_type = fam;
	nlh->nlmsg_flags = NLM_F_REQUEST | NLM_F_DUMP;
	g = mnl_nlmsg_put_extra_header(nlh, sizeof(*g));
	g->cmd = WG_CMD_GET_DEVICE;
	g->version = WG_GENL_VERSION;
	mnl_attr_put_strz(nlh, WGDEVICE_A_IFNAME, name);
	ret = nl_talk(NETLINK_GENERIC, nlh, device_cb, &w);
	ret = ret ?: w.err;
	if (ret)
		wg_dev_free(d);
	else
		d->via = "genetlink";
	return ret;
}

/* --- UAPI socket (wireguard-go) --- */

static int hex_nibble(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

static int hex_key(const char *s, __u8 key[32])
{
	int i, hi, lo;

	if (strlen(s) != 64)
		return -EINVAL;
	for (i = 0; i < 32; i++) {
		hi = hex_nibble(s[2 * i]);
		lo = hex_nibble(s[2 * i + 1]);
		if (hi < 0 || lo < 0)
			return -EINVAL;
		key[i] = hi << 4 | lo;
	}
	return 0;
}

/* "1.2.3.4:51820" or "[2001:db8::1]:51820". */
static int parse_endpoint(char *s, struct addr *a, __u16 *port)
{
	char *colon = strrchr(s, ':');

	if (!colon)
		return -EINVAL;
	*colon = 0;
	*port = atoi(colon + 1);
	memset(a, 0, sizeof(*a));
	if (s[0] == '[') {
		s++;
		s[strcspn(s, "]%")] = 0;
		a->family = CRBPF_V6;
		return inet_pton(AF_INET6, s, a->a) == 1 ? 0 : -EINVAL;
	}
	a->family = CRBPF_V4;
	return inet_pton(AF_INET, s, a->a) == 1 ? 0 : -EINVAL;
}

static int uapi_line(char *line, struct wg_dev *d, struct wg_peer **p)
{
	char *val = strchr(line, '=');
	__u8 key[32];

	if (!val)
		return 0;
	*val++ = 0;
	if (!strcmp(line, "errno"))
		return atoi(val) ? -atoi(val) : 0;
	if (!strcmp(line, "listen_port")) {
		d->listen_port = atoi(val);
	} else if (!strcmp(line, "public_key")) {
		if (hex_key(val, key))
			return -EPROTO;
		*p = peer_add(d);
		if (!*p)
			return -ENOMEM;
		memcpy((*p)->key, key, 32);
	} else if (!*p) {
		return 0; /* device keys: private_key, fwmark, ... */
	} else if (!strcmp(line, "endpoint")) {
		(*p)->has_endpoint = !parse_endpoint(val, &(*p)->endpoint,
						     &(*p)->endpoint_port);
	} else if (!strcmp(line, "last_handshake_time_sec")) {
		(*p)->last_handshake = atoll(val);
	} else if (!strcmp(line, "persistent_keepalive_interval")) {
		(*p)->keepalive = atoi(val);
	} else if (!strcmp(line, "allowed_ip")) {
		char *slash = strchr(val, '/');
		struct addr a = {};

		if (!slash)
			return -EPROTO;
		*slash = 0;
		if (inet_pton(AF_INET, val, a.a) == 1)
			a.family = CRBPF_V4;
		else if (inet_pton(AF_INET6, val, a.a) == 1)
			a.family = CRBPF_V6;
		else
			return -EPROTO;
		return allowed_add(*p, &a, atoi(slash + 1));
	}
	return 0;
}

static int wg_get_uapi(const char *name, struct wg_dev *d)
{
	struct sockaddr_un sun = { .sun_family = AF_UNIX };
	struct timeval tmo = { .tv_sec = 5 };
	struct wg_peer *p = NULL;
	char buf[4096], line[512];
	size_t llen = 0;
	bool done = false;
	int fd, ret = 0;
	ssize_t n, i;

	if ((size_t)snprintf(sun.sun_path, sizeof(sun.sun_path), WG_UAPI_DIR "/%s.sock",
			     name) >= sizeof(sun.sun_path))
		return -ENAMETOOLONG;
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tmo, sizeof(tmo));
	setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tmo, sizeof(tmo));
	if (connect(fd, (struct sockaddr *)&sun, sizeof(sun)) ||
	    write(fd, "get=1\n\n", 7) != 7) {
		ret = errno == ENOENT || errno == ECONNREFUSED ? -ENODEV : -errno;
		goto out;
	}
	/* The answer ends with an empty line (after errno=N). */
	while (!done && !ret) {
		n = read(fd, buf, sizeof(buf));
		if (n < 0) {
			ret = -errno;
			break;
		}
		if (!n)
			break;
		for (i = 0; i < n && !done && !ret; i++) {
			if (buf[i] != '\n') {
				if (llen < sizeof(line) - 1)
					line[llen++] = buf[i];
				continue;
			}
			line[llen] = 0;
			if (!llen)
				done = true;
			else
				ret = uapi_line(line, d, &p);
			llen = 0;
		}
	}
out:
	close(fd);
	if (ret)
		wg_dev_free(d);
	else
		d->via = "uapi";
	return ret;
}

/* -ENODEV: name is no WireGuard device this process can reach. */
int wg_dev_get(const char *name, struct wg_dev *d)
{
	int ret;

	memset(d, 0, sizeof(*d));
	snprintf(d->name, sizeof(d->name), "%s", name);
	ret = wg_get_genl(name, d);
	if (!ret)
		return 0;
	/* No module (ENOENT), or a device the module does not own. */
	if (ret != -ENOENT && ret != -ENODEV && ret != -EOPNOTSUPP)
		return ret;
	return wg_get_uapi(name, d);
}
