// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * Backends with failover (include/crbpf.h, crbpf_fo). `port add ... --backup
 * ADDR` lists backends in order; crbpf_fo[mapping id] keeps the list, each
 * backend's health and which one is active. The mapping's crbpf_ports
 * entries hold the active backend (one update per entry); the programs keep
 * a live flow on the backend it began on (bpf/failover.h). Health is
 * checked by crbpf watch every second (fo_tick()): a backend behind a
 * WireGuard peer is up while the peer whose AllowedIPs cover it had a
 * handshake within --handshake-max seconds; a --probe tcp:PORT must
 * connect, a --probe udp:PORT must draw no ICMP error; a backend not
 * behind WireGuard, without a probe, is up while it has a route.
 *
 * The mapping model (model.c) knows only the primary: entries are read
 * back with the primary's address (fo_model_view(), in maps.c with the
 * other readers of crbpf_fo) and written with the
 * active one's (fo_entry_apply()), so reverse rules, ids and `port del`
 * are those of the primary; replies from a backup are answered by their
 * flows (failover mappings are tracked).
 */
#include "tool.h"
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <bpf/bpf.h>
#include <linux/if_arp.h>
#include <linux/rtnetlink.h>
#include <netinet/in.h>
#include <sys/socket.h>

/* A probe waits this long for a connection or an ICMP error. */
#define FO_PROBE_MS 500
/* Failed probes in a row before a backend is down: one lost SYN is no
 * outage. */
#define FO_PROBE_FAILS 2

/* ---- options ---------------------------------------------------------- */

bool fo_is_option(const char *s)
{
	return !strcmp(s, "--backup") || !strcmp(s, "--probe") ||
	       !strcmp(s, "--handshake-max");
}

int fo_args_option(struct fo_args *a, const char *opt, const char *val)
{
	char buf[256], *tok, *save = NULL;
	__u16 port;
	__u32 v;

	if (!val)
		return usage_err("%s needs a value", opt);
	if (!strcmp(opt, "--backup")) {
		snprintf(buf, sizeof(buf), "%s", val);
		for (tok = strtok_r(buf, ",", &save); tok;
		     tok = strtok_r(NULL, ",", &save)) {
			if (a->n == CRBPF_FO_MAX - 1)
				return usage_err("--backup: at most %d backups", CRBPF_FO_MAX - 1);
			if (parse_backend(tok, &a->be[a->n], &port))
				return USAGE;
			if (port)
				return usage_err("invalid backup '%s': a backup takes the backend's port, give the address alone",
						 tok);
			a->n++;
		}
		if (!a->n)
			return usage_err("--backup needs an address");
		return 0;
	}
	if (!strcmp(opt, "--probe")) {
		if (!strncmp(val, "tcp:", 4))
			a->probe_proto = IPPROTO_TCP;
		else if (!strncmp(val, "udp:", 4))
			a->probe_proto = IPPROTO_UDP;
		else
			return usage_err("invalid --probe '%s' (tcp:PORT or udp:PORT)", val);
		if (parse_u32(val + 4, &v) || !v || v > 65535)
			return usage_err("invalid --probe '%s' (tcp:PORT or udp:PORT)", val);
		a->probe_port = v;
		return 0;
	}
	if (parse_u32(val, &v) || !v || v > 65535)
		return usage_err("invalid --handshake-max '%s' (seconds, 1-65535)", val);
	a->handshake_max = v;
	return 0;
}

/* Checks that need the primary: the family and no repeats. */
int fo_args_check(const struct fo_args *a, const struct addr *primary)
{
	char buf[INET6_ADDRSTRLEN];
	int i, j;

	if (!a->n && (a->probe_proto || a->handshake_max))
		return usage_err("--probe and --handshake-max need --backup");
	for (i = 0; i < a->n; i++) {
		addr_str(&a->be[i], buf, sizeof(buf));
		if (a->be[i].family != primary->family)
			return usage_err("backup %s and the backend are of different address families",
					 buf);
		if (!memcmp(a->be[i].a, primary->a, sizeof(primary->a)))
			return usage_err("backup %s is the backend itself", buf);
		for (j = 0; j < i; j++)
			if (!memcmp(a->be[i].a, a->be[j].a, sizeof(a->be[j].a)))
				return usage_err("backup %s is listed twice", buf);
	}
	return 0;
}

/* ---- the entries ------------------------------------------------------ */

/* Rewrites every crbpf_ports entry of mapping id as f says, one update
 * each (journaled in u when given). Returns the entries changed. */
int fo_entries_sync(int ports, __u32 id, const struct crbpf_fo *f,
		    struct undo *u)
{
	struct crbpf_port_key *keys = NULL;
	struct crbpf_backend *vals = NULL, nv;
	int i, n, changed = 0, ret = 0;

	n = map_dump(ports, sizeof(*keys), sizeof(*vals), (void **)&keys,
		     (void **)&vals);
	if (n < 0)
		return n;
	for (i = 0; i < n && !ret; i++) {
		if (vals[i].mapping != id)
			continue;
		nv = vals[i];
		fo_entry_apply(f, &nv);
		if (!memcmp(&nv, &vals[i], sizeof(nv)))
			continue;
		ret = undo_map(u, ports, &keys[i], sizeof(keys[i]), sizeof(nv));
		if (!ret && bpf_map_update_elem(ports, &keys[i], &nv, BPF_EXIST))
			ret = -errno;
		changed++;
	}
	free(keys);
	free(vals);
	return ret ?: changed;
}

/* Where the routing table reaches a: *oif, *l2; -ENETUNREACH when only a
 * public device's gateway does (a tunnel that is down). */
static int fo_route(const struct addr *a, int *oif, bool *l2)
{
	char name[IF_NAMESIZE], kind[32];
	unsigned short type;
	unsigned char rtype;

	if (nl_route_get(a, oif, &rtype) || rtype != RTN_UNICAST)
		return -ENETUNREACH;
	if (addr_is_private(a) && edge_is_attached(ifname(*oif, name)) &&
	    nl_route_gateway(a) > 0)
		return -ENETUNREACH;
	if (nl_link_info(*oif, &type, kind, sizeof(kind)))
		return -ENODEV;
	*l2 = type == ARPHRD_ETHER;
	return 0;
}

/*
 * port add: the list of mapping id (primary be, a's backups), written
 * before the entries are (journaled in u), with the reverse programs on
 * the backups' devices; a port add without --backup clears a list the id
 * had. Then fo_entries_sync() once the entries are in.
 */
int fo_install(__u32 id, const struct addr *primary, const struct fo_args *a,
	       struct crbpf_fo *out, struct undo *u)
{
	char buf[INET6_ADDRSTRLEN], name[IF_NAMESIZE];
	struct crbpf_fo f = {}, old;
	int fd, i, oif, ret;
	bool l2;

	memset(out, 0, sizeof(*out));
	fd = a->n ? pin_map_open("crbpf_fo") : fo_open();
	if (fd < 0)
		return a->n ? fd : 0;
	if (!a->n) {
		ret = 0;
		if (!fo_get(fd, id, &old)) {
			ret = undo_map(u, fd, &id, sizeof(id), sizeof(f));
			if (!ret && bpf_map_update_elem(fd, &id, &f, BPF_ANY))
				ret = -errno;
		}
		close(fd);
		return ret;
	}
	f.n = a->n + 1;
	f.family = primary->family;
	f.probe_proto = a->probe_proto;
	f.probe_port = htons(a->probe_port);
	f.handshake_max = a->handshake_max ? a->handshake_max :
					     CRBPF_FO_HANDSHAKE_DEFAULT;
	for (i = 0; i < f.n; i++) {
		const struct addr *b = i ? &a->be[i - 1] : primary;

		memcpy(f.be[i].addr, b->a, sizeof(f.be[i].addr));
		addr_str(b, buf, sizeof(buf));
		ret = fo_route(b, &oif, &l2);
		if (ret) {
			if (!i)
				continue;
			/* a backup whose tunnel is down now is down, not wrong */
			warn("backup %s has no route now; it counts as down until it has",
			     buf);
			continue;
		}
		f.be[i].ifindex = oif;
		f.be[i].l2 = l2;
		ret = i ? tun_ensure(oif, ifname(oif, name), l2, u) : 0;
		if (ret)
			goto out;
	}
	/* the primary is active until crbpf watch finds otherwise */
	ret = undo_map(u, fd, &id, sizeof(id), sizeof(f));
	if (!ret && bpf_map_update_elem(fd, &id, &f, BPF_ANY))
		ret = -errno;
	if (ret)
		err("failed to update crbpf_fo: %s", strerror(-ret));
	*out = f;
out:
	close(fd);
	return ret;
}

/* Sticky entries of mapping id on backend addr (all of the id: addr NULL). */
static void fo_sticky_drop(__u32 id, const __be32 *addr)
{
	int fd = pin_map_open_quiet("crbpf_fosticky");
	struct crbpf_fo_key *keys = NULL;
	struct crbpf_backend *vals = NULL;
	int i, n;

	if (fd < 0)
		return;
	n = map_dump(fd, sizeof(*keys), sizeof(*vals), (void **)&keys,
		     (void **)&vals);
	for (i = 0; i < n; i++)
		if (vals[i].mapping == id &&
		    (!addr || !memcmp(vals[i].addr, addr, sizeof(vals[i].addr))))
			bpf_map_delete_elem(fd, &keys[i]);
	if (n >= 0) {
		free(keys);
		free(vals);
	}
	close(fd);
}

/* Lists of ids no crbpf_ports entry carries any more (port del, apply). */
int fo_gc(void)
{
	struct edge_maps m = EDGE_MAPS_NONE;
	struct crbpf_port_key *keys = NULL;
	struct crbpf_backend *vals = NULL;
	struct crbpf_fo f, none = {};
	int fd = fo_open(), i, n, ret;
	__u8 *used = NULL;
	__u32 id;

	if (fd < 0)
		return 0;
	ret = edge_maps_open(&m);
	if (ret)
		goto out;
	n = map_dump(m.ports, sizeof(*keys), sizeof(*vals), (void **)&keys,
		     (void **)&vals);
	used = calloc(CRBPF_MAX_MAPPINGS, 1);
	if (n < 0 || !used) {
		ret = n < 0 ? n : -ENOMEM;
		goto out;
	}
	for (i = 0; i < n; i++)
		if (vals[i].mapping < CRBPF_MAX_MAPPINGS)
			used[vals[i].mapping] = 1;
	for (id = 1; id < CRBPF_MAX_MAPPINGS; id++)
		if (!used[id] && !fo_get(fd, id, &f)) {
			bpf_map_update_elem(fd, &id, &none, BPF_ANY);
			fo_sticky_drop(id, NULL);
		}
	if (n >= 0) {
		free(keys);
		free(vals);
	}
out:
	free(used);
	edge_maps_close(&m);
	close(fd);
	return ret;
}

/* ---- health ----------------------------------------------------------- */

/* A TCP connect or a UDP datagram to a:port from the route's source; 0
 * when it answers (UDP: no ICMP error within FO_PROBE_MS), else -errno. */
static int fo_probe(const struct addr *a, __u8 proto, __be16 port)
{
	struct sockaddr_storage ss = {};
	struct pollfd pfd;
	socklen_t len, elen = sizeof(int);
	int fd, ret, e = 0;
	char c = 0;

	if (a->family == CRBPF_V6) {
		struct sockaddr_in6 *s6 = (void *)&ss;

		s6->sin6_family = AF_INET6;
		memcpy(&s6->sin6_addr, a->a, 16);
		s6->sin6_port = port;
		len = sizeof(*s6);
	} else {
		struct sockaddr_in *s4 = (void *)&ss;

		s4->sin_family = AF_INET;
		s4->sin_addr.s_addr = a->a[0];
		s4->sin_port = port;
		len = sizeof(*s4);
	}
	fd = socket(ss.ss_family, (proto == IPPROTO_TCP ? SOCK_STREAM : SOCK_DGRAM) |
					  SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	ret = connect(fd, (struct sockaddr *)&ss, len);
	if (ret && errno != EINPROGRESS) {
		ret = -errno;
		goto out;
	}
	if (proto == IPPROTO_UDP && send(fd, &c, 1, 0) < 0) {
		ret = -errno;
		goto out;
	}
	pfd = (struct pollfd){ .fd = fd, .events = proto == IPPROTO_TCP ? POLLOUT : POLLIN };
	ret = poll(&pfd, 1, FO_PROBE_MS);
	if (ret < 0) {
		ret = -errno;
		goto out;
	}
	if (!ret) {
		/* TCP: no answer; UDP: silence is all a UDP service owes */
		ret = proto == IPPROTO_TCP ? -ETIMEDOUT : 0;
		goto out;
	}
	getsockopt(fd, SOL_SOCKET, SO_ERROR, &e, &elen);
	ret = -e;
out:
	close(fd);
	return ret;
}

static long long wall_s(void)
{
	return time(NULL);
}

/* The state and reason of backend b of f now (its fails counter kept). */
static void fo_check(const struct crbpf_fo *f, struct crbpf_fo_backend *b,
		     struct fo_wg_cache *wc)
{
	struct addr a = { .family = f->family };
	char name[IF_NAMESIZE];
	struct wg_dev *d;
	bool l2 = false, wg = false;
	int oif = 0, i, ret;

	memcpy(a.a, b->addr, sizeof(a.a));
	b->age_s = 0;
	b->err = 0;
	if (fo_route(&a, &oif, &l2)) {
		b->state = CRBPF_FO_DOWN;
		b->why = CRBPF_FO_WHY_NO_ROUTE;
		return;
	}
	b->ifindex = oif;
	b->l2 = l2;
	b->state = CRBPF_FO_UP;
	b->why = CRBPF_FO_WHY_ROUTE;
	d = fo_wg_dev(wc, ifname(oif, name));
	if (d) {
		const struct wg_peer *p = NULL;

		wg = true;
		for (i = 0; i < d->npeers && !p; i++)
			if (wg_allowed_covers(&d->peers[i], &a,
					      a.family == CRBPF_V6 ? 128 : 32))
				p = &d->peers[i];
		if (!p) {
			b->state = CRBPF_FO_DOWN;
			b->why = CRBPF_FO_WHY_NO_PEER;
			return;
		}
		if (!p->last_handshake) {
			b->state = CRBPF_FO_DOWN;
			b->why = CRBPF_FO_WHY_NO_HANDSHAKE;
			return;
		}
		b->why = CRBPF_FO_WHY_HANDSHAKE;
		b->age_s = wall_s() > p->last_handshake ?
				   wall_s() - p->last_handshake : 0;
		if (b->age_s > f->handshake_max) {
			b->state = CRBPF_FO_DOWN;
			return;
		}
	}
	if (!f->probe_proto)
		return;
	ret = fo_probe(&a, f->probe_proto, f->probe_port);
	if (!ret) {
		b->fails = 0;
		if (!wg)
			b->why = CRBPF_FO_WHY_PROBE_OK;
		return;
	}
	b->fails++;
	b->err = -ret > 255 ? 255 : -ret;
	if (!wg)
		b->why = CRBPF_FO_WHY_PROBE_OK; /* up until FO_PROBE_FAILS */
	if (b->fails >= FO_PROBE_FAILS) {
		b->state = CRBPF_FO_DOWN;
		b->why = CRBPF_FO_WHY_PROBE_FAIL;
	}
}

/* WireGuard devices read once per tick, whatever the number of backends
 * behind each. */
struct wg_dev *fo_wg_dev(struct fo_wg_cache *wc, const char *name)
{
	int i;

	for (i = 0; i < wc->n; i++)
		if (!strcmp(wc->name[i], name))
			return wc->ok[i] ? &wc->dev[i] : NULL;
	if (wc->n == FO_WG_CACHE)
		return NULL;
	i = wc->n++;
	snprintf(wc->name[i], sizeof(wc->name[i]), "%s", name);
	wc->ok[i] = !wg_dev_get(name, &wc->dev[i]);
	return wc->ok[i] ? &wc->dev[i] : NULL;
}

static void fo_wg_free(struct fo_wg_cache *wc)
{
	int i;

	for (i = 0; i < wc->n; i++)
		if (wc->ok[i])
			wg_dev_free(&wc->dev[i]);
	wc->n = 0;
}

/* The same list (the backends and their order), whatever their states. */
static bool fo_same_list(const struct crbpf_fo *a, const struct crbpf_fo *b)
{
	int i;

	if (a->n != b->n || a->family != b->family)
		return false;
	for (i = 0; i < a->n && i < CRBPF_FO_MAX; i++)
		if (memcmp(a->be[i].addr, b->be[i].addr, sizeof(a->be[i].addr)))
			return false;
	return true;
}

/* Writes what a round found for mapping id (under the pin lock): the
 * states, and on a change of the active backend's entry the entries; the
 * sticky entries of backends that went down are dropped. */
static int fo_commit(int fd, int ports, __u32 id, const struct crbpf_fo *was,
		     struct crbpf_fo *f)
{
	char buf[INET6_ADDRSTRLEN], why[160];
	const struct crbpf_fo_backend *a, *b;
	struct crbpf_fo now;
	int i, ret;

	/* a command changed the list meanwhile: its round is the next one */
	if (fo_get(fd, id, &now) || !fo_same_list(&now, f))
		return 0;
	for (i = 0; i < f->n && i < CRBPF_FO_MAX; i++) {
		struct addr ad = { .family = f->family };

		b = &f->be[i];
		/* the first round reports only what is down */
		if (b->state == was->be[i].state ||
		    (was->be[i].state == CRBPF_FO_UNKNOWN && b->state == CRBPF_FO_UP))
			continue;
		memcpy(ad.a, b->addr, sizeof(ad.a));
		notice("mapping %u: backend %s is %s", id,
		       addr_str(&ad, buf, sizeof(buf)), fo_why_str(f, b, why, sizeof(why)));
		/* its flows move on with their next packet */
		if (b->state == CRBPF_FO_DOWN)
			fo_sticky_drop(id, b->addr);
	}
	if (f->active != was->active) {
		struct addr ad = { .family = f->family };

		memcpy(ad.a, f->be[f->active].addr, sizeof(ad.a));
		notice("mapping %u: new flows go to %s", id,
		       addr_str(&ad, buf, sizeof(buf)));
	}
	if (memcmp(f, &now, sizeof(*f)) && bpf_map_update_elem(fd, &id, f, BPF_EXIST))
		return -errno;
	a = &f->be[f->active];
	b = &was->be[was->active];
	/* commands write the active backend with the entries themselves
	 * (maps_write()): only a switch, or its device changing, is ours */
	if (f->active == was->active && a->ifindex == b->ifindex && a->l2 == b->l2)
		return 0;
	ret = fo_entries_sync(ports, id, f, NULL);
	return ret < 0 ? ret : 0;
}

/* One round of health checks (crbpf watch, every second): each failover
 * mapping's backends checked, the first one up made active. With none up
 * the active one stays: there is nowhere better to send new flows. The
 * checks (probes wait up to FO_PROBE_MS) run without the pin lock, which
 * commands need; the results are written under it. Returns the mappings
 * whose active backend changed. */
int fo_tick(void)
{
	struct edge_maps m = EDGE_MAPS_NONE;
	char name[IF_NAMESIZE];
	struct fo_wg_cache *wc;
	struct crbpf_fo *was = NULL, *f = NULL;
	__u32 *ids = NULL, id;
	int fd, i, k, n = 0, pick, ret = 0, switched = 0;

	fd = fo_open();
	if (fd < 0)
		return 0;
	wc = calloc(1, sizeof(*wc));
	ids = calloc(CRBPF_MAX_MAPPINGS, sizeof(*ids));
	was = calloc(CRBPF_MAX_MAPPINGS, sizeof(*was));
	f = fo_get_all(fd);
	if (!wc || !ids || !was || !f) {
		ret = -ENOMEM;
		goto out;
	}
	for (id = 1; id < CRBPF_MAX_MAPPINGS; id++) {
		if (!f[id].n)
			continue;
		f[n] = f[id]; /* packed in place: n <= id */
		ids[n] = id;
		was[n] = f[n];
		pick = -1;
		for (i = 0; i < f[n].n && i < CRBPF_FO_MAX; i++) {
			struct crbpf_fo_backend *b = &f[n].be[i];

			fo_check(&f[n], b, wc);
			if (b->state == CRBPF_FO_UP && pick < 0)
				pick = i;
			if (b->state != was[n].be[i].state)
				b->since = wall_s();
		}
		if (pick >= 0 && pick != f[n].active) {
			f[n].active = pick;
			f[n].switches++;
			switched++;
		}
		n++;
	}
	if (!n)
		goto out;
	ret = pin_init();
	if (ret)
		goto out;
	ret = edge_maps_open(&m);
	for (k = 0; !ret && k < n; k++) {
		/* the reverse program follows a re-created tunnel */
		for (i = 0; i < f[k].n && i < CRBPF_FO_MAX; i++)
			if (f[k].be[i].state == CRBPF_FO_UP && f[k].be[i].ifindex)
				tun_ensure(f[k].be[i].ifindex,
					   ifname(f[k].be[i].ifindex, name),
					   f[k].be[i].l2, NULL);
		ret = fo_commit(fd, m.ports, ids[k], &was[k], &f[k]);
	}
	edge_maps_close(&m);
	pin_unlock();
out:
	if (wc)
		fo_wg_free(wc);
	free(wc);
	free(ids);
	free(was);
	free(f);
	close(fd);
	return ret < 0 ? ret : switched;
}

/* "up: handshake 12 s ago", "down: probe tcp:22 refused", ... */
const char *fo_why_str(const struct crbpf_fo *f, const struct crbpf_fo_backend *b,
		       char *buf, size_t len)
{
	const char *st = b->state == CRBPF_FO_UP ? "up" :
			 b->state == CRBPF_FO_DOWN ? "down" : "unknown";
	char probe[32];

	snprintf(probe, sizeof(probe), "%s:%u",
		 f->probe_proto == IPPROTO_UDP ? "udp" : "tcp", ntohs(f->probe_port));
	switch (b->why) {
	case CRBPF_FO_WHY_HANDSHAKE:
		if (b->state == CRBPF_FO_DOWN)
			snprintf(buf, len, "%s: no handshake for %u s", st, b->age_s);
		else if (f->probe_proto)
			snprintf(buf, len, "%s: handshake %u s ago, probe %s %s", st,
				 b->age_s, probe, b->fails ? "failing" : "answers");
		else
			snprintf(buf, len, "%s: handshake %u s ago", st, b->age_s);
		break;
	case CRBPF_FO_WHY_NO_HANDSHAKE:
		snprintf(buf, len, "%s: no handshake yet", st);
		break;
	case CRBPF_FO_WHY_NO_PEER:
		snprintf(buf, len, "%s: no WireGuard peer allows it", st);
		break;
	case CRBPF_FO_WHY_NO_ROUTE:
		snprintf(buf, len, "%s: no route (tunnel down?)", st);
		break;
	case CRBPF_FO_WHY_PROBE_OK:
		snprintf(buf, len, "%s: probe %s %s", st, probe,
			 b->fails ? "failing" : "answers");
		break;
	case CRBPF_FO_WHY_PROBE_FAIL:
		snprintf(buf, len, "%s: probe %s %s", st, probe,
			 b->err == ECONNREFUSED ? "refused" :
			 b->err == ETIMEDOUT ? "timed out" : strerror(b->err));
		break;
	case CRBPF_FO_WHY_ROUTE:
		snprintf(buf, len, "%s: has a route (no WireGuard peer, no probe)", st);
		break;
	default:
		snprintf(buf, len, "%s: not checked yet (crbpf watch checks)", st);
	}
	return buf;
}

/* "tcp 443 on eth0": the first crbpf_ports entry of mapping id. */
static void fo_mapping_str(const struct crbpf_port_key *keys,
			   const struct crbpf_backend *vals, int n, __u32 id,
			   char *buf, size_t len)
{
	char dev[IF_NAMESIZE];
	int i;

	snprintf(buf, len, "mapping %u", id);
	for (i = 0; i < n; i++)
		if (vals[i].mapping == id) {
			snprintf(buf, len, "%s %u on %s", proto_str(keys[i].proto),
				 ntohs(keys[i].port), ifname(keys[i].ifindex, dev));
			return;
		}
}

/* crbpf status: every failover mapping, each backend's state and why. */
void fo_status_print(FILE *o, bool json)
{
	char abuf[INET6_ADDRSTRLEN], why[160], what[64];
	struct edge_maps m = EDGE_MAPS_NONE;
	struct crbpf_port_key *keys = NULL;
	struct crbpf_backend *vals = NULL;
	struct crbpf_fo f;
	int fd = fo_open(), i, n = 0, shown = 0;
	__u32 id;

	if (json)
		fprintf(o, "\"failover\":[");
	else
		fprintf(o, "failover:\n");
	if (fd >= 0 && !edge_maps_open(&m))
		n = map_dump(m.ports, sizeof(*keys), sizeof(*vals), (void **)&keys,
			     (void **)&vals);
	if (n < 0)
		n = 0;
	for (id = 1; fd >= 0 && id < CRBPF_MAX_MAPPINGS; id++) {
		if (fo_get(fd, id, &f))
			continue;
		fo_mapping_str(keys, vals, n, id, what, sizeof(what));
		if (json) {
			fprintf(o, "%s{\"mapping\":%u,\"what\":", shown ? "," : "", id);
			json_str(o, what);
			fprintf(o, ",\"active\":%u,\"switches\":%u,\"backends\":[",
				f.active, f.switches);
		} else {
			fprintf(o, "  %s (%u switches):\n", what, f.switches);
		}
		shown++;
		for (i = 0; i < f.n && i < CRBPF_FO_MAX; i++) {
			struct addr a = { .family = f.family };
			const char *st = f.be[i].state == CRBPF_FO_UP ? "up" :
					 f.be[i].state == CRBPF_FO_DOWN ? "down" : "unknown";

			memcpy(a.a, f.be[i].addr, sizeof(a.a));
			addr_str(&a, abuf, sizeof(abuf));
			fo_why_str(&f, &f.be[i], why, sizeof(why));
			if (json) {
				fprintf(o, "%s{\"backend\":", i ? "," : "");
				json_str(o, abuf);
				fprintf(o, ",\"active\":%s,\"state\":\"%s\",\"why\":",
					i == f.active ? "true" : "false", st);
				json_str(o, why);
				fprintf(o, ",\"since\":%llu}", (unsigned long long)f.be[i].since);
			} else {
				fprintf(o, "    %c %-39s %s\n", i == f.active ? '*' : ' ',
					abuf, why);
			}
		}
		if (json)
			fprintf(o, "]}");
	}
	if (json)
		fprintf(o, "]");
	else if (!shown)
		fprintf(o, "  (none)\n");
	free(keys);
	free(vals);
	edge_maps_close(&m);
	if (fd >= 0)
		close(fd);
}

/* port list: " backup A,B" of mapping id, "" without failover. */
void fo_backups_str(int fd, __u32 id, char *buf, size_t len)
{
	char abuf[INET6_ADDRSTRLEN];
	struct crbpf_fo f;
	size_t off = 0;
	int i;

	buf[0] = 0;
	if (fo_get(fd, id, &f))
		return;
	for (i = 1; i < f.n && i < CRBPF_FO_MAX && off < len; i++) {
		struct addr a = { .family = f.family };

		memcpy(a.a, f.be[i].addr, sizeof(a.a));
		off += snprintf(buf + off, len - off, "%s%s", i == 1 ? "" : ",",
				addr_str(&a, abuf, sizeof(abuf)));
	}
}

/* " --backup A,B [--probe tcp:PORT] [--handshake-max SEC]" of mapping id
 * (crbpf config's words), "" without failover. Returns the length. */
int fo_words(__u32 id, char *buf, size_t len)
{
	char list[CRBPF_FO_MAX * INET6_ADDRSTRLEN];
	struct crbpf_fo f;
	int fd = fo_open(), n = 0;

	buf[0] = 0;
	if (!fo_get(fd, id, &f)) {
		fo_backups_str(fd, id, list, sizeof(list));
		n = snprintf(buf, len, " --backup %s", list);
		if (f.probe_proto && (size_t)n < len)
			n += snprintf(buf + n, len - n, " --probe %s:%u",
				      f.probe_proto == IPPROTO_UDP ? "udp" : "tcp",
				      ntohs(f.probe_port));
		if (f.handshake_max != CRBPF_FO_HANDSHAKE_DEFAULT && (size_t)n < len)
			n += snprintf(buf + n, len - n, " --handshake-max %u",
				      f.handshake_max);
	}
	if (fd >= 0)
		close(fd);
	return (size_t)n < len ? n : (int)len - 1;
}
