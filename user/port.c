// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/* crbpf port add / del / list: live edits of the pinned maps (what they
 * write is computed by the mapping model, model.c, and written by maps.c),
 * plus what follows on devices: devmap entries, reverse programs on the
 * devices that reach backends, and forwarding on those devices. */
#include "tool.h"
#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <linux/if_arp.h>
#include <linux/rtnetlink.h>
#include "edge.skel.h"

static int args_parse(int argc, char **argv, struct port_args *a,
		      bool allow_force, bool allow_json);

/* Options anywhere; "-1" stays positional so it is reported as a bad port.
 * On failure no list is left for the caller to free. */
int port_args_parse(int argc, char **argv, struct port_args *a,
		    bool allow_force, bool allow_json)
{
	int ret;

	memset(a, 0, sizeof(*a));
	ret = args_parse(argc, argv, a, allow_force, allow_json) ?:
	      limit_args_check(&a->limit);
	if (ret)
		acl_args_free(&a->acl);
	return ret;
}

static int args_parse(int argc, char **argv, struct port_args *a,
		      bool allow_force, bool allow_json)
{
	int i;

	for (i = 0; i < argc; i++) {
		if (!strcmp(argv[i], "--dev")) {
			if (++i == argc)
				return usage_err("--dev needs an interface");
			if (parse_iface(argv[i]))
				return USAGE;
			a->dev = argv[i];
		} else if (!allow_json && !strcmp(argv[i], "--addr")) {
			if (++i == argc)
				return usage_err("--addr needs a public address");
			a->addr = argv[i];
		} else if (allow_force && !strcmp(argv[i], "--except")) {
			if (++i == argc)
				return usage_err("--except needs ports (PORT[,PORT|,FIRST-LAST]...)");
			if (parse_except(argv[i], &a->except))
				return USAGE;
		} else if (allow_force && !strcmp(argv[i], "--force")) {
			a->force = true;
		} else if (allow_force && !strcmp(argv[i], "--xdp-veth")) {
			a->xdp_veth = true;
		} else if (allow_force && fo_is_option(argv[i])) {
			if (fo_args_option(&a->fo, argv[i],
					   i + 1 < argc ? argv[i + 1] : NULL))
				return USAGE;
			i++;
		} else if (allow_force && acl_is_option(argv[i])) {
			if (acl_args_option(&a->acl, argv[i],
					    i + 1 < argc ? argv[i + 1] : NULL))
				return USAGE;
			i++;
		} else if (allow_force && limit_is_option(argv[i])) {
			if (limit_args_option(&a->limit, argv[i],
					      i + 1 < argc ? argv[i + 1] : NULL))
				return USAGE;
			i++;
		} else if (allow_json && !strcmp(argv[i], "--json")) {
			a->json = true;
		} else if (!strncmp(argv[i], "--", 2) ||
			   (argv[i][0] == '-' && (argv[i][1] < '0' || argv[i][1] > '9'))) {
			return usage_err("unknown option '%s'", argv[i]);
		} else if (a->npos == (int)ARRAY_SIZE(a->pos)) {
			return usage_err("unexpected argument '%s'", argv[i]);
		} else {
			a->pos[a->npos++] = argv[i];
		}
	}
	return 0;
}

int port_pick_dev(const char *dev, char *name, int *ifindex)
{
	int n, ret;

	if (dev) {
		if (!edge_is_attached(dev)) {
			err("%s is not attached (crbpf attach %s)", dev, dev);
			return -ENOENT;
		}
		snprintf(name, IF_NAMESIZE, "%s", dev);
	} else {
		n = edge_attached_count(name, IF_NAMESIZE);
		if (!n) {
			err("nothing is attached (crbpf attach IFACE first)");
			return -ENOENT;
		}
		if (n > 1)
			return usage_err("several interfaces are attached; choose one with --dev");
	}
	ret = resolve_iface(name, ifindex);
	if (ret)
		err("%s: %s", name, strerror(-ret));
	return ret;
}

void owner_of_inode(__u32 inode, char *buf, size_t len)
{
	char path[600], link[64], want[32], comm[64];
	struct dirent *p, *fd;
	DIR *proc, *fds;
	FILE *f;

	if (!inode) {
		snprintf(buf, len, "kernel socket, e.g. WireGuard");
		return;
	}
	snprintf(want, sizeof(want), "socket:[%u]", inode);
	proc = opendir("/proc");
	if (!proc)
		goto unknown;
	while ((p = readdir(proc))) {
		if (p->d_name[0] < '0' || p->d_name[0] > '9')
			continue;
		snprintf(path, sizeof(path), "/proc/%s/fd", p->d_name);
		fds = opendir(path);
		if (!fds)
			continue;
		while ((fd = readdir(fds))) {
			ssize_t n;

			snprintf(path, sizeof(path), "/proc/%s/fd/%s", p->d_name,
				 fd->d_name);
			n = readlink(path, link, sizeof(link) - 1);
			if (n <= 0)
				continue;
			link[n] = 0;
			if (strcmp(link, want))
				continue;
			snprintf(path, sizeof(path), "/proc/%s/comm", p->d_name);
			comm[0] = 0;
			f = fopen(path, "r");
			if (f) {
				if (!fgets(comm, sizeof(comm), f))
					comm[0] = 0;
				fclose(f);
			}
			comm[strcspn(comm, "\n")] = 0;
			snprintf(buf, len, "%s pid %s", comm[0] ? comm : "?",
				 p->d_name);
			closedir(fds);
			closedir(proc);
			return;
		}
		closedir(fds);
	}
	closedir(proc);
unknown:
	snprintf(buf, len, "socket inode %u, no process holds it: a kernel socket such as WireGuard",
		 inode);
}

static int check_listeners(__u8 proto, __u16 first, __u16 last)
{
	struct listener l[1];
	char owner[512];
	int n;

	n = nl_listeners(proto, first, last, l, ARRAY_SIZE(l));
	if (n < 0) {
		err("failed to list local sockets: %s", strerror(-n));
		return n;
	}
	if (!n)
		return 0;
	owner_of_inode(l[0].inode, owner, sizeof(owner));
	err("%s port %u has a listener on this host (%s); use --force to map it anyway",
	    proto_str(proto), l[0].port, owner);
	return -EADDRINUSE;
}

/* Whether port p is listed in net.ipv4.ip_local_reserved_ports, text as
 * the sysctl reads ("8080,9000-9100"). */
static bool port_reserved(const char *list, unsigned int p)
{
	const char *s = list;
	unsigned long a, b;
	char *end;

	while (*s) {
		a = strtoul(s, &end, 10);
		b = a;
		if (*end == '-')
			b = strtoul(end + 1, &end, 10);
		if (end == s)
			break;
		if (p >= a && p <= b)
			return true;
		s = end + strspn(end, ", \n");
	}
	return false;
}

/*
 * The VPS's own connections (DNS, NTP, package downloads) take their source
 * ports from net.ipv4.ip_local_port_range, IPv6 too, less the ports of
 * ip_local_reserved_ports; their replies come back to those ports, and a
 * mapping there forwards them to the backend instead. Returns 1 with a
 * one-line message in msg when first-last holds such a port, 0 when not
 * (or the sysctl cannot be read), -errno on a read error. `all` needs no
 * check: it looks up the local socket of every packet (bpf/match.h).
 */
int ephemeral_overlap(__u8 proto, __u16 first, __u16 last, char *msg,
		      size_t len)
{
	char reserved[4096] = "";
	unsigned int lo, hi, p;
	bool hit = false;
	FILE *f;
	int n;

	f = fopen("/proc/sys/net/ipv4/ip_local_port_range", "r");
	if (!f)
		return errno == ENOENT ? 0 : -errno;
	n = fscanf(f, "%u %u", &lo, &hi);
	fclose(f);
	if (n != 2)
		return 0;
	f = fopen("/proc/sys/net/ipv4/ip_local_reserved_ports", "r");
	if (!f && errno != ENOENT)
		return -errno;
	if (f) {
		n = fread(reserved, 1, sizeof(reserved) - 1, f);
		reserved[n > 0 ? n : 0] = 0;
		fclose(f);
	}
	for (p = first > lo ? first : lo; p <= last && p <= hi && !hit; p++)
		hit = !port_reserved(reserved, p);
	if (!hit)
		return 0;
	if (first == last)
		snprintf(msg, len, "%s port %u", proto_str(proto), first);
	else
		snprintf(msg, len, "%s %u-%u", proto_str(proto), first, last);
	n = strlen(msg);
	snprintf(msg + n, len - n,
		 " overlaps the ephemeral port range %u-%u (net.ipv4.ip_local_port_range): the VPS's own connections would lose replies; use --force to map it anyway",
		 lo, hi);
	return 1;
}

/*
 * Backends follow their routes: a tunnel deleted and re-created (wg-quick
 * down/up) reaches the same backend through a new ifindex. Each backend is
 * looked up again; where the device changed, the entry is rewritten in one
 * update and the reverse program attached to the new device. A route that
 * now leaves through a public device (the tunnel is down and the default
 * route answers) is not followed: the backend waits for its tunnel.
 * *waiting counts backends with no usable route.
 */
struct be_route {
	__u8 family;
	__be32 addr[4];
	int oif; /* 0: no usable route now */
	bool l2;
};

/* Where the backend address of v is reached now; looked up once per pass
 * and address (a range maps thousands of ports onto one address). */
static struct be_route *be_route_of(struct be_route **cache, int *nc, int *cap,
				    __u8 family, const struct crbpf_backend *v,
				    int txports_fd, int *waiting)
{
	char oifname[IF_NAMESIZE], abuf[INET6_ADDRSTRLEN], kind[32];
	struct addr be = { .family = family };
	struct be_route *r;
	unsigned char rtype;
	unsigned short type;
	__u32 cur;
	int i, oif;

	for (i = 0; i < *nc; i++)
		if ((*cache)[i].family == family &&
		    !memcmp((*cache)[i].addr, v->addr, sizeof(v->addr)))
			return &(*cache)[i];
	if (*nc == *cap) {
		r = realloc(*cache, (*cap * 2 + 8) * sizeof(*r));
		if (!r)
			return NULL;
		*cache = r;
		*cap = *cap * 2 + 8;
	}
	r = &(*cache)[(*nc)++];
	memset(r, 0, sizeof(*r));
	r->family = family;
	memcpy(r->addr, v->addr, sizeof(r->addr));
	memcpy(be.a, v->addr, sizeof(be.a));
	addr_str(&be, abuf, sizeof(abuf));
	if (nl_route_get(&be, &oif, &rtype) || rtype != RTN_UNICAST ||
	    nl_link_info(oif, &type, kind, sizeof(kind)) ||
	    (edge_is_attached(ifname(oif, oifname)) && (int)v->ifindex != oif)) {
		if (!if_indextoname(v->ifindex, oifname))
			(*waiting)++;
		return r;
	}
	r->oif = oif;
	r->l2 = type == ARPHRD_ETHER;
	if (tun_ensure(oif, oifname, r->l2, NULL)) {
		r->oif = 0;
		return r;
	}
	if ((int)v->ifindex == oif)
		return r;
	notice("backend %s is now reached through %s", abuf, oifname);
	/* An XDP-capable next hop stays one; a veth only if it was. */
	if (r->l2 && (strcmp(kind, "veth") ||
		      !bpf_map_lookup_elem(txports_fd, &v->ifindex, &cur)))
		txport_ensure(txports_fd, oif, NULL);
	return r;
}

int backends_refresh(int *waiting)
{
	struct edge_maps m = EDGE_MAPS_NONE;
	struct crbpf_port_key *keys = NULL;
	struct crbpf_backend *vals = NULL;
	struct be_route *cache = NULL, *r;
	int i, n, nc = 0, cap = 0, ret, changed = 0;

	ret = edge_maps_open(&m);
	if (ret)
		return ret;
	n = map_dump(m.ports, sizeof(*keys), sizeof(*vals), (void **)&keys,
		     (void **)&vals);
	if (n < 0) {
		ret = n;
		goto out;
	}
	for (i = 0; i < n; i++) {
		struct crbpf_backend nb = vals[i];

		r = be_route_of(&cache, &nc, &cap, keys[i].family, &vals[i],
				m.txports, waiting);
		if (!r) {
			ret = -ENOMEM;
			goto out;
		}
		if (!r->oif || (nb.ifindex == (__u32)r->oif &&
				!(nb.flags & CRBPF_BE_L2) == !r->l2))
			continue;
		nb.ifindex = r->oif;
		nb.flags = (nb.flags & ~CRBPF_BE_L2) | (r->l2 ? CRBPF_BE_L2 : 0);
		if (bpf_map_update_elem(m.ports, &keys[i], &nb, BPF_EXIST)) {
			ret = -errno;
			goto out;
		}
		changed++;
	}
	if (changed)
		tun_release_unused(m.ports, m.txports);
out:
	free(cache);
	free(keys);
	free(vals);
	edge_maps_close(&m);
	return ret < 0 ? ret : changed;
}

/* What `port add` would map, from its words alone (no kernel, no devices):
 * shared with the config file parser. */
int port_add_spec(const struct port_args *a, struct port_spec *s)
{
	memset(s, 0, sizeof(*s));
	if (a->npos != 3)
		return usage_err("usage: crbpf port add PROTO { PORT[-LAST] | all } BACKEND [--addr PUBLIC] [--except PORTS] [--dev IFACE] [--force] [--xdp-veth] [--allow PREFIX | --deny PREFIX | --allow-file FILE | --deny-file FILE]... [--limit-pps RATE[:BURST]] [--limit-flows RATE[:BURST]] [--limit-prefix V4LEN[,V6LEN]] [--backup ADDR[,ADDR]... [--probe { tcp | udp }:PORT] [--handshake-max SEC]]");
	if (parse_proto(a->pos[0], &s->proto))
		return USAGE;
	s->all = !strcmp(a->pos[1], "all");
	if (s->all)
		s->first = s->last = CRBPF_PORT_ALL;
	else if (parse_port_range(a->pos[1], &s->first, &s->last))
		return USAGE;
	if (parse_backend(a->pos[2], &s->be, &s->bport))
		return USAGE;
	if (a->except.n && !s->all)
		return usage_err("--except applies to '%s all' only", a->pos[0]);
	if (s->all && s->bport)
		return usage_err("invalid backend '%s' for %s all: each port is kept, so give the address without a port",
				 a->pos[2], a->pos[0]);
	if (s->bport && (unsigned int)s->bport + (s->last - s->first) > 65535)
		return usage_err("backend ports %u-%u do not fit below 65536", s->bport,
				 s->bport + (s->last - s->first));
	if (fo_args_check(&a->fo, &s->be))
		return USAGE;
	if (a->addr && parse_public_addr(a->addr, &s->paddr))
		return USAGE;
	if (a->addr && s->paddr.family != s->be.family)
		return usage_err("--addr %s and backend %s are of different address families",
				 a->addr, a->pos[2]);
	return 0;
}

/* The mapping id the entries of s get, from what the model writes; *fresh
 * when it is handed out now (its crbpf_mstats slot is zeroed). 0: none. */
static __u32 ops_mapping_id(const struct model_ops *o, const struct port_spec *s,
			    __u32 pub_ifindex, bool *fresh)
{
	__u32 id = 0;
	int i;

	for (i = 0; i < o->n && !id; i++) {
		const struct model_op *op = &o->op[i];

		if (op->map == MODEL_PORTS && !op->del &&
		    op->k.port.ifindex == pub_ifindex &&
		    op->k.port.proto == s->proto &&
		    op->k.port.family == s->be.family &&
		    op->k.port.port == htons(s->first) &&
		    !memcmp(op->k.port.addr, s->paddr.a, sizeof(s->paddr.a)))
			id = op->v.be.mapping;
	}
	*fresh = false;
	for (i = 0; i < o->n && id; i++)
		if (o->op[i].map == MODEL_MSTATS && !o->op[i].del &&
		    o->op[i].k.id == id)
			*fresh = true;
	return id;
}

/*
 * The mapping's lists go in before the entries that carry its id, as
 * maps_write() sets CRBPF_BE_ACL from them. An id handed out now starts
 * with no list (a deleted mapping's may linger) and zeroed counters; a
 * kind no option names keeps its list otherwise. *acl stays -1 when
 * nothing was touched; else acl_mapping_done() finishes.
 */
static int acl_before_write(const struct port_args *a, const struct port_spec *s,
			    __u32 pub_ifindex, const struct model_ops *o,
			    int *acl, __u32 *id, int saved[2])
{
	struct acl_args x = a->acl;
	bool fresh;
	int kind, stats, ret;

	saved[0] = saved[1] = -EBADF;
	*id = ops_mapping_id(o, s, pub_ifindex, &fresh);
	if (!*id || (!fresh && !x.given[0] && !x.given[1]))
		return 0;
	*acl = x.given[0] || x.given[1] ? acl_open() :
					  pin_map_open_quiet("crbpf_acl");
	if (*acl < 0) {
		ret = *acl;
		*acl = -1;
		/* pins of a crbpf without lists: nothing to clear */
		return x.given[0] || x.given[1] ? ret : 0;
	}
	if (fresh) {
		stats = pin_map_open_quiet("crbpf_aclstats");
		for (kind = 0; kind < 2; kind++) {
			acl_slot_drops_zero(stats, crbpf_acl_slot(*id, kind));
			/* cleared, and put back if the command fails */
			x.given[kind] = true;
		}
		if (stats >= 0)
			close(stats);
	}
	ret = acl_mapping_install(*acl, *id, &x, saved);
	if (ret) {
		close(*acl);
		*acl = -1;
	}
	return ret;
}

/* The mapping id of s's entries once the model has them. */
static __u32 fo_mapping_id(const struct model *mod, const struct port_spec *s,
			   __u32 pub_ifindex)
{
	const struct model_port *e;
	struct crbpf_port_key k = {
		.ifindex = pub_ifindex,
		.family = s->be.family,
		.proto = s->proto,
		.port = htons(s->first),
	};

	memcpy(k.addr, s->paddr.a, sizeof(k.addr));
	e = model_port_find(mod, &k);
	return e ? e->v.mapping : 0;
}

int port_add(struct port_args *a)
{
	int acl = -1, saved[2] = { -EBADF, -EBADF };
	__u32 acl_id = 0, lim_id, fo_id = 0;
	struct crbpf_fo fo;
	bool lim_fresh;
	char dev[IF_NAMESIZE], oifname[IF_NAMESIZE], abuf[INET6_ADDRSTRLEN];
	struct edge_maps m = EDGE_MAPS_NONE;
	struct model_ops ops = {};
	struct model mod = {};
	__u16 first, last;
	int pub_ifindex, oif, ret;
	unsigned short type;
	char kind[32];
	unsigned char rtype;
	struct addr be, pub;
	struct undo *u = NULL;
	struct addr paddr = {};
	struct port_spec spec;
	__u8 proto;
	bool all;

	ret = port_add_spec(a, &spec);
	if (ret)
		return ret;
	proto = spec.proto;
	all = spec.all;
	first = spec.first;
	last = spec.last;
	be = spec.be;
	paddr = spec.paddr;
	ret = tool_prepare();
	if (ret)
		return ret;
	ret = port_pick_dev(a->dev, dev, &pub_ifindex);
	if (ret)
		return ret;
	if (a->addr) {
		ret = addr_on_dev(pub_ifindex, &paddr);
		if (ret < 0) {
			err("failed to list the addresses of %s: %s", dev, strerror(-ret));
			return ret;
		}
		if (!ret)
			return usage_err("--addr %s is not an address of %s", a->addr, dev);
	}
	/* `all` never takes what a local socket serves: no check needed.
	 * A listener first: it is the more precise reason. */
	if (!a->force && !all) {
		char msg[256];

		ret = check_listeners(proto, first, last);
		if (ret)
			return ret;
		ret = ephemeral_overlap(proto, first, last, msg, sizeof(msg));
		if (ret > 0)
			return usage_err("%s", msg);
		if (ret < 0) {
			err("failed to read net.ipv4.ip_local_port_range: %s",
			    strerror(-ret));
			return ret;
		}
	}
	addr_str(&be, abuf, sizeof(abuf));
	ret = nl_route_get(&be, &oif, &rtype);
	if (ret) {
		err("no route to backend %s: %s", abuf, strerror(-ret));
		return ret;
	}
	if (rtype == RTN_LOCAL) {
		err("backend %s is an address of this host", abuf);
		return -EINVAL;
	}
	if (rtype != RTN_UNICAST) {
		err("no route to backend %s (route type %u)", abuf, rtype);
		return -ENETUNREACH;
	}
	/* A private backend that only the public side's gateway reaches is a
	 * tunnel not up yet (boot, wg-quick down): never send it there. */
	if (addr_is_private(&be) && edge_is_attached(ifname(oif, oifname)) &&
	    nl_route_gateway(&be) > 0) {
		err("backend %s is a private address that only the gateway of public device %s reaches: is its tunnel up?",
		    abuf, oifname);
		return -ENETUNREACH;
	}
	ret = nl_link_info(oif, &type, kind, sizeof(kind));
	if (ret) {
		err("failed to query the device of ifindex %d: %s", oif, strerror(-ret));
		return ret;
	}
	ifname(oif, oifname);
	if (!a->addr && nl_primary_addr(pub_ifindex, be.family, &pub)) {
		err("%s has no global %s address to answer from; cannot map to %s",
		    dev, be.family == CRBPF_V6 ? "IPv6" : "IPv4", abuf);
		return -EADDRNOTAVAIL;
	}
	ret = edge_maps_open(&m);
	if (ret)
		return ret;
	u = undo_new();
	if (!u) {
		ret = -ENOMEM;
		goto out;
	}
	ret = model_load(&mod, &m);
	if (ret)
		goto out;
	primary_memo_reset();
	ret = model_port_add(&mod, &spec, pub_ifindex, oif, type == ARPHRD_ETHER,
			     &a->except, primary_memo, &ops);
	if (ret == -ENOSPC) {
		err("failed to map %s %u-%u: all %d mapping ids are in use (port del some first)",
		    proto_str(proto), first, last, CRBPF_MAX_MAPPINGS - 1);
		goto out;
	}
	if (ret) {
		err("failed to map %s %u-%u: %s", proto_str(proto), first, last,
		    strerror(-ret));
		goto out;
	}
	ret = acl_before_write(a, &spec, pub_ifindex, &ops, &acl, &acl_id, saved);
	if (ret)
		goto out;
	lim_id = ops_mapping_id(&ops, &spec, pub_ifindex, &lim_fresh);
	ret = limit_before_write(&a->limit, lim_id, lim_fresh, u);
	if (!ret) {
		fo_id = fo_mapping_id(&mod, &spec, pub_ifindex);
		ret = fo_id ? fo_install(fo_id, &be, &a->fo, &fo, u) : 0;
	}
	if (ret)
		goto fail;
	ret = maps_write(&m, &ops, u, false);
	/* the entries the model left as they were get the list too */
	if (!ret && fo_id) {
		ret = fo_entries_sync(m.ports, fo_id, &fo, u);
		ret = ret > 0 ? 0 : ret;
	}
	if (ret)
		goto fail;
	ret = txport_ensure(m.txports, pub_ifindex, u);
	/* XDP redirects into a veth only reach a peer with NAPI (GRO or an
	 * XDP program on it); otherwise the kernel drops them silently. The
	 * peer sits in another namespace, so only the user can vouch for it:
	 * without --xdp-veth such next hops take the tc path. */
	if (!ret && type == ARPHRD_ETHER && (strcmp(kind, "veth") || a->xdp_veth))
		ret = txport_ensure(m.txports, oif, u);
	else if (!ret && type == ARPHRD_ETHER)
		info("%s is a veth: forwarding in tc (--xdp-veth if its peer has GRO or XDP on)",
		     oifname);
	if (ret) {
		err("failed to update crbpf_txports: %s", strerror(-ret));
		goto fail;
	}
	ret = tun_ensure(oif, oifname, type == ARPHRD_ETHER, u);
	if (ret)
		goto fail;
	/* A replaced backend may have been the last one behind its device.
	 * Within apply, once apply is through: a rollback needs it. */
	if (!undo_nested(u))
		tun_release_unused(m.ports, m.txports);
	if (all)
		info("mapped all %s ports (%d exceptions) of %s%s%s to %s via %s",
		     proto_str(proto), a->except.n, a->addr ? a->addr : dev,
		     a->addr ? " on " : "", a->addr ? dev : "", abuf, oifname);
	else
		info("mapped %s %u-%u on %s%s%s to %s via %s", proto_str(proto),
		     first, last, a->addr ? a->addr : dev, a->addr ? " on " : "",
		     a->addr ? dev : "", abuf, oifname);
	goto out;
fail:
	undo_rollback(u);
out:
	if (acl >= 0) {
		acl_mapping_done(acl, acl_id, saved, ret != 0);
		close(acl);
	}
	undo_free(u);
	model_ops_free(&ops);
	model_free(&mod);
	edge_maps_close(&m);
	return ret;
}

int port_del(struct port_args *a)
{
	static const __u8 fams[] = { CRBPF_V4, CRBPF_V6 };
	struct edge_maps m = EDGE_MAPS_NONE;
	struct crbpf_port_key *keys = NULL;
	struct frag_backends gone = {};
	struct model_ops ops = {};
	struct model mod = {};
	char dev[IF_NAMESIZE];
	int pub_ifindex, ret, nk = 0, i;
	__u16 first, last, p;
	struct undo *u = NULL;
	struct addr paddr = {};
	size_t f, nfams = ARRAY_SIZE(fams);
	const __u8 *fam = fams;
	__u8 proto, match = 0;
	bool all;

	if (a->npos != 2)
		return usage_err("usage: crbpf port del PROTO { PORT[-LAST] | all } [--addr PUBLIC] [--dev IFACE]");
	if (parse_proto(a->pos[0], &proto))
		return USAGE;
	all = !strcmp(a->pos[1], "all");
	if (all)
		first = last = CRBPF_PORT_ALL;
	else if (parse_port_range(a->pos[1], &first, &last))
		return USAGE;
	if (a->addr && parse_public_addr(a->addr, &paddr))
		return USAGE;
	if (a->addr) {
		fam = &paddr.family;
		nfams = 1;
		match |= CRBPF_MATCH_ADDR;
	} else if (a->family) {
		fam = &a->family;
		nfams = 1;
	}
	if (all)
		match |= CRBPF_MATCH_ALL;
	ret = tool_prepare();
	if (ret)
		return ret;
	ret = port_pick_dev(a->dev, dev, &pub_ifindex);
	if (ret)
		return ret;
	ret = edge_maps_open(&m);
	if (ret)
		return ret;
	ret = model_load(&mod, &m);
	if (ret)
		goto out;
	/* All or nothing: every port of the range must be mapped. */
	for (p = first;; p++) {
		bool any = false;

		for (f = 0; f < nfams; f++) {
			struct crbpf_port_key key = { .ifindex = pub_ifindex,
						      .family = fam[f],
						      .proto = proto,
						      .port = htons(p) };

			memcpy(key.addr, paddr.a, sizeof(key.addr));
			any |= !!model_port_find(&mod, &key);
		}
		if (!any && all) {
			err("no %s all mapping on %s%s%s", proto_str(proto),
			    a->addr ? a->addr : dev, a->addr ? " on " : "",
			    a->addr ? dev : "");
			ret = -ENOENT;
			goto out;
		}
		if (!any) {
			err("%s port %u is not mapped on %s%s%s", proto_str(proto), p,
			    a->addr ? a->addr : dev, a->addr ? " on " : "",
			    a->addr ? dev : "");
			ret = -ENOENT;
			goto out;
		}
		if (p == last)
			break;
	}
	u = undo_new();
	keys = calloc(nfams * (last - first + 1), sizeof(*keys));
	if (!u || !keys) {
		ret = -ENOMEM;
		goto out;
	}
	for (p = first;; p++) {
		for (f = 0; f < nfams; f++) {
			struct crbpf_port_key *key = &keys[nk++];

			key->ifindex = pub_ifindex;
			key->family = fam[f];
			key->proto = proto;
			key->port = htons(p);
			memcpy(key->addr, paddr.a, sizeof(key->addr));
		}
		if (p == last)
			break;
	}
	for (i = 0; i < nk && !ret; i++) {
		const struct model_port *e = model_port_find(&mod, &keys[i]);

		if (e) {
			ret = backend_gone(&gone, e);
			acl_gc_note(e->v.mapping);
		}
	}
	if (!ret) {
		primary_memo_reset();
		ret = model_port_del(&mod, keys, nk, primary_memo, &ops);
	}
	if (ret) {
		err("failed to unmap %s %u-%u: %s", proto_str(proto), first, last,
		    strerror(-ret));
		goto out;
	}
	ret = maps_write(&m, &ops, u, false);
	if (ret)
		goto fail;
	flows_purge(pub_ifindex, proto, first, last, match, paddr.a,
		    nfams == 1 ? fam[0] : 0);
	frags_purge(&gone);
	/* Within apply, once apply is through: a rollback needs them. */
	if (!undo_nested(u)) {
		/* the lists first: a backup's device is in use while listed */
		fo_gc();
		tun_release_unused(m.ports, m.txports);
		acl_gc();
	}
	goto out;
fail:
	undo_rollback(u);
out:
	undo_free(u);
	free(keys);
	free(gone.v);
	model_ops_free(&ops);
	model_free(&mod);
	edge_maps_close(&m);
	return ret;
}

struct mapping {
	struct crbpf_port_key k;
	struct crbpf_backend be;
};

int port_list_print(const char *only_dev, bool json);

static int port_list(struct port_args *a)
{
	char dev[IF_NAMESIZE];
	int ifindex, ret;

	if (a->npos)
		return usage_err("usage: crbpf port list [--dev IFACE] [--json]");
	ret = tool_prepare_read();
	if (ret)
		return ret;
	if (a->dev) {
		ret = port_pick_dev(a->dev, dev, &ifindex);
		if (ret)
			return ret;
	}
	return port_list_print(a->dev, a->json);
}

/* The exceptions of an `all` entry as "22,2222,60000-60100" (empty: none). */
static void except_str(const struct crbpf_port_key *scope, char *buf, size_t len)
{
	static __u8 bits[65536 / 8];
	struct crbpf_port_key k;
	__u8 one;
	int fd, p;

	buf[0] = 0;
	fd = pin_map_open("crbpf_except");
	if (fd < 0)
		return;
	memset(bits, 0, sizeof(bits));
	/* Per port: the set is small and only read here. */
	for (p = 1; p <= 65535; p++) {
		k = *scope;
		k.port = htons(p);
		if (!bpf_map_lookup_elem(fd, &k, &one))
			bits[p / 8] |= 1 << (p % 8);
	}
	close(fd);
	port_set_text(bits, buf, len);
}

/* Prefixes of mapping id's kind list, counted once per id (-1: none). */
static int list_size(int acl, __u32 id, int kind)
{
	static int cache[CRBPF_MAX_MAPPINGS][2];
	static bool known[CRBPF_MAX_MAPPINGS][2];

	if (acl < 0 || id >= CRBPF_MAX_MAPPINGS)
		return -1;
	if (!known[id][kind]) {
		known[id][kind] = true;
		cache[id][kind] = acl_slot_used(acl, crbpf_acl_slot(id, kind)) ?
					  acl_slot_count(acl, crbpf_acl_slot(id, kind)) :
					  -1;
	}
	return cache[id][kind];
}

/* " limit pps 2000:2000 flows 20:20 by /32,/64" ("" without limits) */
static void limit_list_str(const struct crbpf_limit *l, char *buf, size_t len)
{
	size_t used;

	buf[0] = 0;
	if (!limit_on(l))
		return;
	used = snprintf(buf, len, " limit");
	if (l->pkt_ns && used < len)
		used += snprintf(buf + used, len - used, " pps %u:%u", l->pkt_rate,
				 l->pkt_burst);
	if (l->flow_ns && used < len)
		used += snprintf(buf + used, len - used, " flows %u:%u",
				 l->flow_rate, l->flow_burst);
	if (used < len)
		snprintf(buf + used, len - used, " by /%u,/%u", l->prefix4,
			 l->prefix6);
}

int port_list_print(const char *only_dev, bool json)
{
	char lbuf[64], limbuf[96];
	struct crbpf_limit lim;
	int acl, limits, kind, sz;
	char dname[IF_NAMESIZE], oname[IF_NAMESIZE], abuf[INET6_ADDRSTRLEN];
	char pbuf[INET6_ADDRSTRLEN], xbuf[4096], fbuf[4 * INET6_ADDRSTRLEN];
	struct crbpf_port_key *keys;
	struct crbpf_backend *vals;
	struct mapping *v;
	int fd, fo, i, n, shown = 0, only = 0;

	if (only_dev && resolve_iface(only_dev, &only))
		return -ENODEV;
	if (!edge_attached_count(NULL, 0)) {
		if (json)
			printf("[]\n");
		return 0;
	}
	fd = pin_map_open("crbpf_ports");
	if (fd < 0)
		return fd;
	n = map_dump(fd, sizeof(*keys), sizeof(*vals), (void **)&keys,
		     (void **)&vals);
	close(fd);
	if (n < 0)
		return n;
	v = calloc(n + 1, sizeof(*v));
	if (!v) {
		free(keys);
		free(vals);
		return -ENOMEM;
	}
	fo = fo_open();
	for (i = 0; i < n; i++) {
		v[i].k = keys[i];
		v[i].be = vals[i];
		/* the mapping as given: crbpf status says which is active */
		fo_model_view(fo, &v[i].be);
	}
	free(keys);
	free(vals);
	qsort(v, n, sizeof(*v), port_key_cmp);
	acl = pin_map_open_quiet("crbpf_acl");
	limits = pin_map_open_quiet("crbpf_limits");
	if (json)
		printf("[");
	else
		printf("%-12s %-5s %-5s %-6s %-24s %-40s %s\n", "DEV", "PROTO",
		       "PORT", "FAMILY", "ADDR", "BACKEND", "VIA");
	for (i = 0; i < n; i++) {
		struct addr be = { .family = v[i].k.family };
		struct addr pub = { .family = v[i].k.family };
		bool all = v[i].be.flags & CRBPF_BE_ALL;
		bool has_addr = key_has_addr(&v[i].k);

		if (only && (int)v[i].k.ifindex != only)
			continue;
		memcpy(be.a, v[i].be.addr, sizeof(be.a));
		addr_str(&be, abuf, sizeof(abuf));
		memcpy(pub.a, v[i].k.addr, sizeof(pub.a));
		if (has_addr)
			addr_str(&pub, pbuf, sizeof(pbuf));
		else
			snprintf(pbuf, sizeof(pbuf), "*");
		xbuf[0] = 0;
		if (all)
			except_str(&v[i].k, xbuf, sizeof(xbuf));
		ifname(v[i].k.ifindex, dname);
		ifname(v[i].be.ifindex, oname);
		limit_get(limits, v[i].be.mapping, &lim);
		fo_backups_str(fo, v[i].be.mapping, fbuf, sizeof(fbuf));
		if (json) {
			printf("%s{\"dev\":", shown ? "," : "");
			json_str(stdout, dname);
			/* all: port and backend_port 0 (each port is kept) */
			printf(",\"proto\":\"%s\",\"port\":%u,\"all\":%s,\"family\":\"%s\",\"addr\":",
			       proto_str(v[i].k.proto), ntohs(v[i].k.port),
			       all ? "true" : "false", family_str(v[i].k.family));
			if (has_addr)
				printf("\"%s\"", pbuf);
			else
				printf("null");
			printf(",\"backend\":\"%s\",\"backend_port\":%u,\"via\":",
			       abuf, ntohs(v[i].be.port));
			json_str(stdout, oname);
			printf(",\"l2\":%s", v[i].be.flags & CRBPF_BE_L2 ? "true" : "false");
			if (all)
				printf(",\"except\":\"%s\"", xbuf);
			if (fbuf[0])
				printf(",\"backups\":\"%s\"", fbuf);
			/* prefixes of the mapping's own lists, absent: none */
			for (kind = 0; kind < 2; kind++) {
				sz = list_size(acl, v[i].be.mapping, kind);
				if (sz >= 0)
					printf(",\"%s\":%d", acl_kind_names[kind], sz);
			}
			/* per-source limits, absent: none */
			if (lim.pkt_ns)
				printf(",\"limit_pps\":%u,\"limit_pps_burst\":%u",
				       lim.pkt_rate, lim.pkt_burst);
			if (lim.flow_ns)
				printf(",\"limit_flows\":%u,\"limit_flows_burst\":%u",
				       lim.flow_rate, lim.flow_burst);
			if (limit_on(&lim))
				printf(",\"limit_prefix4\":%u,\"limit_prefix6\":%u",
				       lim.prefix4, lim.prefix6);
			printf("}");
		} else {
			char bbuf[INET6_ADDRSTRLEN + 10], port[8];

			if (all)
				snprintf(bbuf, sizeof(bbuf),
					 be.family == CRBPF_V6 ? "[%s]" : "%s", abuf);
			else
				snprintf(bbuf, sizeof(bbuf),
					 be.family == CRBPF_V6 ? "[%s]:%u" : "%s:%u",
					 abuf, ntohs(v[i].be.port));
			if (all)
				snprintf(port, sizeof(port), "all");
			else
				snprintf(port, sizeof(port), "%u", ntohs(v[i].k.port));
			lbuf[0] = 0;
			for (kind = 0; kind < 2; kind++) {
				sz = list_size(acl, v[i].be.mapping, kind);
				if (sz >= 0)
					snprintf(lbuf + strlen(lbuf),
						 sizeof(lbuf) - strlen(lbuf), " %s %d",
						 acl_kind_names[kind], sz);
			}
			limit_list_str(&lim, limbuf, sizeof(limbuf));
			printf("%-12s %-5s %-5s %-6s %-24s %-40s %s%s%s%s%s%s%s%s\n", dname,
			       proto_str(v[i].k.proto), port,
			       family_str(v[i].k.family), pbuf, bbuf, oname,
			       v[i].be.flags & CRBPF_BE_L2 ? " (ethernet)" : "",
			       xbuf[0] ? " except " : "", xbuf, lbuf, limbuf,
			       fbuf[0] ? " backup " : "", fbuf);
		}
		shown++;
	}
	if (json)
		printf("]\n");
	if (acl >= 0)
		close(acl);
	if (limits >= 0)
		close(limits);
	if (fo >= 0)
		close(fo);
	free(v);
	return 0;
}

int cmd_port(int argc, char **argv)
{
	struct port_args a;
	const char *sub;
	int ret;

	if (argc < 2)
		return usage_err("port needs a subcommand: add, del or list");
	sub = argv[1];
	if (!strcmp(sub, "add")) {
		ret = port_args_parse(argc - 2, argv + 2, &a, true, false) ?:
		      port_add(&a);
		acl_args_free(&a.acl);
		return ret;
	}
	if (!strcmp(sub, "del")) {
		ret = port_args_parse(argc - 2, argv + 2, &a, false, false);
		return ret ?: port_del(&a);
	}
	if (!strcmp(sub, "list")) {
		ret = port_args_parse(argc - 2, argv + 2, &a, false, true);
		return ret ?: port_list(&a);
	}
	return usage_err("unknown port subcommand '%s' (expected add, del or list)", sub);
}
