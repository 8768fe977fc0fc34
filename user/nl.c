// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/* rtnetlink and sock_diag over libmnl. Every request asks for an ACK (dumps
 * end with NLMSG_DONE instead), carries its own sequence number, and every
 * reply is checked against it by mnl_cb_run. */
#include "tool.h"
#include <arpa/inet.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <sys/time.h>
#include <unistd.h>
#include <libmnl/libmnl.h>
#include <linux/fib_rules.h>
#include <linux/if_addr.h>
#include <linux/if_link.h>
#include <linux/inet_diag.h>
#include <linux/rtnetlink.h>
#include <linux/sock_diag.h>
#include <netinet/in.h>
#include <sys/socket.h>

static unsigned int next_seq(void)
{
	static unsigned int seq;

	if (!seq)
		seq = time(NULL);
	return ++seq;
}

/* Sends nlh on a fresh socket of the given netlink protocol and runs cb on
 * each reply until the ACK or NLMSG_DONE. */
int nl_talk(int bus, struct nlmsghdr *nlh, mnl_cb_t cb, void *data)
{
	struct timeval tmo = { .tv_sec = 10 };
	char buf[MNL_SOCKET_BUFFER_SIZE];
	struct mnl_socket *nl;
	unsigned int portid;
	int ret;
	ssize_t n;

	nl = mnl_socket_open(bus);
	if (!nl)
		return -errno;
	if (mnl_socket_bind(nl, 0, MNL_SOCKET_AUTOPID) < 0) {
		ret = -errno;
		goto out;
	}
	/* A lost reply must not hang the tool (and a rollback with it). */
	setsockopt(mnl_socket_get_fd(nl), SOL_SOCKET, SO_RCVTIMEO, &tmo,
		   sizeof(tmo));
	portid = mnl_socket_get_portid(nl);
	nlh->nlmsg_seq = next_seq();
	/* NLM_F_DUMP shares a bit with NLM_F_EXCL: test both bits. */
	if ((nlh->nlmsg_flags & NLM_F_DUMP) != NLM_F_DUMP)
		nlh->nlmsg_flags |= NLM_F_ACK;
	if (mnl_socket_sendto(nl, nlh, nlh->nlmsg_len) < 0) {
		ret = -errno;
		goto out;
	}
	for (;;) {
		n = mnl_socket_recvfrom(nl, buf, sizeof(buf));
		if (n < 0) {
			ret = -errno;
			break;
		}
		errno = 0;
		ret = mnl_cb_run(buf, n, nlh->nlmsg_seq, portid, cb, data);
		if (ret < 0) {
			ret = errno ? -errno : -EIO;
			break;
		}
		if (ret == MNL_CB_STOP) {
			ret = 0;
			break;
		}
	}
out:
	mnl_socket_close(nl);
	return ret;
}

struct link_reply {
	unsigned short type;
	__u32 mtu;
	char *kind;
	size_t kind_len;
	__u32 master;
	__u8 mac[6];
};

static int linkinfo_attr_cb(const struct nlattr *attr, void *data)
{
	struct link_reply *r = data;

	if (mnl_attr_get_type(attr) == IFLA_INFO_KIND && r->kind)
		snprintf(r->kind, r->kind_len, "%s", mnl_attr_get_str(attr));
	return MNL_CB_OK;
}

static int link_attr_cb(const struct nlattr *attr, void *data)
{
	struct link_reply *r = data;

	if (mnl_attr_get_type(attr) == IFLA_LINKINFO)
		mnl_attr_parse_nested(attr, linkinfo_attr_cb, data);
	else if (mnl_attr_get_type(attr) == IFLA_MTU)
		r->mtu = mnl_attr_get_u32(attr);
	else if (mnl_attr_get_type(attr) == IFLA_MASTER)
		r->master = mnl_attr_get_u32(attr);
	else if (mnl_attr_get_type(attr) == IFLA_ADDRESS &&
		 mnl_attr_get_payload_len(attr) == sizeof(r->mac))
		memcpy(r->mac, mnl_attr_get_payload(attr), sizeof(r->mac));
	return MNL_CB_OK;
}

static int link_cb(const struct nlmsghdr *nlh, void *data)
{
	const struct ifinfomsg *ifi = mnl_nlmsg_get_payload(nlh);
	struct link_reply *r = data;

	if (nlh->nlmsg_type != RTM_NEWLINK)
		return MNL_CB_OK;
	r->type = ifi->ifi_type;
	mnl_attr_parse(nlh, sizeof(*ifi), link_attr_cb, r);
	return MNL_CB_OK;
}

/* Device type (ARPHRD_*) and, when kind is not NULL, its rtnetlink kind
 * ("veth", "bridge", ...; empty for plain NICs). */
int nl_link_info(int ifindex, unsigned short *type, char *kind, size_t kind_len)
{
	char buf[MNL_SOCKET_BUFFER_SIZE];
	struct nlmsghdr *nlh = mnl_nlmsg_put_header(buf);
	struct link_reply r = { .type = 0xffff, .kind = kind, .kind_len = kind_len };
	struct ifinfomsg *ifi;
	int ret;

	nlh->nlmsg_type = RTM_GETLINK;
	nlh->nlmsg_flags = NLM_F_REQUEST;
	ifi = mnl_nlmsg_put_extra_header(nlh, sizeof(*ifi));
	ifi->ifi_family = AF_UNSPEC;
	ifi->ifi_index = ifindex;
	if (kind && kind_len)
		kind[0] = 0;
	ret = nl_talk(NETLINK_ROUTE, nlh, link_cb, &r);
	*type = r.type;
	return ret;
}

int nl_link_type(int ifindex, unsigned short *type)
{
	return nl_link_info(ifindex, type, NULL, 0);
}

static int link_get(int ifindex, struct link_reply *r)
{
	char buf[MNL_SOCKET_BUFFER_SIZE];
	struct nlmsghdr *nlh = mnl_nlmsg_put_header(buf);
	struct ifinfomsg *ifi;

	nlh->nlmsg_type = RTM_GETLINK;
	nlh->nlmsg_flags = NLM_F_REQUEST;
	ifi = mnl_nlmsg_put_extra_header(nlh, sizeof(*ifi));
	ifi->ifi_family = AF_UNSPEC;
	ifi->ifi_index = ifindex;
	return nl_talk(NETLINK_ROUTE, nlh, link_cb, r);
}

int nl_link_mtu(int ifindex, __u32 *mtu)
{
	struct link_reply r = {};
	int ret = link_get(ifindex, &r);

	if (!ret && !r.mtu)
		ret = -ENODEV;
	*mtu = r.mtu;
	return ret;
}

/* The device's MAC address (zero for none) and the ifindex of the device it
 * is enslaved to (a bridge, a bond; 0 for none). */
int nl_link_l2(int ifindex, __u8 mac[6], int *master)
{
	struct link_reply r = {};
	int ret = link_get(ifindex, &r);

	memcpy(mac, r.mac, sizeof(r.mac));
	*master = (int)r.master;
	return ret;
}

struct addr_dump {
	int ifindex;
	struct nl_addr *v;
	int n, cap;
	int err;
};

static int addr_attr_cb(const struct nlattr *attr, void *data)
{
	const struct nlattr **tb = data;
	int type = mnl_attr_get_type(attr);

	if (type <= IFA_MAX)
		tb[type] = attr;
	return MNL_CB_OK;
}

static int addr_cb(const struct nlmsghdr *nlh, void *data)
{
	const struct ifaddrmsg *ifa = mnl_nlmsg_get_payload(nlh);
	struct nlattr *tb[IFA_MAX + 1] = {};
	struct addr_dump *d = data;
	const struct nlattr *a;
	struct nl_addr *e;

	if (nlh->nlmsg_type != RTM_NEWADDR || (int)ifa->ifa_index != d->ifindex)
		return MNL_CB_OK;
	if (ifa->ifa_family != AF_INET && ifa->ifa_family != AF_INET6)
		return MNL_CB_OK;
	mnl_attr_parse(nlh, sizeof(*ifa), addr_attr_cb, tb);
	/* On point-to-point IPv4 links IFA_ADDRESS is the peer. */
	a = tb[IFA_LOCAL] ? tb[IFA_LOCAL] : tb[IFA_ADDRESS];
	if (!a)
		return MNL_CB_OK;
	if (d->n == d->cap) {
		int cap = d->cap ? d->cap * 2 : 8;
		struct nl_addr *v = realloc(d->v, cap * sizeof(*v));

		if (!v) {
			d->err = -ENOMEM;
			return MNL_CB_ERROR;
		}
		d->v = v;
		d->cap = cap;
	}
	e = &d->v[d->n++];
	memset(e, 0, sizeof(*e));
	e->addr.family = family_of_af(ifa->ifa_family);
	memcpy(e->addr.a, mnl_attr_get_payload(a),
	       ifa->ifa_family == AF_INET ? 4 : 16);
	e->prefixlen = ifa->ifa_prefixlen;
	e->scope = ifa->ifa_scope;
	e->flags = tb[IFA_FLAGS] ? mnl_attr_get_u32(tb[IFA_FLAGS]) : ifa->ifa_flags;
	return MNL_CB_OK;
}

int nl_addrs(int ifindex, int af, struct nl_addr **out, int *n)
{
	char buf[MNL_SOCKET_BUFFER_SIZE];
	struct nlmsghdr *nlh = mnl_nlmsg_put_header(buf);
	struct addr_dump d = { .ifindex = ifindex };
	struct ifaddrmsg *ifa;
	int ret;

	nlh->nlmsg_type = RTM_GETADDR;
	nlh->nlmsg_flags = NLM_F_REQUEST | NLM_F_DUMP;
	ifa = mnl_nlmsg_put_extra_header(nlh, sizeof(*ifa));
	ifa->ifa_family = af;
	ifa->ifa_index = ifindex;
	ret = nl_talk(NETLINK_ROUTE, nlh, addr_cb, &d);
	if (!ret)
		ret = d.err;
	if (ret) {
		free(d.v);
		return ret;
	}
	*out = d.v;
	*n = d.n;
	return 0;
}

/* First global, non-secondary, usable address: what `ip addr` lists first. */
int nl_primary_addr(int ifindex, __u8 family, struct addr *out)
{
	struct nl_addr *v;
	int i, n, ret, best = -1;

	ret = nl_addrs(ifindex, af_of(family), &v, &n);
	if (ret)
		return ret;
	for (i = 0; i < n; i++) {
		if (v[i].addr.family != family || v[i].scope != RT_SCOPE_UNIVERSE)
			continue;
		if (v[i].flags & (IFA_F_SECONDARY | IFA_F_TENTATIVE |
				  IFA_F_DADFAILED | IFA_F_DEPRECATED)) {
			if (best < 0 && !(v[i].flags & IFA_F_DADFAILED))
				best = i;
			continue;
		}
		best = i;
		break;
	}
	if (best >= 0)
		*out = v[best].addr;
	free(v);
	return best >= 0 ? 0 : -EADDRNOTAVAIL;
}

struct route_reply {
	int oif;
	unsigned char type;
	bool gateway;
};

static int route_attr_cb(const struct nlattr *attr, void *data)
{
	const struct nlattr **tb = data;
	int type = mnl_attr_get_type(attr);

	if (type <= RTA_MAX)
		tb[type] = attr;
	return MNL_CB_OK;
}

static int route_cb(const struct nlmsghdr *nlh, void *data)
{
	const struct rtmsg *rtm = mnl_nlmsg_get_payload(nlh);
	struct nlattr *tb[RTA_MAX + 1] = {};
	struct route_reply *r = data;

	if (nlh->nlmsg_type != RTM_NEWROUTE)
		return MNL_CB_OK;
	mnl_attr_parse(nlh, sizeof(*rtm), route_attr_cb, tb);
	r->type = rtm->rtm_type;
	if (tb[RTA_OIF])
		r->oif = mnl_attr_get_u32(tb[RTA_OIF]);
	r->gateway = tb[RTA_GATEWAY] || tb[RTA_VIA];
	return MNL_CB_OK;
}

/* The route the kernel would take to dst (ip route get). */
static int route_query(const struct addr *dst, struct route_reply *r)
{
	char buf[MNL_SOCKET_BUFFER_SIZE];
	struct nlmsghdr *nlh = mnl_nlmsg_put_header(buf);
	struct rtmsg *rtm;
	int ret;

	nlh->nlmsg_type = RTM_GETROUTE;
	nlh->nlmsg_flags = NLM_F_REQUEST;
	rtm = mnl_nlmsg_put_extra_header(nlh, sizeof(*rtm));
	rtm->rtm_family = af_of(dst->family);
	rtm->rtm_dst_len = dst->family == CRBPF_V6 ? 128 : 32;
	mnl_attr_put(nlh, RTA_DST, dst->family == CRBPF_V6 ? 16 : 4, dst->a);
	ret = nl_talk(NETLINK_ROUTE, nlh, route_cb, r);
	if (ret)
		return ret;
	return r->oif ? 0 : -ENETUNREACH;
}

int nl_route_get(const struct addr *dst, int *oif, unsigned char *rtype)
{
	struct route_reply r = {};
	int ret = route_query(dst, &r);

	if (ret)
		return ret;
	*oif = r.oif;
	*rtype = r.type;
	return 0;
}

/* 1 when the route to dst leaves through a gateway (not on-link). */
int nl_route_gateway(const struct addr *dst)
{
	struct route_reply r = {};
	int ret = route_query(dst, &r);

	return ret ? ret : r.gateway;
}

static int ack_cb(const struct nlmsghdr *nlh, void *data)
{
	(void)nlh;
	(void)data;
	return MNL_CB_OK;
}

/* ip rule {add|del} {from SRC | fwmark MARK} lookup TABLE pref 1203 proto 203.
 * Add is exclusive and an identical rule counts as done: attach is idempotent.
 * Delete names our protocol, so the kernel never removes someone else's. */
int nl_rule(bool add, __u8 family, const struct addr *src, __u32 mark,
	    __u32 table)
{
	char buf[MNL_SOCKET_BUFFER_SIZE];
	struct nlmsghdr *nlh;
	struct fib_rule_hdr *frh;
	int ret;

	/* libmnl sends the padding after FRA_PROTOCOL as it finds it. */
	memset(buf, 0, 256);
	nlh = mnl_nlmsg_put_header(buf);

	nlh->nlmsg_type = add ? RTM_NEWRULE : RTM_DELRULE;
	nlh->nlmsg_flags = NLM_F_REQUEST | (add ? NLM_F_CREATE | NLM_F_EXCL : 0);
	frh = mnl_nlmsg_put_extra_header(nlh, sizeof(*frh));
	frh->family = af_of(family);
	frh->action = FR_ACT_TO_TBL;
	frh->table = table < 256 ? table : RT_TABLE_UNSPEC;
	mnl_attr_put_u32(nlh, FRA_TABLE, table);
	mnl_attr_put_u32(nlh, FRA_PRIORITY, CRBPF_RULE_PRIO);
	mnl_attr_put_u8(nlh, FRA_PROTOCOL, CRBPF_RTPROT);
	if (src) {
		frh->src_len = family == CRBPF_V6 ? 128 : 32;
		mnl_attr_put(nlh, FRA_SRC, family == CRBPF_V6 ? 16 : 4, src->a);
	} else {
		mnl_attr_put_u32(nlh, FRA_FWMARK, mark);
		mnl_attr_put_u32(nlh, FRA_FWMASK, 0xffffffff);
	}
	ret = nl_talk(NETLINK_ROUTE, nlh, ack_cb, NULL);
	if (add && ret == -EEXIST)
		ret = 0;
	if (!add && (ret == -ENOENT || ret == -ESRCH))
		ret = 0;
	return ret;
}

/* ip route {add|del} default dev OIF table TABLE metric 1203 proto 203. */
int nl_route_default(bool add, __u8 family, int oif, __u32 table)
{
	char buf[MNL_SOCKET_BUFFER_SIZE];
	struct nlmsghdr *nlh = mnl_nlmsg_put_header(buf);
	struct rtmsg *rtm;
	int ret;

	nlh->nlmsg_type = add ? RTM_NEWROUTE : RTM_DELROUTE;
	nlh->nlmsg_flags = NLM_F_REQUEST | (add ? NLM_F_CREATE | NLM_F_EXCL : 0);
	rtm = mnl_nlmsg_put_extra_header(nlh, sizeof(*rtm));
	rtm->rtm_family = af_of(family);
	rtm->rtm_table = table < 256 ? table : RT_TABLE_UNSPEC;
	rtm->rtm_protocol = CRBPF_RTPROT;
	rtm->rtm_type = RTN_UNICAST;
	rtm->rtm_scope = family == CRBPF_V6 ? RT_SCOPE_UNIVERSE : RT_SCOPE_LINK;
	mnl_attr_put_u32(nlh, RTA_TABLE, table);
	mnl_attr_put_u32(nlh, RTA_OIF, oif);
	mnl_attr_put_u32(nlh, RTA_PRIORITY, CRBPF_RULE_PRIO);
	ret = nl_talk(NETLINK_ROUTE, nlh, ack_cb, NULL);
	if (add && ret == -EEXIST)
		ret = 0;
	if (!add && (ret == -ENOENT || ret == -ESRCH))
		ret = 0;
	return ret;
}

struct default_dump {
	int *oifs;
	int n, max;
};

static int default_cb(const struct nlmsghdr *nlh, void *data)
{
	const struct rtmsg *rtm = mnl_nlmsg_get_payload(nlh);
	struct nlattr *tb[RTA_MAX + 1] = {};
	struct default_dump *d = data;
	__u32 table = rtm->rtm_table;
	int oif, i;

	if (nlh->nlmsg_type != RTM_NEWROUTE || rtm->rtm_dst_len != 0 ||
	    rtm->rtm_type != RTN_UNICAST)
		return MNL_CB_OK;
	mnl_attr_parse(nlh, sizeof(*rtm), route_attr_cb, tb);
	if (tb[RTA_TABLE])
		table = mnl_attr_get_u32(tb[RTA_TABLE]);
	if (table != RT_TABLE_MAIN || !tb[RTA_OIF])
		return MNL_CB_OK;
	oif = mnl_attr_get_u32(tb[RTA_OIF]);
	for (i = 0; i < d->n; i++)
		if (d->oifs[i] == oif)
			return MNL_CB_OK;
	if (d->n < d->max)
		d->oifs[d->n++] = oif;
	return MNL_CB_OK;
}

/* Devices of the main table's default routes (both families): where the
 * host's own traffic leaves. Multipath defaults are not followed. */
int nl_default_oifs(int *oifs, int max, int *n)
{
	static const int afs[] = { AF_INET, AF_INET6 };
	struct default_dump d = { .oifs = oifs, .max = max };
	char buf[MNL_SOCKET_BUFFER_SIZE];
	struct nlmsghdr *nlh;
	struct rtmsg *rtm;
	size_t i;
	int ret;

	for (i = 0; i < ARRAY_SIZE(afs); i++) {
		nlh = mnl_nlmsg_put_header(buf);
		nlh->nlmsg_type = RTM_GETROUTE;
		nlh->nlmsg_flags = NLM_F_REQUEST | NLM_F_DUMP;
		rtm = mnl_nlmsg_put_extra_header(nlh, sizeof(*rtm));
		rtm->rtm_family = afs[i];
		ret = nl_talk(NETLINK_ROUTE, nlh, default_cb, &d);
		if (ret && !(afs[i] == AF_INET6 && ret == -EAFNOSUPPORT))
			return ret;
	}
	*n = d.n;
	return 0;
}

struct diag_dump {
	__u16 first, last;
	struct listener *out;
	int n, max;
};

static int diag_cb(const struct nlmsghdr *nlh, void *data)
{
	const struct inet_diag_msg *m = mnl_nlmsg_get_payload(nlh);
	struct diag_dump *d = data;

	__u16 port = ntohs(m->id.idiag_sport);

	if (nlh->nlmsg_type != SOCK_DIAG_BY_FAMILY || port < d->first ||
	    port > d->last)
		return MNL_CB_OK;
	if (d->n < d->max) {
		d->out[d->n].port = port;
		d->out[d->n].inode = m->idiag_inode;
		d->out[d->n].family = family_of_af(m->idiag_family);
	}
	d->n++;
	return MNL_CB_OK;
}

/* Local TCP listeners / bound UDP sockets on ports first..last, both
 * families, this netns. Returns how many were found (out holds up to max of
 * them) or -errno. */
int nl_listeners(__u8 proto, __u16 first, __u16 last, struct listener *out,
		 int max)
{
	static const int afs[] = { AF_INET, AF_INET6 };
	struct diag_dump d = { .first = first, .last = last, .out = out,
			       .max = max };
	char buf[MNL_SOCKET_BUFFER_SIZE];
	size_t i;
	int ret;

	for (i = 0; i < ARRAY_SIZE(afs); i++) {
		struct nlmsghdr *nlh = mnl_nlmsg_put_header(buf);
		struct inet_diag_req_v2 *req;

		nlh->nlmsg_type = SOCK_DIAG_BY_FAMILY;
		nlh->nlmsg_flags = NLM_F_REQUEST | NLM_F_DUMP;
		req = mnl_nlmsg_put_extra_header(nlh, sizeof(*req));
		req->sdiag_family = afs[i];
		req->sdiag_protocol = proto;
		/* TCP: listeners only; UDP: every bound socket. */
		req->idiag_states = proto == IPPROTO_TCP ? 1 << 10 /* TCP_LISTEN */
							 : ~0U;
		ret = nl_talk(NETLINK_SOCK_DIAG, nlh, diag_cb, &d);
		/* A kernel without IPv6 (or the diag module) has nothing to list. */
		if (ret && ret != -ENOENT && ret != -EAFNOSUPPORT)
			return ret;
		/* No IPv4 diag handler: tcp_diag/udp_diag is neither built in
		 * nor loadable, so listeners cannot be seen at all. */
		if (ret == -ENOENT && afs[i] == AF_INET)
			warn("cannot list local %s sockets (no sock_diag support, module %s_diag): not checking for listeners",
			     proto_str(proto), proto_str(proto));
	}
	return d.n;
}

/* Growable arrays filled by the dumps below. */
static void *grow(void *v, int n, int *cap, size_t sz)
{
	int ncap;
	void *nv;

	if (n < *cap)
		return v;
	ncap = *cap ? *cap * 2 : 16;
	nv = realloc(v, ncap * sz);
	if (nv)
		*cap = ncap;
	return nv;
}

/* A growing array of one kind of dump record. */
struct dump {
	void *v;
	size_t sz;
	int n, cap, err;
};

/* The next record, zeroed; NULL (and d->err) when memory runs out. */
static void *dump_slot(struct dump *d)
{
	void *v = grow(d->v, d->n, &d->cap, d->sz);

	if (!v) {
		d->err = -ENOMEM;
		return NULL;
	}
	d->v = v;
	return memset((char *)v + d->sz * d->n++, 0, d->sz);
}

/* Dumps one family of a table-like object (routes, rules: both requests
 * start with the family byte); a kernel without that family has none. */
static int family_dump(__u16 type, __u8 af, size_t hdr_len, mnl_cb_t cb,
		       struct dump *d, void **out, int *n)
{
	char buf[MNL_SOCKET_BUFFER_SIZE];
	struct nlmsghdr *nlh = mnl_nlmsg_put_header(buf);
	__u8 *hdr;
	int ret;

	nlh->nlmsg_type = type;
	nlh->nlmsg_flags = NLM_F_REQUEST | NLM_F_DUMP;
	hdr = mnl_nlmsg_put_extra_header(nlh, hdr_len);
	hdr[0] = af;
	ret = nl_talk(NETLINK_ROUTE, nlh, cb, d);
	if (ret == -EAFNOSUPPORT)
		ret = 0;
	ret = ret ?: d->err;
	if (ret) {
		free(d->v);
		return ret;
	}
	*out = d->v;
	*n = d->n;
	return 0;
}

static int route_dump_cb(const struct nlmsghdr *nlh, void *data)
{
	const struct rtmsg *rtm = mnl_nlmsg_get_payload(nlh);
	struct nlattr *tb[RTA_MAX + 1] = {};
	struct nl_route *r;

	if (nlh->nlmsg_type != RTM_NEWROUTE ||
	    (rtm->rtm_family != AF_INET && rtm->rtm_family != AF_INET6))
		return MNL_CB_OK;
	r = dump_slot(data);
	if (!r)
		return MNL_CB_ERROR;
	mnl_attr_parse(nlh, sizeof(*rtm), route_attr_cb, tb);
	r->table = tb[RTA_TABLE] ? mnl_attr_get_u32(tb[RTA_TABLE]) : rtm->rtm_table;
	r->dst.family = family_of_af(rtm->rtm_family);
	r->dst_len = rtm->rtm_dst_len;
	r->protocol = rtm->rtm_protocol;
	r->type = rtm->rtm_type;
	r->oif = tb[RTA_OIF] ? (int)mnl_attr_get_u32(tb[RTA_OIF]) : 0;
	if (tb[RTA_DST])
		memcpy(r->dst.a, mnl_attr_get_payload(tb[RTA_DST]),
		       rtm->rtm_family == AF_INET ? 4 : 16);
	return MNL_CB_OK;
}

/* Every route of every table, one family. */
int nl_routes(int af, struct nl_route **out, int *n)
{
	struct dump d = { .sz = sizeof(**out) };

	return family_dump(RTM_GETROUTE, af, sizeof(struct rtmsg), route_dump_cb,
			   &d, (void **)out, n);
}

static int rule_attr_cb(const struct nlattr *attr, void *data)
{
	const struct nlattr **tb = data;
	int type = mnl_attr_get_type(attr);

	if (type <= FRA_MAX)
		tb[type] = attr;
	return MNL_CB_OK;
}

static int rule_dump_cb(const struct nlmsghdr *nlh, void *data)
{
	const struct fib_rule_hdr *frh = mnl_nlmsg_get_payload(nlh);
	struct nlattr *tb[FRA_MAX + 1] = {};
	struct nl_rule *r;

	if (nlh->nlmsg_type != RTM_NEWRULE)
		return MNL_CB_OK;
	r = dump_slot(data);
	if (!r)
		return MNL_CB_ERROR;
	mnl_attr_parse(nlh, sizeof(*frh), rule_attr_cb, tb);
	r->family = family_of_af(frh->family);
	r->action = frh->action;
	r->flags = frh->flags;
	r->src_len = frh->src_len;
	r->table = tb[FRA_TABLE] ? mnl_attr_get_u32(tb[FRA_TABLE]) : frh->table;
	r->priority = tb[FRA_PRIORITY] ? mnl_attr_get_u32(tb[FRA_PRIORITY]) : 0;
	r->fwmark = tb[FRA_FWMARK] ? mnl_attr_get_u32(tb[FRA_FWMARK]) : 0;
	r->has_fwmark = !!tb[FRA_FWMARK];
	r->protocol = tb[FRA_PROTOCOL] ? mnl_attr_get_u8(tb[FRA_PROTOCOL]) : 0;
	r->suppress_prefixlen = tb[FRA_SUPPRESS_PREFIXLEN] ?
		(int)mnl_attr_get_u32(tb[FRA_SUPPRESS_PREFIXLEN]) : -1;
	r->selects = frh->dst_len || frh->tos || tb[FRA_IIFNAME] ||
		     tb[FRA_OIFNAME] || tb[FRA_L3MDEV] || tb[FRA_UID_RANGE] ||
		     tb[FRA_IP_PROTO] || tb[FRA_SPORT_RANGE] ||
		     tb[FRA_DPORT_RANGE] || tb[FRA_TUN_ID] || tb[FRA_GOTO];
	return MNL_CB_OK;
}

/* The policy routing rules of one family (`ip rule show`). */
int nl_rules(int af, struct nl_rule **out, int *n)
{
	struct dump d = { .sz = sizeof(**out) };

	return family_dump(RTM_GETRULE, af, sizeof(struct fib_rule_hdr),
			   rule_dump_cb, &d, (void **)out, n);
}
