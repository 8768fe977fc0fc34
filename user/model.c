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
int rev_index_build(struct rev_index *ix, const struct crbpf_port_key *keys,
		    const struct crbpf_backend *vals, int n)
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
		if (vals[i].flags & CRBPF_BE_ALL) {
			rev_key_of(&ix->allb[ix->na++], &keys[i], &vals[i]);
			continue;
		}
		rev_key_of(&ix->src[ix->ns].rk, &keys[i], &vals[i]);
		ix->src[ix->ns++].pk = keys[i];
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

/*
 * The crbpf_rev entry of backend key rk from the entries of ix: refs =
 * public (address, port) pairs mapped onto that backend port, plus one when
 * an `all` entry leads to the backend address (it may reach any of its
 * ports); more than one ref makes the rule ambiguous. Returns 1 with *rev
 * to put, 0 when rk has no static rule (delete it).
 */
int rev_rule_of(const struct rev_index *ix, const struct crbpf_rev_key *rk,
		primary_addr_fn primary, struct crbpf_rev *rev)
{
	struct rev_src *hit = NULL;
	struct addr pub;
	int j, refs = 0;

	memset(rev, 0, sizeof(*rev));
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
	return 1;
}

/* The reverse keys a change touched, where one with port 0 (an `all`
 * entry) stands for every entry of rev_keys on its backend address; *out
 * is allocated. Returns the count or -ENOMEM. */
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
			if (rev_same_backend(&rev_keys[j], &in[i]))
				t[nt++] = rev_keys[j];
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
		     const struct crbpf_port_key *keys,
		     const struct crbpf_backend *vals, int n)
{
	__u32 flags = 0;
	int i;

	for (i = 0; i < n; i++) {
		bool mine = !memcmp(keys[i].addr, ak->addr, sizeof(ak->addr));

		if (keys[i].family != ak->family)
			continue;
		if (mine)
			flags |= CRBPF_LOCAL_ADDR;
		if ((vals[i].flags & CRBPF_BE_ALL) &&
		    (mine || !key_has_addr(&keys[i])))
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
