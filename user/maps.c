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
	char *k = NULL, *v = NULL;
	long last = -1; /* offset of the last key read in k */
	int n = 0, cap = 0, ret;

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
		/* By offset: realloc() may have moved k (a stale pointer
		 * restarted the walk, listing entries twice). */
		if (bpf_map_get_next_key(fd, last < 0 ? NULL : k + last,
					 k + n * ksz)) {
			if (errno == ENOENT)
				break;
			ret = -errno;
			free(k);
			free(v);
			return ret;
		}
		last = n * ksz;
		if (bpf_map_lookup_elem(fd, k + n * ksz, v + n * vsz))
			continue; /* deleted meanwhile */
		n++;
	}
	*keys = k;
	*vals = v;
	return n;
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

/* crbpf_fo, the failover lists (failover.c): read here, below it, so that
 * releasing reverse programs knows the devices backups use. */
int fo_open(void)
{
	/* pins of a crbpf without failover have none */
	return pin_map_open_quiet("crbpf_fo");
}

int fo_get(int fd, __u32 id, struct crbpf_fo *f)
{
	memset(f, 0, sizeof(*f));
	if (fd < 0 || id >= CRBPF_MAX_MAPPINGS)
		return -ENOENT;
	if (bpf_map_lookup_elem(fd, &id, f))
		return -errno;
	return f->n ? 0 : -ENOENT;
}

/* Every slot of crbpf_fo (CRBPF_MAX_MAPPINGS entries, by id; n 0: none),
 * malloc'ed, or NULL. One batch call where the kernel has it (arrays since
 * 5.6): crbpf watch reads them all every second, and 4095 lookups a
 * second would be its main cost while idle. */
struct crbpf_fo *fo_get_all(int fd)
{
	LIBBPF_OPTS(bpf_map_batch_opts, opts);
	struct crbpf_fo *all = calloc(CRBPF_MAX_MAPPINGS, sizeof(*all));
	__u32 *keys = calloc(CRBPF_MAX_MAPPINGS, sizeof(*keys));
	__u32 n = CRBPF_MAX_MAPPINGS, out, id;
	struct crbpf_fo *vals = calloc(CRBPF_MAX_MAPPINGS, sizeof(*vals));
	int ret;

	if (!all || !keys || !vals) {
		free(all);
		all = NULL;
		goto out;
	}
	ret = bpf_map_lookup_batch(fd, NULL, &out, keys, vals, &n, &opts);
	if (!ret || errno == ENOENT) {
		for (id = 0; id < n; id++)
			if (keys[id] < CRBPF_MAX_MAPPINGS)
				all[keys[id]] = vals[id];
	} else {
		for (id = 1; id < CRBPF_MAX_MAPPINGS; id++)
			fo_get(fd, id, &all[id]);
	}
out:
	free(keys);
	free(vals);
	return all;
}

/* Devices the backups of any failover mapping are reached through. */
bool fo_device_in_use(int ifindex)
{
	struct crbpf_fo *all;
	bool used = false;
	int fd = fo_open(), i;
	__u32 id;

	all = fd >= 0 ? fo_get_all(fd) : NULL;
	for (id = 1; all && id < CRBPF_MAX_MAPPINGS && !used; id++)
		for (i = 0; i < all[id].n && i < CRBPF_FO_MAX; i++)
			used |= (int)all[id].be[i].ifindex == ifindex;
	free(all);
	if (fd >= 0)
		close(fd);
	return used;
}

/* A value read from crbpf_ports as the model knows it: the primary. */
void fo_model_view(int fd, struct crbpf_backend *v)
{
	struct crbpf_fo f;

	if (!(v->flags & CRBPF_BE_FAILOVER) || fo_get(fd, v->mapping, &f))
		return;
	memcpy(v->addr, f.be[0].addr, sizeof(v->addr));
	if (f.be[0].ifindex)
		v->ifindex = f.be[0].ifindex;
	v->flags = (v->flags & ~CRBPF_BE_L2) | (f.be[0].l2 ? CRBPF_BE_L2 : 0);
}

/* A value about to be written: the active backend of a failover mapping
 * with CRBPF_BE_FAILOVER | CRBPF_BE_TRACK, else without the flag. */
void fo_entry_apply(const struct crbpf_fo *f, struct crbpf_backend *v)
{
	const struct crbpf_fo_backend *b;

	if (!f || !f->n) {
		v->flags &= ~CRBPF_BE_FAILOVER;
		return;
	}
	b = &f->be[f->active < f->n ? f->active : 0];
	memcpy(v->addr, b->addr, sizeof(v->addr));
	if (b->ifindex)
		v->ifindex = b->ifindex;
	v->flags = (v->flags & ~CRBPF_BE_L2) | (b->l2 ? CRBPF_BE_L2 : 0) |
		   CRBPF_BE_FAILOVER | CRBPF_BE_TRACK;
}

static int release_cb(const char *dev, const char *path, void *data)
{
	struct release_ctx *r = data;
	int ifindex = 0, ret;
	__u32 key;

	ret = resolve_iface(dev, &ifindex);
	if (ret == 0 && (device_in_use(r->vals, r->n, ifindex) ||
			 fo_device_in_use(ifindex)))
		return 0;
	/* Only a device that is gone; out of fds (EMFILE), say, is not. */
	if (ret && ret != -ENODEV)
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
static void flows_purge_map(const char *map, int pub_ifindex, __u8 proto,
			    __u16 first, __u16 last, __u8 match,
			    const __be32 *addr, __u8 family)
{
	struct crbpf_flow_key *keys;
	struct crbpf_flow *vals;
	char name[IF_NAMESIZE];
	int fd, i, n;

	/* quiet: pins of an older crbpf have no crbpf_unreplied */
	fd = pin_map_open_quiet(map);
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

/* Both flow tables: replied flows and those still waiting for a reply. */
void flows_purge(int pub_ifindex, __u8 proto, __u16 first, __u16 last,
		 __u8 match, const __be32 *addr, __u8 family)
{
	flows_purge_map("crbpf_flows", pub_ifindex, proto, first, last, match,
			addr, family);
	flows_purge_map("crbpf_unreplied", pub_ifindex, proto, first, last,
			match, addr, family);
}

/* Adds the backend of mapping e to g (once each). */
int backend_gone(struct frag_backends *g, const struct model_port *e)
{
	struct crbpf_addr_key b = { .family = e->k.family };
	struct crbpf_addr_key *nv;
	int i;

	memcpy(b.addr, e->v.addr, sizeof(b.addr));
	for (i = 0; i < g->n; i++)
		if (!memcmp(&g->v[i], &b, sizeof(b)))
			return 0;
	if (g->n == g->cap) {
		g->cap = g->cap ? g->cap * 2 : 8;
		nv = realloc(g->v, g->cap * sizeof(*nv));
		if (!nv)
			return -ENOMEM;
		g->v = nv;
	}
	g->v[g->n++] = b;
	return 0;
}

/* The backend a crbpf_frags / crbpf_fragpairs entry leads to (forward)
 * or comes from (reverse). */
static bool frag_of(const struct crbpf_frag_key *k, const struct crbpf_frag *v,
		    const struct crbpf_addr_key *b)
{
	bool fwd = k->kind == CRBPF_FRAG_FWD || k->kind == CRBPF_FRAG_PAIR_FWD;

	return k->family == b->family &&
	       !memcmp(fwd ? v->addr : k->src, b->addr, sizeof(b->addr));
}

static void frags_purge_map(const char *map, const struct frag_backends *g)
{
	struct crbpf_frag_key *keys;
	struct crbpf_frag *vals;
	int fd, i, j, n;

	/* quiet: pins of an older crbpf have no crbpf_fragpairs */
	fd = pin_map_open_quiet(map);
	if (fd < 0)
		return;
	n = map_dump(fd, sizeof(*keys), sizeof(*vals), (void **)&keys,
		     (void **)&vals);
	for (i = 0; i < n; i++)
		for (j = 0; j < g->n; j++)
			if (frag_of(&keys[i], &vals[i], &g->v[j])) {
				bpf_map_delete_elem(fd, &keys[i]);
				break;
			}
	if (n >= 0) {
		free(keys);
		free(vals);
	}
	close(fd);
}

/* Fragment state of the backends of removed mappings: a pair entry would
 * keep sending a client's early fragments there, a datagram entry the rest
 * of a datagram, even where the port now belongs to the VPS. Mappings that
 * still lead to such a backend write theirs again with their next flow or
 * first fragment. */
void frags_purge(const struct frag_backends *g)
{
	if (!g->n)
		return;
	frags_purge_map("crbpf_fragpairs", g);
	frags_purge_map("crbpf_frags", g);
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
	if (m->local >= 0)
		close(m->local);
}

int edge_maps_open(struct edge_maps *m)
{
	int ret;

	m->ports = pin_map_open("crbpf_ports");
	m->mstats = pin_map_open("crbpf_mstats");
	m->rev = pin_map_open("crbpf_rev");
	m->txports = pin_map_open("crbpf_txports");
	m->except = pin_map_open("crbpf_except");
	m->local = pin_map_open("crbpf_local");
	/* The first failure's errno: EMFILE is not "no such map". */
	ret = m->ports < 0 ? m->ports : m->mstats < 0 ? m->mstats :
	      m->rev < 0 ? m->rev : m->txports < 0 ? m->txports :
	      m->except < 0 ? m->except : m->local < 0 ? m->local : 0;
	if (ret)
		edge_maps_close(m);
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
	struct edge_maps m = EDGE_MAPS_NONE;
	struct crbpf_flow_key *fk = NULL;
	struct crbpf_flow *fv = NULL;
	struct crbpf_rev_key *rk = NULL;
	struct crbpf_rev *rv = NULL;
	int i, n, fd, ret, t;

	ret = edge_maps_open(&m);
	if (ret)
		return ret;
	/* Exceptions first: a mapping is whole once it is in. Its counters
	 * are indexed by the mapping id, which moves with the entries. */
	ret = port_keys_move(m.except, sizeof(__u32), from, to);
	if (!ret)
		ret = port_keys_move(m.ports, sizeof(struct crbpf_backend), from, to);
	if (ret)
		goto out;
	n = map_dump(m.rev, sizeof(*rk), sizeof(*rv), (void **)&rk, (void **)&rv);
	for (i = 0; i < n; i++)
		if (public_ifindex_moved(&rv[i].public_ifindex, from, to))
			bpf_map_update_elem(m.rev, &rk[i], &rv[i], BPF_EXIST);
	for (t = 0; t < 2; t++) {
		fd = t ? pin_map_open_quiet("crbpf_unreplied") :
			 pin_map_open("crbpf_flows");
		n = fd < 0 ? fd : map_dump(fd, sizeof(*fk), sizeof(*fv),
					   (void **)&fk, (void **)&fv);
		/* BPF_EXIST: a flow that expired meanwhile stays gone. */
		for (i = 0; i < n; i++)
			if (public_ifindex_moved(&fv[i].public_ifindex, from, to))
				bpf_map_update_elem(fd, &fk[i], &fv[i], BPF_EXIST);
		if (fd >= 0)
			close(fd);
		if (n >= 0) {
			free(fk);
			free(fv);
		}
		fk = NULL;
		fv = NULL;
	}
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

/* The model of what the maps of m hold now (a map not open: empty). */
int model_load(struct model *mod, const struct edge_maps *m)
{
	struct crbpf_port_key *pk = NULL;
	struct crbpf_backend *pv = NULL;
	struct crbpf_rev *rv = NULL;
	struct crbpf_addr_key *lk = NULL;
	struct crbpf_local *lv = NULL;
	__u8 *xv = NULL;
	int i, n = 0, ret = 0, fo;

	memset(mod, 0, sizeof(*mod));
	if (m->ports >= 0)
		n = map_dump(m->ports, sizeof(*pk), sizeof(*pv), (void **)&pk,
			     (void **)&pv);
	if (n > 0)
		mod->ports = calloc(n, sizeof(*mod->ports));
	if (n < 0 || (n > 0 && !mod->ports)) {
		ret = n < 0 ? n : -ENOMEM;
		goto out;
	}
	fo = fo_open();
	for (i = 0; i < n; i++) {
		mod->ports[i].k = pk[i];
		mod->ports[i].v = pv[i];
		/* the model knows the primary of a failover mapping */
		fo_model_view(fo, &mod->ports[i].v);
	}
	if (fo >= 0)
		close(fo);
	mod->np = n;
	if (m->except >= 0) {
		n = map_dump(m->except, sizeof(*mod->except), sizeof(*xv),
			     (void **)&mod->except, (void **)&xv);
		if (n < 0) {
			ret = n;
			goto out;
		}
		mod->nx = n;
	}
	if (m->rev >= 0) {
		n = map_dump(m->rev, sizeof(*mod->rev), sizeof(*rv),
			     (void **)&mod->rev, (void **)&rv);
		if (n < 0) {
			ret = n;
			goto out;
		}
		mod->nr = n;
	}
	if (m->local >= 0) {
		n = map_dump(m->local, sizeof(*lk), sizeof(*lv), (void **)&lk,
			     (void **)&lv);
		if (n > 0)
			mod->local = calloc(n, sizeof(*mod->local));
		if (n < 0 || (n > 0 && !mod->local)) {
			ret = n < 0 ? n : -ENOMEM;
			goto out;
		}
		for (i = 0; i < n; i++) {
			mod->local[i].k = lk[i];
			mod->local[i].v = lv[i];
		}
		mod->nl = n;
	}
	model_sort(mod);
out:
	free(pk);
	free(pv);
	free(xv);
	free(rv);
	free(lk);
	free(lv);
	if (ret) {
		model_free(mod);
		err("failed to read the maps: %s", strerror(-ret));
	}
	return ret;
}

static __u32 map_max_entries(int fd)
{
	struct bpf_map_info info = {};
	__u32 len = sizeof(info);

	return bpf_obj_get_info_by_fd(fd, &info, &len) ? 0 : info.max_entries;
}

static const struct {
	const char *name;
	__u32 ksz, vsz;
} op_maps[] = {
	[MODEL_PORTS] = { "crbpf_ports", sizeof(struct crbpf_port_key),
			  sizeof(struct crbpf_backend) },
	[MODEL_MSTATS] = { "crbpf_mstats", sizeof(__u32),
			   sizeof(struct crbpf_mstats) },
	[MODEL_EXCEPT] = { "crbpf_except", sizeof(struct crbpf_port_key), 1 },
	[MODEL_REV] = { "crbpf_rev", sizeof(struct crbpf_rev_key),
			sizeof(struct crbpf_rev) },
	[MODEL_LOCAL] = { "crbpf_local", sizeof(struct crbpf_addr_key),
			  sizeof(struct crbpf_local) },
};

static int op_fd(const struct edge_maps *m, int map)
{
	switch (map) {
	case MODEL_PORTS:
		return m->ports;
	case MODEL_MSTATS:
		return m->mstats;
	case MODEL_EXCEPT:
		return m->except;
	case MODEL_REV:
		return m->rev;
	default:
		return m->local;
	}
}

/*
 * Writes what the model computed, in order, each change journaled in u
 * first. One put replaces an entry atomically. Counters are written as
 * zero (a mapping id's slot, before the entries that take the id).
 * best_effort: go on past a failed write (cleanup after a device is gone);
 * the first error is returned either way.
 */
bool acl_slot_used(int outer, __u32 slot)
{
	__u32 id;

	return outer >= 0 && !bpf_map_lookup_elem(outer, &slot, &id);
}

/* Does any list apply to mapping (its own, or a global one)? */
bool acl_applies(int outer, __u32 mapping)
{
	return acl_slot_used(outer, crbpf_acl_slot(0, CRBPF_ACL_ALLOW)) ||
	       acl_slot_used(outer, crbpf_acl_slot(0, CRBPF_ACL_DENY)) ||
	       acl_slot_used(outer, crbpf_acl_slot(mapping, CRBPF_ACL_ALLOW)) ||
	       acl_slot_used(outer, crbpf_acl_slot(mapping, CRBPF_ACL_DENY));
}

/* CRBPF_BE_ACL of a crbpf_ports value about to be written: the model knows
 * nothing of lists, the slots of crbpf_acl say whether any applies. A
 * mapping's own lists go in before its entries (port add). The answer for
 * the last id is kept: the ports of a range come one after another. */
static void acl_flag_of(int outer, struct crbpf_backend *be, __u32 *last_id,
			bool *last)
{
	if (be->mapping != *last_id) {
		*last_id = be->mapping;
		*last = acl_applies(outer, be->mapping);
	}
	if (*last)
		be->flags |= CRBPF_BE_ACL;
	else
		be->flags &= ~CRBPF_BE_ACL;
}

/* CRBPF_BE_LIMIT likewise, from crbpf_limits (port add writes a mapping's
 * limits before its entries). */
static void limit_flag_of(int limits, struct crbpf_backend *be, __u32 *last_id,
			  bool *last)
{
	struct crbpf_limit l;

	if (be->mapping != *last_id) {
		*last_id = be->mapping;
		limit_get(limits, be->mapping, &l);
		*last = limit_on(&l);
	}
	if (*last)
		be->flags |= CRBPF_BE_LIMIT;
	else
		be->flags &= ~CRBPF_BE_LIMIT;
}

int maps_write(const struct edge_maps *m, const struct model_ops *o,
	       struct undo *u, bool best_effort)
{
	/* pins of an older crbpf may lack it: no limits then */
	int limits = pin_map_open_quiet("crbpf_limits");
	__u32 lim_id = CRBPF_MAX_MAPPINGS;
	bool lim_on = false;
	/* pins of an older crbpf may lack it: no list then */
	int acl = pin_map_open_quiet("crbpf_acl");
	__u32 acl_id = CRBPF_MAX_MAPPINGS; /* no id: nothing known yet */
	bool acl_on = false;
	/* failover lists, the same way (failover.c) */
	int fo = fo_open();
	__u32 fo_id = CRBPF_MAX_MAPPINGS;
	struct crbpf_fo fo_cur;
	bool fo_on = false;
	struct crbpf_backend be;
	size_t pcpu = sizeof(struct crbpf_mstats) * libbpf_num_possible_cpus();
	void *zero = calloc(1, pcpu);
	int i, first = 0, ret;
	bool local = false;
	__u8 one = 1;

	if (!zero)
		return -ENOMEM;
	for (i = 0; i < o->n; i++) {
		const struct model_op *op = &o->op[i];
		const void *val = &op->v;
		int fd = op_fd(m, op->map);

		if (op->map == MODEL_MSTATS) {
			val = zero;
		} else if (op->map == MODEL_EXCEPT) {
			val = &one;
		} else if (op->map == MODEL_PORTS && !op->del) {
			be = op->v.be;
			acl_flag_of(acl, &be, &acl_id, &acl_on);
			limit_flag_of(limits, &be, &lim_id, &lim_on);
			if (be.mapping != fo_id) {
				fo_id = be.mapping;
				fo_on = !fo_get(fo, fo_id, &fo_cur);
			}
			fo_entry_apply(fo_on ? &fo_cur : NULL, &be);
			val = &be;
		}
		local |= op->map == MODEL_LOCAL;
		ret = undo_map(u, fd, &op->k, op_maps[op->map].ksz,
			       op_maps[op->map].vsz);
		if (!ret && op->del && bpf_map_delete_elem(fd, &op->k) &&
		    errno != ENOENT && op->map != MODEL_MSTATS)
			ret = -errno;
		if (!ret && !op->del && bpf_map_update_elem(fd, &op->k, val, BPF_ANY))
			ret = -errno;
		if (!ret)
			continue;
		/* A full BPF_F_NO_PREALLOC map says E2BIG; a signal (EINTR):
		 * the journal says so. */
		if (ret == -E2BIG)
			err("failed to update %s: the map is full (%u entries)",
			    op_maps[op->map].name, map_max_entries(fd));
		else if (ret != -EINTR)
			err("failed to update %s: %s", op_maps[op->map].name,
			    strerror(-ret));
		if (!first)
			first = ret;
		if (!best_effort)
			break;
	}
	free(zero);
	if (acl >= 0)
		close(acl);
	if (limits >= 0)
		close(limits);
	if (local)
		cache_gen_bump();
	if (fo >= 0)
		close(fo);
	return first;
}

/* nl_primary_addr() asked once per device and family while one command's
 * rules run: a range of 13,536 ports asks it per port, a netlink dump each.
 * primary_memo_reset() before each run: crbpf watch runs many, and
 * addresses change between them. */
static struct {
	int ifindex;
	__u8 family;
	int ret;
	struct addr a;
} memo[16];
static unsigned int nmemo;

void primary_memo_reset(void)
{
	nmemo = 0;
}

int primary_memo(int ifindex, __u8 family, struct addr *out)
{
	unsigned int i;
	struct addr a = {};
	int ret;

	for (i = 0; i < nmemo; i++)
		if (memo[i].ifindex == ifindex && memo[i].family == family) {
			if (!memo[i].ret)
				*out = memo[i].a;
			return memo[i].ret;
		}
	ret = nl_primary_addr(ifindex, family, &a);
	if (nmemo < ARRAY_SIZE(memo)) {
		memo[nmemo].ifindex = ifindex;
		memo[nmemo].family = family;
		memo[nmemo].ret = ret;
		memo[nmemo++].a = a;
	}
	if (!ret)
		*out = a;
	return ret;
}

/* Loads the model of m, runs the rule fn computes, writes the result. */
static int model_run(const struct edge_maps *m, struct undo *u, bool best_effort,
		     int (*fn)(struct model *mod, struct model_ops *o, void *arg),
		     void *arg)
{
	struct model_ops ops = {};
	struct model mod;
	int ret;

	ret = model_load(&mod, m);
	if (ret)
		return ret;
	primary_memo_reset();
	ret = fn(&mod, &ops, arg);
	if (ret)
		err("failed to compute the mappings: %s", strerror(-ret));
	else
		ret = maps_write(m, &ops, u, best_effort);
	model_ops_free(&ops);
	model_free(&mod);
	return ret;
}

static int local_sync_fn(struct model *mod, struct model_ops *o, void *arg)
{
	(void)arg;
	return model_local_sync(mod, o);
}

/* crbpf_local flags (local_flags_of()) from what crbpf_ports holds now. */
int local_flags_sync(struct undo *u)
{
	struct edge_maps m = EDGE_MAPS_NONE;
	int ret;

	m.ports = pin_map_open("crbpf_ports");
	m.local = pin_map_open("crbpf_local");
	if (m.ports < 0 || m.local < 0)
		ret = m.ports < 0 ? m.ports : m.local;
	else
		ret = model_run(&m, u, false, local_sync_fn, NULL);
	edge_maps_close(&m);
	return ret;
}

static int rev_refresh_fn(struct model *mod, struct model_ops *o, void *arg)
{
	(void)arg;
	return model_rev_refresh(mod, primary_memo, o);
}

/* Static reverse rules answer from the public device's primary address:
 * after an address change every one of them is recomputed; after an upgrade
 * too, for the rules older crbpfs did not write (the `all` markers). */
int rev_refresh_all(struct undo *u)
{
	struct edge_maps m = EDGE_MAPS_NONE;
	int ret;

	ret = edge_maps_open(&m);
	if (ret)
		return ret;
	ret = model_run(&m, u, false, rev_refresh_fn, NULL);
	edge_maps_close(&m);
	return ret;
}

struct restore_arg {
	const struct crbpf_port_key *keys;
	const struct crbpf_backend *vals;
	int n;
};

static int restore_fn(struct model *mod, struct model_ops *o, void *arg)
{
	struct restore_arg *r = arg;

	return model_restore(mod, r->keys, r->vals, r->n, primary_memo, o);
}

/* Mappings read from an older layout (maps_upgrade_prepare()) into the new
 * crbpf_ports, with fresh counters and their reverse rules. */
int ports_restore(const struct crbpf_port_key *keys,
		  const struct crbpf_backend *vals, int n, struct undo *u)
{
	struct restore_arg r = { keys, vals, n };
	struct edge_maps m = EDGE_MAPS_NONE;
	int ret;

	ret = edge_maps_open(&m);
	if (ret)
		return ret;
	ret = model_run(&m, u, false, restore_fn, &r);
	edge_maps_close(&m);
	return ret;
}

static bool dev_exists(int ifindex)
{
	char name[IF_NAMESIZE];

	return if_indextoname(ifindex, name);
}

struct purge_arg {
	int pub_ifindex;
	struct frag_backends gone;
};

static int purge_fn(struct model *mod, struct model_ops *o, void *arg)
{
	struct purge_arg *pa = arg;
	int i, ret;

	for (i = 0; i < mod->np; i++)
		if (purge_hits(&mod->ports[i].k, pa->pub_ifindex, dev_exists)) {
			ret = backend_gone(&pa->gone, &mod->ports[i]);
			if (ret)
				return ret;
		}
	return model_purge(mod, pa->pub_ifindex, dev_exists, primary_memo, o);
}

/* Everything mapped on one public device (0: on devices that vanished). */
int mappings_purge(int pub_ifindex)
{
	struct purge_arg pa = { .pub_ifindex = pub_ifindex };
	struct edge_maps m = EDGE_MAPS_NONE;
	int ret;

	ret = edge_maps_open(&m);
	if (ret)
		return ret;
	ret = model_run(&m, NULL, true, purge_fn, &pa);
	flows_purge(pub_ifindex, 0, 0, 0, 0, NULL, 0);
	frags_purge(&pa.gone);
	free(pa.gone.v);
	tun_release_unused(m.ports, m.txports);
	edge_maps_close(&m);
	return ret;
}
