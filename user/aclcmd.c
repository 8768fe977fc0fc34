// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * crbpf acl: replace, clear and list allow and deny lists, global (every
 * mapping) or of a mapping, live. A list is read and built whole into a new
 * trie, then swapped into its slot(s) in one update each: packets see the
 * old list or the new one. Global lists apply to mapped traffic only.
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

#define ACL_USAGE_LOAD "crbpf acl load { allow | deny } { global | PROTO { PORT | all } } [PREFIX]... [--file FILE]... [--addr PUBLIC] [--dev IFACE]"
#define ACL_USAGE_CLEAR "crbpf acl clear { allow | deny } { global | PROTO { PORT | all } } [--addr PUBLIC] [--dev IFACE]"
#define ACL_USAGE_LIST "crbpf acl list [--json]"

/* One mapping as the lists name it: its lowest port's key, its range. */
struct acl_mapping {
	__u32 id;
	struct crbpf_port_key k;
	__u16 first, last;
};

/* Mappings by id (ids[] has CRBPF_MAX_MAPPINGS slots, 0: none). */
static int acl_mappings(struct acl_mapping *ids)
{
	struct crbpf_port_key *keys = NULL;
	struct crbpf_backend *vals = NULL;
	int fd, n, i;

	memset(ids, 0, CRBPF_MAX_MAPPINGS * sizeof(*ids));
	fd = pin_map_open("crbpf_ports");
	if (fd < 0)
		return fd;
	n = map_dump(fd, sizeof(*keys), sizeof(*vals), (void **)&keys,
		     (void **)&vals);
	close(fd);
	if (n < 0)
		return n;
	for (i = 0; i < n; i++) {
		struct acl_mapping *m;
		__u16 port = ntohs(keys[i].port);

		if (!vals[i].mapping || vals[i].mapping >= CRBPF_MAX_MAPPINGS)
			continue;
		m = &ids[vals[i].mapping];
		if (!m->id) {
			m->id = vals[i].mapping;
			m->k = keys[i];
			m->first = m->last = port;
			continue;
		}
		if (port < m->first) {
			m->first = port;
			m->k = keys[i];
		}
		if (port > m->last)
			m->last = port;
	}
	free(keys);
	free(vals);
	return 0;
}

/* "tcp 22-25 [203.0.113.5] (IPv4) on eth0" */
static const char *acl_mapping_str(const struct acl_mapping *m, char *buf,
				   size_t len)
{
	char dev[IF_NAMESIZE], ports[16], abuf[INET6_ADDRSTRLEN + 4] = "";
	struct addr pub = { .family = m->k.family };

	if (!m->first)
		snprintf(ports, sizeof(ports), "all");
	else if (m->first == m->last)
		snprintf(ports, sizeof(ports), "%u", m->first);
	else
		snprintf(ports, sizeof(ports), "%u-%u", m->first, m->last);
	if (key_has_addr(&m->k)) {
		memcpy(pub.a, m->k.addr, sizeof(pub.a));
		abuf[0] = ' ';
		addr_str(&pub, abuf + 1, sizeof(abuf) - 1);
	}
	snprintf(buf, len, "%s %s%s (%s) on %s", proto_str(m->k.proto), ports,
		 abuf, family_str(m->k.family), ifname(m->k.ifindex, dev));
	return buf;
}

struct acl_target {
	bool global;
	const char *proto, *port, *addr, *dev;
};

/* The mapping ids target names (all families unless --addr): *n of them. */
static int target_ids(const struct acl_target *t, const struct acl_mapping *ids,
		      __u32 *out, int *n)
{
	char dev[IF_NAMESIZE];
	struct addr paddr = {};
	__u16 first, last;
	__u8 proto;
	bool all;
	int ifindex, ret;
	__u32 id;

	*n = 0;
	if (parse_proto(t->proto, &proto))
		return USAGE;
	all = !strcmp(t->port, "all");
	if (all)
		first = last = CRBPF_PORT_ALL;
	else if (parse_port_range(t->port, &first, &last))
		return USAGE;
	if (first != last)
		return usage_err("give one port of the mapping, not a range (%s)", t->port);
	if (t->addr && parse_public_addr(t->addr, &paddr))
		return USAGE;
	ret = port_pick_dev(t->dev, dev, &ifindex);
	if (ret)
		return ret;
	for (id = 1; id < CRBPF_MAX_MAPPINGS; id++) {
		const struct acl_mapping *m = &ids[id];

		if (!m->id || (int)m->k.ifindex != ifindex || m->k.proto != proto ||
		    (all ? m->first != CRBPF_PORT_ALL :
			   !m->first || first < m->first || first > m->last) ||
		    (t->addr ? m->k.family != paddr.family ||
				       memcmp(m->k.addr, paddr.a, sizeof(paddr.a)) :
			       key_has_addr(&m->k)))
			continue;
		out[(*n)++] = id;
	}
	if (!*n) {
		err("no mapping %s %s%s%s on %s (crbpf port list)", t->proto,
		    t->port, t->addr ? " --addr " : "", t->addr ? t->addr : "", dev);
		return -ENOENT;
	}
	return 0;
}

static int acl_change(int argc, char **argv, bool load)
{
	static struct acl_mapping ids[CRBPF_MAX_MAPPINGS];
	static __u32 targets[CRBPF_MAX_MAPPINGS];
	struct acl_target t = {};
	struct acl_list l = {};
	const char *use = load ? ACL_USAGE_LOAD : ACL_USAGE_CLEAR;
	char what[128];
	int kind, i, n = 1, outer = -1, trie = -1, ret, words = 0;

	if (argc < 2)
		return usage_err("usage: %s", use);
	kind = acl_kind_parse(argv[0]);
	if (kind < 0)
		return usage_err("expected allow or deny, got '%s'; usage: %s", argv[0], use);
	t.global = !strcmp(argv[1], "global");
	i = 2;
	if (!t.global) {
		if (argc < 3)
			return usage_err("usage: %s", use);
		t.proto = argv[1];
		t.port = argv[2];
		i = 3;
	}
	for (; i < argc; i++) {
		const char *o = argv[i];

		if (!strcmp(o, "--addr") || !strcmp(o, "--dev") ||
		    (load && !strcmp(o, "--file"))) {
			if (i + 1 == argc)
				return usage_err("%s needs a value; usage: %s", o, use);
			if ((!strcmp(o, "--addr") || !strcmp(o, "--dev")) && t.global)
				return usage_err("%s names a mapping; global lists have none", o);
			if (!strcmp(o, "--addr"))
				t.addr = argv[++i];
			else if (!strcmp(o, "--dev"))
				t.dev = argv[++i];
			else if ((ret = acl_list_add_file(&l, argv[++i])))
				goto out;
			words++;
		} else if (o[0] == '-' && o[1]) {
			ret = usage_err("unknown option '%s'; usage: %s", o, use);
			goto out;
		} else if (!load) {
			ret = usage_err("unexpected argument '%s'; usage: %s", o, use);
			goto out;
		} else if ((ret = acl_list_add_prefix(&l, o))) {
			goto out;
		} else {
			words++;
		}
	}
	/* An empty download must not open an allow list to everyone. */
	if (load && !l.n) {
		ret = usage_err(words ? "the list has no prefixes; to remove a list: crbpf acl clear" :
					"no prefixes given; usage: %s", use);
		goto out;
	}
	ret = tool_prepare();
	if (ret)
		goto out;
	if (!t.global) {
		ret = acl_mappings(ids);
		if (!ret)
			ret = target_ids(&t, ids, targets, &n);
		if (ret)
			goto out;
	} else {
		targets[0] = 0;
	}
	outer = acl_open();
	if (outer < 0) {
		ret = outer;
		goto out;
	}
	if (load) {
		trie = acl_trie_build(&l);
		if (trie < 0) {
			ret = trie;
			goto out;
		}
	}
	/* One trie in every slot named (a port mapped for both families is
	 * two mappings): each swap is one update. */
	for (i = 0; i < n; i++) {
		ret = acl_slot_set(outer, crbpf_acl_slot(targets[i], kind), trie);
		if (ret) {
			err("failed to update crbpf_acl: %s", strerror(-ret));
			goto out;
		}
		if (t.global)
			snprintf(what, sizeof(what), "global");
		else
			acl_mapping_str(&ids[targets[i]], what, sizeof(what));
		if (load)
			info("%s list of %s: %d prefixes", acl_kind_names[kind],
			     what, l.n);
		else
			info("%s list of %s cleared", acl_kind_names[kind], what);
	}
	ret = acl_flags_sync();
out:
	if (trie >= 0)
		close(trie);
	if (outer >= 0)
		close(outer);
	acl_list_free(&l);
	return ret;
}

/* Every list, one a line ("global deny: 3 prefixes, 12 dropped") or as
 * a JSON array; without crbpf_acl (pins of an older crbpf): none. */
int acl_lists_print(FILE *f, bool json, const char *indent)
{
	static struct acl_mapping ids[CRBPF_MAX_MAPPINGS];
	char what[128];
	int outer, stats, kind, ret, shown = 0;
	__u32 id;

	outer = pin_map_open_quiet("crbpf_acl");
	ret = outer >= 0 ? acl_mappings(ids) : 0;
	if (ret) {
		close(outer);
		return ret;
	}
	stats = pin_map_open_quiet("crbpf_aclstats");
	if (json)
		fprintf(f, "[");
	for (id = 0; outer >= 0 && id < CRBPF_MAX_MAPPINGS; id++) {
		if (id && !ids[id].id)
			continue;
		for (kind = 0; kind < 2; kind++) {
			__u32 slot = crbpf_acl_slot(id, kind);
			int cnt;

			if (!acl_slot_used(outer, slot))
				continue;
			cnt = acl_slot_count(outer, slot);
			if (id)
				acl_mapping_str(&ids[id], what, sizeof(what));
			else
				snprintf(what, sizeof(what), "global");
			if (json) {
				fprintf(f, "%s{\"list\":", shown ? "," : "");
				json_str(f, what);
				fprintf(f, ",\"kind\":\"%s\",\"prefixes\":%d,\"dropped\":%llu}",
					acl_kind_names[kind], cnt,
					(unsigned long long)acl_slot_drops(stats, slot));
			} else {
				fprintf(f, "%s%s %s: %d prefixes, %llu dropped\n",
					indent, what, acl_kind_names[kind], cnt,
					(unsigned long long)acl_slot_drops(stats, slot));
			}
			shown++;
		}
	}
	if (json)
		fprintf(f, "]");
	else if (!shown)
		fprintf(f, "%s(none)\n", indent);
	if (stats >= 0)
		close(stats);
	if (outer >= 0)
		close(outer);
	return 0;
}

static int acl_list_cmd(int argc, char **argv)
{
	bool json = false;
	int i, ret;

	for (i = 0; i < argc; i++) {
		if (!strcmp(argv[i], "--json"))
			json = true;
		else
			return usage_err("usage: %s", ACL_USAGE_LIST);
	}
	ret = tool_prepare_read();
	if (ret)
		return ret;
	ret = acl_lists_print(stdout, json, "");
	if (json)
		printf("\n");
	return ret;
}

int cmd_acl(int argc, char **argv)
{
	const char *sub;

	if (argc < 2)
		return usage_err("acl needs a subcommand: load, clear or list");
	sub = argv[1];
	if (!strcmp(sub, "load"))
		return acl_change(argc - 2, argv + 2, true);
	if (!strcmp(sub, "clear"))
		return acl_change(argc - 2, argv + 2, false);
	if (!strcmp(sub, "list"))
		return acl_list_cmd(argc - 2, argv + 2);
	return usage_err("unknown acl subcommand '%s' (expected load, clear or list)", sub);
}
