// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * Allow and deny lists (include/crbpf.h, crbpf_acl): prefixes parsed from
 * the command line and from files, built into a new LPM trie, and swapped
 * into their slot of crbpf_acl in one update. Nothing here writes a slot
 * before the whole list has been read and built: a bad line changes nothing.
 */
#include "tool.h"
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>

const char *const acl_kind_names[] = { "allow", "deny" };

int acl_kind_parse(const char *s)
{
	if (!strcmp(s, "allow"))
		return CRBPF_ACL_ALLOW;
	if (!strcmp(s, "deny"))
		return CRBPF_ACL_DENY;
	return -1;
}

/* ADDR or ADDR/LEN into k; 0, or -EINVAL with why filled. Host bits set
 * are refused, not masked: a typo would otherwise widen a list. */
int acl_prefix_parse(const char *s, struct crbpf_acl_key *k, char *why,
		     size_t len)
{
	char buf[INET6_ADDRSTRLEN + 8], *slash, *end;
	struct addr a = {};
	unsigned long plen;
	unsigned int max, i;
	__u8 *b;

	if (strlen(s) >= sizeof(buf)) {
		snprintf(why, len, "too long");
		return -EINVAL;
	}
	strcpy(buf, s);
	slash = strchr(buf, '/');
	if (slash)
		*slash++ = 0;
	if (inet_pton(AF_INET, buf, a.a) == 1) {
		a.family = CRBPF_V4;
		max = 32;
	} else if (inet_pton(AF_INET6, buf, a.a) == 1) {
		a.family = CRBPF_V6;
		max = 128;
	} else {
		snprintf(why, len, "not an IPv4 or IPv6 address");
		return -EINVAL;
	}
	plen = max;
	if (slash) {
		errno = 0;
		plen = strtoul(slash, &end, 10);
		if (!*slash || *end || errno || plen > max) {
			snprintf(why, len, "prefix length must be 0-%u", max);
			return -EINVAL;
		}
	}
	b = (__u8 *)a.a;
	for (i = plen; i < max; i++) {
		if (b[i / 8] & (0x80 >> (i % 8))) {
			char net[INET6_ADDRSTRLEN];
			struct addr m = a;
			__u8 *mb = (__u8 *)m.a;
			unsigned int j;

			for (j = plen; j < max; j++)
				mb[j / 8] &= ~(0x80 >> (j % 8));
			addr_str(&m, net, sizeof(net));
			snprintf(why, len, "host bits set (the network is %s/%lu)",
				 net, plen);
			return -EINVAL;
		}
	}
	crbpf_acl_key_of(k, a.family, a.a, plen);
	return 0;
}

static int list_push(struct acl_list *l, const struct crbpf_acl_key *k)
{
	struct crbpf_acl_key *n;

	if (l->n == l->cap) {
		int cap = l->cap ? l->cap * 2 : 64;

		n = realloc(l->k, cap * sizeof(*n));
		if (!n)
			return -ENOMEM;
		l->k = n;
		l->cap = cap;
	}
	l->k[l->n++] = *k;
	return 0;
}

int acl_list_add_prefix(struct acl_list *l, const char *s)
{
	struct crbpf_acl_key k;
	char why[128];

	if (acl_prefix_parse(s, &k, why, sizeof(why)))
		return usage_err("bad prefix '%s': %s", s, why);
	if (l->n >= CRBPF_ACL_MAX_PREFIXES)
		return usage_err("more than %d prefixes in one list",
				 CRBPF_ACL_MAX_PREFIXES);
	return list_push(l, &k);
}

/* One prefix a line; '#' starts a comment; blank lines are skipped. */
int acl_list_add_file(struct acl_list *l, const char *path)
{
	struct crbpf_acl_key k;
	char *line = NULL, *p, *e, why[128];
	size_t cap = 0;
	int ret = 0;
	long no = 0;
	FILE *f;

	f = fopen(path, "r");
	if (!f)
		return usage_err("cannot read list %s: %s", path, strerror(errno));
	while (getline(&line, &cap, f) >= 0) {
		no++;
		p = strchr(line, '#');
		if (p)
			*p = 0;
		p = line + strspn(line, " \t\r\n");
		e = p + strcspn(p, " \t\r\n");
		if (p == e)
			continue;
		if (*(e + strspn(e, " \t\r\n"))) {
			ret = usage_err("%s:%ld: one prefix a line, got '%s'",
					path, no, p);
			break;
		}
		*e = 0;
		if (acl_prefix_parse(p, &k, why, sizeof(why))) {
			ret = usage_err("%s:%ld: bad prefix '%s': %s", path, no,
					p, why);
			break;
		}
		if (l->n >= CRBPF_ACL_MAX_PREFIXES) {
			ret = usage_err("%s:%ld: more than %d prefixes in one list",
					path, no, CRBPF_ACL_MAX_PREFIXES);
			break;
		}
		ret = list_push(l, &k);
		if (ret)
			break;
	}
	if (!ret && ferror(f))
		ret = usage_err("cannot read list %s: %s", path, strerror(errno));
	free(line);
	fclose(f);
	return ret;
}

void acl_list_free(struct acl_list *l)
{
	free(l->k);
	memset(l, 0, sizeof(*l));
}

/* A new trie holding every prefix of l: its fd, or -errno. */
int acl_trie_build(const struct acl_list *l)
{
	LIBBPF_OPTS(bpf_map_create_opts, o, .map_flags = BPF_F_NO_PREALLOC);
	__u8 one = 1;
	int fd, i;

	fd = bpf_map_create(BPF_MAP_TYPE_LPM_TRIE, "crbpf_acl_list",
			    sizeof(struct crbpf_acl_key), sizeof(one),
			    CRBPF_ACL_MAX_PREFIXES, &o);
	if (fd < 0) {
		fd = -errno;
		err("failed to create a list map: %s", strerror(-fd));
		return fd;
	}
	for (i = 0; i < l->n; i++) {
		if (bpf_map_update_elem(fd, &l->k[i], &one, BPF_ANY)) {
			int ret = -errno;

			err("failed to fill a list map (%d of %d prefixes): %s",
			    i, l->n, strerror(-ret));
			close(fd);
			return ret;
		}
	}
	return fd;
}

int acl_open(void)
{
	return pin_map_open("crbpf_acl");
}

/* The trie in slot as an fd (to put back), -ENOENT for an empty slot. */
int acl_slot_get(int outer, __u32 slot)
{
	__u32 id;
	int fd;

	if (bpf_map_lookup_elem(outer, &slot, &id))
		return -ENOENT;
	fd = bpf_map_get_fd_by_id(id);
	return fd < 0 ? -errno : fd;
}

/* Puts trie (an fd, or < 0: none) in slot: one update, atomic for the
 * programs. */
int acl_slot_set(int outer, __u32 slot, int trie)
{
	if (trie < 0) {
		/* an empty slot: no delete, which would wait for RCU */
		if (!acl_slot_used(outer, slot))
			return 0;
		if (bpf_map_delete_elem(outer, &slot) && errno != ENOENT)
			return -errno;
		return 0;
	}
	return bpf_map_update_elem(outer, &slot, &trie, BPF_ANY) ? -errno : 0;
}

/* Prefixes of the list in slot (0 for none), or -errno. */
int acl_slot_count(int outer, __u32 slot)
{
	struct crbpf_acl_key k, next;
	int fd = acl_slot_get(outer, slot), n = 0;

	if (fd == -ENOENT)
		return 0;
	if (fd < 0)
		return fd;
	if (!bpf_map_get_next_key(fd, NULL, &k)) {
		n = 1;
		while (!bpf_map_get_next_key(fd, &k, &next)) {
			k = next;
			n++;
		}
	}
	close(fd);
	return n;
}

int acl_slot_dump(int outer, __u32 slot, struct acl_list *out)
{
	struct crbpf_acl_key k, next;
	int fd = acl_slot_get(outer, slot), ret = 0;

	if (fd == -ENOENT)
		return 0;
	if (fd < 0)
		return fd;
	if (!bpf_map_get_next_key(fd, NULL, &k)) {
		ret = list_push(out, &k);
		while (!ret && !bpf_map_get_next_key(fd, &k, &next)) {
			k = next;
			ret = list_push(out, &k);
		}
	}
	close(fd);
	return ret;
}

/* Packets the list in slot dropped, over all CPUs. */
__u64 acl_slot_drops(int stats, __u32 slot)
{
	int n = libbpf_num_possible_cpus(), c;
	__u64 *v, sum = 0;

	if (stats < 0 || n <= 0)
		return 0;
	v = calloc(n, sizeof(*v));
	if (v && !bpf_map_lookup_elem(stats, &slot, v))
		for (c = 0; c < n; c++)
			sum += v[c];
	free(v);
	return sum;
}

int acl_slot_drops_zero(int stats, __u32 slot)
{
	int n = libbpf_num_possible_cpus(), ret = 0;
	__u64 *v;

	if (stats < 0 || n <= 0)
		return 0;
	v = calloc(n, sizeof(*v));
	if (!v)
		return -ENOMEM;
	if (bpf_map_update_elem(stats, &slot, v, BPF_ANY))
		ret = -errno;
	free(v);
	return ret;
}

/* ADDR/LEN as the user wrote it (IPv4 back from ::ffff:0:0/96). */
const char *acl_key_str(const struct crbpf_acl_key *k, char *buf, size_t len)
{
	static const __u8 v4mapped[12] = { 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff };
	char a[INET6_ADDRSTRLEN];

	if (k->prefixlen >= 96 && !memcmp(k->addr, v4mapped, sizeof(v4mapped))) {
		inet_ntop(AF_INET, k->addr + 12, a, sizeof(a));
		snprintf(buf, len, "%s/%u", a, k->prefixlen - 96);
	} else {
		inet_ntop(AF_INET6, k->addr, a, sizeof(a));
		snprintf(buf, len, "%s/%u", a, k->prefixlen);
	}
	return buf;
}

/*
 * CRBPF_BE_ACL on every crbpf_ports entry where a list applies, off where
 * none does. Run after a list was put in (a global list: every mapping) or
 * taken out: an entry whose flag is on while no list exists only costs
 * the empty lookups.
 */
int acl_flags_sync(void)
{
	static __u8 known[CRBPF_MAX_MAPPINGS]; /* 0 unknown, 1 off, 2 on */
	struct crbpf_port_key *keys = NULL;
	struct crbpf_backend *vals = NULL;
	int ports, outer, n, i, ret = 0;

	ports = pin_map_open("crbpf_ports");
	if (ports < 0)
		return ports;
	outer = pin_map_open_quiet("crbpf_acl");
	n = map_dump(ports, sizeof(*keys), sizeof(*vals), (void **)&keys,
		     (void **)&vals);
	if (n < 0)
		ret = n;
	memset(known, 0, sizeof(known));
	for (i = 0; i < n; i++) {
		__u32 id = vals[i].mapping < CRBPF_MAX_MAPPINGS ? vals[i].mapping : 0;
		bool want;
		__u16 flags;

		/* once per id: a range's ports share it */
		if (!known[id])
			known[id] = outer >= 0 && acl_applies(outer, id) ? 2 : 1;
		want = known[id] == 2;
		flags = want ? vals[i].flags | CRBPF_BE_ACL :
			       vals[i].flags & ~CRBPF_BE_ACL;
		if (flags == vals[i].flags)
			continue;
		vals[i].flags = flags;
		/* gone meanwhile (a port del): nothing to flag */
		if (bpf_map_update_elem(ports, &keys[i], &vals[i], BPF_EXIST) &&
		    errno != ENOENT) {
			ret = -errno;
			err("failed to update crbpf_ports: %s", strerror(-ret));
			break;
		}
	}
	free(keys);
	free(vals);
	if (outer >= 0)
		close(outer);
	close(ports);
	return ret;
}

/* Mapping ids a port del took entries of: acl_gc() checks only these (a
 * slot update of a map-in-map waits for an RCU grace period, and every
 * syscall counts under emulation). */
static __u8 gc_ids[CRBPF_MAX_MAPPINGS];

void acl_gc_note(__u32 id)
{
	if (id && id < CRBPF_MAX_MAPPINGS)
		gc_ids[id] = 1;
}

/* Empties the slots of noted mapping ids that no crbpf_ports entry carries
 * any more: a later mapping given the id starts listless. */
int acl_gc(void)
{
	struct crbpf_port_key *keys = NULL;
	struct crbpf_backend *vals = NULL;
	int ports, outer, n, i, ret = 0;
	__u32 id, kind, slot;
	bool any = false;

	for (id = 1; id < CRBPF_MAX_MAPPINGS && !any; id++)
		any = gc_ids[id];
	if (!any)
		return 0;
	outer = pin_map_open_quiet("crbpf_acl");
	if (outer < 0)
		return 0;
	ports = pin_map_open("crbpf_ports");
	if (ports < 0) {
		close(outer);
		return ports;
	}
	n = map_dump(ports, sizeof(*keys), sizeof(*vals), (void **)&keys,
		     (void **)&vals);
	close(ports);
	if (n < 0) {
		close(outer);
		return n;
	}
	for (i = 0; i < n; i++)
		if (vals[i].mapping < CRBPF_MAX_MAPPINGS)
			gc_ids[vals[i].mapping] = 0;
	for (id = 1; id < CRBPF_MAX_MAPPINGS && !ret; id++) {
		if (!gc_ids[id])
			continue;
		gc_ids[id] = 0;
		for (kind = 0; kind < 2 && !ret; kind++) {
			slot = crbpf_acl_slot(id, kind);
			if (acl_slot_used(outer, slot))
				ret = acl_slot_set(outer, slot, -1);
		}
	}
	free(keys);
	free(vals);
	close(outer);
	return ret;
}

static const struct {
	const char *name;
	int kind;
	bool file;
} acl_opts[] = {
	{ "--allow", CRBPF_ACL_ALLOW, false },
	{ "--deny", CRBPF_ACL_DENY, false },
	{ "--allow-file", CRBPF_ACL_ALLOW, true },
	{ "--deny-file", CRBPF_ACL_DENY, true },
};

bool acl_is_option(const char *opt)
{
	size_t i;

	for (i = 0; i < ARRAY_SIZE(acl_opts); i++)
		if (!strcmp(opt, acl_opts[i].name))
			return true;
	return false;
}

/* --allow PREFIX, --deny PREFIX, --allow-file FILE, --deny-file FILE (val
 * NULL: missing). USAGE on a bad prefix or file. */
int acl_args_option(struct acl_args *a, const char *opt, const char *val)
{
	size_t i;

	for (i = 0; i < ARRAY_SIZE(acl_opts); i++) {
		if (strcmp(opt, acl_opts[i].name))
			continue;
		if (!val)
			return usage_err("%s needs %s", opt,
					 acl_opts[i].file ? "a file of prefixes" :
							    "a prefix (ADDR[/LEN])");
		a->given[acl_opts[i].kind] = true;
		return acl_opts[i].file ?
			       acl_list_add_file(&a->list[acl_opts[i].kind], val) :
			       acl_list_add_prefix(&a->list[acl_opts[i].kind], val);
	}
	return usage_err("unknown option '%s'", opt);
}

void acl_args_free(struct acl_args *a)
{
	acl_list_free(&a->list[0]);
	acl_list_free(&a->list[1]);
}

/*
 * The lists a names go into the slots of mapping, each built whole first.
 * A kind a does not name keeps its list. saved gets what the slots held
 * (fds, or -ENOENT) for acl_mapping_restore(); on failure the slots are
 * put back here.
 */
int acl_mapping_install(int outer, __u32 mapping, const struct acl_args *a,
			int saved[2])
{
	int kind, trie, ret = 0;

	/* -EBADF: a slot not touched */
	saved[0] = saved[1] = -EBADF;
	for (kind = 0; kind < 2 && !ret; kind++) {
		if (!a->given[kind])
			continue;
		saved[kind] = acl_slot_get(outer, crbpf_acl_slot(mapping, kind));
		trie = a->list[kind].n ? acl_trie_build(&a->list[kind]) : -ENOENT;
		if (trie < 0 && trie != -ENOENT) {
			ret = trie;
			break;
		}
		ret = acl_slot_set(outer, crbpf_acl_slot(mapping, kind), trie);
		if (ret)
			err("failed to update crbpf_acl: %s", strerror(-ret));
		if (trie >= 0)
			close(trie);
	}
	if (ret)
		acl_mapping_done(outer, mapping, saved, true);
	return ret;
}

/* After acl_mapping_install(): put back what it found (put_back), or just
 * let go of it. */
void acl_mapping_done(int outer, __u32 mapping, int saved[2], bool put_back)
{
	int kind;

	for (kind = 0; kind < 2; kind++) {
		if (put_back && saved[kind] != -EBADF)
			acl_slot_set(outer, crbpf_acl_slot(mapping, kind),
				     saved[kind] >= 0 ? saved[kind] : -1);
		if (saved[kind] >= 0)
			close(saved[kind]);
		saved[kind] = -EBADF;
	}
}
