// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * Unit tests of the mapping model (user/model.c) without a kernel: map
 * entries are built in memory, the rules run on them, and each case prints
 * "[unit/model_<name>] PASS|FAIL" for tests/run.sh. Exit status 1 when any
 * case failed.
 */
#include "tool.h"
#include <arpa/inet.h>
#include <errno.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

static int failed;
static char why[256];

static bool check(bool ok, const char *fmt, ...)
{
	va_list ap;

	if (ok || why[0])
		return ok;
	va_start(ap, fmt);
	vsnprintf(why, sizeof(why), fmt, ap);
	va_end(ap);
	return ok;
}

#define EQ(a, e, what)                                                         \
	({                                                                     \
		long long ___a = (long long)(a), ___e = (long long)(e);        \
		check(___a == ___e, "%s: got %lld, expected %lld", (what),     \
		      ___a, ___e);                                             \
	})

static void report(const char *name)
{
	printf("[unit/model_%s] %s\n", name, why[0] ? "FAIL" : "PASS");
	if (why[0])
		printf("    %s\n", why);
	failed |= !!why[0];
	why[0] = 0;
}

/* ---- fixtures ---- */

#define PUB 2 /* public device */
#define PUB2 3 /* a second public device */
#define TUN 7 /* device that reaches the backends */

static const char *PRIMARY = "198.51.100.1"; /* PUB's primary address */
static int primary_calls;

static int fake_primary(int ifindex, __u8 family, struct addr *out)
{
	primary_calls++;
	if (ifindex != PUB || family != CRBPF_V4)
		return -EADDRNOTAVAIL;
	memset(out, 0, sizeof(*out));
	out->family = CRBPF_V4;
	inet_pton(AF_INET, PRIMARY, out->a);
	return 0;
}

static __be32 v4(const char *s)
{
	__be32 a;

	inet_pton(AF_INET, s, &a);
	return a;
}

/* The entries of crbpf_ports, built as port add would. */
struct ports {
	struct model_port e[64];
	int n;
};

/* port add PROTO FIRST-LAST BE[:BPORT] [--addr PADDR] on dev; all when
 * first is CRBPF_PORT_ALL. */
static void add(struct ports *t, __u32 dev, __u16 first, __u16 last,
		const char *be, __u16 bport, const char *paddr)
{
	struct port_spec s = { .proto = IPPROTO_TCP, .first = first,
			       .last = last, .bport = bport };
	__u16 p;

	s.all = first == CRBPF_PORT_ALL;
	s.be.family = CRBPF_V4;
	s.be.a[0] = v4(be);
	if (paddr) {
		s.paddr.family = CRBPF_V4;
		s.paddr.a[0] = v4(paddr);
	}
	for (p = first;; p++) {
		port_entry_of(&s, dev, TUN, false, p, &t->e[t->n].k, &t->e[t->n].v);
		t->n++;
		if (p == last)
			break;
	}
}

/* port del: the entry of (dev, port, paddr) leaves the table. */
static void del(struct ports *t, __u32 dev, __u16 port, const char *paddr)
{
	int i;

	for (i = 0; i < t->n; i++) {
		if (t->e[i].k.ifindex != dev || t->e[i].k.port != htons(port) ||
		    t->e[i].k.addr[0] != (paddr ? v4(paddr) : 0))
			continue;
		t->e[i] = t->e[t->n - 1];
		t->n--;
		return;
	}
}

static struct crbpf_rev_key rk_of(const char *be, __u16 port)
{
	struct crbpf_rev_key rk = { .family = CRBPF_V4, .proto = IPPROTO_TCP,
				    .port = htons(port) };

	rk.addr[0] = v4(be);
	return rk;
}

/* rev_rule_of() on the table: 1 and *rev, or 0 (no static rule). */
static int rule(const struct ports *t, const char *be, __u16 port,
		struct crbpf_rev *rev)
{
	struct crbpf_rev_key rk = rk_of(be, port);
	struct rev_index ix;
	int ret;

	if (rev_index_build(&ix, t->e, t->n))
		return -ENOMEM;
	ret = rev_rule_of(&ix, &rk, fake_primary, rev);
	rev_index_free(&ix);
	return ret;
}

/* ---- cases ---- */

/* Two public ports onto one backend port: the reply cannot say which one
 * it answers for (refs 2: the programs leave it to the flow entries). */
static void test_ambiguous(void)
{
	struct ports t = {};
	struct crbpf_rev rev;

	add(&t, PUB, 80, 80, "10.0.0.2", 8080, NULL);
	add(&t, PUB, 8000, 8000, "10.0.0.2", 8080, NULL);
	EQ(rule(&t, "10.0.0.2", 8080, &rev), 1, "rule exists");
	EQ(rev.refs, 2, "refs");
	EQ(rev.public_ifindex, PUB, "public_ifindex");
	EQ(rev.public_addr[0], v4(PRIMARY), "answers from the primary address");
	EQ(rev.match, 0, "match");
	report("ambiguous_two_public_ports");
}

/* A del of one of them makes the rule unambiguous again. */
static void test_del_unambiguous(void)
{
	struct ports t = {};
	struct crbpf_rev rev;

	add(&t, PUB, 80, 80, "10.0.0.2", 8080, NULL);
	add(&t, PUB, 8000, 8000, "10.0.0.2", 8080, NULL);
	del(&t, PUB, 80, NULL);
	EQ(rule(&t, "10.0.0.2", 8080, &rev), 1, "rule exists");
	EQ(rev.refs, 1, "refs");
	EQ(ntohs(rev.public_port), 8000, "public_port");
	del(&t, PUB, 8000, NULL);
	EQ(rule(&t, "10.0.0.2", 8080, &rev), 0, "no rule when nothing maps there");
	report("del_makes_unambiguous");
}

/* `all` to a backend address plus a port mapping to the same address:
 * the mapped port's rule counts the `all` entry (ambiguous); the other
 * ports of the address have no static rule. */
static void test_all_plus_port(void)
{
	struct ports t = {};
	struct crbpf_rev rev;

	add(&t, PUB, CRBPF_PORT_ALL, CRBPF_PORT_ALL, "10.0.0.3", 0, NULL);
	add(&t, PUB, 443, 443, "10.0.0.3", 0, NULL);
	EQ(t.e[0].v.flags & CRBPF_BE_ALL, CRBPF_BE_ALL, "all entry flag");
	EQ(rule(&t, "10.0.0.3", 443, &rev), 1, "rule of the mapped port");
	EQ(rev.refs, 2, "refs: the port and the all entry");
	EQ(ntohs(rev.public_port), 443, "public_port");
	EQ(rule(&t, "10.0.0.3", 22, &rev), 0, "no static rule for other ports");
	del(&t, PUB, CRBPF_PORT_ALL, NULL);
	EQ(rule(&t, "10.0.0.3", 443, &rev), 1, "rule after del all");
	EQ(rev.refs, 1, "refs after del all");
	report("all_plus_port_same_backend");
}

/* --addr: the rule answers from that address and matches on it; without
 * --addr from the device's primary address, and no rule without one. */
static void test_addr(void)
{
	struct ports t = {}, t2 = {};
	struct crbpf_rev rev;

	add(&t, PUB, 25, 25, "10.0.0.4", 0, "203.0.113.7");
	primary_calls = 0;
	EQ(rule(&t, "10.0.0.4", 25, &rev), 1, "rule with --addr");
	EQ(rev.match, CRBPF_MATCH_ADDR, "match ADDR");
	EQ(rev.public_addr[0], v4("203.0.113.7"), "answers from --addr");
	EQ(primary_calls, 0, "no primary address asked with --addr");
	add(&t2, PUB, 25, 25, "10.0.0.4", 0, NULL);
	EQ(rule(&t2, "10.0.0.4", 25, &rev), 1, "rule without --addr");
	EQ(rev.match, 0, "no match flag");
	EQ(rev.public_addr[0], v4(PRIMARY), "answers from the primary address");
	EQ(primary_calls, 1, "primary address asked once");
	memset(&t2, 0, sizeof(t2));
	add(&t2, PUB2, 25, 25, "10.0.0.4", 0, NULL);
	EQ(rule(&t2, "10.0.0.4", 25, &rev), 0, "no rule without a primary address");
	report("addr_vs_no_addr");
}

static __u32 flags_of(const struct ports *t, const char *addr)
{
	struct crbpf_addr_key ak = { .family = CRBPF_V4 };

	ak.addr[0] = v4(addr);
	return local_flags_of(&ak, t->e, t->n);
}

/* crbpf_local flags: ADDR for an address with --addr entries, ALL for an
 * `all` entry on it or without --addr (any address of the family). */
static void test_local_flags(void)
{
	struct ports t = {};

	EQ(flags_of(&t, "203.0.113.7"), 0, "nothing mapped");
	add(&t, PUB, 25, 25, "10.0.0.4", 0, "203.0.113.7");
	EQ(flags_of(&t, "203.0.113.7"), CRBPF_LOCAL_ADDR, "--addr port");
	EQ(flags_of(&t, "203.0.113.8"), 0, "other address");
	add(&t, PUB, CRBPF_PORT_ALL, CRBPF_PORT_ALL, "10.0.0.5", 0, "203.0.113.8");
	EQ(flags_of(&t, "203.0.113.8"), CRBPF_LOCAL_ADDR | CRBPF_LOCAL_ALL,
	   "all on --addr");
	EQ(flags_of(&t, "203.0.113.7"), CRBPF_LOCAL_ADDR, "all on another address");
	add(&t, PUB2, CRBPF_PORT_ALL, CRBPF_PORT_ALL, "10.0.0.6", 0, NULL);
	EQ(flags_of(&t, "203.0.113.7"), CRBPF_LOCAL_ADDR | CRBPF_LOCAL_ALL,
	   "all without --addr reaches every address of the family");
	EQ(flags_of(&t, PRIMARY), CRBPF_LOCAL_ALL, "primary address");
	report("local_flags");
}

/* The except set of an `all` entry: one key per port, the entry's scope. */
static void test_except(void)
{
	struct except_list x = { .n = 2 };
	struct crbpf_port_key scope = { .ifindex = PUB, .family = CRBPF_V4,
					.proto = IPPROTO_TCP }, other, *k = NULL;
	int n;

	x.first[0] = x.last[0] = 22;
	x.first[1] = 60000;
	x.last[1] = 60002;
	scope.addr[0] = v4("203.0.113.7");
	n = except_keys(&scope, &x, &k);
	EQ(n, 4, "keys");
	if (n == 4) {
		EQ(ntohs(k[0].port), 22, "first port");
		EQ(ntohs(k[3].port), 60002, "last port");
		check(same_scope(&k[3], &scope), "key in the entry's scope");
	}
	free(k);
	n = except_keys(&scope, NULL, &k);
	EQ(n, 0, "no list: no keys");
	free(k);
	other = scope;
	other.addr[0] = 0;
	check(!same_scope(&other, &scope), "--addr and none are other entries");
	other = scope;
	other.proto = IPPROTO_UDP;
	check(!same_scope(&other, &scope), "udp is another entry");
	report("except_set");
}

static bool only_pub_exists(int ifindex)
{
	return ifindex == PUB;
}

/* A purge of one device takes its entries only; 0 takes those of devices
 * that are gone. */
static void test_purge(void)
{
	struct ports t = {};
	int i, hit2 = 0, hit3 = 0, gone = 0;

	add(&t, PUB, 80, 81, "10.0.0.2", 0, NULL);
	add(&t, PUB2, 80, 80, "10.0.0.2", 0, NULL);
	for (i = 0; i < t.n; i++) {
		hit2 += purge_hits(&t.e[i].k, PUB, only_pub_exists);
		hit3 += purge_hits(&t.e[i].k, PUB2, only_pub_exists);
		gone += purge_hits(&t.e[i].k, 0, only_pub_exists);
	}
	EQ(hit2, 2, "entries of PUB");
	EQ(hit3, 1, "entries of PUB2");
	EQ(gone, 1, "entries of a vanished device");
	report("purge_one_device");
}

/* A public device re-created: its keys and reverse rules move, others
 * stay. */
static void test_move(void)
{
	struct ports t = {};
	struct crbpf_port_key nk;
	struct crbpf_rev rev;
	__u32 flow_if = PUB2;

	add(&t, PUB, 80, 80, "10.0.0.2", 0, NULL);
	add(&t, PUB2, 80, 80, "10.0.0.2", 0, NULL);
	check(port_key_moved(&t.e[0].k, PUB, 9, &nk), "key on the device moves");
	EQ(nk.ifindex, 9, "new ifindex");
	EQ(nk.port, t.e[0].k.port, "same port");
	check(!port_key_moved(&t.e[1].k, PUB, 9, &nk), "key on another device stays");
	EQ(rule(&t, "10.0.0.2", 80, &rev), 1, "rule");
	EQ(rev.public_ifindex, PUB, "rule's device");
	check(public_ifindex_moved(&rev.public_ifindex, PUB, 9), "rule moves");
	EQ(rev.public_ifindex, 9, "rule's new device");
	check(!public_ifindex_moved(&flow_if, PUB, 9), "flow of another device stays");
	EQ(flow_if, PUB2, "flow's device");
	report("move_device");
}

/* A touched `all` entry (rev key port 0) stands for every rule of its
 * backend address, and only those, and for the address's marker (an
 * existing one in the rules is not listed twice). */
static void test_touched(void)
{
	struct crbpf_rev_key in[2], rev[4], *out = NULL;
	int n;

	in[0] = rk_of("10.0.0.3", 0);
	in[1] = rk_of("10.0.0.9", 53);
	rev[0] = rk_of("10.0.0.3", 443);
	rev[1] = rk_of("10.0.0.4", 443);
	rev[2] = rk_of("10.0.0.3", 22);
	rev[3] = rk_of("10.0.0.3", 0);
	n = rev_touched_expand(in, 2, rev, 4, &out);
	EQ(n, 4, "keys");
	if (n == 4) {
		EQ(ntohs(out[0].port), 443, "first");
		EQ(ntohs(out[1].port), 22, "second");
		EQ(out[2].port, 0, "the marker");
		EQ(out[2].addr[0], v4("10.0.0.3"), "the marker's address");
		EQ(out[3].addr[0], v4("10.0.0.9"), "plain key kept");
	}
	free(out);
	report("touched_all_expands");
}

/* The marker of an `all` backend address (port 0): put while an `all`
 * entry leads there (refs = how many), deleted when none does; a port
 * mapping onto the address does not make one. */
static void test_all_marker(void)
{
	struct ports t = {};
	struct crbpf_rev rev;

	add(&t, PUB, 80, 80, "10.0.0.3", 80, NULL);
	EQ(rule(&t, "10.0.0.3", 0, &rev), 0, "no `all`: no marker");
	add(&t, PUB, CRBPF_PORT_ALL, CRBPF_PORT_ALL, "10.0.0.3", 0, NULL);
	EQ(rule(&t, "10.0.0.3", 0, &rev), 1, "`all`: marker");
	EQ(rev.refs, 1, "marker refs");
	EQ(rev.match, CRBPF_MATCH_ALL, "marker match");
	EQ(rule(&t, "10.0.0.4", 0, &rev), 0, "other address: none");
	report("all_marker");
}

/* What port add writes per port: ranges shift onto the backend range, an
 * `all` entry keeps each port; old 8-byte keys convert without address. */
static void test_entries(void)
{
	struct ports t = {};
	struct old_port_key old = { .ifindex = PUB, .family = CRBPF_V4,
				    .proto = IPPROTO_UDP, .port = htons(53) };
	struct crbpf_port_key nk;

	add(&t, PUB, 1000, 1002, "10.0.0.2", 2000, NULL);
	EQ(t.n, 3, "entries");
	EQ(ntohs(t.e[1].v.port), 2001, "backend port of 1001");
	EQ(t.e[1].v.ifindex, TUN, "via");
	check(!key_has_addr(&t.e[1].k), "no --addr");
	add(&t, PUB, CRBPF_PORT_ALL, CRBPF_PORT_ALL, "10.0.0.3", 0, "203.0.113.7");
	EQ(t.e[3].v.port, 0, "all keeps each port");
	check(key_has_addr(&t.e[3].k), "--addr in the key");
	check(port_key_cmp(&t.e[0].k, &t.e[1].k) < 0, "ports in order");
	port_keys_from_old(&old, 1, &nk);
	EQ(nk.ifindex, PUB, "old ifindex");
	EQ(ntohs(nk.port), 53, "old port");
	check(!key_has_addr(&nk), "old keys have no address");
	report("port_entries");
}


/* ---- change lists: what port add/del/purge write ---- */

static struct port_spec spec(__u16 first, __u16 last, const char *be,
			     __u16 bport, const char *paddr)
{
	struct port_spec s = { .proto = IPPROTO_TCP, .first = first,
			       .last = last, .bport = bport };

	s.all = first == CRBPF_PORT_ALL;
	s.be.family = CRBPF_V4;
	s.be.a[0] = v4(be);
	if (paddr) {
		s.paddr.family = CRBPF_V4;
		s.paddr.a[0] = v4(paddr);
	}
	return s;
}

/* Ops of map (puts, or deletes with del) in o from index from. */
static int count_ops(const struct model_ops *o, int from, int map, bool del)
{
	int i, n = 0;

	for (i = from; i < o->n; i++)
		n += o->op[i].map == map && o->op[i].del == del;
	return n;
}

/* The last op on the reverse key of (be, port), or NULL. */
static const struct model_op *rev_op(const struct model_ops *o, const char *be,
				     __u16 port)
{
	struct crbpf_rev_key rk = rk_of(be, port);
	int i;

	for (i = o->n - 1; i >= 0; i--)
		if (o->op[i].map == MODEL_REV && !memcmp(&o->op[i].k.rev, &rk, sizeof(rk)))
			return &o->op[i];
	return NULL;
}

/* The model's local entry of addr (after the ops), or NULL. */
static const struct model_local *local_of(const struct model *m, const char *addr)
{
	int i;

	for (i = 0; i < m->nl; i++)
		if (m->local[i].k.addr[0] == v4(addr))
			return &m->local[i];
	return NULL;
}

static int add_op(struct model *m, struct model_ops *o, __u32 dev, __u16 first,
		  __u16 last, const char *be, __u16 bport, const char *paddr,
		  const struct except_list *x)
{
	struct port_spec s = spec(first, last, be, bport, paddr);

	return model_port_add(m, &s, dev, TUN, false, x, fake_primary, o);
}

static int del_op(struct model *m, struct model_ops *o, __u32 dev, __u16 port,
		  const char *paddr)
{
	struct crbpf_port_key k = { .ifindex = dev, .family = CRBPF_V4,
				    .proto = IPPROTO_TCP, .port = htons(port) };

	k.addr[0] = paddr ? v4(paddr) : 0;
	return model_port_del(m, &k, 1, fake_primary, o);
}

/* port add of a range on an empty model: entries, fresh counters, a rule
 * per backend port; a second public port on one backend port makes its
 * rule ambiguous, a del unambiguous again and the last del removes it. */
static void test_ops_add_del(void)
{
	struct model m = {};
	struct model_ops o = {};
	const struct model_op *r;
	int from;

	EQ(add_op(&m, &o, PUB, 1000, 1002, "10.0.0.2", 2000, NULL, NULL), 0, "add");
	EQ(count_ops(&o, 0, MODEL_PORTS, false), 3, "ports puts");
	EQ(count_ops(&o, 0, MODEL_MSTATS, false), 1, "fresh counters, one per range");
	EQ(count_ops(&o, 0, MODEL_REV, false), 3, "rules");
	EQ(count_ops(&o, 0, MODEL_EXCEPT, false), 0, "no except entries");
	EQ(count_ops(&o, 0, MODEL_LOCAL, false), 0, "no local change");
	EQ(m.np, 3, "model entries");
	EQ(m.nr, 3, "model rules");
	r = rev_op(&o, "10.0.0.2", 2001);
	if (check(r != NULL, "rule of 2001")) {
		EQ(r->v.rev.refs, 1, "refs");
		EQ(ntohs(r->v.rev.public_port), 1001, "public port");
	}
	from = o.n;
	EQ(add_op(&m, &o, PUB, 3001, 3001, "10.0.0.2", 2001, NULL, NULL), 0, "add 2nd");
	r = rev_op(&o, "10.0.0.2", 2001);
	if (check(r != NULL && !r->del, "rule of 2001 rewritten"))
		EQ(r->v.rev.refs, 2, "ambiguous refs");
	EQ(count_ops(&o, from, MODEL_MSTATS, false), 1, "counters of the new key");
	from = o.n;
	/* The same key again, another backend: replaced, a new mapping with
	 * fresh counters. */
	EQ(add_op(&m, &o, PUB, 3001, 3001, "10.0.0.2", 2005, NULL, NULL), 0, "replace");
	EQ(count_ops(&o, from, MODEL_MSTATS, false), 1, "a replaced key's new counters");
	r = rev_op(&o, "10.0.0.2", 2001);
	if (check(r != NULL && !r->del, "old backend's rule rewritten"))
		EQ(r->v.rev.refs, 1, "unambiguous after the replace");
	from = o.n;
	EQ(del_op(&m, &o, PUB, 1001, NULL), 0, "del");
	EQ(count_ops(&o, from, MODEL_PORTS, true), 1, "ports delete");
	EQ(count_ops(&o, from, MODEL_MSTATS, true), 0, "no counters delete (an array)");
	r = rev_op(&o, "10.0.0.2", 2001);
	check(r != NULL && r->del, "last rule of 2001 deleted");
	EQ(m.np, 3, "model entries after del");
	model_ops_free(&o);
	model_free(&m);
	report("ops_add_del");
}

/* `all` with --except: the entry, its except set (replaced on a second
 * add), the local ALL flag of every address; a del takes the set away. */
static void test_ops_all_except(void)
{
	struct model m = {};
	struct model_ops o = {};
	struct except_list x = { .n = 1 }, y = { .n = 1 };
	const struct model_local *l;
	int from;

	m.local = calloc(1, sizeof(*m.local));
	m.local[0].k.family = CRBPF_V4;
	m.local[0].k.addr[0] = v4(PRIMARY);
	m.local[0].v.ifindex = PUB;
	m.nl = 1;
	x.first[0] = 22;
	x.last[0] = 23;
	y.first[0] = y.last[0] = 2222;
	EQ(add_op(&m, &o, PUB, CRBPF_PORT_ALL, CRBPF_PORT_ALL, "10.0.0.3", 0, NULL,
		  &x), 0, "add all");
	EQ(count_ops(&o, 0, MODEL_EXCEPT, false), 2, "except puts");
	/* no static rule, only the address's marker (issue 11 item 3) */
	EQ(count_ops(&o, 0, MODEL_REV, false), 1, "an all entry alone: its marker");
	l = local_of(&m, PRIMARY);
	if (check(l != NULL, "local entry"))
		EQ(l->v.flags, CRBPF_LOCAL_ALL, "ALL flag");
	from = o.n;
	EQ(add_op(&m, &o, PUB, CRBPF_PORT_ALL, CRBPF_PORT_ALL, "10.0.0.3", 0, NULL,
		  &y), 0, "add all again");
	EQ(count_ops(&o, from, MODEL_EXCEPT, true), 2, "old except set deleted");
	EQ(count_ops(&o, from, MODEL_EXCEPT, false), 1, "new except set");
	EQ(count_ops(&o, from, MODEL_LOCAL, false), 0, "flags unchanged");
	EQ(m.nx, 1, "model except entries");
	from = o.n;
	EQ(del_op(&m, &o, PUB, CRBPF_PORT_ALL, NULL), 0, "del all");
	EQ(count_ops(&o, from, MODEL_EXCEPT, true), 1, "except set deleted");
	EQ(count_ops(&o, from, MODEL_REV, true), 1, "marker deleted");
	EQ(m.nx, 0, "no except entries left");
	l = local_of(&m, PRIMARY);
	if (check(l != NULL, "local entry"))
		EQ(l->v.flags, 0, "ALL flag cleared");
	model_ops_free(&o);
	model_free(&m);
	report("ops_all_except");
}

/* --addr: the address joins crbpf_local (after the rules) with the ADDR
 * flag; a port of the same backend without --addr is a second ref. */
static void test_ops_addr(void)
{
	struct model m = {};
	struct model_ops o = {};
	const struct model_local *l;
	const struct model_op *r;
	int i, local_at = -1, rev_at = -1;

	EQ(add_op(&m, &o, PUB, 25, 25, "10.0.0.4", 0, "203.0.113.7", NULL), 0, "add");
	for (i = 0; i < o.n; i++) {
		if (o.op[i].map == MODEL_LOCAL && local_at < 0)
			local_at = i;
		if (o.op[i].map == MODEL_REV)
			rev_at = i;
	}
	check(local_at > rev_at && rev_at >= 0, "local entry written after the rules");
	EQ(count_ops(&o, 0, MODEL_LOCAL, false), 2, "local entry, then its flags");
	l = local_of(&m, "203.0.113.7");
	if (check(l != NULL, "local entry")) {
		EQ(l->v.ifindex, PUB, "device");
		EQ(l->v.flags, CRBPF_LOCAL_ADDR, "ADDR flag");
	}
	r = rev_op(&o, "10.0.0.4", 25);
	if (check(r != NULL, "rule"))
		EQ(r->v.rev.match, CRBPF_MATCH_ADDR, "match ADDR");
	EQ(add_op(&m, &o, PUB, 25, 25, "10.0.0.4", 0, NULL, NULL), 0, "add without --addr");
	r = rev_op(&o, "10.0.0.4", 25);
	if (check(r != NULL, "rule"))
		EQ(r->v.rev.refs, 2, "--addr and no --addr: two refs");
	model_ops_free(&o);
	model_free(&m);
	report("ops_addr");
}

/* Purge of one device: its entries and rules only; a rule shared with
 * another device's entry stays, unambiguous. */
static void test_ops_purge(void)
{
	struct model m = {};
	struct model_ops o = {};
	const struct model_op *r;
	int from;

	EQ(add_op(&m, &o, PUB, 80, 81, "10.0.0.2", 0, NULL, NULL), 0, "add PUB");
	EQ(add_op(&m, &o, PUB2, 8080, 8080, "10.0.0.2", 80, "192.0.2.9", NULL), 0,
	   "add PUB2");
	from = o.n;
	EQ(model_purge(&m, PUB, only_pub_exists, fake_primary, &o), 0, "purge");
	EQ(count_ops(&o, from, MODEL_PORTS, true), 2, "entries of PUB deleted");
	EQ(m.np, 1, "PUB2's entry left");
	EQ(m.ports[0].k.ifindex, PUB2, "left on PUB2");
	r = rev_op(&o, "10.0.0.2", 80);
	if (check(r != NULL && !r->del, "shared rule rewritten")) {
		EQ(r->v.rev.refs, 1, "refs");
		EQ(r->v.rev.public_ifindex, PUB2, "answers for PUB2");
	}
	r = rev_op(&o, "10.0.0.2", 81);
	check(r != NULL && r->del, "rule of PUB only deleted");
	model_ops_free(&o);
	model_free(&m);
	report("ops_purge");
}

/* CRBPF_BE_TRACK of the model's entry (dev, port, paddr): 1, 0, or -1 when
 * there is no entry. */
static int tracked(const struct model *m, __u32 dev, __u16 port,
		   const char *paddr)
{
	struct crbpf_port_key k = { .ifindex = dev, .family = CRBPF_V4,
				    .proto = IPPROTO_TCP, .port = htons(port) };
	const struct model_port *e;

	k.addr[0] = paddr ? v4(paddr) : 0;
	e = model_port_find(m, &k);
	return e ? !!(e->v.flags & CRBPF_BE_TRACK) : -1;
}

/* The last ports op of (dev, port) in o from index from; -1 when none. */
static int last_port_op(const struct model_ops *o, int from, __u32 dev,
			__u16 port)
{
	int i;

	for (i = o->n - 1; i >= from; i--)
		if (o->op[i].map == MODEL_PORTS &&
		    o->op[i].k.port.ifindex == dev &&
		    o->op[i].k.port.port == htons(port))
			return i;
	return -1;
}

/* CRBPF_BE_TRACK (issue 12): set where the reverse key has no single static
 * answer, written after the rule that made it so, and cleared again when
 * the answer is single once more: a second public port on one backend
 * port, `all` onto the backend address, an any-address entry once its
 * device has a second address. */
static void test_ops_track(void)
{
	struct model m = {};
	struct model_ops o = {};
	const struct model_op *r;
	int from, at;

	m.local = calloc(1, sizeof(*m.local));
	m.local[0].k.family = CRBPF_V4;
	m.local[0].k.addr[0] = v4(PRIMARY);
	m.local[0].v.ifindex = PUB;
	m.nl = 1;
	EQ(add_op(&m, &o, PUB, 1000, 1000, "10.0.0.2", 2000, NULL, NULL), 0, "add");
	EQ(tracked(&m, PUB, 1000, NULL), 0, "one public port: static");
	r = rev_op(&o, "10.0.0.2", 2000);
	if (check(r != NULL, "rule"))
		EQ(r->v.rev.match & CRBPF_REV_TRACK, 0, "rule not tracked");

	from = o.n;
	EQ(add_op(&m, &o, PUB, 3000, 3000, "10.0.0.2", 2000, NULL, NULL), 0, "add 2nd");
	EQ(tracked(&m, PUB, 1000, NULL), 1, "second public port: first tracked");
	EQ(tracked(&m, PUB, 3000, NULL), 1, "second public port: tracked");
	at = last_port_op(&o, from, PUB, 1000);
	check(at >= 0 && (o.op[at].v.be.flags & CRBPF_BE_TRACK),
	      "first entry put again with TRACK");
	r = rev_op(&o, "10.0.0.2", 2000);
	check(r != NULL && at > r - o.op, "TRACK written after the ambiguous rule");

	from = o.n;
	EQ(del_op(&m, &o, PUB, 3000, NULL), 0, "del 2nd");
	EQ(tracked(&m, PUB, 1000, NULL), 0, "alone again: static");
	at = last_port_op(&o, from, PUB, 1000);
	check(at >= 0 && !(o.op[at].v.be.flags & CRBPF_BE_TRACK),
	      "entry put again without TRACK");

	from = o.n;
	EQ(add_op(&m, &o, PUB, 1000, 1000, "10.0.0.2", 2000, NULL, NULL), 0, "add again");
	EQ(tracked(&m, PUB, 1000, NULL), 0, "re-add of a static entry: static");
	EQ(last_port_op(&o, from, PUB, 1000), from, "only the add's own put");

	EQ(add_op(&m, &o, PUB, CRBPF_PORT_ALL, CRBPF_PORT_ALL, "10.0.0.2", 0, NULL,
		  NULL), 0, "add all");
	EQ(tracked(&m, PUB, CRBPF_PORT_ALL, NULL), 1, "all: tracked");
	EQ(tracked(&m, PUB, 1000, NULL), 1, "all onto the backend address: tracked");
	EQ(del_op(&m, &o, PUB, CRBPF_PORT_ALL, NULL), 0, "del all");
	EQ(tracked(&m, PUB, 1000, NULL), 0, "without all: static");

	/* --addr brings a second address to PUB: any-address entries may now
	 * begin flows on either, the rule names the primary one */
	EQ(add_op(&m, &o, PUB, 25, 25, "10.0.0.4", 0, "203.0.113.7", NULL), 0,
	   "add --addr");
	EQ(tracked(&m, PUB, 25, "203.0.113.7"), 0, "--addr entry: static");
	EQ(tracked(&m, PUB, 1000, NULL), 1, "any address of two: tracked");
	r = rev_op(&o, "10.0.0.2", 2000);
	if (check(r != NULL && !r->del, "rule of the any-address entry")) {
		EQ(r->v.rev.refs, 1, "still one public side");
		EQ(!!(r->v.rev.match & CRBPF_REV_TRACK), 1, "rule tracked");
	}
	model_ops_free(&o);
	model_free(&m);
	report("ops_track");
}


/* The mapping id of the model's entry (dev, tcp, port), 0 when none. */
static __u32 id_of(const struct model *m, __u16 port)
{
	struct crbpf_port_key k = { .ifindex = PUB, .family = CRBPF_V4,
				    .proto = IPPROTO_TCP, .port = htons(port) };
	const struct model_port *e = model_port_find(m, &k);

	return e ? e->v.mapping : 0;
}

/* The index of the first MSTATS put of id in o from from, or -1. */
static int zero_op_at(const struct model_ops *o, int from, __u32 id)
{
	int i;

	for (i = from; i < o->n; i++)
		if (o->op[i].map == MODEL_MSTATS && !o->op[i].del &&
		    o->op[i].k.id == id)
			return i;
	return -1;
}

/* The index of the first ports put in o from from, or o->n. */
static int first_port_put(const struct model_ops *o, int from)
{
	int i;

	for (i = from; i < o->n; i++)
		if (o->op[i].map == MODEL_PORTS && !o->op[i].del)
			return i;
	return o->n;
}

/* Mapping ids: one per port add (a range shares it), the lowest free one,
 * kept when the same add runs again (apply), free once unreferenced, its
 * counters zeroed before an entry takes it again; reverse rules carry it. */
static void test_mapping_ids(void)
{
	struct model m = {};
	struct model_ops o = {};
	const struct model_op *r;
	int from;

	EQ(add_op(&m, &o, PUB, 1000, 1002, "10.0.0.2", 2000, NULL, NULL), 0, "add range");
	EQ(id_of(&m, 1000), 1, "first id");
	EQ(id_of(&m, 1002), 1, "a range shares its id");
	check(zero_op_at(&o, 0, 1) >= 0 && zero_op_at(&o, 0, 1) < first_port_put(&o, 0),
	      "slot 1 zeroed before the entries");
	r = rev_op(&o, "10.0.0.2", 2001);
	if (check(r != NULL, "rule of 2001"))
		EQ(r->v.rev.mapping, 1, "reverse rule carries the id");
	from = o.n;
	EQ(add_op(&m, &o, PUB, 3000, 3000, "10.0.0.3", 80, NULL, NULL), 0, "add 2nd");
	EQ(id_of(&m, 3000), 2, "second mapping, next id");
	from = o.n;
	/* apply again: same entries, same backend: id and counters kept */
	EQ(add_op(&m, &o, PUB, 1000, 1002, "10.0.0.2", 2000, NULL, NULL), 0, "add again");
	EQ(id_of(&m, 1001), 1, "re-run keeps the id");
	EQ(count_ops(&o, from, MODEL_MSTATS, false), 0, "re-run keeps the counters");
	from = o.n;
	/* part of it again, same backend: still the range's id */
	EQ(add_op(&m, &o, PUB, 1001, 1001, "10.0.0.2", 2001, NULL, NULL), 0, "add one port of it");
	EQ(id_of(&m, 1001), 1, "a port of the range keeps the id");
	EQ(count_ops(&o, from, MODEL_MSTATS, false), 0, "no counters reset");
	from = o.n;
	/* another backend: a new id (1 is still in use while it is chosen) */
	EQ(add_op(&m, &o, PUB, 1000, 1002, "10.0.0.9", 2000, NULL, NULL), 0, "re-point");
	EQ(id_of(&m, 1000), 3, "new backend, new id");
	EQ(id_of(&m, 1002), 3, "whole range moved");
	check(zero_op_at(&o, from, 3) >= 0, "slot 3 zeroed");
	from = o.n;
	/* 1 is unreferenced now: the lowest free id, zeroed before reuse */
	EQ(add_op(&m, &o, PUB, 4000, 4000, "10.0.0.4", 4000, NULL, NULL), 0, "add 4th");
	EQ(id_of(&m, 4000), 1, "freed id reused");
	check(zero_op_at(&o, from, 1) >= 0 &&
		      zero_op_at(&o, from, 1) < first_port_put(&o, from),
	      "reused slot zeroed before its entry");
	from = o.n;
	EQ(del_op(&m, &o, PUB, 3000, NULL), 0, "del 2nd");
	EQ(count_ops(&o, from, MODEL_MSTATS, false), 0, "del writes no counters");
	EQ(mapping_id_alloc(&m), 2, "id of a deleted mapping free");
	EQ(add_op(&m, &o, PUB, 5000, 5001, "10.0.0.5", 0, NULL, NULL), 0, "add 5th");
	EQ(id_of(&m, 5001), 2, "deleted mapping's id reused");
	model_ops_free(&o);
	model_free(&m);
	report("mapping_ids");
}

/* Every id taken: the add fails and nothing is written. */
static void test_mapping_ids_full(void)
{
	struct model m = {};
	struct model_ops o = {};
	int i;

	m.ports = calloc(CRBPF_MAX_MAPPINGS, sizeof(*m.ports));
	for (i = 0; i < CRBPF_MAX_MAPPINGS - 1; i++) {
		m.ports[i].k.ifindex = PUB2;
		m.ports[i].k.family = CRBPF_V4;
		m.ports[i].k.proto = IPPROTO_UDP;
		m.ports[i].k.port = htons(i + 1);
		m.ports[i].v.mapping = i + 1;
	}
	m.np = CRBPF_MAX_MAPPINGS - 1;
	model_sort(&m);
	EQ(mapping_id_alloc(&m), -ENOSPC, "no free id");
	EQ(add_op(&m, &o, PUB, 80, 80, "10.0.0.2", 80, NULL, NULL), -ENOSPC, "add refused");
	EQ(count_ops(&o, 0, MODEL_PORTS, false), 0, "nothing written");
	model_ops_free(&o);
	model_free(&m);
	report("mapping_ids_full");
}

/* Entries of an older layout (no ids): one id per range as port add made
 * it (same scope and backend, consecutive ports, one offset), `all`
 * entries alone. */
static void test_mapping_ids_restore(void)
{
	struct crbpf_port_key k[7] = {};
	struct crbpf_backend v[7] = {};
	static const struct {
		__u16 port, bport;
		const char *be;
	} e[7] = {
		{ 102, 202, "10.0.0.2" }, /* dumped out of order */
		{ 100, 200, "10.0.0.2" },
		{ 101, 201, "10.0.0.2" },
		{ 103, 303, "10.0.0.2" }, /* another offset */
		{ 104, 304, "10.0.0.2" },
		{ 105, 305, "10.0.0.7" }, /* another backend */
		{ CRBPF_PORT_ALL, 0, "10.0.0.8" },
	};
	struct model m = {};
	struct model_ops o = {};
	int i;

	for (i = 0; i < 7; i++) {
		k[i].ifindex = PUB;
		k[i].family = CRBPF_V4;
		k[i].proto = IPPROTO_TCP;
		k[i].port = htons(e[i].port);
		v[i].addr[0] = v4(e[i].be);
		v[i].port = htons(e[i].bport);
		v[i].ifindex = TUN;
		v[i].flags = e[i].port ? 0 : CRBPF_BE_ALL;
	}
	EQ(model_restore(&m, k, v, 7, fake_primary, &o), 0, "restore");
	EQ(m.np, 7, "entries");
	EQ(count_ops(&o, 0, MODEL_MSTATS, false), 4, "four mappings, zeroed");
	EQ(id_of(&m, 100), id_of(&m, 102), "100-102 one mapping");
	EQ(id_of(&m, 101), id_of(&m, 100), "101 in it");
	EQ(id_of(&m, 103), id_of(&m, 104), "103-104 one mapping");
	check(id_of(&m, 103) != id_of(&m, 100), "another offset, another mapping");
	check(id_of(&m, 105) != id_of(&m, 104), "another backend, another mapping");
	check(id_of(&m, CRBPF_PORT_ALL) && id_of(&m, CRBPF_PORT_ALL) != id_of(&m, 105) &&
		      id_of(&m, CRBPF_PORT_ALL) != id_of(&m, 100) &&
		      id_of(&m, CRBPF_PORT_ALL) != id_of(&m, 103),
	      "`all` alone");
	for (i = 0; i < m.np; i++)
		check(m.ports[i].v.mapping >= 1 && m.ports[i].v.mapping <= 4,
		      "ids 1..4");
	model_ops_free(&o);
	model_free(&m);
	report("mapping_ids_restore");
}

int main(void)
{
	test_ambiguous();
	test_del_unambiguous();
	test_all_plus_port();
	test_addr();
	test_local_flags();
	test_except();
	test_purge();
	test_move();
	test_touched();
	test_all_marker();
	test_entries();
	test_ops_add_del();
	test_ops_all_except();
	test_ops_addr();
	test_ops_purge();
	test_ops_track();
	test_mapping_ids();
	test_mapping_ids_full();
	test_mapping_ids_restore();
	return failed;
}
