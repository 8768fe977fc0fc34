// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/* crbpf apply / config. apply checks the whole file first, then makes the
 * live state equal to it with the commands' own functions (edge_attach,
 * port_add, port_del, home_attach, ...), called only for what differs: an
 * entry of crbpf_ports the file keeps is never written, so its flows and
 * packets are not disturbed. config prints the live state as a file that
 * apply takes back without a single change. */
#include "conf.h"
#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <bpf/bpf.h>
#include <linux/if_arp.h>
#include <linux/rtnetlink.h>

/* What apply changes, one line each on stdout, in the commands' words. */
static void say(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void say(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	putchar('\n');
	fflush(stdout);
}

struct names {
	char (*v)[IF_NAMESIZE * 2];
	int n;
};

static int names_cb(const char *dev, const char *path, void *data)
{
	struct names *nm = data;
	void *p;

	(void)path;
	p = realloc(nm->v, (nm->n + 1) * sizeof(*nm->v));
	if (!p)
		return -ENOMEM;
	nm->v = p;
	snprintf(nm->v[nm->n++], sizeof(*nm->v), "%s", dev);
	return 0;
}

static int str_cmp(const void *a, const void *b)
{
	return strcmp(a, b);
}

/* Devices with pins of one kind (NULL: home tunnels), sorted. */
static int names_get(const char *kind, struct names *nm)
{
	int ret;

	memset(nm, 0, sizeof(*nm));
	ret = pin_iter(kind, names_cb, nm);
	if (nm->n)
		qsort(nm->v, nm->n, sizeof(*nm->v), str_cmp);
	return ret;
}

/* A pinned map that may not exist yet (nothing attached): no message. */
static int map_open_quiet(const char *name)
{
	char path[PATH_MAX];
	int fd;

	pin_path(path, sizeof(path), "maps", NULL, name);
	fd = bpf_obj_get(path);
	return fd < 0 ? -errno : fd;
}

/* crbpf_ports and crbpf_except as they are now. */
struct live {
	struct crbpf_port_key *keys;
	struct crbpf_backend *vals;
	int n;
	struct crbpf_port_key *xkeys;
	__u8 *xvals;
	int nx;
};

static void live_free(struct live *l)
{
	free(l->keys);
	free(l->vals);
	free(l->xkeys);
	free(l->xvals);
	memset(l, 0, sizeof(*l));
}

static int live_load(struct live *l)
{
	int fd, n;

	memset(l, 0, sizeof(*l));
	fd = map_open_quiet("crbpf_ports");
	if (fd < 0)
		return fd == -ENOENT ? 0 : fd;
	n = map_dump(fd, sizeof(*l->keys), sizeof(*l->vals), (void **)&l->keys,
		     (void **)&l->vals);
	close(fd);
	if (n < 0)
		return n;
	l->n = n;
	fd = fo_open();
	for (n = 0; n < l->n; n++)
		fo_model_view(fd, &l->vals[n]);
	if (fd >= 0)
		close(fd);
	fd = map_open_quiet("crbpf_except");
	if (fd < 0)
		return fd == -ENOENT ? 0 : fd;
	n = map_dump(fd, sizeof(*l->xkeys), sizeof(*l->xvals), (void **)&l->xkeys,
		     (void **)&l->xvals);
	close(fd);
	if (n < 0)
		return n;
	l->nx = n;
	return 0;
}

#define PORT_BITS (65536 / 8)

/* The exceptions of the `all` entry scope, one bit per port. */
static void except_bits_live(const struct live *l,
			     const struct crbpf_port_key *scope, __u8 *bits)
{
	int i, p;

	memset(bits, 0, PORT_BITS);
	for (i = 0; i < l->nx; i++) {
		const struct crbpf_port_key *k = &l->xkeys[i];

		if (k->ifindex != scope->ifindex || k->family != scope->family ||
		    k->proto != scope->proto ||
		    memcmp(k->addr, scope->addr, sizeof(k->addr)))
			continue;
		p = ntohs(k->port);
		bits[p / 8] |= 1 << (p % 8);
	}
}

static void except_bits_list(const struct except_list *x, __u8 *bits)
{
	unsigned int p;
	int i;

	memset(bits, 0, PORT_BITS);
	for (i = 0; i < x->n; i++)
		for (p = x->first[i]; p <= x->last[i]; p++)
			bits[p / 8] |= 1 << (p % 8);
}

/* A crbpf_ports entry, wanted by the file (fwd >= 0) or live (fwd -1). */
struct entry {
	struct crbpf_port_key k;
	struct crbpf_backend be;
	int fwd;
	bool change;
};

static int entry_key_cmp(const void *a, const void *b)
{
	return port_key_cmp(&((const struct entry *)a)->k,
			    &((const struct entry *)b)->k);
}

/* Forward by forward, ports ascending: the order runs are cut in. */
static int entry_fwd_cmp(const void *a, const void *b)
{
	const struct entry *x = a, *y = b;

	if (x->fwd != y->fwd)
		return x->fwd - y->fwd;
	return ntohs(x->k.port) - ntohs(y->k.port);
}

/* proto, family, address, port: what one port del (or Forward) covers. */
static int entry_run_cmp(const void *a, const void *b)
{
	const struct entry *x = a, *y = b;
	int c;

	if (x->k.proto != y->k.proto)
		return x->k.proto - y->k.proto;
	if (x->k.family != y->k.family)
		return x->k.family - y->k.family;
	c = memcmp(x->k.addr, y->k.addr, sizeof(x->k.addr));
	if (c)
		return c;
	return ntohs(x->k.port) - ntohs(y->k.port);
}

static bool same_run(const struct entry *a, const struct entry *b)
{
	return a->k.proto == b->k.proto && a->k.family == b->k.family &&
	       !memcmp(a->k.addr, b->k.addr, sizeof(a->k.addr)) && a->k.port &&
	       b->k.port && ntohs(b->k.port) == ntohs(a->k.port) + 1;
}

/* The entries the forwards of e map, as port add would write them. */
static int wanted_entries(const struct conf_edge *e, int ifindex,
			  struct entry **out, int *nout)
{
	struct entry *v;
	int i, n = 0;
	__u32 p;

	for (i = 0; i < e->nfwd; i++)
		n += e->fwd[i].spec.last - e->fwd[i].spec.first + 1;
	v = calloc(n + 1, sizeof(*v));
	if (!v)
		return -ENOMEM;
	n = 0;
	for (i = 0; i < e->nfwd; i++) {
		const struct port_spec *s = &e->fwd[i].spec;

		for (p = s->first; p <= s->last; p++) {
			struct entry *x = &v[n++];

			x->k.ifindex = ifindex;
			x->k.family = s->be.family;
			x->k.proto = s->proto;
			x->k.port = htons(p);
			memcpy(x->k.addr, s->paddr.a, sizeof(x->k.addr));
			memcpy(x->be.addr, s->be.a, sizeof(x->be.addr));
			x->be.port = htons(s->bport ? s->bport + (p - s->first) : p);
			x->be.flags = s->all ? CRBPF_BE_ALL : 0;
			x->fwd = i;
		}
	}
	*out = v;
	*nout = n;
	return 0;
}

static int acl_key_cmp(const void *a, const void *b)
{
	return memcmp(a, b, sizeof(struct crbpf_acl_key));
}

/* Does the list in slot (live) hold exactly the prefixes of want? A list
 * not given wants no list. */
static bool acl_list_same(int outer, __u32 slot, const struct acl_list *want,
			  bool given)
{
	struct acl_list have = {}, w = {};
	bool same;

	if (!given || !want->n)
		return !acl_slot_used(outer, slot);
	if (acl_slot_dump(outer, slot, &have))
		return false;
	w.n = want->n;
	w.k = malloc(w.n * sizeof(*w.k) + 1);
	if (!w.k) {
		acl_list_free(&have);
		return false;
	}
	memcpy(w.k, want->k, w.n * sizeof(*w.k));
	qsort(w.k, w.n, sizeof(*w.k), acl_key_cmp);
	/* duplicates in the file: the trie holds each once */
	if (w.n) {
		int i, j = 1;

		for (i = 1; i < w.n; i++)
			if (acl_key_cmp(&w.k[i], &w.k[j - 1]))
				w.k[j++] = w.k[i];
		w.n = j;
	}
	qsort(have.k, have.n, sizeof(*have.k), acl_key_cmp);
	same = have.n == w.n && !memcmp(have.k, w.k, w.n * sizeof(*w.k));
	acl_list_free(&have);
	free(w.k);
	return same;
}

/* The lists of mapping id are those a wants (both kinds). One answer per
 * (a, id): entry_same() asks for every port of a range. */
/* acl_same()'s answer for the last (args, id): a range asks it per port.
 * Forgotten by apply_file(): crbpf watch applies again and again, and a
 * new parse may put other lists at the same address. */
static const struct acl_args *acl_last_a;
static __u32 acl_last_id;
static bool acl_last;

static bool acl_same(const struct acl_args *a, __u32 id)
{
	int outer, kind;

	if (a == acl_last_a && id == acl_last_id)
		return acl_last;
	outer = pin_map_open_quiet("crbpf_acl");
	acl_last = true;
	for (kind = 0; kind < 2 && acl_last; kind++)
		acl_last = outer < 0 ? !a->given[kind] || !a->list[kind].n :
			acl_list_same(outer, crbpf_acl_slot(id, kind),
				      &a->list[kind], a->given[kind]);
	if (outer >= 0)
		close(outer);
	acl_last_a = a;
	acl_last_id = id;
	return acl_last;
}

/* The limits of mapping id are those a wants (none when a gives none:
 * the file is the whole state). */
static bool limit_same(const struct limit_args *a, __u32 id)
{
	int fd = pin_map_open_quiet("crbpf_limits");
	struct crbpf_limit want, have;

	limit_of_args(a, &want);
	limit_get(fd, id, &have);
	if (fd >= 0)
		close(fd);
	return !memcmp(&want, &have, sizeof(want));
}

/* The failover list of mapping id is the one a wants (one answer per
 * (a, id), as acl_same()). */
static bool fo_same(const struct fo_args *a, __u32 id)
{
	static const struct fo_args *last_a;
	static __u32 last_id;
	static bool same;
	struct crbpf_fo f;
	int fd, i;

	if (a == last_a && id == last_id)
		return same;
	last_a = a;
	last_id = id;
	fd = fo_open();
	same = fo_get(fd, id, &f) ? !a->n :
	       f.n == a->n + 1 && f.probe_proto == a->probe_proto &&
	       ntohs(f.probe_port) == a->probe_port &&
	       f.handshake_max == (a->handshake_max ? a->handshake_max :
						      CRBPF_FO_HANDSHAKE_DEFAULT);
	for (i = 0; same && i < a->n; i++)
		same = !memcmp(f.be[i + 1].addr, a->be[i].a, sizeof(a->be[i].a));
	if (fd >= 0)
		close(fd);
	return same;
}

/* Does the live entry l already do what w wants? oif: the device the
 * routing table reaches w's backend by now (0: unknown, not compared). */
static bool entry_same(const struct entry *w, const struct entry *l, int oif,
		       const struct conf_forward *f, const struct live *lv)
{
	static __u8 want[PORT_BITS], have[PORT_BITS];

	if (memcmp(w->be.addr, l->be.addr, sizeof(w->be.addr)) ||
	    w->be.port != l->be.port ||
	    (w->be.flags & CRBPF_BE_ALL) != (l->be.flags & CRBPF_BE_ALL) ||
	    (oif && (int)l->be.ifindex != oif) ||
	    !acl_same(&f->args.acl, l->be.mapping) ||
	    !limit_same(&f->args.limit, l->be.mapping) ||
	    !fo_same(&f->args.fo, l->be.mapping))
		return false;
	if (!(w->be.flags & CRBPF_BE_ALL))
		return true;
	except_bits_list(&f->args.except, want);
	except_bits_live(lv, &l->k, have);
	return !memcmp(want, have, PORT_BITS);
}

static void backend_str(const struct addr *a, __u16 port, char *buf, size_t len)
{
	char abuf[INET6_ADDRSTRLEN];

	addr_str(a, abuf, sizeof(abuf));
	if (port)
		snprintf(buf, len, a->family == CRBPF_V6 ? "[%s]:%u" : "%s:%u", abuf,
			 port);
	else
		snprintf(buf, len, a->family == CRBPF_V6 ? "[%s]" : "%s", abuf);
}

static void range_str(__u16 first, __u16 last, char *buf, size_t len)
{
	if (!first)
		snprintf(buf, len, "all");
	else if (first == last)
		snprintf(buf, len, "%u", first);
	else
		snprintf(buf, len, "%u-%u", first, last);
}

/* port del for live entries [i, j) of one run. */
static int del_run(const char *dev, const struct entry *v, int i, int j)
{
	char range[16], abuf[INET6_ADDRSTRLEN];
	struct port_args a = {};
	struct addr pub = { .family = v[i].k.family };
	int ret;

	range_str(ntohs(v[i].k.port), ntohs(v[j - 1].k.port), range, sizeof(range));
	a.dev = dev;
	a.pos[0] = proto_str(v[i].k.proto);
	a.pos[1] = range;
	a.npos = 2;
	a.family = v[i].k.family;
	if (key_has_addr(&v[i].k)) {
		memcpy(pub.a, v[i].k.addr, sizeof(pub.a));
		a.addr = addr_str(&pub, abuf, sizeof(abuf));
	}
	ret = port_del(&a);
	if (!ret)
		say("port del %s %s%s%s --dev %s (%s)", a.pos[0], range,
		    a.addr ? " --addr " : "", a.addr ? a.addr : "", dev,
		    family_str(a.family));
	return ret;
}

/* port add for wanted entries [i, j): part (or all) of one Forward. */
static int add_run(const char *dev, const struct conf_forward *f,
		   const struct entry *v, int i, int j)
{
	const struct port_spec *s = &f->spec;
	__u16 first = ntohs(v[i].k.port), last = ntohs(v[j - 1].k.port);
	char range[16], backend[INET6_ADDRSTRLEN + 10];
	struct port_args a = f->args;
	int k, ret;

	range_str(first, last, range, sizeof(range));
	backend_str(&s->be, s->bport ? s->bport + (first - s->first) : 0, backend,
		    sizeof(backend));
	a.dev = dev;
	a.pos[0] = proto_str(s->proto);
	a.pos[1] = range;
	a.pos[2] = backend;
	a.npos = 3;
	/* the file is the whole state: a list it does not give goes */
	a.acl.given[CRBPF_ACL_ALLOW] = a.acl.given[CRBPF_ACL_DENY] = true;
	a.limit.given = true;
	ret = port_add(&a);
	if (ret)
		return ret;
	printf("port add %s %s %s", a.pos[0], range, backend);
	for (k = 0; f->argv[k]; k++)
		if (f->argv[k] != f->args.pos[0] && f->argv[k] != f->args.pos[1] &&
		    f->argv[k] != f->args.pos[2])
			printf(" %s", f->argv[k]);
	say(" --dev %s", dev);
	return 0;
}

/* Forwards of one attached edge: removed first, then added or changed;
 * a signal (undo_check(tx)) stops it before the next run. */
static int apply_forwards(const struct conf_edge *e, int ifindex,
			  const struct live *lv, struct undo *tx)
{
	struct entry *want = NULL, *have = NULL;
	int *oif = NULL, nw = 0, nh = 0, i, j, c, ret, first = 0;
	bool *fchanged = NULL;
	unsigned char rtype;

	ret = wanted_entries(e, ifindex, &want, &nw);
	if (ret)
		return ret;
	have = calloc(lv->n + 1, sizeof(*have));
	oif = calloc(e->nfwd + 1, sizeof(*oif));
	fchanged = calloc(e->nfwd + 1, sizeof(*fchanged));
	if (!have || !oif || !fchanged) {
		ret = -ENOMEM;
		goto out;
	}
	for (i = 0; i < lv->n; i++) {
		if ((int)lv->keys[i].ifindex != ifindex)
			continue;
		have[nh].k = lv->keys[i];
		have[nh].be = lv->vals[i];
		have[nh++].fwd = -1;
	}
	for (i = 0; i < e->nfwd; i++)
		if (nl_route_get(&e->fwd[i].spec.be, &oif[i], &rtype) ||
		    rtype != RTN_UNICAST)
			oif[i] = 0;
	qsort(want, nw, sizeof(*want), entry_key_cmp);
	qsort(have, nh, sizeof(*have), entry_key_cmp);
	for (i = 0, j = 0; i < nw || j < nh;) {
		c = i == nw ? 1 : j == nh ? -1 : port_key_cmp(&want[i].k, &have[j].k);
		if (c < 0) {
			want[i++].change = true;
		} else if (c > 0) {
			have[j++].change = true;
		} else {
			want[i].change = !entry_same(&want[i], &have[j],
						     oif[want[i].fwd],
						     &e->fwd[want[i].fwd], lv);
			i++;
			j++;
		}
	}
	/* A Forward line is one mapping (one counters id, user/model.c):
	 * when part of it changes, all of it is added again, so that it stays
	 * one mapping rather than the old ports' and the new ones'. */
	for (i = 0; i < nw; i++)
		fchanged[want[i].fwd] |= want[i].change;
	for (i = 0; i < nw; i++)
		want[i].change = fchanged[want[i].fwd];
	qsort(have, nh, sizeof(*have), entry_run_cmp);
	for (i = 0; i < nh; i = j) {
		for (j = i + 1; j < nh && have[i].change && have[j].change &&
				same_run(&have[j - 1], &have[j]);
		     j++)
			;
		if (have[i].change && undo_check(tx)) {
			first = -EINTR;
			goto done;
		}
		if (have[i].change) {
			ret = del_run(e->dev, have, i, j);
			first = first ?: ret;
		}
	}
	qsort(want, nw, sizeof(*want), entry_fwd_cmp);
	for (i = 0; i < nw && first != -EINTR; i = j) {
		for (j = i + 1; j < nw && want[i].change && want[j].change &&
				want[j].fwd == want[i].fwd &&
				same_run(&want[j - 1], &want[j]);
		     j++)
			;
		if (want[i].change && undo_check(tx)) {
			first = -EINTR;
			break;
		}
		if (want[i].change) {
			ret = add_run(e->dev, &e->fwd[want[i].fwd], want, i, j);
			first = first ?: ret;
		}
	}
done:
	ret = first;
out:
	free(want);
	free(have);
	free(oif);
	free(fchanged);
	return ret;
}

/* live MODE_AUTO: an XDP link is pinned but the device has no XDP program
 * (it was re-created): attaching again is the repair. */
static bool mode_ok(enum xdp_mode want, int live)
{
	if (live == MODE_AUTO)
		return false;
	if (want == MODE_AUTO)
		return live != MODE_TC;
	return live == (int)want;
}

/* crbpf_mss of ifindex (no entry: auto). */
static void live_mss(int ifindex, struct crbpf_mss_cfg *cfg)
{
	__u32 key = ifindex;
	int fd;

	memset(cfg, 0, sizeof(*cfg));
	fd = map_open_quiet("crbpf_mss");
	if (fd < 0)
		return;
	if (bpf_map_lookup_elem(fd, &key, cfg))
		memset(cfg, 0, sizeof(*cfg));
	close(fd);
}

static bool mss_ok(const struct mss_opt *want, int ifindex)
{
	struct crbpf_mss_cfg cur, w = {};

	if (want->set)
		w = want->cfg;
	live_mss(ifindex, &cur);
	return cur.mode == w.mode && (w.mode != CRBPF_MSS_FIXED || cur.mss == w.mss);
}

static void live_timeouts(struct crbpf_timeouts *t)
{
	__u32 key = 0;
	int fd;

	memset(t, 0, sizeof(*t));
	fd = map_open_quiet("crbpf_timeouts");
	if (fd < 0)
		return;
	if (bpf_map_lookup_elem(fd, &key, t))
		memset(t, 0, sizeof(*t));
	close(fd);
}

/* Entries of the pinned flow table (0: none yet). */
static __u32 live_flows_size(void)
{
	return layout_pinned_entries("crbpf_flows");
}

static bool home_same(const struct conf_home *h)
{
	struct home_info hi;
	int i, j;

	if (home_info_load(h->tunnel, &hi) || hi.table != h->table ||
	    hi.mark != h->mark || hi.nserve != h->nserve)
		return false;
	for (j = 0; j < h->nserve; j++) {
		for (i = 0; i < hi.nserve; i++)
			if (!strcmp(hi.serve[i], h->serve[j]))
				break;
		if (i == hi.nserve)
			return false;
	}
	return true;
}

static bool edge_in(const struct conf *c, const char *dev)
{
	int i;

	for (i = 0; i < c->nedge; i++)
		if (!strcmp(c->edge[i].dev, dev))
			return true;
	return false;
}

static bool home_in(const struct conf *c, const char *tunnel)
{
	int i;

	for (i = 0; i < c->nhome; i++)
		if (!strcmp(c->home[i].tunnel, tunnel))
			return true;
	return false;
}

/* Every device the file names must exist before anything is changed;
 * -ENODEV tells `crbpf watch` to wait for them. */
static int devices_present(const char *path, const struct conf *c)
{
	int i, j, idx;

	for (i = 0; i < c->nedge; i++)
		if (resolve_iface(c->edge[i].dev, &idx)) {
			err("%s:%d: Interface %s does not exist", path, c->edge[i].line,
			    c->edge[i].dev);
			return -ENODEV;
		}
	for (i = 0; i < c->nhome; i++) {
		if (resolve_iface(c->home[i].tunnel, &idx)) {
			err("%s:%d: Tunnel %s does not exist", path, c->home[i].line,
			    c->home[i].tunnel);
			return -ENODEV;
		}
		for (j = 0; j < c->home[i].nserve; j++)
			if (resolve_iface(c->home[i].serve[j], &idx)) {
				err("%s:%d: Serve device %s does not exist", path,
				    c->home[i].line, c->home[i].serve[j]);
				return -ENODEV;
			}
	}
	return 0;
}

/* The reverse programs of devices no mapping uses any more: port add and
 * del leave them to the end of apply, as a rollback would need them. */
static void release_unused(void)
{
	int ports = map_open_quiet("crbpf_ports");
	int txports = map_open_quiet("crbpf_txports");

	if (ports >= 0)
		tun_release_unused(ports, txports);
	if (ports >= 0)
		close(ports);
	if (txports >= 0)
		close(txports);
}

/*
 * A signal: while apply has made only changes its journal tx can take back
 * (port del and add), stop and take them back; once it must detach or
 * attach something (not undone by the journal once done), finish first.
 */
static bool must_finish(struct undo *tx)
{
	if (undo_check(tx))
		return false;
	undo_no_return();
	return true;
}

/* The global lists as the file gives them. */
static int live_global_lists(struct acl_args *a)
{
	int outer = pin_map_open_quiet("crbpf_acl"), kind, ret = 0;

	for (kind = 0; kind < 2 && outer >= 0 && !ret; kind++) {
		ret = acl_slot_dump(outer, crbpf_acl_slot(0, kind), &a->list[kind]);
		a->given[kind] = a->list[kind].n > 0;
		qsort(a->list[kind].k, a->list[kind].n, sizeof(*a->list[kind].k),
		      acl_key_cmp);
	}
	if (outer >= 0)
		close(outer);
	return ret;
}

/* Makes the global lists those of the file: each that differs built whole
 * and swapped in. */
static int apply_global_lists(const struct conf *c)
{
	int outer, kind, trie, ret = 0;
	bool changed = false;

	outer = pin_map_open_quiet("crbpf_acl");
	if (outer < 0)
		return c->acl.list[0].n || c->acl.list[1].n ? acl_open() : 0;
	for (kind = 0; kind < 2 && !ret; kind++) {
		if (acl_list_same(outer, crbpf_acl_slot(0, kind), &c->acl.list[kind],
				  c->acl.given[kind]))
			continue;
		trie = c->acl.list[kind].n ? acl_trie_build(&c->acl.list[kind]) : -1;
		if (c->acl.list[kind].n && trie < 0) {
			ret = trie;
			break;
		}
		ret = acl_slot_set(outer, crbpf_acl_slot(0, kind), trie);
		if (trie >= 0)
			close(trie);
		if (ret) {
			err("failed to update crbpf_acl: %s", strerror(-ret));
			break;
		}
		say("acl %s %s global (%d prefixes)", c->acl.list[kind].n ? "load" : "clear",
		    acl_kind_names[kind], c->acl.list[kind].n);
		changed = true;
	}
	close(outer);
	if (changed)
		ret = ret ?: acl_flags_sync();
	return ret;
}

static int apply_conf(const char *path, const struct conf *c)
{
	struct crbpf_timeouts to_live;
	struct names nm;
	struct live lv;
	bool to_differ, flows_differ, *attached;
	struct undo *tx;
	__u32 flows_live;
	int i, ret, first = 0;

	ret = devices_present(path, c);
	if (ret)
		return ret;
	attached = calloc(c->nedge + 1, sizeof(*attached));
	tx = undo_new();
	if (!attached || !tx) {
		free(attached);
		undo_free(tx);
		return -ENOMEM;
	}

	/* What the file no longer names goes first. */
	ret = names_get("edge", &nm);
	for (i = 0; !ret && i < nm.n; i++) {
		if (edge_in(c, nm.v[i]))
			continue;
		if (!must_finish(tx))
			break;
		ret = edge_detach(nm.v[i]);
		if (!ret)
			say("detach %s", nm.v[i]);
		first = first ?: ret;
		ret = 0;
	}
	free(nm.v);
	first = first ?: ret;
	ret = names_get(NULL, &nm);
	for (i = 0; !ret && i < nm.n; i++) {
		if (home_in(c, nm.v[i]))
			continue;
		if (!must_finish(tx))
			break;
		ret = home_detach(nm.v[i]);
		if (!ret)
			say("home detach %s", nm.v[i]);
		first = first ?: ret;
		ret = 0;
	}
	free(nm.v);
	first = first ?: ret;

	/* Edges: attach the new ones, re-attach (an in-place upgrade) those
	 * whose settings differ. One of them carries the shared timeouts. */
	live_timeouts(&to_live);
	to_differ = memcmp(&to_live, &c->to, sizeof(to_live));
	/* A flow table of another size is resized by that re-attach too
	 * (its flows copied, layout.c). */
	flows_live = live_flows_size();
	flows_differ = flows_live &&
		       flows_live != (c->flows ?: CRBPF_FLOWS_DEFAULT);
	for (i = 0; i < c->nedge; i++) {
		const struct conf_edge *e = &c->edge[i];
		struct mss_opt mss = e->mss;
		bool is = edge_is_attached(e->dev), mode_same, mss_same;
		int ifindex;

		if (resolve_iface(e->dev, &ifindex)) {
			first = first ?: -ENODEV;
			continue;
		}
		mode_same = is && mode_ok(e->mode, edge_mode(e->dev, ifindex));
		mss_same = mss_ok(&e->mss, ifindex);
		if (is && mode_same && mss_same &&
		    !((to_differ || flows_differ) && i == c->nedge - 1)) {
			attached[i] = true;
			continue;
		}
		/* auto is what no entry means: written only to replace another */
		if (!mss_same && !mss.set) {
			mss.set = true;
			mss.cfg.mode = CRBPF_MSS_AUTO;
		} else if (mss_same) {
			mss.set = false;
		}
		if (!must_finish(tx))
			break;
		ret = edge_attach(e->dev, ifindex, e->mode,
				  flows_differ ? (c->flows ?: CRBPF_FLOWS_DEFAULT) :
				  flows_live   ? 0 : c->flows,
				  &c->to, to_differ ? CONF_TIMEOUTS_ALL : 0, &mss);
		if (ret) {
			first = first ?: ret;
			continue;
		}
		say("attach %s%s%s%s%s%s", e->dev, e->mode ? " --mode " : "",
		    e->mode ? mode_names[e->mode] : "", !mss_same ? " (mss)" : "",
		    to_differ ? " (timeouts)" : "", flows_differ ? " (flows)" : "");
		to_differ = false;
		flows_differ = false;
		flows_live = live_flows_size();
		attached[i] = true;
	}

	ret = live_load(&lv);
	for (i = 0; !ret && i < c->nedge; i++) {
		int ifindex, r;

		if (!attached[i] || resolve_iface(c->edge[i].dev, &ifindex))
			continue;
		r = apply_forwards(&c->edge[i], ifindex, &lv, tx);
		first = first ?: r;
	}
	live_free(&lv);
	first = first ?: ret;
	if (c->nedge) {
		ret = apply_global_lists(c);
		first = first ?: ret;
	}

	for (i = 0; i < c->nhome; i++) {
		const struct conf_home *h = &c->home[i];
		struct home_args a = { .tunnel = h->tunnel, .nserve = h->nserve,
				       .table = h->table, .mark = h->mark };
		int j;

		if (home_same(h))
			continue;
		if (!must_finish(tx))
			break;
		for (j = 0; j < h->nserve; j++)
			a.serve[j] = h->serve[j];
		ret = home_attach(&a);
		if (!ret)
			say("home attach %s", h->tunnel);
		first = first ?: ret;
	}
	free(attached);
	if (undo_check(tx)) {
		undo_rollback(tx);
		undo_free(tx);
		return -EINTR;
	}
	fo_gc(); /* before release_unused(): backups' devices */
	release_unused();
	acl_gc();
	if (first)
		err("%s was applied only in part: %s", path, strerror(-first));
	undo_free(tx);
	return first;
}

/* Forward lines in the ephemeral port range without --force (port add
 * refuses them): a usage error naming the first, before anything changes. */
static int conf_ephemeral_check(const char *path, const struct conf *c)
{
	char msg[256];
	int i, j, ret;

	for (i = 0; i < c->nedge; i++)
		for (j = 0; j < c->edge[i].nfwd; j++) {
			const struct conf_forward *f = &c->edge[i].fwd[j];

			if (f->args.force || f->spec.all)
				continue;
			ret = ephemeral_overlap(f->spec.proto, f->spec.first,
						f->spec.last, msg, sizeof(msg));
			if (ret > 0)
				return usage_err("%s:%d: %s", path, f->line, msg);
			if (ret < 0) {
				err("failed to read net.ipv4.ip_local_port_range: %s",
				    strerror(-ret));
				return ret;
			}
		}
	return 0;
}

int apply_file(const char *path, bool check_only)
{
	struct conf c;
	int ret;

	acl_last_a = NULL;
	ret = conf_parse(path, &c);
	if (ret)
		return ret;
	ret = conf_ephemeral_check(path, &c);
	if (!ret && !check_only) {
		ret = tool_prepare();
		if (!ret)
			ret = apply_conf(path, &c);
	}
	conf_free(&c);
	return ret;
}

int cmd_apply(int argc, char **argv)
{
	const char *path = NULL;
	bool check = false;
	int i;

	for (i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--check"))
			check = true;
		else if (argv[i][0] == '-' && argv[i][1])
			return usage_err("unknown option '%s'", argv[i]);
		else if (path)
			return usage_err("usage: crbpf apply [--check] [FILE]");
		else
			path = argv[i];
	}
	return apply_file(path ? path : CRBPF_CONF_DEFAULT, check);
}

/* --- crbpf config --- */

struct run {
	struct crbpf_port_key k; /* of the first port */
	struct crbpf_backend be; /* of the first port */
	__u16 first, last;
};

static int run_cmp(const void *a, const void *b)
{
	const struct run *x = a, *y = b;

	if (x->k.proto != y->k.proto)
		return x->k.proto - y->k.proto;
	if (x->first != y->first)
		return x->first - y->first;
	if (x->k.family != y->k.family)
		return x->k.family - y->k.family;
	return memcmp(x->k.addr, y->k.addr, sizeof(x->k.addr));
}

/* Does mapping id have per-source limits? */
static bool own_limits(__u32 id)
{
	int fd = pin_map_open_quiet("crbpf_limits");
	struct crbpf_limit l;

	limit_get(fd, id, &l);
	if (fd >= 0)
		close(fd);
	return limit_on(&l);
}

/* Does mapping id have lists (or limits) of its own? */
static bool own_lists(__u32 id)
{
	int outer = pin_map_open_quiet("crbpf_acl");
	bool has = acl_slot_used(outer, crbpf_acl_slot(id, CRBPF_ACL_ALLOW)) ||
		   acl_slot_used(outer, crbpf_acl_slot(id, CRBPF_ACL_DENY));

	if (outer >= 0)
		close(outer);
	return has || own_limits(id);
}

/* Next port of a run: same backend address, same offset to the backend
 * port, and no lists of one mapping given to another's ports. */
static bool run_extends(const struct run *r, const struct entry *e)
{
	return (e->be.mapping == r->be.mapping ||
		(!own_lists(e->be.mapping) && !own_lists(r->be.mapping))) &&
	       !(e->be.flags & CRBPF_BE_ALL) && !(r->be.flags & CRBPF_BE_ALL) &&
	       e->k.proto == r->k.proto && e->k.family == r->k.family &&
	       !memcmp(e->k.addr, r->k.addr, sizeof(e->k.addr)) &&
	       ntohs(e->k.port) == r->last + 1 &&
	       !memcmp(e->be.addr, r->be.addr, sizeof(e->be.addr)) &&
	       ntohs(e->be.port) - ntohs(e->k.port) ==
		       ntohs(r->be.port) - ntohs(r->k.port);
}

/* The words of port add that made run r. */
static void run_text(const struct run *r, const struct live *lv, int txports,
		     char *buf, size_t len)
{
	static __u8 bits[PORT_BITS];
	struct addr be = { .family = r->k.family }, pub = { .family = r->k.family };
	char range[16], backend[INET6_ADDRSTRLEN + 10], abuf[INET6_ADDRSTRLEN];
	char xbuf[1024], kind[32];
	bool all = r->be.flags & CRBPF_BE_ALL;
	struct listener l;
	unsigned short type;
	size_t used;
	__u32 v, oif = r->be.ifindex;

	memcpy(be.a, r->be.addr, sizeof(be.a));
	range_str(r->first, r->last, range, sizeof(range));
	backend_str(&be, ntohs(r->be.port) == r->first ? 0 : ntohs(r->be.port),
		    backend, sizeof(backend));
	used = snprintf(buf, len, "%s %s %s", proto_str(r->k.proto), range, backend);
	if (all) {
		except_bits_live(lv, &r->k, bits);
		port_set_text(bits, xbuf, sizeof(xbuf));
		if (xbuf[0])
			used += snprintf(buf + used, len - used, " --except %s", xbuf);
	}
	if (key_has_addr(&r->k)) {
		memcpy(pub.a, r->k.addr, sizeof(pub.a));
		used += snprintf(buf + used, len - used, " --addr %s",
				 addr_str(&pub, abuf, sizeof(abuf)));
	}
	used += fo_words(r->be.mapping, buf + used, len - used);
	/* A mapped port that a local socket serves, or in the ephemeral port
	 * range, was added with --force. */
	if (!all && (nl_listeners(r->k.proto, r->first, r->last, &l, 1) > 0 ||
		     ephemeral_overlap(r->k.proto, r->first, r->last, xbuf,
				       sizeof(xbuf)) > 0))
		used += snprintf(buf + used, len - used, " --force");
	/* A veth next hop is in the devmap only when --xdp-veth put it there. */
	if ((r->be.flags & CRBPF_BE_L2) && txports >= 0 &&
	    !nl_link_info(oif, &type, kind, sizeof(kind)) && !strcmp(kind, "veth") &&
	    !bpf_map_lookup_elem(txports, &oif, &v))
		snprintf(buf + used, len - used, " --xdp-veth");
}

/* text, its limits' words and " --allow PREFIX ... --deny PREFIX ..." of
 * mapping id's own lists, in a new string (NULL: no memory). */
static char *acl_words(const char *text, __u32 id)
{
	int outer = pin_map_open_quiet("crbpf_acl"), kind, i;
	struct acl_list l[2] = {};
	char pbuf[INET6_ADDRSTRLEN + 8], *out;
	size_t len = strlen(text) + 1, used;

	for (kind = 0; kind < 2 && outer >= 0; kind++) {
		acl_slot_dump(outer, crbpf_acl_slot(id, kind), &l[kind]);
		qsort(l[kind].k, l[kind].n, sizeof(*l[kind].k), acl_key_cmp);
		len += l[kind].n * (sizeof(pbuf) + 10);
	}
	if (outer >= 0)
		close(outer);
	len += 96; /* limit_words() */
	out = malloc(len);
	if (out) {
		struct crbpf_limit lim;
		char lbuf[96];
		int fd = pin_map_open_quiet("crbpf_limits");

		limit_get(fd, id, &lim);
		if (fd >= 0)
			close(fd);
		used = snprintf(out, len, "%s%s", text,
				limit_words(&lim, lbuf, sizeof(lbuf)));
		for (kind = 0; kind < 2; kind++)
			for (i = 0; i < l[kind].n; i++)
				used += snprintf(out + used, len - used, " --%s %s",
						 acl_kind_names[kind],
						 acl_key_str(&l[kind].k[i], pbuf,
							     sizeof(pbuf)));
	}
	acl_list_free(&l[0]);
	acl_list_free(&l[1]);
	return out;
}

static int live_forwards(struct conf_edge *e, int ifindex, const struct live *lv)
{
	struct entry *v;
	struct run *runs;
	char text[1600];
	int i, n = 0, nr = 0, ret = 0, txports;

	v = calloc(lv->n + 1, sizeof(*v));
	runs = calloc(lv->n + 1, sizeof(*runs));
	if (!v || !runs) {
		ret = -ENOMEM;
		goto out;
	}
	for (i = 0; i < lv->n; i++) {
		if ((int)lv->keys[i].ifindex != ifindex)
			continue;
		v[n].k = lv->keys[i];
		v[n++].be = lv->vals[i];
	}
	qsort(v, n, sizeof(*v), entry_run_cmp);
	for (i = 0; i < n; i++) {
		if (nr && run_extends(&runs[nr - 1], &v[i])) {
			runs[nr - 1].last++;
			continue;
		}
		runs[nr].k = v[i].k;
		runs[nr].be = v[i].be;
		runs[nr].first = runs[nr].last = ntohs(v[i].k.port);
		nr++;
	}
	qsort(runs, nr, sizeof(*runs), run_cmp);
	e->fwd = calloc(nr + 1, sizeof(*e->fwd));
	if (!e->fwd) {
		ret = -ENOMEM;
		goto out;
	}
	txports = map_open_quiet("crbpf_txports");
	for (i = 0; i < nr; i++) {
		char *words;

		run_text(&runs[i], lv, txports, text, sizeof(text));
		words = acl_words(text, runs[i].be.mapping);
		if (!words) {
			ret = -ENOMEM;
			break;
		}
		ret = conf_forward_set(&e->fwd[e->nfwd++], words);
		if (ret)
			err("%s: cannot express the mapping '%s' as a Forward line",
			    e->dev, text);
		free(words);
		if (ret)
			break;
	}
	if (txports >= 0)
		close(txports);
out:
	free(v);
	free(runs);
	return ret;
}

/* The live state in the model of a config file. */
static int live_conf(struct conf *c)
{
	struct crbpf_timeouts to;
	struct crbpf_mss_cfg mss;
	struct names nm;
	struct live lv;
	__u32 flows;
	int i, j, ret;

	memset(c, 0, sizeof(*c));
	ret = live_load(&lv);
	if (ret)
		return ret;
	ret = names_get("edge", &nm);
	if (!ret && nm.n) {
		c->edge = calloc(nm.n, sizeof(*c->edge));
		if (!c->edge)
			ret = -ENOMEM;
	}
	for (i = 0; !ret && i < nm.n; i++) {
		struct conf_edge *e = &c->edge[c->nedge];
		int ifindex;

		snprintf(e->dev, sizeof(e->dev), "%s", nm.v[i]);
		c->nedge++;
		if (resolve_iface(e->dev, &ifindex)) {
			warn("%s is attached but gone: its mappings cannot be listed",
			     e->dev);
			continue;
		}
		e->mode = edge_mode(e->dev, ifindex);
		live_mss(ifindex, &mss);
		if (mss.mode != CRBPF_MSS_AUTO) {
			e->mss.set = true;
			e->mss.cfg = mss;
		}
		ret = live_forwards(e, ifindex, &lv);
	}
	free(nm.v);
	nm.v = NULL;
	live_free(&lv);
	if (!ret && c->nedge) {
		flows = live_flows_size();
		if (flows && flows != CRBPF_FLOWS_DEFAULT)
			c->flows = flows;
		live_timeouts(&to);
		for (i = 0; i < CONF_TIMEOUTS; i++)
			if (timeout_value(&to, i))
				c->to_set |= 1U << i;
		c->to = to;
		ret = live_global_lists(&c->acl);
	}
	if (!ret)
		ret = names_get(NULL, &nm);
	if (!ret && nm.n) {
		c->home = calloc(nm.n, sizeof(*c->home));
		if (!c->home)
			ret = -ENOMEM;
	}
	for (i = 0; !ret && i < nm.n; i++) {
		struct conf_home *h = &c->home[c->nhome];
		struct home_info hi;

		if (home_info_load(nm.v[i], &hi))
			continue;
		c->nhome++;
		snprintf(h->tunnel, sizeof(h->tunnel), "%s", nm.v[i]);
		h->table = hi.table;
		h->mark = hi.mark;
		for (j = 0; j < hi.nserve; j++)
			snprintf(h->serve[h->nserve++], IF_NAMESIZE, "%s", hi.serve[j]);
		qsort(h->serve, h->nserve, sizeof(h->serve[0]), str_cmp);
	}
	free(nm.v);
	if (ret)
		conf_free(c);
	return ret;
}

int cmd_config(int argc, char **argv)
{
	struct conf c;
	int ret;

	(void)argv;
	if (argc != 1)
		return usage_err("usage: crbpf config");
	ret = tool_prepare_read();
	if (ret)
		return ret;
	ret = live_conf(&c);
	if (ret) {
		err("failed to read the live state: %s", strerror(-ret));
		return ret;
	}
	printf("# crbpf live state (crbpf config); crbpf apply FILE restores it\n");
	conf_write(stdout, &c);
	conf_free(&c);
	return 0;
}
