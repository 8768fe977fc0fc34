// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/* crbpf doctor: what users get wrong around crbpf, each with the command or
 * config line that fixes it. It plays whatever this machine is: a VPS (an
 * edge attached, or mappings in the pins), a home (a home tunnel attached),
 * both, or neither (then the WireGuard devices present are checked). It
 * changes nothing. Exit 0: no problem found; 1: problems. */
#define _GNU_SOURCE /* vasprintf */
#include "tool.h"
#include <errno.h>
#include <dirent.h>
#include <limits.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/stat.h>
#include <bpf/bpf.h>
#include <linux/fib_rules.h>
#include <linux/rtnetlink.h>
#include <netinet/in.h>
#include <sys/socket.h>

/* WireGuard considers a session stale after REJECT_AFTER_TIME (180 s);
 * a tunnel with keepalives re-handshakes every 2 minutes. */
#define HANDSHAKE_MAX_AGE 180
/* Outer IPv4/IPv6 + UDP + WireGuard data header and tag: 20/40 + 8 + 32. */
#define WG_OVERHEAD4 60
#define WG_OVERHEAD6 80
#define MAX_LISTENERS 4096

struct problem {
	char *check, *dev, *what, *fix;
};

struct doctor {
	bool json;
	struct problem *p;
	int n, cap;
	char *checked[32];
	int nchecked;
	bool pins_ok; /* the pin root is on bpffs and readable */
	/* VPS */
	char edges[16][IF_NAMESIZE];
	int nedges;
	struct crbpf_port_key *keys;
	struct crbpf_backend *vals;
	int nports;
	/* home */
	char tunnels[8][IF_NAMESIZE];
	int ntunnels;
};

static char *vfmt(const char *fmt, va_list ap)
{
	char *s = NULL;

	if (vasprintf(&s, fmt, ap) < 0)
		s = NULL;
	return s;
}

static char *fmt(const char *f, ...) __attribute__((format(printf, 1, 2)));
static char *fmt(const char *f, ...)
{
	va_list ap;
	char *s;

	va_start(ap, f);
	s = vfmt(f, ap);
	va_end(ap);
	return s;
}

/* fix is taken over (freed here). */
static void problem(struct doctor *d, const char *check, const char *dev,
		    char *fix, const char *what, ...)
	__attribute__((format(printf, 5, 6)));
static void problem(struct doctor *d, const char *check, const char *dev,
		    char *fix, const char *what, ...)
{
	struct problem *p;
	va_list ap;

	if (d->n == d->cap) {
		int cap = d->cap ? d->cap * 2 : 8;

		p = realloc(d->p, cap * sizeof(*p));
		if (!p) {
			free(fix);
			return;
		}
		d->p = p;
		d->cap = cap;
	}
	p = &d->p[d->n++];
	p->check = strdup(check);
	p->dev = dev ? strdup(dev) : NULL;
	va_start(ap, what);
	p->what = vfmt(what, ap);
	va_end(ap);
	p->fix = fix;
}

static void checked(struct doctor *d, const char *what, ...)
	__attribute__((format(printf, 2, 3)));
static void checked(struct doctor *d, const char *what, ...)
{
	va_list ap;

	if (d->nchecked == ARRAY_SIZE(d->checked))
		return;
	va_start(ap, what);
	d->checked[d->nchecked++] = vfmt(what, ap);
	va_end(ap);
}

/* An integer sysctl under /proc/sys (this netns): >= 0, or -errno. */
static int sysctl_int(const char *fmt_path, ...)
	__attribute__((format(printf, 1, 2)));
static int sysctl_int(const char *fmt_path, ...)
{
	char path[PATH_MAX], buf[32];
	va_list ap;
	FILE *f;
	int v;

	va_start(ap, fmt_path);
	vsnprintf(path, sizeof(path), fmt_path, ap);
	va_end(ap);
	f = fopen(path, "r");
	if (!f)
		return -errno;
	v = fgets(buf, sizeof(buf), f) ? atoi(buf) : -EIO;
	fclose(f);
	return v;
}

static bool dev_has_family(int ifindex, __u8 family)
{
	struct addr a;

	return !nl_primary_addr(ifindex, family, &a);
}

/* --- pins: bpffs, permissions, leftovers of vanished devices --- */

static void check_dir_mode(struct doctor *d, const char *path)
{
	struct stat st;

	if (lstat(path, &st) || S_ISLNK(st.st_mode))
		return;
	if (st.st_mode & 022)
		problem(d, "pin-mode", NULL, fmt("chmod 700 %s", path),
			"%s is writable by %s (mode %04o): another user could replace crbpf's pins",
			path, st.st_mode & 002 ? "others" : "its group",
			st.st_mode & 07777);
	if (st.st_uid != 0 && st.st_uid != geteuid())
		problem(d, "pin-mode", NULL, fmt("chown root:root %s", path),
			"%s belongs to uid %u, not root: whoever owns it can replace crbpf's pins",
			path, st.st_uid);
}

static void check_pins(struct doctor *d)
{
	static const char *const subdirs[] = { "maps", "links", "home", "edge" };
	char path[PATH_MAX];
	struct pin_why w;
	int before = d->n;
	size_t i;

	if (!on_bpffs(pin_root)) {
		if (!strncmp(pin_root, "/sys/fs/bpf/", 12) &&
		    !on_bpffs("/sys/fs/bpf"))
			problem(d, "bpffs", NULL,
				strdup("mount -t bpf -o mode=0700 bpf /sys/fs/bpf"),
				"bpffs is not mounted at /sys/fs/bpf: crbpf cannot pin anything, nothing survives the command");
		else
			problem(d, "bpffs", NULL,
				fmt("mkdir -p %s && mount -t bpf -o mode=0700 bpf %s",
				    pin_root, pin_root),
				"pin root %s is not on a bpf filesystem", pin_root);
		checked(d, "pin root %s (not bpffs)", pin_root);
		return;
	}
	d->pins_ok = true;
	if (access(pin_root, F_OK)) {
		checked(d, "pin root %s (empty)", pin_root);
		return;
	}
	check_dir_mode(d, pin_root);
	for (i = 0; i < ARRAY_SIZE(subdirs); i++) {
		pin_path(path, sizeof(path), subdirs[i], NULL, NULL);
		check_dir_mode(d, path);
	}
	/* What the modes above miss: symbolic links, unsafe parents. */
	if (d->n == before && pin_root_check(&w) == -EPERM)
		problem(d, "pin-mode", NULL, strdup(w.fix), "%s", w.what);
	checked(d, "pin root %s", pin_root);
}

/* The `home attach` that re-creates tunnel's setup, without served device
 * skip (NULL: all of them). */
static char *home_attach_cmd(const char *tunnel, const char *skip)
{
	struct home_info hi;
	char buf[1024];
	int i, o;

	if (home_info_load(tunnel, &hi))
		return fmt("crbpf home attach %s", tunnel);
	o = snprintf(buf, sizeof(buf), "crbpf home attach %s", tunnel);
	for (i = 0; i < hi.nserve && o < (int)sizeof(buf); i++)
		if (!skip || strcmp(skip, hi.serve[i]))
			o += snprintf(buf + o, sizeof(buf) - o, " --serve %s",
				      hi.serve[i]);
	if (o < (int)sizeof(buf) && hi.table != CRBPF_HOME_TABLE_DEFAULT)
		o += snprintf(buf + o, sizeof(buf) - o, " --table %u", hi.table);
	if (o < (int)sizeof(buf) && hi.mark != CRBPF_HOME_MARK_DEFAULT)
		snprintf(buf + o, sizeof(buf) - o, " --mark 0x%x", hi.mark);
	return strdup(buf);
}

/* The home tunnel that serves dev (or, for a line device, the first). */
static void tunnel_serving(struct doctor *d, const char *dev, char *out)
{
	struct home_info hi;
	int t, i;

	out[0] = 0;
	for (t = 0; t < d->ntunnels; t++) {
		if (home_info_load(d->tunnels[t], &hi))
			continue;
		for (i = 0; i < hi.nserve; i++)
			if (!strcmp(hi.serve[i], dev)) {
				snprintf(out, IF_NAMESIZE, "%s", d->tunnels[t]);
				return;
			}
	}
	/* A line device (homeout) belongs to every tunnel: name the first. */
	if (d->ntunnels)
		snprintf(out, IF_NAMESIZE, "%s", d->tunnels[0]);
}

/* gone: the device no longer exists; otherwise it was re-created and the
 * pinned attachment points at the old one. */
static char *stale_fix(struct doctor *d, const char *kind, const char *dev,
		       bool gone)
{
	char tunnel[IF_NAMESIZE];

	if (!strcmp(kind, "edge") || !strcmp(kind, "xdp"))
		return fmt("`crbpf watch` repairs it when %s is re-created; to remove it: crbpf detach %s",
			   dev, dev);
	if (!strcmp(kind, "hometun"))
		return fmt("`crbpf watch` repairs it when %s is re-created; to remove it: crbpf home detach %s",
			   dev, dev);
	if (!strcmp(kind, "homesrv") || !strcmp(kind, "homefwd") ||
	    !strcmp(kind, "homeout")) {
		char *cmd, *ret;

		tunnel_serving(d, dev, tunnel);
		if (!tunnel[0])
			return fmt("`crbpf watch` repairs it when %s is re-created", dev);
		/* Attaching again drops a served device it no longer names. */
		if (gone && strcmp(kind, "homeout")) {
			cmd = home_attach_cmd(tunnel, dev);
			ret = fmt("`crbpf watch` repairs it when %s is re-created; to stop serving it: %s",
				  dev, cmd);
		} else {
			cmd = home_attach_cmd(tunnel, NULL);
			ret = fmt("`crbpf watch` repairs it when %s is re-created; by hand: crbpf home detach %s && %s",
				  dev, tunnel, cmd);
		}
		free(cmd);
		return ret;
	}
	if (!strcmp(kind, "tun"))
		return fmt("`crbpf watch` repairs it when %s is re-created; by hand: crbpf port del the mappings behind %s and port add them again",
			   dev, dev);
	return fmt("`crbpf watch` repairs re-created devices; crbpf down removes everything");
}

static const char *kind_desc(const char *kind)
{
	if (!strcmp(kind, "edge") || !strcmp(kind, "xdp"))
		return "edge (public device)";
	if (!strcmp(kind, "tun"))
		return "reverse path (device to the backends)";
	if (!strcmp(kind, "hometun"))
		return "home tunnel";
	if (!strcmp(kind, "homesrv"))
		return "served bridge";
	if (!strcmp(kind, "homefwd"))
		return "served bridge egress";
	if (!strcmp(kind, "homeout"))
		return "home line egress";
	return "attachment";
}

static void check_stale_links(struct doctor *d)
{
	char dir[PATH_MAX], path[PATH_MAX * 2], dev[IF_NAMESIZE * 2];
	char kind[32];
	struct dirent *de;
	DIR *dh;
	int n = 0;

	pin_path(dir, sizeof(dir), "links", NULL, NULL);
	dh = opendir(dir);
	if (!dh)
		return;
	while ((de = readdir(dh))) {
		const char *us = strchr(de->d_name, '_');
		int ifindex, live;

		if (de->d_name[0] == '.' || !us || us - de->d_name >= (long)sizeof(kind))
			continue;
		snprintf(kind, us - de->d_name + 1, "%s", de->d_name);
		pin_name_decode(us + 1, dev, sizeof(dev));
		snprintf(path, sizeof(path), "%s/%s", dir, de->d_name);
		n++;
		ifindex = if_nametoindex(dev);
		if (!ifindex) {
			problem(d, "stale-pin", dev, stale_fix(d, kind, dev, true),
				"%s of %s is pinned at %s but %s no longer exists",
				kind_desc(kind), dev, path, dev);
			continue;
		}
		live = pin_alive(path, ifindex);
		if (!live)
			problem(d, "stale-pin", dev, stale_fix(d, kind, dev, false),
				"%s of %s is pinned at %s but no longer attached to %s (the device was deleted and re-created): it sees no packets",
				kind_desc(kind), dev, path, dev);
	}
	closedir(dh);
	checked(d, "%d pinned attachments", n);
}

/* Mappings that name devices which are gone (a deleted public device or
 * the device that reached the backend). */
static void check_stale_ports(struct doctor *d)
{
	int i, gone_pub = 0, gone_be = 0;
	__u32 pub_if = 0, be_if = 0;
	char name[IF_NAMESIZE];

	for (i = 0; i < d->nports; i++) {
		if (!if_indextoname(d->keys[i].ifindex, name)) {
			gone_pub++;
			pub_if = d->keys[i].ifindex;
		} else if (!if_indextoname(d->vals[i].ifindex, name)) {
			gone_be++;
			be_if = d->vals[i].ifindex;
		}
	}
	if (gone_pub)
		problem(d, "stale-pin", NULL,
			strdup("`crbpf watch` repairs re-created devices; to remove them: crbpf detach DEV for the public device named in the stale-pin lines (or crbpf down)"),
			"%d mappings are keyed on ifindex %u (and maybe others), which no longer exists",
			gone_pub, pub_if);
	if (gone_be)
		problem(d, "stale-pin", NULL,
			strdup("`crbpf watch` repairs re-created devices; by hand: crbpf port del and port add those mappings again"),
			"%d mappings send to backends through ifindex %u, which no longer exists",
			gone_be, be_if);
}

/* --- WireGuard peers: handshake, MTU --- */

static void check_handshake(struct doctor *d, const struct wg_dev *w,
			    const struct wg_peer *p)
{
	long long age = (long long)time(NULL) - p->last_handshake;
	char key[45], ep[INET6_ADDRSTRLEN];

	if (p->last_handshake && age <= HANDSHAKE_MAX_AGE)
		return;
	wg_key_str(p->key, key);
	if (!p->has_endpoint) {
		problem(d, "handshake", w->name,
			fmt("the peer must dial in: in its [Peer] for this host, Endpoint = <this host>:%u and PersistentKeepalive = 25",
			    w->listen_port),
			"%s peer %s: %s; this side has no endpoint for it",
			w->name, key,
			p->last_handshake ? "no handshake for more than 180 s" :
					    "no handshake ever");
		return;
	}
	addr_str(&p->endpoint, ep, sizeof(ep));
	if (!p->keepalive)
		problem(d, "handshake", w->name,
			fmt("wg set %s peer %s persistent-keepalive 25 (wg-quick [Peer]: PersistentKeepalive = 25), and check that UDP to %s%s%s:%u gets through",
			    w->name, key, p->endpoint.family == CRBPF_V6 ? "[" : "",
			    ep, p->endpoint.family == CRBPF_V6 ? "]" : "",
			    p->endpoint_port),
			"%s peer %s (endpoint %s): %s",
			w->name, key, ep,
			p->last_handshake ? "no handshake for more than 180 s" :
					    "no handshake ever");
	else
		problem(d, "handshake", w->name,
			fmt("check that UDP to %s%s%s:%u gets through and that the keys match (wg show %s on both ends)",
			    p->endpoint.family == CRBPF_V6 ? "[" : "", ep,
			    p->endpoint.family == CRBPF_V6 ? "]" : "",
			    p->endpoint_port, w->name),
			"%s peer %s (endpoint %s): %s",
			w->name, key, ep,
			p->last_handshake ? "no handshake for more than 180 s" :
					    "no handshake ever");
}

/* The tunnel's packets, grown by the WireGuard header, must fit the MTU of
 * the device that carries them to the peer, or each one is fragmented. */
static void check_mtu(struct doctor *d, const struct wg_dev *w, int ifindex)
{
	__u32 tun_mtu, pub_mtu, want = 0, overhead = 0, worst_pub = 0;
	char pub[IF_NAMESIZE] = "";
	unsigned char rtype;
	int i, oif;

	if (nl_link_mtu(ifindex, &tun_mtu))
		return;
	for (i = 0; i < w->npeers; i++) {
		const struct wg_peer *p = &w->peers[i];
		__u32 o = p->endpoint.family == CRBPF_V6 ? WG_OVERHEAD6 : WG_OVERHEAD4;

		if (!p->has_endpoint || nl_route_get(&p->endpoint, &oif, &rtype) ||
		    nl_link_mtu(oif, &pub_mtu) || tun_mtu + o <= pub_mtu)
			continue;
		/* The peer with the smallest room decides. */
		if (!want || pub_mtu - o < want) {
			want = pub_mtu - o;
			overhead = o;
			worst_pub = pub_mtu;
			ifname(oif, pub);
		}
	}
	if (!want)
		return;
	problem(d, "mtu", w->name,
		fmt("ip link set dev %s mtu %u (wg-quick [Interface]: MTU = %u)",
		    w->name, want, want),
		"%s has MTU %u: with %u bytes of WireGuard over IPv%d that is above %s's MTU %u, so full-size packets are fragmented",
		w->name, tun_mtu, overhead, overhead == WG_OVERHEAD6 ? 6 : 4, pub,
		worst_pub);
}

/* --- VPS --- */

static bool is_edge(struct doctor *d, const char *dev)
{
	int i;

	for (i = 0; i < d->nedges; i++)
		if (!strcmp(d->edges[i], dev))
			return true;
	return false;
}

static int edge_cb(const char *dev, const char *path, void *data)
{
	struct doctor *d = data;

	(void)path;
	if (d->nedges < (int)ARRAY_SIZE(d->edges))
		snprintf(d->edges[d->nedges++], IF_NAMESIZE, "%s", dev);
	return 0;
}

static void load_ports(struct doctor *d)
{
	char path[PATH_MAX];
	int fd;

	pin_path(path, sizeof(path), "maps", NULL, "crbpf_ports");
	fd = bpf_obj_get(path);
	if (fd < 0)
		return;
	d->nports = map_dump(fd, sizeof(*d->keys), sizeof(*d->vals),
			     (void **)&d->keys, (void **)&d->vals);
	if (d->nports < 0)
		d->nports = 0;
	close(fd);
}

static void port_desc(const struct crbpf_port_key *k, char *buf, size_t len)
{
	char dev[IF_NAMESIZE], a[INET6_ADDRSTRLEN];
	struct addr pa = { .family = k->family };

	memcpy(pa.a, k->addr, sizeof(pa.a));
	ifname(k->ifindex, dev);
	if (key_has_addr(k))
		snprintf(buf, len, "%s %u --addr %s --dev %s", proto_str(k->proto),
			 ntohs(k->port), addr_str(&pa, a, sizeof(a)), dev);
	else
		snprintf(buf, len, "%s %u --dev %s", proto_str(k->proto),
			 ntohs(k->port), dev);
}

static void check_listeners_mapped(struct doctor *d)
{
	static const __u8 protos[] = { IPPROTO_TCP, IPPROTO_UDP };
	struct listener *l = calloc(MAX_LISTENERS, sizeof(*l));
	size_t pi;
	int i, j, n;

	if (!l)
		return;
	for (pi = 0; pi < ARRAY_SIZE(protos); pi++) {
		n = nl_listeners(protos[pi], 1, 65535, l, MAX_LISTENERS);
		if (n > MAX_LISTENERS)
			n = MAX_LISTENERS;
		for (i = 0; i < d->nports; i++) {
			const struct crbpf_port_key *k = &d->keys[i];
			char desc[128], owner[512], be[INET6_ADDRSTRLEN];
			char dev[IF_NAMESIZE];
			struct addr ba = { .family = k->family };
			bool dup = false;

			if (k->proto != protos[pi] || k->port == CRBPF_PORT_ALL)
				continue;
			/* One line per port whatever the families mapped. */
			for (j = 0; j < i && !dup; j++)
				dup = d->keys[j].proto == k->proto &&
				      d->keys[j].port == k->port &&
				      d->keys[j].ifindex == k->ifindex &&
				      !memcmp(d->keys[j].addr, k->addr, sizeof(k->addr));
			if (dup)
				continue;
			for (j = 0; j < n; j++)
				if (l[j].port == ntohs(k->port))
					break;
			if (j == n)
				continue;
			owner_of_inode(l[j].inode, owner, sizeof(owner));
			port_desc(k, desc, sizeof(desc));
			memcpy(ba.a, d->vals[i].addr, sizeof(ba.a));
			addr_str(&ba, be, sizeof(be));
			problem(d, "listener", NULL,
				fmt("crbpf port del %s, or move the local service to another port", desc),
				"%s port %u of %s is mapped (to %s port %u) and also served on this host by %s: the mapping takes its packets, the local service gets none",
				proto_str(k->proto), ntohs(k->port),
				ifname(k->ifindex, dev), be, ntohs(d->vals[i].port),
				owner);
		}
	}
	free(l);
}

struct tun_dev {
	int ifindex;
	char name[IF_NAMESIZE];
	bool v6; /* an IPv6 mapping goes through it */
};

struct tun_list {
	struct tun_dev v[32];
	int n;
};

static struct tun_dev *tun_add(struct tun_list *t, int ifindex)
{
	int i;

	for (i = 0; i < t->n; i++)
		if (t->v[i].ifindex == ifindex)
			return &t->v[i];
	if (t->n == (int)ARRAY_SIZE(t->v) || !if_indextoname(ifindex, t->v[t->n].name))
		return NULL;
	t->v[t->n].ifindex = ifindex;
	t->v[t->n].v6 = false;
	return &t->v[t->n++];
}

static int tun_pin_cb(const char *dev, const char *path, void *data)
{
	int ifindex = if_nametoindex(dev);

	(void)path;
	if (ifindex)
		tun_add(data, ifindex);
	return 0;
}

static void check_vps_wg(struct doctor *d, const struct tun_dev *t)
{
	struct wg_dev w;
	bool *relevant;
	int i, j, ret;

	ret = wg_dev_get(t->name, &w);
	if (ret) {
		if (ret != -ENODEV)
			checked(d, "%s: cannot read its WireGuard peers (%s)", t->name,
				strerror(-ret));
		return;
	}
	relevant = calloc(w.npeers + 1, sizeof(*relevant));
	if (!relevant) {
		wg_dev_free(&w);
		return;
	}
	for (i = 0; i < d->nports; i++) {
		const struct crbpf_backend *b = &d->vals[i];
		struct addr ba = { .family = d->keys[i].family };
		char be[INET6_ADDRSTRLEN], key[45], list[512] = "";
		bool covered = false, dup = false;
		int o = 0, k;

		if ((int)b->ifindex != t->ifindex)
			continue;
		memcpy(ba.a, b->addr, sizeof(ba.a));
		for (j = 0; j < w.npeers; j++)
			if (wg_allowed_covers(&w.peers[j], &ba,
					      ba.family == CRBPF_V6 ? 128 : 32)) {
				relevant[j] = true;
				covered = true;
			}
		if (covered)
			continue;
		for (j = 0; j < i && !dup; j++)
			dup = (int)d->vals[j].ifindex == t->ifindex &&
			      !memcmp(d->vals[j].addr, b->addr, sizeof(b->addr));
		if (dup)
			continue;
		addr_str(&ba, be, sizeof(be));
		if (w.npeers != 1) {
			problem(d, "allowed-ips", t->name,
				fmt("wg set %s peer <home peer's key> allowed-ips <its AllowedIPs>,%s/%u (wg-quick [Peer]: add %s/%u to AllowedIPs)",
				    t->name, be, ba.family == CRBPF_V6 ? 128 : 32, be,
				    ba.family == CRBPF_V6 ? 128 : 32),
				"backend %s is in no AllowedIPs of %s's peers: WireGuard drops what crbpf forwards to it",
				be, t->name);
			continue;
		}
		for (k = 0; k < w.peers[0].nallowed && o < (int)sizeof(list); k++) {
			char a[INET6_ADDRSTRLEN];

			o += snprintf(list + o, sizeof(list) - o, "%s/%u,",
				      addr_str(&w.peers[0].allowed[k].addr, a, sizeof(a)),
				      w.peers[0].allowed[k].cidr);
		}
		wg_key_str(w.peers[0].key, key);
		problem(d, "allowed-ips", t->name,
			fmt("wg set %s peer %s allowed-ips %s%s/%u (wg-quick [Peer]: add %s/%u to AllowedIPs)",
			    t->name, key, list, be, ba.family == CRBPF_V6 ? 128 : 32,
			    be, ba.family == CRBPF_V6 ? 128 : 32),
			"backend %s is not in the AllowedIPs of %s's peer %s: WireGuard drops what crbpf forwards to it",
			be, t->name, key);
	}
	/* Peers that back no mapping (a laptop that dials in now and then)
	 * are none of crbpf's business; with no mapping at all, all are. */
	for (j = 0, i = 0; j < w.npeers; j++)
		i += relevant[j];
	for (j = 0; j < w.npeers; j++)
		if (relevant[j] || !i)
			check_handshake(d, &w, &w.peers[j]);
	check_mtu(d, &w, t->ifindex);
	checked(d, "tunnel %s (WireGuard via %s, %d peer%s)", t->name, w.via,
		w.npeers, w.npeers == 1 ? "" : "s");
	free(relevant);
	wg_dev_free(&w);
}

/* XDP hands packets to tunnel backends to crbpf_edge_tc (bpf/handoff.h):
 * without it they are dropped. */
static void check_edge_tc(struct doctor *d, const char *dev)
{
	char path[PATH_MAX], xpath[PATH_MAX];
	int ifindex = if_nametoindex(dev);

	pin_path(path, sizeof(path), "links", "edge", dev);
	pin_path(xpath, sizeof(xpath), "links", "xdp", dev);
	if (!ifindex || pin_alive(xpath, ifindex) <= 0 ||
	    pin_alive(path, ifindex) > 0)
		return;
	problem(d, "handoff", dev,
		fmt("`crbpf watch` attaches it again within 10 s; by hand: crbpf detach %s, then attach %s again",
		    dev, dev),
		"XDP is attached to %s without crbpf_edge_tc: the packets it hands to tc for tunnel backends are dropped",
		dev);
}

static void check_vps(struct doctor *d)
{
	struct tun_list t = {};
	struct tun_dev *td;
	int i, v;

	/* Devices that reach backends: the reverse-path pins and the
	 * devices the mappings name. */
	pin_iter("tun", tun_pin_cb, &t);
	for (i = 0; i < d->nports; i++) {
		td = tun_add(&t, d->vals[i].ifindex);
		if (td && d->keys[i].family == CRBPF_V6)
			td->v6 = true;
	}
	for (i = 0; i < t.n; i++) {
		const char *dev = t.v[i].name;

		if (is_edge(d, dev))
			continue;
		v = sysctl_int("/proc/sys/net/ipv4/conf/%s/forwarding", dev);
		if (v == 0)
			problem(d, "forwarding", dev,
				fmt("sysctl -w net.ipv4.conf.%s.forwarding=1", dev),
				"IPv4 forwarding is off on %s: replies from the backends arriving there are not routed back to clients",
				dev);
		v = sysctl_int("/proc/sys/net/ipv6/conf/%s/forwarding", dev);
		if (v == 0 && t.v[i].v6)
			problem(d, "forwarding", dev,
				fmt("sysctl -w net.ipv6.conf.%s.forwarding=1", dev),
				"IPv6 forwarding is off on %s: replies from the IPv6 backends arriving there are not routed back to clients",
				dev);
		check_vps_wg(d, &t.v[i]);
	}
	/* IPv4 without DF, larger than an Ethernet next hop's MTU, is left to
	 * the kernel's forwarding, which fragments it. */
	for (i = 0; i < d->nports; i++) {
		char dev[IF_NAMESIZE];

		if (!(d->vals[i].flags & CRBPF_BE_L2) || d->keys[i].family != CRBPF_V4 ||
		    !if_indextoname(d->keys[i].ifindex, dev))
			continue;
		if (sysctl_int("/proc/sys/net/ipv4/conf/%s/forwarding", dev) == 0) {
			problem(d, "forwarding", dev, strdup("sysctl -w net.ipv4.ip_forward=1"),
				"IPv4 forwarding is off (net.ipv4.ip_forward=0) and a mapping goes to an Ethernet next hop: large packets without DF that crbpf leaves to the kernel to fragment are dropped");
			break;
		}
	}
	for (i = 0; i < d->nedges; i++)
		check_edge_tc(d, d->edges[i]);
	check_listeners_mapped(d);
	checked(d, "VPS: %d edge%s, %d mapping entr%s", d->nedges,
		d->nedges == 1 ? "" : "s", d->nports, d->nports == 1 ? "y" : "ies");
}

/* --- home --- */

static bool table_default_via(const struct nl_route *r, int n, __u32 table,
			      int oif)
{
	int i;

	for (i = 0; i < n; i++)
		if (r[i].table == table && r[i].dst_len == 0 && r[i].oif == oif &&
		    r[i].type == RTN_UNICAST)
			return true;
	return false;
}

static void check_home_routes(struct doctor *d, const char *tunnel, int ifindex)
{
	static const int afs[] = { AF_INET, AF_INET6 };
	size_t f;
	int i, nr, nu;

	for (f = 0; f < ARRAY_SIZE(afs); f++) {
		struct nl_route *r = NULL;
		struct nl_rule *u = NULL;
		char a[INET6_ADDRSTRLEN];

		if (nl_routes(afs[f], &r, &nr))
			continue;
		for (i = 0; i < nr; i++) {
			if (r[i].table != RT_TABLE_MAIN || r[i].oif != ifindex ||
			    r[i].dst_len > 1 || r[i].type != RTN_UNICAST)
				continue;
			addr_str(&r[i].dst, a, sizeof(a));
			problem(d, "tunnel-route", tunnel,
				fmt("ip %sroute del %s/%u dev %s; and in wg-quick's [Interface]: Table = 123 (or Table = off)",
				    afs[f] == AF_INET6 ? "-6 " : "", a, r[i].dst_len, tunnel),
				"route %s/%u dev %s in the main table sends all of this host's traffic to the VPS",
				a, r[i].dst_len, tunnel);
		}
		if (nl_rules(afs[f], &u, &nu)) {
			free(r);
			continue;
		}
		for (i = 0; i < nu; i++) {
			const struct nl_rule *x = &u[i];
			char sel[64];

			if (x->protocol == CRBPF_RTPROT || x->action != FR_ACT_TO_TBL ||
			    x->src_len || x->suppress_prefixlen >= 0 ||
			    (x->has_fwmark && !(x->flags & FIB_RULE_INVERT)) ||
			    x->table == RT_TABLE_MAIN || x->table == RT_TABLE_LOCAL ||
			    x->table == RT_TABLE_DEFAULT ||
			    !table_default_via(r, nr, x->table, ifindex))
				continue;
			if (x->has_fwmark)
				snprintf(sel, sizeof(sel), "not fwmark 0x%x", x->fwmark);
			else
				snprintf(sel, sizeof(sel), "from all");
			problem(d, "tunnel-route", tunnel,
				fmt("in wg-quick's [Interface]: Table = 123 (or Table = off), then wg-quick down %s; wg-quick up %s (by hand: ip %srule del %s table %u)",
				    tunnel, tunnel, afs[f] == AF_INET6 ? "-6 " : "", sel,
				    x->table),
				"rule '%s lookup %u' (wg-quick's Table = auto) sends all of this host's %s traffic to the VPS through %s",
				sel, x->table, afs[f] == AF_INET6 ? "IPv6" : "IPv4", tunnel);
		}
		free(u);
		free(r);
	}
}

static void check_home_wg(struct doctor *d, const char *tunnel, int ifindex)
{
	bool v4 = dev_has_family(ifindex, CRBPF_V4);
	bool v6 = dev_has_family(ifindex, CRBPF_V6);
	struct addr any4 = { .family = CRBPF_V4 }, any6 = { .family = CRBPF_V6 };
	int i, withep = 0, ret;
	struct wg_dev w;

	ret = wg_dev_get(tunnel, &w);
	if (ret) {
		checked(d, "home tunnel %s: not a WireGuard device crbpf can read (%s): peers not checked",
			tunnel, strerror(-ret));
		return;
	}
	for (i = 0; i < w.npeers; i++)
		withep += w.peers[i].has_endpoint;
	for (i = 0; i < w.npeers; i++) {
		const struct wg_peer *p = &w.peers[i];
		bool l4, l6;
		char key[45];

		/* The VPS is the peer home dials (or the only one). */
		if (withep && !p->has_endpoint && w.npeers > 1)
			continue;
		l4 = v4 && !wg_allowed_covers(p, &any4, 0);
		l6 = v6 && !wg_allowed_covers(p, &any6, 0);
		wg_key_str(p->key, key);
		if (l4 || l6)
			problem(d, "allowed-ips", tunnel,
				fmt("wg set %s peer %s allowed-ips 0.0.0.0/0,::/0 (wg-quick [Peer]: AllowedIPs = 0.0.0.0/0, ::/0, with Table = 123 in [Interface])",
				    tunnel, key),
				"%s peer %s: AllowedIPs lack %s%s%s: WireGuard drops the packets of forwarded clients, which keep their own addresses",
				tunnel, key, l4 ? "0.0.0.0/0" : "", l4 && l6 ? " and " : "",
				l6 ? "::/0" : "");
		check_handshake(d, &w, p);
	}
	check_mtu(d, &w, ifindex);
	checked(d, "home tunnel %s (WireGuard via %s, %d peer%s)", tunnel, w.via,
		w.npeers, w.npeers == 1 ? "" : "s");
	wg_dev_free(&w);
}

static void check_home(struct doctor *d, const char *tunnel)
{
	int ifindex = if_nametoindex(tunnel), all, dev, i, fwd;
	struct home_info hi = {};

	if (!ifindex)
		return; /* reported as a stale pin */
	home_info_load(tunnel, &hi);
	check_home_wg(d, tunnel, ifindex);
	check_home_routes(d, tunnel, ifindex);

	/* Containers behind served bridges are reached by forwarding. */
	fwd = sysctl_int("/proc/sys/net/ipv4/ip_forward");
	if (hi.nserve && fwd == 0) {
		problem(d, "forwarding", NULL, strdup("sysctl -w net.ipv4.ip_forward=1"),
			"IPv4 forwarding is off (net.ipv4.ip_forward=0): tunnelled clients of containers behind %s%s are not forwarded",
			hi.serve[0], hi.nserve > 1 ? " and the other served bridges" : "");
	} else if (hi.nserve) {
		const char *devs[17];

		devs[0] = tunnel;
		for (i = 0; i < hi.nserve; i++)
			devs[i + 1] = hi.serve[i];
		for (i = 0; i <= hi.nserve; i++)
			if (sysctl_int("/proc/sys/net/ipv4/conf/%s/forwarding", devs[i]) == 0)
				problem(d, "forwarding", devs[i],
					fmt("sysctl -w net.ipv4.conf.%s.forwarding=1", devs[i]),
					"IPv4 forwarding is off on %s: tunnelled clients of the containers behind %s are not forwarded",
					devs[i], hi.serve[0]);
	}

	/* The kernel uses the larger of all and the device's value. */
	all = sysctl_int("/proc/sys/net/ipv4/conf/all/rp_filter");
	dev = sysctl_int("/proc/sys/net/ipv4/conf/%s/rp_filter", tunnel);
	if ((all > dev ? all : dev) == 1) {
		char name[64];

		snprintf(name, sizeof(name), "net.ipv4.conf.%s.rp_filter",
			 dev == 1 ? tunnel : "all");
		problem(d, "rp-filter", tunnel,
			fmt("sysctl -w net.ipv4.conf.%s.rp_filter=2", tunnel),
			"strict reverse path filtering on %s (%s=1) drops tunnelled clients: their addresses are routed through the home line, not the tunnel",
			tunnel, name);
	}
	checked(d, "home: %s serving %d bridge%s", tunnel, hi.nserve,
		hi.nserve == 1 ? "" : "s");
}

/* Nothing attached: what WireGuard devices there are, and their peers. */
static void check_unattached(struct doctor *d)
{
	struct if_nameindex *ifs = if_nameindex(), *i;
	char names[256] = "";
	int n = 0, o = 0;

	for (i = ifs; i && i->if_index; i++) {
		struct wg_dev w;
		int j;

		if (wg_dev_get(i->if_name, &w))
			continue;
		for (j = 0; j < w.npeers; j++)
			check_handshake(d, &w, &w.peers[j]);
		check_mtu(d, &w, i->if_index);
		if (o < (int)sizeof(names))
			o += snprintf(names + o, sizeof(names) - o, "%s%s", n ? ", " : "",
				      i->if_name);
		n++;
		wg_dev_free(&w);
	}
	if (ifs)
		if_freenameindex(ifs);
	if (n)
		checked(d, "nothing attached: WireGuard %s (handshakes, MTU); attach an edge or a home tunnel for the other checks",
			names);
	else
		checked(d, "nothing attached and no WireGuard device: only the pin root checked");
}

static int home_cb(const char *tunnel, const char *path, void *data)
{
	struct doctor *d = data;

	(void)path;
	if (d->ntunnels < (int)ARRAY_SIZE(d->tunnels))
		snprintf(d->tunnels[d->ntunnels++], IF_NAMESIZE, "%s", tunnel);
	return 0;
}

static void print_text(struct doctor *d)
{
	int i;

	for (i = 0; i < d->n; i++)
		printf("[%s] %s; fix: %s\n", d->p[i].check, d->p[i].what ?: "?",
		       d->p[i].fix ?: "?");
	if (d->n)
		printf("crbpf doctor: %d problem%s found; checked: ", d->n,
		       d->n == 1 ? "" : "s");
	else
		printf("crbpf doctor: no problems found; checked: ");
	for (i = 0; i < d->nchecked; i++)
		printf("%s%s", i ? "; " : "", d->checked[i] ?: "?");
	printf("\n");
}

static void json_opt(const char *s)
{
	if (s)
		json_str(stdout, s);
	else
		printf("null");
}

static void print_json(struct doctor *d)
{
	int i;

	printf("{\"problems\":[");
	for (i = 0; i < d->n; i++) {
		printf("%s{\"check\":", i ? "," : "");
		json_opt(d->p[i].check);
		printf(",\"device\":");
		json_opt(d->p[i].dev);
		printf(",\"problem\":");
		json_opt(d->p[i].what);
		printf(",\"fix\":");
		json_opt(d->p[i].fix);
		printf("}");
	}
	printf("],\"checked\":[");
	for (i = 0; i < d->nchecked; i++) {
		printf("%s", i ? "," : "");
		json_opt(d->checked[i]);
	}
	printf("],\"roles\":{\"vps\":%s,\"home\":%s}}\n",
	       d->nedges || d->nports ? "true" : "false",
	       d->ntunnels ? "true" : "false");
}

int cmd_doctor(int argc, char **argv)
{
	struct doctor d = {};
	int i, ret;

	if (argc == 2 && !strcmp(argv[1], "--json"))
		d.json = true;
	else if (argc != 1)
		return usage_err("usage: crbpf doctor [--json]");
	ret = need_root() ?: pin_root_resolve();
	if (ret)
		return ret;
	check_pins(&d);
	if (d.pins_ok) {
		pin_iter("edge", edge_cb, &d);
		pin_iter(NULL, home_cb, &d);
		load_ports(&d);
		check_stale_links(&d);
		check_stale_ports(&d);
	}
	if (d.nedges || d.nports || pin_count("tun"))
		check_vps(&d);
	for (i = 0; i < d.ntunnels; i++)
		check_home(&d, d.tunnels[i]);
	if (!d.nedges && !d.nports && !d.ntunnels)
		check_unattached(&d);
	if (d.json)
		print_json(&d);
	else
		print_text(&d);
	ret = d.n ? 1 : 0;
	for (i = 0; i < d.n; i++) {
		free(d.p[i].check);
		free(d.p[i].dev);
		free(d.p[i].what);
		free(d.p[i].fix);
	}
	for (i = 0; i < d.nchecked; i++)
		free(d.checked[i]);
	free(d.p);
	free(d.keys);
	free(d.vals);
	return ret;
}
