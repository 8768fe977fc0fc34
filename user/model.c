// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/* The mapping model: the rules that follow from the entries of crbpf_ports
 * (reverse rules, crbpf_local flags, the except set of an `all` entry), as
 * plain functions over entries in memory. No bpf syscall and no netlink here:
 * what the rules need of the system comes in as data or a callback, so the
 * unit tests run them without a kernel. */
#include "tool.h"
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <arpa/inet.h>

void rev_key_of(struct crbpf_rev_key *rk, const struct crbpf_port_key *k,
		       const struct crbpf_backend *be)
{
	memset(rk, 0, sizeof(*rk));
	memcpy(rk->addr, be->addr, sizeof(rk->addr));
	rk->port = be->port;
	rk->family = k->family;
	rk->proto = k->proto;
}

int port_key_cmp(const void *a, const void *b)
{
	const struct crbpf_port_key *x = a, *y = b;

	if (x->ifindex != y->ifindex)
		return x->ifindex < y->ifindex ? -1 : 1;
	if (x->proto != y->proto)
		return x->proto < y->proto ? -1 : 1;
	if (x->port != y->port)
		return ntohs(x->port) < ntohs(y->port) ? -1 : 1;
	if (x->family != y->family)
		return x->family - y->family;
	return memcmp(x->addr, y->addr, sizeof(x->addr));
}

bool key_has_addr(const struct crbpf_port_key *k)
{
	return k->addr[0] | k->addr[1] | k->addr[2] | k->addr[3];
}

/* Same `all` entry: exceptions carry their entry's key with another port. */
bool same_scope(const struct crbpf_port_key *a,
		       const struct crbpf_port_key *b)
{
	return a->ifindex == b->ifindex && a->family == b->family &&
	       a->proto == b->proto && !memcmp(a->addr, b->addr, sizeof(a->addr));
}

struct rev_src {
	struct crbpf_rev_key rk;
	struct crbpf_port_key pk;
	__u32 mapping;
};

static int rev_src_cmp(const void *a, const void *b)
{
	return memcmp(a, b, sizeof(struct crbpf_rev_key));
}

static bool rev_same_backend(const struct crbpf_rev_key *a,
			     const struct crbpf_rev_key *b)
{
	return a->family == b->family && a->proto == b->proto &&
	       !memcmp(a->addr, b->addr, sizeof(a->addr));
}

/* The crbpf_ports entries by reverse key: a range maps thousands of ports,
 * so the entries leading to one backend port are found by bsearch. */
int rev_index_build(struct rev_index *ix, const struct model_port *ports, int n)
{
	int i;

	memset(ix, 0, sizeof(*ix));
	ix->src = calloc(n + 1, sizeof(*ix->src));
	ix->allb = calloc(n + 1, sizeof(*ix->allb));
	if (!ix->src || !ix->allb) {
		rev_index_free(ix);
		return -ENOMEM;
	}
	for (i = 0; i < n; i++) {
		if (ports[i].v.flags & CRBPF_BE_ALL) {
			rev_key_of(&ix->allb[ix->na++], &ports[i].k, &ports[i].v);
			continue;
		}
		rev_key_of(&ix->src[ix->ns].rk, &ports[i].k, &ports[i].v);
		ix->src[ix->ns].mapping = ports[i].v.mapping;
		ix->src[ix->ns++].pk = ports[i].k;
	}
	qsort(ix->src, ix->ns, sizeof(*ix->src), rev_src_cmp);
	return 0;
}

void rev_index_free(struct rev_index *ix)
{
	free(ix->src);
	free(ix->allb);
	memset(ix, 0, sizeof(*ix));
}

/* Addresses of family that crbpf_local holds for a public device. */
static int local_count(const struct rev_index *ix, __u32 ifindex, __u8 family)
{
	int i, n = 0;

	for (i = 0; i < ix->nl; i++)
		n += ix->local[i].v.ifindex == ifindex &&
		     ix->local[i].k.family == family;
	return n + (ix->extra && ix->extra->v.ifindex == ifindex &&
		    ix->extra->k.family == family);
}

/*
 * The crbpf_rev entry of backend key rk from the entries of ix: refs =
 * public (address, port) pairs mapped onto that backend port, plus one when
 * an `all` entry leads to the backend address (it may reach any of its
 * ports); more than one ref makes the rule ambiguous. An any-address
 * entry on a device with several addresses of the family (ix->local) gets
 * CRBPF_REV_TRACK. Returns 1 with *rev to put, 0 when rk has no static
 * rule (delete it).
 */
int rev_rule_of(const struct rev_index *ix, const struct crbpf_rev_key *rk,
		primary_addr_fn primary, struct crbpf_rev *rev)
{
	struct rev_src *hit = NULL;
	struct addr pub;
	int j, refs = 0;

	memset(rev, 0, sizeof(*rev));
	/* The marker of a backend address that `all` entries lead to (port
	 * CRBPF_PORT_ALL, include/crbpf.h): while one exists, every port of
	 * the address is a mapped port without a static rule, and the reverse
	 * programs drop a reply there that no flow translates. */
	if (rk->port == CRBPF_PORT_ALL) {
		for (j = 0; j < ix->na; j++)
			refs += rev_same_backend(&ix->allb[j], rk);
		if (!refs)
			return 0;
		rev->refs = refs > 0xffff ? 0xffff : refs;
		rev->match = CRBPF_MATCH_ALL;
		return 1;
	}
	if (ix->ns)
		hit = bsearch(rk, ix->src, ix->ns, sizeof(*ix->src), rev_src_cmp);
	if (hit) {
		while (hit > ix->src && !rev_src_cmp(hit - 1, rk))
			hit--;
		while (hit + refs < ix->src + ix->ns && !rev_src_cmp(hit + refs, rk))
			refs++;
	}
	for (j = 0; j < ix->na; j++)
		if (rev_same_backend(&ix->allb[j], rk)) {
			refs++;
			break;
		}
	if (hit && key_has_addr(&hit->pk)) {
		memcpy(pub.a, hit->pk.addr, sizeof(pub.a));
		rev->match = CRBPF_MATCH_ADDR;
	} else if (hit && local_count(ix, hit->pk.ifindex, rk->family) > 1) {
		/* any address of the device: a flow may have begun on
		 * another one than the primary the rule names */
		rev->match = CRBPF_REV_TRACK;
	}
	/* Only `all` entries lead here: no static rule, flows answer. */
	if (!hit || (!key_has_addr(&hit->pk) &&
		     primary(hit->pk.ifindex, rk->family, &pub))) {
		memset(rev, 0, sizeof(*rev));
		return 0;
	}
	memcpy(rev->public_addr, pub.a, sizeof(rev->public_addr));
	rev->public_port = hit->pk.port;
	rev->refs = refs > 0xffff ? 0xffff : refs;
	rev->public_ifindex = hit->pk.ifindex;
	rev->mapping = hit->mapping;
	return 1;
}

/* The reverse keys a change touched, where one with port 0 (an `all`
 * entry) stands for every entry of rev_keys on its backend address and for
 * the address's marker (itself); *out is allocated. Returns the count or
 * -ENOMEM. */
int rev_touched_expand(const struct crbpf_rev_key *in, int nin,
		       const struct crbpf_rev_key *rev_keys, int nrev,
		       struct crbpf_rev_key **out)
{
	struct crbpf_rev_key *t;
	int i, j, nall = 0, nt = 0;

	for (i = 0; i < nin; i++)
		nall += !in[i].port;
	t = calloc(nin + (size_t)nall * nrev + 1, sizeof(*t));
	if (!t)
		return -ENOMEM;
	for (i = 0; i < nin; i++) {
		if (in[i].port) {
			t[nt++] = in[i];
			continue;
		}
		for (j = 0; j < nrev; j++)
			if (rev_keys[j].port && rev_same_backend(&rev_keys[j], &in[i]))
				t[nt++] = rev_keys[j];
		t[nt++] = in[i];
	}
	*out = t;
	return nt;
}

/*
 * The crbpf_local flags of address ak from the entries of crbpf_ports.
 * ADDR: entries keyed on the address exist. ALL: an `all` entry on the
 * address, or one without --addr of the same family (on any device: the
 * ingress device is in the key anyway, a stray flag costs one lookup, a
 * missing one a mapping).
 */
__u32 local_flags_of(const struct crbpf_addr_key *ak,
		     const struct model_port *ports, int n)
{
	__u32 flags = 0;
	int i;

	for (i = 0; i < n; i++) {
		const struct crbpf_port_key *k = &ports[i].k;
		bool mine = !memcmp(k->addr, ak->addr, sizeof(ak->addr));

		if (k->family != ak->family)
			continue;
		if (mine)
			flags |= CRBPF_LOCAL_ADDR;
		if ((ports[i].v.flags & CRBPF_BE_ALL) && (mine || !key_has_addr(k)))
			flags |= CRBPF_LOCAL_ALL;
	}
	return flags;
}

/* The crbpf_except keys of the `all` entry scope for x (NULL: none), in
 * *out (allocated); returns the count or -ENOMEM. */
int except_keys(const struct crbpf_port_key *scope,
		const struct except_list *x, struct crbpf_port_key **out)
{
	struct crbpf_port_key *k;
	size_t n = 0;
	__u32 p;
	int i;

	for (i = 0; x && i < x->n; i++)
		if (x->last[i] >= x->first[i])
			n += x->last[i] - x->first[i] + 1;
	k = calloc(n + 1, sizeof(*k));
	if (!k)
		return -ENOMEM;
	n = 0;
	for (i = 0; x && i < x->n; i++)
		for (p = x->first[i]; p <= x->last[i]; p++) {
			k[n] = *scope;
			k[n++].port = htons(p);
		}
	*out = k;
	return n;
}

/* The crbpf_ports entry `port add` writes for public port p of s. */
void port_entry_of(const struct port_spec *s, __u32 pub_ifindex, __u32 oif,
		   bool l2, __u16 p, struct crbpf_port_key *key,
		   struct crbpf_backend *nb)
{
	memset(key, 0, sizeof(*key));
	memset(nb, 0, sizeof(*nb));
	key->ifindex = pub_ifindex;
	key->family = s->be.family;
	key->proto = s->proto;
	key->port = htons(p);
	memcpy(key->addr, s->paddr.a, sizeof(key->addr));
	nb->port = htons(s->bport ? s->bport + (p - s->first) : p);
	nb->flags = (l2 ? CRBPF_BE_L2 : 0) | (s->all ? CRBPF_BE_ALL : 0);
	nb->ifindex = oif;
	memcpy(nb->addr, s->be.a, sizeof(nb->addr));
}

/* Whether a purge of pub_ifindex removes the entry of key k; pub_ifindex 0
 * purges the entries of devices that are gone (exists() says which). */
bool purge_hits(const struct crbpf_port_key *k, int pub_ifindex,
		bool (*exists)(int ifindex))
{
	return pub_ifindex ? (int)k->ifindex == pub_ifindex : !exists(k->ifindex);
}

/* A public device re-created under its name: the key on device from as it
 * is on device to; false when k is not on from. */
bool port_key_moved(const struct crbpf_port_key *k, __u32 from, __u32 to,
		    struct crbpf_port_key *nk)
{
	if (k->ifindex != from)
		return false;
	*nk = *k;
	nk->ifindex = to;
	return true;
}

/* A reverse rule (or flow) answering from device from answers from to. */
bool public_ifindex_moved(__u32 *public_ifindex, __u32 from, __u32 to)
{
	if (*public_ifindex != from)
		return false;
	*public_ifindex = to;
	return true;
}

/* n keys of the 8-byte layout at old into out: no public address. */
void port_keys_from_old(const void *old, int n, struct crbpf_port_key *out)
{
	const struct old_port_key *ok = old;
	int j;

	for (j = 0; j < n; j++) {
		memset(&out[j], 0, sizeof(out[j]));
		out[j].ifindex = ok[j].ifindex;
		out[j].family = ok[j].family;
		out[j].proto = ok[j].proto;
		out[j].port = ok[j].port;
	}
}

/* Mapping ids (crbpf_backend.mapping, the crbpf_mstats slot): which ones
 * the entries of m use. */
static void ids_used(const struct model *m, __u8 *used)
{
	int i;

	memset(used, 0, CRBPF_MAX_MAPPINGS);
	used[0] = 1; /* 0: not counted */
	for (i = 0; i < m->np; i++)
		if (m->ports[i].v.mapping < CRBPF_MAX_MAPPINGS)
			used[m->ports[i].v.mapping] = 1;
}

static int id_take(__u8 *used)
{
	int id;

	for (id = 1; id < CRBPF_MAX_MAPPINGS; id++)
		if (!used[id]) {
			used[id] = 1;
			return id;
		}
	return -ENOSPC;
}

/* The lowest id no entry of m uses: an id is free once its last entry is
 * gone. -ENOSPC when all CRBPF_MAX_MAPPINGS - 1 are taken. */
int mapping_id_alloc(const struct model *m)
{
	__u8 used[CRBPF_MAX_MAPPINGS];

	ids_used(m, used);
	return id_take(used);
}

/* The same backend as the user gave it (the device that reaches it is the
 * routing table's business), whatever the counters' slot. */
static bool same_backend(const struct crbpf_backend *a,
			 const struct crbpf_backend *b)
{
	return !memcmp(a->addr, b->addr, sizeof(a->addr)) && a->port == b->port &&
	       (a->flags & CRBPF_BE_ALL) == (b->flags & CRBPF_BE_ALL);
}

/*
 * The state the rules read, and what a command changes in it. A model holds
 * the entries of crbpf_ports and crbpf_local and the keys of crbpf_except
 * and crbpf_rev; a command's rules turn it into a list of puts and deletes
 * (struct model_ops), in the order the map layer must write them, and keep
 * the model equal to what the maps hold once they are written.
 */

/* Every set is sorted by key bytes (memcmp): entries are found by bsearch,
 * a range of thousands of ports costs no scan per port. */
struct set_layout {
	size_t esz, ksz, voff, vsz;
};

static const struct set_layout layouts[] = {
	[MODEL_PORTS] = { sizeof(struct model_port), sizeof(struct crbpf_port_key),
			  offsetof(struct model_port, v), sizeof(struct crbpf_backend) },
	[MODEL_EXCEPT] = { sizeof(struct crbpf_port_key), sizeof(struct crbpf_port_key), 0, 0 },
	[MODEL_REV] = { sizeof(struct crbpf_rev_key), sizeof(struct crbpf_rev_key), 0, 0 },
	[MODEL_LOCAL] = { sizeof(struct model_local), sizeof(struct crbpf_addr_key),
			  offsetof(struct model_local, v), sizeof(struct crbpf_local) },
};

static void **set_of(struct model *m, int map, int **n)
{
	switch (map) {
	case MODEL_PORTS:
		*n = &m->np;
		return (void **)&m->ports;
	case MODEL_EXCEPT:
		*n = &m->nx;
		return (void **)&m->except;
	case MODEL_REV:
		*n = &m->nr;
		return (void **)&m->rev;
	default:
		*n = &m->nl;
		return (void **)&m->local;
	}
}

/* qsort and bsearch take no context: the key size of the set at hand. */
static size_t cmp_ksz;

static int key_cmp(const void *a, const void *b)
{
	return memcmp(a, b, cmp_ksz);
}

/* Sorts every set; call once the arrays are filled (model_load). */
void model_sort(struct model *m)
{
	int map, *n;
	void **e;

	for (map = MODEL_PORTS; map <= MODEL_LOCAL; map++) {
		if (map == MODEL_MSTATS)
			continue;
		e = set_of(m, map, &n);
		cmp_ksz = layouts[map].ksz;
		if (*n)
			qsort(*e, *n, layouts[map].esz, key_cmp);
	}
}

void model_free(struct model *m)
{
	free(m->ports);
	free(m->except);
	free(m->rev);
	free(m->local);
	memset(m, 0, sizeof(*m));
}

const struct model_port *model_port_find(const struct model *m,
					 const struct crbpf_port_key *k)
{
	cmp_ksz = sizeof(*k);
	return m->np ? bsearch(k, m->ports, m->np, sizeof(*m->ports), key_cmp) : NULL;
}

static const struct model_local *local_find(const struct model *m,
					    const struct crbpf_addr_key *k)
{
	cmp_ksz = sizeof(*k);
	return m->nl ? bsearch(k, m->local, m->nl, sizeof(*m->local), key_cmp) : NULL;
}

void model_ops_free(struct model_ops *o)
{
	free(o->op);
	memset(o, 0, sizeof(*o));
}

static struct model_op *op_add(struct model_ops *o, int map, bool del)
{
	struct model_op *op;

	if (o->n == o->cap) {
		int cap = o->cap ? o->cap * 2 : 64;

		op = realloc(o->op, cap * sizeof(*op));
		if (!op)
			return NULL;
		o->op = op;
		o->cap = cap;
	}
	op = &o->op[o->n++];
	memset(op, 0, sizeof(*op));
	op->map = map;
	op->del = del;
	return op;
}

/* One entry of a set while ops from..end are merged in: the last op on a
 * key wins, seq -1 stands for the entry the set held. */
struct pend {
	int seq;
	bool del;
	char e[];
};

static int pend_cmp(const void *a, const void *b)
{
	const struct pend *x = a, *y = b;
	int c = memcmp(x->e, y->e, cmp_ksz);

	return c ?: x->seq - y->seq;
}

/* Writes ops from..end of one map into its set. */
static int set_commit(struct model *m, const struct model_ops *o, int from,
		      int map)
{
	const struct set_layout *l = &layouts[map];
	size_t psz = (sizeof(struct pend) + l->esz + 7) & ~(size_t)7;
	char *p, *out;
	void **e;
	int i, j, np = 0, nout = 0, *n;

	e = set_of(m, map, &n);
	p = calloc(*n + (o->n - from) + 1, psz);
	if (!p)
		return -ENOMEM;
	for (i = 0; i < *n; i++, np++) {
		struct pend *x = (struct pend *)(p + np * psz);

		x->seq = -1;
		memcpy(x->e, (char *)*e + i * l->esz, l->esz);
	}
	for (i = from; i < o->n; i++) {
		const struct model_op *op = &o->op[i];
		struct pend *x;

		if (op->map != map)
			continue;
		x = (struct pend *)(p + np++ * psz);
		x->seq = i;
		x->del = op->del;
		memcpy(x->e, &op->k, l->ksz);
		if (l->vsz)
			memcpy(x->e + l->voff, &op->v, l->vsz);
	}
	cmp_ksz = l->ksz;
	qsort(p, np, psz, pend_cmp);
	out = calloc(np + 1, l->esz);
	if (!out) {
		free(p);
		return -ENOMEM;
	}
	for (i = 0; i < np; i = j) {
		struct pend *last;

		for (j = i + 1; j < np && !memcmp(((struct pend *)(p + j * psz))->e,
						  ((struct pend *)(p + i * psz))->e,
						  l->ksz); j++)
			;
		last = (struct pend *)(p + (j - 1) * psz);
		if (!last->del)
			memcpy(out + nout++ * l->esz, last->e, l->esz);
	}
	free(p);
	free(*e);
	*e = out;
	*n = nout;
	return 0;
}

/* The model after ops from..end are written. */
static int model_commit(struct model *m, const struct model_ops *o, int from)
{
	int map, ret = 0;

	for (map = MODEL_PORTS; map <= MODEL_LOCAL && !ret; map++)
		if (map != MODEL_MSTATS)
			ret = set_commit(m, o, from, map);
	return ret;
}

static int port_put(struct model_ops *o, const struct crbpf_port_key *k,
		    const struct crbpf_backend *v)
{
	struct model_op *op = op_add(o, MODEL_PORTS, false);

	if (!op)
		return -ENOMEM;
	op->k.port = *k;
	op->v.be = *v;
	return 0;
}

static int key_op(struct model_ops *o, int map, bool del,
		  const struct crbpf_port_key *k)
{
	struct model_op *op = op_add(o, map, del);

	if (!op)
		return -ENOMEM;
	op->k.port = *k;
	return 0;
}

/* Fresh counters in the slot of id, written before any entry refers to it:
 * the slot may hold what an earlier mapping of that id counted. */
static int mstats_zero_op(struct model_ops *o, __u32 id)
{
	struct model_op *op = op_add(o, MODEL_MSTATS, false);

	if (!op)
		return -ENOMEM;
	op->k.id = id;
	return 0;
}

/* The id the entries of a port add get: the one they have when every
 * entry exists already with the same backend and one id (an apply that
 * runs again keeps the counters), else a fresh one, its slot zeroed. */
static int port_add_id(const struct model *m, const struct port_spec *s,
		       __u32 pub_ifindex, __u32 oif, bool l2,
		       struct model_ops *o, __u32 *id)
{
	const struct model_port *old;
	__u32 keep = 0;
	int ret;
	__u16 p;

	for (p = s->first;; p++) {
		struct crbpf_port_key key;
		struct crbpf_backend nb;

		port_entry_of(s, pub_ifindex, oif, l2, p, &key, &nb);
		old = model_port_find(m, &key);
		if (!old || !old->v.mapping || !same_backend(&old->v, &nb) ||
		    (keep && old->v.mapping != keep)) {
			keep = 0;
			break;
		}
		keep = old->v.mapping;
		if (p == s->last)
			break;
	}
	if (keep) {
		*id = keep;
		return 0;
	}
	ret = mapping_id_alloc(m);
	if (ret < 0)
		return ret;
	*id = ret;
	return mstats_zero_op(o, *id);
}

/* Replaces the except entries of the `all` entry scope with x (NULL: none). */
static int except_ops(const struct model *m, const struct crbpf_port_key *scope,
		      const struct except_list *x, struct model_ops *o)
{
	struct crbpf_port_key *xk = NULL;
	int i, n, ret = 0;

	for (i = 0; i < m->nx && !ret; i++)
		if (same_scope(&m->except[i], scope))
			ret = key_op(o, MODEL_EXCEPT, true, &m->except[i]);
	n = ret ? 0 : except_keys(scope, x, &xk);
	if (n < 0)
		return n;
	for (i = 0; i < n && !ret; i++)
		ret = key_op(o, MODEL_EXCEPT, false, &xk[i]);
	free(xk);
	return ret;
}

/* Reverse rules of the touched keys, from the ports of m (committed) and
 * its addresses plus extra (one about to join crbpf_local, or NULL). */
static int rev_ops(const struct model *m, const struct crbpf_rev_key *touched_in,
		   int nin, primary_addr_fn primary,
		   const struct model_local *extra, struct model_ops *o)
{
	struct crbpf_rev_key *touched = NULL;
	struct rev_index ix;
	int i, nt, ret;

	ret = rev_index_build(&ix, m->ports, m->np);
	if (ret)
		return ret;
	ix.local = m->local;
	ix.nl = m->nl;
	ix.extra = extra;
	nt = rev_touched_expand(touched_in, nin, m->rev, m->nr, &touched);
	ret = nt < 0 ? nt : 0;
	for (i = 0; i < nt && !ret; i++) {
		struct crbpf_rev rev;
		bool put = rev_rule_of(&ix, &touched[i], primary, &rev);
		struct model_op *op = op_add(o, MODEL_REV, !put);

		if (!op) {
			ret = -ENOMEM;
			break;
		}
		op->k.rev = touched[i];
		op->v.rev = rev;
	}
	free(touched);
	rev_index_free(&ix);
	return ret;
}

/* crbpf_local flags that changed with the ports of m (committed). */
static int local_ops(const struct model *m, struct model_ops *o)
{
	int i;

	for (i = 0; i < m->nl; i++) {
		__u32 flags = local_flags_of(&m->local[i].k, m->ports, m->np);
		struct model_op *op;

		if (flags == m->local[i].v.flags)
			continue;
		op = op_add(o, MODEL_LOCAL, false);
		if (!op)
			return -ENOMEM;
		op->k.addr = m->local[i].k;
		op->v.local = m->local[i].v;
		op->v.local.flags = flags;
	}
	return 0;
}

/* Is the entry e of m tracked (CRBPF_BE_TRACK)? When its reverse key has
 * no single static answer: an `all` entry, no rule, refs > 1 or
 * CRBPF_REV_TRACK. */
static bool port_tracked(const struct rev_index *ix, const struct model_port *e,
			 primary_addr_fn primary)
{
	struct crbpf_rev_key rk;
	struct crbpf_rev rev;

	if (e->v.flags & CRBPF_BE_ALL)
		return true;
	rev_key_of(&rk, &e->k, &e->v);
	return !rev_rule_of(ix, &rk, primary, &rev) || rev.refs != 1 ||
	       (rev.match & CRBPF_REV_TRACK);
}

/* CRBPF_BE_TRACK of the ports of m (committed) where it changed: puts of
 * the entries again, after the reverse rules that made it change. */
static int track_ops(const struct model *m, primary_addr_fn primary,
		     struct model_ops *o)
{
	struct rev_index ix;
	int i, ret;

	ret = rev_index_build(&ix, m->ports, m->np);
	if (ret)
		return ret;
	ix.local = m->local;
	ix.nl = m->nl;
	for (i = 0; i < m->np && !ret; i++) {
		const struct model_port *e = &m->ports[i];
		struct crbpf_backend nb = e->v;

		if (port_tracked(&ix, e, primary))
			nb.flags |= CRBPF_BE_TRACK;
		else
			nb.flags &= ~CRBPF_BE_TRACK;
		if (nb.flags != e->v.flags)
			ret = port_put(o, &e->k, &nb);
	}
	rev_index_free(&ix);
	return ret;
}

/* Touched reverse keys, one per port op from..end (old and new backend). */
static int touched_of(const struct model *before, const struct model_ops *o,
		      int from, struct crbpf_rev_key **out)
{
	struct crbpf_rev_key *t = calloc(2 * (o->n - from) + 1, sizeof(*t));
	const struct model_port *old;
	int i, nt = 0;

	if (!t)
		return -ENOMEM;
	for (i = from; i < o->n; i++) {
		const struct model_op *op = &o->op[i];

		if (op->map != MODEL_PORTS)
			continue;
		old = model_port_find(before, &op->k.port);
		if (old)
			rev_key_of(&t[nt++], &old->k, &old->v);
		if (!op->del)
			rev_key_of(&t[nt++], &op->k.port, &op->v.be);
	}
	*out = t;
	return nt;
}

/* Reverse keys of every entry of m. Returns the count or -ENOMEM. */
static int all_rev_keys(const struct model *m, struct crbpf_rev_key **out)
{
	int i;

	*out = calloc(m->np + 1, sizeof(**out));
	if (!*out)
		return -ENOMEM;
	for (i = 0; i < m->np; i++)
		rev_key_of(&(*out)[i], &m->ports[i].k, &m->ports[i].v);
	return m->np;
}

/* What follows the port ops from..end: the model committed, the reverse
 * rules, an --addr address (ensure) in crbpf_local, (sync_local) the
 * crbpf_local flags, and CRBPF_BE_TRACK. A new address may make a device
 * one of several addresses: then every rule is computed again, with it,
 * before it is written. */
static int follow(struct model *m, struct model_ops *o, int from,
		  primary_addr_fn primary, const struct model_local *ensure,
		  bool sync_local)
{
	struct crbpf_rev_key *touched;
	struct model_op *op;
	int nt, mid, ret;

	if (ensure && local_find(m, &ensure->k))
		ensure = NULL;
	nt = touched_of(m, o, from, &touched);
	if (nt < 0)
		return nt;
	ret = model_commit(m, o, from);
	if (!ret && ensure) {
		free(touched);
		nt = all_rev_keys(m, &touched);
		if (nt < 0)
			return nt;
	}
	mid = o->n;
	if (!ret)
		ret = rev_ops(m, touched, nt, primary, ensure, o);
	free(touched);
	if (!ret && ensure) {
		op = op_add(o, MODEL_LOCAL, false);
		if (!op)
			return -ENOMEM;
		op->k.addr = ensure->k;
		op->v.local = ensure->v;
	}
	if (!ret)
		ret = model_commit(m, o, mid);
	mid = o->n;
	if (!ret && sync_local)
		ret = local_ops(m, o);
	if (!ret)
		ret = model_commit(m, o, mid);
	mid = o->n;
	return ret ?: track_ops(m, primary, o) ?: model_commit(m, o, mid);
}

/*
 * port add: per port the crbpf_ports entry (one put replaces a backend),
 * fresh counters for a new key, the except set of an `all` entry; then the
 * reverse rules of the old and new backends, an --addr address in
 * crbpf_local (attach records the addresses it finds; this one came
 * later), and the local flags.
 */
int model_port_add(struct model *m, const struct port_spec *s, __u32 pub_ifindex,
		   __u32 oif, bool l2, const struct except_list *x,
		   primary_addr_fn primary, struct model_ops *o)
{
	int from = o->n, ret;
	__u32 id;
	__u16 p;

	ret = port_add_id(m, s, pub_ifindex, oif, l2, o, &id);
	for (p = s->first; !ret; p++) {
		struct crbpf_port_key key;
		struct crbpf_backend nb;

		port_entry_of(s, pub_ifindex, oif, l2, p, &key, &nb);
		nb.mapping = id;
		ret = port_put(o, &key, &nb);
		if (!ret && s->all)
			ret = except_ops(m, &key, x, o);
		if (p == s->last)
			break;
	}
	if (ret)
		return ret;
	if (s->paddr.family) {
		struct model_local ensure = { .k.family = s->paddr.family,
					      .v.ifindex = pub_ifindex };

		memcpy(ensure.k.addr, s->paddr.a, sizeof(ensure.k.addr));
		return follow(m, o, from, primary, &ensure, true);
	}
	return follow(m, o, from, primary, NULL, true);
}

/* port del of the entries of keys (those present): the entry and its
 * except set; then reverse rules and local flags. The mapping id is free
 * once no entry has it (an array slot cannot be deleted: the next mapping
 * to take the id zeroes it). */
int model_port_del(struct model *m, const struct crbpf_port_key *keys, int n,
		   primary_addr_fn primary, struct model_ops *o)
{
	const struct model_port *e;
	int i, from = o->n, ret = 0;

	for (i = 0; i < n && !ret; i++) {
		e = model_port_find(m, &keys[i]);
		if (!e)
			continue;
		ret = key_op(o, MODEL_PORTS, true, &keys[i]);
		if (!ret && (e->v.flags & CRBPF_BE_ALL))
			ret = except_ops(m, &keys[i], NULL, o);
	}
	return ret ?: follow(m, o, from, primary, NULL, true);
}

/* Everything mapped on one public device (0: on the devices exists() does
 * not know any more). */
int model_purge(struct model *m, int pub_ifindex, bool (*exists)(int ifindex),
		primary_addr_fn primary, struct model_ops *o)
{
	struct crbpf_port_key *keys = calloc(m->np + 1, sizeof(*keys));
	int i, n = 0, ret;

	if (!keys)
		return -ENOMEM;
	for (i = 0; i < m->np; i++)
		if (purge_hits(&m->ports[i].k, pub_ifindex, exists))
			keys[n++] = m->ports[i].k;
	ret = model_port_del(m, keys, n, primary, o);
	free(keys);
	return ret;
}

/* Entries of one mapping of an older layout sort next to each other:
 * scope, backend, then the port. */
static const struct crbpf_port_key *rk_keys;
static const struct crbpf_backend *rk_vals;

static int restore_cmp(const void *a, const void *b)
{
	const struct crbpf_port_key *x = &rk_keys[*(const int *)a],
				    *y = &rk_keys[*(const int *)b];
	const struct crbpf_backend *u = &rk_vals[*(const int *)a],
				   *v = &rk_vals[*(const int *)b];
	int c;

	if (x->ifindex != y->ifindex)
		return x->ifindex < y->ifindex ? -1 : 1;
	if (x->family != y->family || x->proto != y->proto)
		return x->family != y->family ? x->family - y->family :
						 x->proto - y->proto;
	c = memcmp(x->addr, y->addr, sizeof(x->addr)) ?:
	    memcmp(u->addr, v->addr, sizeof(u->addr));
	if (c)
		return c;
	if (u->flags != v->flags || u->ifindex != v->ifindex)
		return u->flags != v->flags ? u->flags - v->flags :
					      (u->ifindex < v->ifindex ? -1 : 1);
	return ntohs(x->port) - ntohs(y->port);
}

/* Entry b continues the range of entry a: the same public scope and
 * backend, the next port, the same offset to the backend port. */
static bool restore_extends(const struct crbpf_port_key *ka,
			    const struct crbpf_backend *va,
			    const struct crbpf_port_key *kb,
			    const struct crbpf_backend *vb)
{
	return !(va->flags & CRBPF_BE_ALL) && same_scope(ka, kb) &&
	       !memcmp(va->addr, vb->addr, sizeof(va->addr)) &&
	       va->flags == vb->flags && va->ifindex == vb->ifindex &&
	       ntohs(kb->port) == ntohs(ka->port) + 1 &&
	       (__u16)(ntohs(vb->port) - ntohs(kb->port)) ==
		       (__u16)(ntohs(va->port) - ntohs(ka->port));
}

/* Mappings read from an older layout, without ids: those not in m yet,
 * one id per range (consecutive ports of one scope and backend with one
 * offset, as `port add` made them), fresh counters and their reverse
 * rules. */
int model_restore(struct model *m, const struct crbpf_port_key *keys,
		  const struct crbpf_backend *vals, int n,
		  primary_addr_fn primary, struct model_ops *o)
{
	__u8 used[CRBPF_MAX_MAPPINGS];
	int i, k, id = 0, prev = -1, from = o->n, ret = 0;
	int *ord = calloc(n + 1, sizeof(*ord));

	if (!ord)
		return -ENOMEM;
	for (i = 0; i < n; i++)
		ord[i] = i;
	rk_keys = keys;
	rk_vals = vals;
	qsort(ord, n, sizeof(*ord), restore_cmp);
	ids_used(m, used);
	for (k = 0; k < n && !ret; k++) {
		struct crbpf_backend v;

		i = ord[k];
		if (model_port_find(m, &keys[i]))
			continue;
		if (prev < 0 || !restore_extends(&keys[prev], &vals[prev],
						 &keys[i], &vals[i])) {
			id = id_take(used);
			ret = id < 0 ? id : mstats_zero_op(o, id);
		}
		prev = i;
		v = vals[i];
		v.mapping = id;
		v.nh = 0;
		if (!ret)
			ret = port_put(o, &keys[i], &v);
	}
	free(ord);
	return ret ?: follow(m, o, from, primary, NULL, false);
}

/* crbpf_local flags from the ports of m. */
int model_local_sync(struct model *m, struct model_ops *o)
{
	int mid = o->n;

	return local_ops(m, o) ?: model_commit(m, o, mid);
}

/* Every reverse rule again (the public addresses changed, an upgrade or an
 * attach over pins an older crbpf wrote), and CRBPF_BE_TRACK with them. */
int model_rev_refresh(struct model *m, primary_addr_fn primary,
		      struct model_ops *o)
{
	struct crbpf_rev_key *touched;
	int nt, mid = o->n, ret;

	nt = all_rev_keys(m, &touched);
	if (nt < 0)
		return nt;
	ret = rev_ops(m, touched, nt, primary, NULL, o);
	free(touched);
	if (!ret)
		ret = model_commit(m, o, mid);
	mid = o->n;
	return ret ?: track_ops(m, primary, o) ?: model_commit(m, o, mid);
}
