// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/* The map layer under the commands: reads the pinned maps into the mapping
 * model (model.c) and writes what the model computes, through the undo
 * journal. Also what follows a mapping on devices: devmap slots, the reverse
 * programs of devices no mapping uses any more, flows of removed mappings. */
#include "tool.h"
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>

/* All entries of a (non per-CPU) map; returns the count or -errno. */
int map_dump(int fd, size_t ksz, size_t vsz, void **keys, void **vals)
{
	char *k = NULL, *v = NULL, *prev = NULL;
	int n = 0, cap = 0;

	for (;;) {
		if (n == cap) {
			char *nk, *nv;

			cap = cap ? cap * 2 : 256;
			nk = realloc(k, cap * ksz);
			nv = realloc(v, cap * vsz);
			if (nk)
				k = nk;
			if (nv)
				v = nv;
			if (!nk || !nv) {
				free(k);
				free(v);
				return -ENOMEM;
			}
		}
		if (bpf_map_get_next_key(fd, prev, k + n * ksz))
			break;
		prev = k + n * ksz;
		if (bpf_map_lookup_elem(fd, prev, v + n * vsz))
			continue; /* deleted meanwhile */
		n++;
	}
	*keys = k;
	*vals = v;
	return n;
}





/*
 * Rewrite the crbpf_rev entries of the given backend keys from what
 * crbpf_ports holds now: refs = public (address, port) pairs mapped onto
 * that backend port, plus one when an `all` entry leads to the backend
 * address (it may reach any of its ports). A touched key with port 0 (an
 * `all` entry) stands for every entry of its backend address.
 */
int rev_recompute(int ports_fd, int rev_fd, struct crbpf_rev_key *touched_in,
		  int ntouched_in, struct undo *u)
{
	struct crbpf_rev_key *touched = NULL, *rkeys = NULL;
	struct crbpf_port_key *keys;
	struct crbpf_backend *vals;
	struct crbpf_rev *rvals = NULL;
	struct rev_index ix = {};
	int i, n, nr = 0, nt = 0, ret = 0;

	n = map_dump(ports_fd, sizeof(*keys), sizeof(*vals), (void **)&keys,
		     (void **)&vals);
	if (n < 0)
		return n;
	for (i = 0; i < ntouched_in && !nr; i++)
		if (!touched_in[i].port)
			nr = map_dump(rev_fd, sizeof(*rkeys), sizeof(*rvals),
				      (void **)&rkeys, (void **)&rvals);
	ret = nr < 0 ? nr : rev_index_build(&ix, keys, vals, n);
	if (!ret) {
		nt = rev_touched_expand(touched_in, ntouched_in, rkeys, nr, &touched);
		ret = nt < 0 ? nt : 0;
	}
	for (i = 0; i < nt && !ret; i++) {
		struct crbpf_rev rev;

		ret = undo_map(u, rev_fd, &touched[i], sizeof(touched[i]),
			       sizeof(rev));
		if (ret)
			break;
		if (!rev_rule_of(&ix, &touched[i], nl_primary_addr, &rev)) {
			if (bpf_map_delete_elem(rev_fd, &touched[i]) && errno != ENOENT)
				ret = -errno;
			continue;
		}
		if (bpf_map_update_elem(rev_fd, &touched[i], &rev, BPF_ANY))
			ret = -errno;
	}
	rev_index_free(&ix);
	free(touched);
	if (nr > 0) {
		free(rkeys);
		free(rvals);
	}
	free(keys);
	free(vals);
	if (ret)
		err("failed to update crbpf_rev: %s", strerror(-ret));
	return ret;
}

static bool device_in_use(const struct crbpf_backend *vals, int n, int ifindex)
{
	int i;

	for (i = 0; i < n; i++)
		if ((int)vals[i].ifindex == ifindex)
			return true;
	return false;
}

struct release_ctx {
	struct crbpf_port_key *keys;
	struct crbpf_backend *vals;
	int n;
	int txports_fd;
};

static int release_cb(const char *dev, const char *path, void *data)
{
	struct release_ctx *r = data;
	int ifindex = 0;
	__u32 key;

	if (resolve_iface(dev, &ifindex) == 0 &&
	    device_in_use(r->vals, r->n, ifindex))
		return 0;
	info("no mapping uses %s any more; removing its reverse program", dev);
	tc_detach_pin(path, ifindex);
	if (ifindex && r->txports_fd >= 0 && !edge_is_attached(dev)) {
		key = ifindex;
		bpf_map_delete_elem(r->txports_fd, &key);
	}
	return 0;
}

/* Replacing a devmap entry unlinks the old one before the new one is in,
 * so XDP redirects racing the update would miss: write only what is absent. */
int txport_ensure(int fd, __u32 ifindex, struct undo *u)
{
	__u32 cur;
	int ret;

	if (!bpf_map_lookup_elem(fd, &ifindex, &cur) && cur == ifindex)
		return 0;
	ret = undo_map(u, fd, &ifindex, sizeof(ifindex), sizeof(ifindex));
	if (!ret && bpf_map_update_elem(fd, &ifindex, &ifindex, BPF_ANY))
		ret = -errno;
	return ret;
}

/* Reverse programs (and devmap slots) of devices no mapping uses any more. */
int tun_release_unused(int ports_fd, int txports_fd)
{
	struct release_ctx r = { .txports_fd = txports_fd };

	r.n = map_dump(ports_fd, sizeof(*r.keys), sizeof(*r.vals),
		       (void **)&r.keys, (void **)&r.vals);
	if (r.n < 0)
		return r.n;
	pin_iter("tun", release_cb, &r);
	free(r.keys);
	free(r.vals);
	return 0;
}

/* Flow entries answering for removed mappings would keep translating replies. */
/* With proto: only flows of that mapping kind (match, and addr for
 * CRBPF_MATCH_ADDR) in the public port range (any port for `all`), and of
 * that family unless family is 0. */
void flows_purge(int pub_ifindex, __u8 proto, __u16 first, __u16 last,
			__u8 match, const __be32 *addr, __u8 family)
{
	struct crbpf_flow_key *keys;
	struct crbpf_flow *vals;
	char name[IF_NAMESIZE];
	int fd, i, n;

	fd = pin_map_open("crbpf_flows");
	if (fd < 0)
		return;
	n = map_dump(fd, sizeof(*keys), sizeof(*vals), (void **)&keys,
		     (void **)&vals);
	for (i = 0; i < n; i++) {
		__u16 port = ntohs(vals[i].public_port);

		if (pub_ifindex ? (int)vals[i].public_ifindex != pub_ifindex :
				  !!if_indextoname(vals[i].public_ifindex, name))
			continue;
		if (proto && (keys[i].proto != proto || vals[i].match != match ||
			      (family && keys[i].family != family) ||
			      (!(match & CRBPF_MATCH_ALL) &&
			       (port < first || port > last)) ||
			      ((match & CRBPF_MATCH_ADDR) &&
			       memcmp(vals[i].public_addr, addr, 16))))
			continue;
		bpf_map_delete_elem(fd, &keys[i]);
	}
	if (n >= 0) {
		free(keys);
		free(vals);
	}
	close(fd);
}


void edge_maps_close(struct edge_maps *m)
{
	if (m->ports >= 0)
		close(m->ports);
	if (m->mstats >= 0)
		close(m->mstats);
	if (m->rev >= 0)
		close(m->rev);
	if (m->txports >= 0)
		close(m->txports);
	if (m->except >= 0)
		close(m->except);
}

int edge_maps_open(struct edge_maps *m)
{
	m->ports = pin_map_open("crbpf_ports");
	m->mstats = pin_map_open("crbpf_mstats");
	m->rev = pin_map_open("crbpf_rev");
	m->txports = pin_map_open("crbpf_txports");
	m->except = pin_map_open("crbpf_except");
	if (m->ports < 0 || m->mstats < 0 || m->rev < 0 || m->txports < 0 ||
	    m->except < 0) {
		edge_maps_close(m);
		return -ENOENT;
	}
	return 0;
}

int mstats_zero(int fd, const struct crbpf_port_key *key, struct undo *u)
{
	size_t len = sizeof(struct crbpf_mstats) * libbpf_num_possible_cpus();
	void *zero = calloc(1, len);
	int ret;

	if (!zero)
		return -ENOMEM;
	ret = undo_map(u, fd, key, sizeof(*key), sizeof(struct crbpf_mstats));
	if (!ret && bpf_map_update_elem(fd, key, zero, BPF_ANY))
		ret = -errno;
	free(zero);
	return ret;
}

/*
 * Device re-creation (crbpf watch). A public device deleted and re-created
 * under its name has a new ifindex: every entry keyed by, or pointing at,
 * the old one moves to the new one, counters and flows included, so
 * established flows keep their public side.
 */
static int map_move_key(int fd, const void *key, const void *nkey, size_t vsz)
{
	void *val = malloc(vsz);
	int ret = 0;

	if (!val)
		return -ENOMEM;
	if (!bpf_map_lookup_elem(fd, key, val) &&
	    (bpf_map_update_elem(fd, nkey, val, BPF_ANY) ||
	     bpf_map_delete_elem(fd, key)))
		ret = -errno;
	free(val);
	return ret;
}

/* Every crbpf_port_key-keyed entry of fd on device from, to device to. */
static int port_keys_move(int fd, size_t vsz, __u32 from, __u32 to)
{
	struct crbpf_port_key *keys;
	void *vals;
	int i, n, ret = 0;

	n = map_dump(fd, sizeof(*keys), vsz, (void **)&keys, &vals);
	if (n < 0)
		return n;
	for (i = 0; i < n && !ret; i++) {
		struct crbpf_port_key nk;

		if (port_key_moved(&keys[i], from, to, &nk))
			ret = map_move_key(fd, &keys[i], &nk, vsz);
	}
	free(keys);
	free(vals);
	return ret;
}

static int ifindex_move(const char *map, __u32 from, __u32 to, size_t vsz)
{
	int fd = pin_map_open(map), ret;

	if (fd < 0)
		return fd;
	ret = map_move_key(fd, &from, &to, vsz);
	close(fd);
	return ret;
}

int ports_move_public(__u32 from, __u32 to)
{
	size_t pcpu = sizeof(struct crbpf_mstats) * libbpf_num_possible_cpus();
	struct edge_maps m = EDGE_MAPS_NONE;
	struct crbpf_flow_key *fk = NULL;
	struct crbpf_flow *fv = NULL;
	struct crbpf_rev_key *rk = NULL;
	struct crbpf_rev *rv = NULL;
	int i, n, fd, ret;

	ret = edge_maps_open(&m);
	if (ret)
		return ret;
	/* Counters and exceptions first: a mapping is whole once it is in. */
	ret = port_keys_move(m.mstats, pcpu, from, to);
	if (!ret)
		ret = port_keys_move(m.except, sizeof(__u32), from, to);
	if (!ret)
		ret = port_keys_move(m.ports, sizeof(struct crbpf_backend), from, to);
	if (ret)
		goto out;
	n = map_dump(m.rev, sizeof(*rk), sizeof(*rv), (void **)&rk, (void **)&rv);
	for (i = 0; i < n; i++)
		if (public_ifindex_moved(&rv[i].public_ifindex, from, to))
			bpf_map_update_elem(m.rev, &rk[i], &rv[i], BPF_EXIST);
	fd = pin_map_open("crbpf_flows");
	n = fd < 0 ? fd : map_dump(fd, sizeof(*fk), sizeof(*fv), (void **)&fk,
				   (void **)&fv);
	/* BPF_EXIST: a flow that expired meanwhile stays gone. */
	for (i = 0; i < n; i++)
		if (public_ifindex_moved(&fv[i].public_ifindex, from, to))
			bpf_map_update_elem(fd, &fk[i], &fv[i], BPF_EXIST);
	if (fd >= 0)
		close(fd);
	txport_ensure(m.txports, to, NULL);
	bpf_map_delete_elem(m.txports, &from);
	ifindex_move("crbpf_mss", from, to, sizeof(struct crbpf_mss_cfg));
out:
	free(rk);
	free(rv);
	free(fk);
	free(fv);
	edge_maps_close(&m);
	return ret;
}

/* Static reverse rules answer from the public device's primary address:
 * after an address change every one of them is recomputed. */
int rev_refresh_all(void)
{
	struct edge_maps m = EDGE_MAPS_NONE;
	struct crbpf_rev_key *touched = NULL;
	struct crbpf_port_key *keys = NULL;
	struct crbpf_backend *vals = NULL;
	int i, n, ret;

	ret = edge_maps_open(&m);
	if (ret)
		return ret;
	n = map_dump(m.ports, sizeof(*keys), sizeof(*vals), (void **)&keys,
		     (void **)&vals);
	if (n < 0) {
		ret = n;
		goto out;
	}
	touched = calloc(n + 1, sizeof(*touched));
	if (!touched) {
		ret = -ENOMEM;
		goto out;
	}
	for (i = 0; i < n; i++)
		rev_key_of(&touched[i], &keys[i], &vals[i]);
	ret = rev_recompute(m.ports, m.rev, touched, n, NULL);
out:
	free(touched);
	free(keys);
	free(vals);
	edge_maps_close(&m);
	return ret;
}

/* Mappings read from an older layout (maps_upgrade_prepare()) into the new
 * crbpf_ports, with fresh counters and their reverse rules. */
int ports_restore(const struct crbpf_port_key *keys,
		  const struct crbpf_backend *vals, int n, struct undo *u)
{
	struct edge_maps m = EDGE_MAPS_NONE;
	struct crbpf_rev_key *touched;
	int i, nt = 0, ret;

	ret = edge_maps_open(&m);
	if (ret)
		return ret;
	touched = calloc(n + 1, sizeof(*touched));
	if (!touched) {
		ret = -ENOMEM;
		goto out;
	}
	for (i = 0; i < n && !ret; i++) {
		ret = undo_map(u, m.ports, &keys[i], sizeof(keys[i]), sizeof(vals[i]));
		if (!ret && bpf_map_update_elem(m.ports, &keys[i], &vals[i], BPF_NOEXIST)) {
			if (errno == EEXIST)
				continue;
			ret = -errno;
		}
		if (!ret)
			ret = mstats_zero(m.mstats, &keys[i], u);
		rev_key_of(&touched[nt++], &keys[i], &vals[i]);
	}
	if (!ret)
		ret = rev_recompute(m.ports, m.rev, touched, nt, u);
out:
	free(touched);
	edge_maps_close(&m);
	return ret;
}

static bool dev_exists(int ifindex)
{
	char name[IF_NAMESIZE];

	return if_indextoname(ifindex, name);
}

/* Everything mapped on one public device (0: on devices that vanished). */
int mappings_purge(int pub_ifindex)
{
	struct edge_maps m = EDGE_MAPS_NONE;
	struct crbpf_rev_key *touched = NULL;
	struct crbpf_port_key *keys = NULL;
	struct crbpf_backend *vals = NULL;
	int i, n, nt = 0, ret;

	ret = edge_maps_open(&m);
	if (ret)
		return ret;
	n = map_dump(m.ports, sizeof(*keys), sizeof(*vals), (void **)&keys,
		     (void **)&vals);
	if (n < 0) {
		ret = n;
		goto out;
	}
	touched = calloc(n + 1, sizeof(*touched));
	if (!touched) {
		ret = -ENOMEM;
		goto out;
	}
	for (i = 0; i < n; i++) {
		if (!purge_hits(&keys[i], pub_ifindex, dev_exists))
			continue;
		rev_key_of(&touched[nt++], &keys[i], &vals[i]);
		bpf_map_delete_elem(m.ports, &keys[i]);
		bpf_map_delete_elem(m.mstats, &keys[i]);
		if (vals[i].flags & CRBPF_BE_ALL)
			except_set(m.except, &keys[i], NULL, NULL);
	}
	ret = rev_recompute(m.ports, m.rev, touched, nt, NULL);
	local_flags_sync(NULL);
	flows_purge(pub_ifindex, 0, 0, 0, 0, NULL, 0);
	tun_release_unused(m.ports, m.txports);
out:
	free(touched);
	free(keys);
	free(vals);
	edge_maps_close(&m);
	return ret;
}

/* An --addr address joins crbpf_local now if it came to the device after
 * attach (attach records the addresses it finds). */
int local_ensure(int ifindex, const struct addr *a, struct undo *u)
{
	struct crbpf_addr_key k = { .family = a->family };
	struct crbpf_local v = { .ifindex = ifindex };
	int fd, ret = 0;

	memcpy(k.addr, a->a, sizeof(k.addr));
	fd = pin_map_open("crbpf_local");
	if (fd < 0)
		return fd;
	if (bpf_map_lookup_elem(fd, &k, &v)) {
		ret = undo_map(u, fd, &k, sizeof(k), sizeof(v));
		if (!ret && bpf_map_update_elem(fd, &k, &v, BPF_NOEXIST))
			ret = -errno;
	}
	close(fd);
	if (ret)
		err("failed to update crbpf_local: %s", strerror(-ret));
	return ret;
}

/* Replaces the exceptions of the `all` entry scope with x (NULL: none). */
int except_set(int fd, const struct crbpf_port_key *scope,
	       const struct except_list *x, struct undo *u)
{
	struct crbpf_port_key *keys, *xk = NULL;
	__u8 *vals, one = 1;
	int i, n, nx, ret = 0;

	n = map_dump(fd, sizeof(*keys), sizeof(*vals), (void **)&keys,
		     (void **)&vals);
	if (n < 0)
		return n;
	for (i = 0; i < n && !ret; i++) {
		if (!same_scope(&keys[i], scope))
			continue;
		ret = undo_map(u, fd, &keys[i], sizeof(keys[i]), sizeof(one));
		if (!ret && bpf_map_delete_elem(fd, &keys[i]) && errno != ENOENT)
			ret = -errno;
	}
	free(keys);
	free(vals);
	nx = ret ? 0 : except_keys(scope, x, &xk);
	if (nx < 0)
		ret = nx;
	for (i = 0; i < nx && !ret; i++) {
		ret = undo_map(u, fd, &xk[i], sizeof(xk[i]), sizeof(one));
		if (!ret && bpf_map_update_elem(fd, &xk[i], &one, BPF_ANY))
			ret = -errno;
	}
	free(xk);
	if (ret)
		err("failed to update crbpf_except: %s", strerror(-ret));
	return ret;
}

/* crbpf_local flags (local_flags_of()) from what crbpf_ports holds now. */
int local_flags_sync(struct undo *u)
{
	struct crbpf_port_key *keys;
	struct crbpf_backend *vals;
	struct crbpf_addr_key ak, next, *prev = NULL;
	struct crbpf_local loc;
	int pfd, lfd, n, ret = 0;

	pfd = pin_map_open("crbpf_ports");
	lfd = pin_map_open("crbpf_local");
	if (pfd < 0 || lfd < 0) {
		ret = pfd < 0 ? pfd : lfd;
		goto out_fd;
	}
	n = map_dump(pfd, sizeof(*keys), sizeof(*vals), (void **)&keys,
		     (void **)&vals);
	if (n < 0) {
		ret = n;
		goto out_fd;
	}
	while (!ret && !bpf_map_get_next_key(lfd, prev, &next)) {
		__u32 flags;

		ak = next;
		prev = &ak;
		if (bpf_map_lookup_elem(lfd, &ak, &loc))
			continue;
		flags = local_flags_of(&ak, keys, vals, n);
		if (loc.flags == flags)
			continue;
		ret = undo_map(u, lfd, &ak, sizeof(ak), sizeof(loc));
		loc.flags = flags;
		if (!ret && bpf_map_update_elem(lfd, &ak, &loc, BPF_EXIST))
			ret = -errno;
	}
	free(keys);
	free(vals);
	if (ret)
		err("failed to update crbpf_local: %s", strerror(-ret));
out_fd:
	if (pfd >= 0)
		close(pfd);
	if (lfd >= 0)
		close(lfd);
	return ret;
}
