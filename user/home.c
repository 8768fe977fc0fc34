// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/* crbpf home attach / detach: learn flows on the tunnel, mark replies on
 * served bridges, and steer both back into the tunnel with ip rules and a
 * table whose default route is the tunnel.
 *
 * What attach installed is kept in a one-entry ARRAY map the tool creates
 * and pins at $ROOT/home/<tunnel>: table, mark, served devices and the tunnel
 * addresses the "from" rules were made for. detach removes exactly that,
 * even if the tunnel's addresses changed in between. */
#include "tool.h"
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <linux/rtnetlink.h>
#include "home.skel.h"

#define HOME_MAX_ADDRS 32
#define HOME_MAX_OUT 8

struct home_cfg {
	__u32 tunnel_ifindex;
	__u32 table;
	__u32 mark;
	__u32 nserve;
	__u32 naddr;
	char serve[HOME_MAX_SERVE][IF_NAMESIZE];
	struct addr addrs[HOME_MAX_ADDRS];
	/* Home line devices carrying crbpf_home_out (egress). */
	__u32 nout;
	char out[HOME_MAX_OUT][IF_NAMESIZE];
};

static int cfg_load(const char *tunnel, struct home_cfg *cfg)
{
	return pin_record_load("home", tunnel, cfg, sizeof(*cfg));
}

static int cfg_store(const char *tunnel, const struct home_cfg *cfg)
{
	return pin_record_store("home", tunnel, "crbpf_hcfg", cfg, sizeof(*cfg));
}

static bool v6_absent(int ret)
{
	return ret == -EAFNOSUPPORT || ret == -EOPNOTSUPP;
}

/* Adds (or removes) every rule and route cfg describes. */
static int home_rules(const struct home_cfg *cfg, bool add)
{
	static const __u8 fams[] = { CRBPF_V4, CRBPF_V6 };
	int ret, first = 0;
	__u32 i;
	size_t f;

	for (f = 0; f < ARRAY_SIZE(fams); f++) {
		ret = nl_route_default(add, fams[f], cfg->tunnel_ifindex, cfg->table);
		if (ret && !(fams[f] == CRBPF_V6 && v6_absent(ret))) {
			if (add)
				goto fail;
			first = first ?: ret;
		}
		ret = nl_rule(add, fams[f], NULL, cfg->mark, cfg->table);
		if (ret && !(fams[f] == CRBPF_V6 && v6_absent(ret))) {
			if (add)
				goto fail;
			first = first ?: ret;
		}
	}
	for (i = 0; i < cfg->naddr; i++) {
		ret = nl_rule(add, cfg->addrs[i].family, &cfg->addrs[i], 0,
			      cfg->table);
		if (ret) {
			if (add)
				goto fail;
			first = first ?: ret;
		}
	}
	return first;
fail:
	err("failed to add the routing rules for table %u: %s", cfg->table,
	    strerror(-ret));
	return ret;
}

static bool addr_in(const struct home_cfg *cfg, const struct addr *a)
{
	__u32 i;

	for (i = 0; i < cfg->naddr; i++)
		if (!memcmp(&cfg->addrs[i], a, sizeof(*a)))
			return true;
	return false;
}

static bool serve_in(const struct home_cfg *cfg, const char *dev)
{
	__u32 i;

	for (i = 0; i < cfg->nserve; i++)
		if (!strcmp(cfg->serve[i], dev))
			return true;
	return false;
}

/* After an upgrade: what the old attach made and the new one does not. */
static void home_rules_drop_stale(const struct home_cfg *old,
				  const struct home_cfg *cur)
{
	static const __u8 fams[] = { CRBPF_V4, CRBPF_V6 };
	__u32 i;
	size_t f;

	for (f = 0; f < ARRAY_SIZE(fams); f++) {
		if (old->table != cur->table ||
		    old->tunnel_ifindex != cur->tunnel_ifindex)
			nl_route_default(false, fams[f], old->tunnel_ifindex,
					 old->table);
		if (old->table != cur->table || old->mark != cur->mark)
			nl_rule(false, fams[f], NULL, old->mark, old->table);
	}
	for (i = 0; i < old->naddr; i++)
		if (old->table != cur->table || !addr_in(cur, &old->addrs[i]))
			nl_rule(false, old->addrs[i].family, &old->addrs[i], 0,
				old->table);
}

struct served_by {
	const char *tunnel;
	const char *dev;
	char other[IF_NAMESIZE * 2];
};

static bool out_in(const struct home_cfg *cfg, const char *dev)
{
	__u32 i;

	for (i = 0; i < cfg->nout; i++)
		if (!strcmp(cfg->out[i], dev))
			return true;
	return false;
}

/* The devices the host's own traffic leaves by (main table defaults), minus
 * the tunnel and served bridges: where a wildcard-bound UDP service's reply
 * to a tunnelled client would wrongly go. */
static void home_out_devs(struct home_cfg *cfg)
{
	int oifs[HOME_MAX_OUT], n = 0, i;
	char name[IF_NAMESIZE];

	if (nl_default_oifs(oifs, HOME_MAX_OUT, &n))
		return;
	for (i = 0; i < n; i++) {
		if (oifs[i] == (int)cfg->tunnel_ifindex ||
		    !if_indextoname(oifs[i], name) ||
		    serve_in(cfg, name) || out_in(cfg, name))
			continue;
		snprintf(cfg->out[cfg->nout++], IF_NAMESIZE, "%s", name);
	}
}

/* Tunnel addresses the egress program gives rerouted replies. */
static void home_set_rodata(struct home_bpf *skel, const struct home_cfg *cfg)
{
	bool v4 = false, v6 = false;
	__u32 i;

	skel->rodata->home_mark = cfg->mark;
	skel->rodata->tun_ifindex = cfg->tunnel_ifindex;
	for (i = 0; i < cfg->naddr; i++) {
		const struct addr *a = &cfg->addrs[i];

		if (a->family == CRBPF_V4 && !v4) {
			skel->rodata->tun_addr4 = a->a[0];
			v4 = true;
		} else if (a->family == CRBPF_V6 && !v6) {
			memcpy((void *)skel->rodata->tun_addr6, a->a,
			       sizeof(a->a));
			v6 = true;
		}
	}
}

static int served_by_cb(const char *tunnel, const char *path, void *data)
{
	struct served_by *s = data;
	struct home_cfg cfg;

	(void)path;
	if (!strcmp(tunnel, s->tunnel) || cfg_load(tunnel, &cfg))
		return 0;
	if (!serve_in(&cfg, s->dev))
		return 0;
	snprintf(s->other, sizeof(s->other), "%s", tunnel);
	return 1;
}

/* Attaches prog_fd to ifindex's tc ingress (egress) pinned at path, or
 * swaps the program of the attachment already pinned there (an upgrade). */
static int home_tc_attach(int prog_fd, int ifindex, bool egress,
			  const char *path, struct undo *u)
{
	if (pin_exists(path))
		return tc_replace(prog_fd, ifindex, path, u);
	return egress ? tcx_attach_egress(prog_fd, ifindex, path, u) :
			tc_attach(prog_fd, ifindex, path, u);
}

int home_attach(const struct home_args *a)
{
	char maps[PATH_MAX], path[PATH_MAX];
	LIBBPF_OPTS(bpf_object_open_opts, oo, .pin_root_path = maps);
	struct home_cfg cfg = {}, old = {};
	struct layout_conv lc = {};
	struct home_bpf *skel = NULL;
	struct undo *u = undo_new();
	struct bpf_map *map;
	struct nl_addr *addrs = NULL;
	bool upgrade, rules = false;
	int i, n, ifindex, ret;

	if (!u)
		return -ENOMEM;
	ret = resolve_iface(a->tunnel, &ifindex);
	if (ret) {
		err("failed to attach to %s: %s", a->tunnel, strerror(-ret));
		goto out;
	}
	cfg.tunnel_ifindex = ifindex;
	cfg.table = a->table;
	cfg.mark = a->mark;
	for (i = 0; i < a->nserve; i++) {
		struct served_by sb = { .tunnel = a->tunnel, .dev = a->serve[i] };
		int idx;

		ret = resolve_iface(a->serve[i], &idx);
		if (ret && !a->keep_missing) {
			err("failed to serve %s: %s", a->serve[i], strerror(-ret));
			goto out;
		}
		pin_iter(NULL, served_by_cb, &sb);
		if (sb.other[0]) {
			err("%s is already served by tunnel %s", a->serve[i], sb.other);
			ret = -EBUSY;
			goto out;
		}
		if (!serve_in(&cfg, a->serve[i]))
			snprintf(cfg.serve[cfg.nserve++], IF_NAMESIZE, "%s",
				 a->serve[i]);
	}
	ret = nl_addrs(ifindex, AF_UNSPEC, &addrs, &n);
	if (ret) {
		err("failed to read the addresses of %s: %s", a->tunnel,
		    strerror(-ret));
		goto out;
	}
	for (i = 0; i < n && cfg.naddr < HOME_MAX_ADDRS; i++)
		if (addrs[i].scope == RT_SCOPE_UNIVERSE)
			cfg.addrs[cfg.naddr++] = addrs[i].addr;
	if (!cfg.naddr)
		warn("%s has no global address: host-local services cannot answer through it",
		     a->tunnel);
	home_out_devs(&cfg);
	upgrade = !cfg_load(a->tunnel, &old);

	ret = pin_dirs_create(u);
	if (ret)
		goto fail;
	pin_path(maps, sizeof(maps), "maps", NULL, NULL);
	skel = home_bpf__open_opts(&oo);
	if (!skel) {
		ret = -errno;
		goto fail_load;
	}
	ret = layout_prepare(skel->obj, &lc);
	if (ret)
		goto fail;
	bpf_object__for_each_map(map, skel->obj) {
		if (bpf_map__is_internal(map))
			continue;
		pin_path(path, sizeof(path), "maps", NULL, bpf_map__name(map));
		if (!pin_exists(path))
			undo_unpin(u, path);
	}
	home_set_rodata(skel, &cfg);
	ret = home_bpf__load(skel);
	if (ret)
		goto fail_load;
	ret = layout_finish(skel->obj, &lc);
	if (ret)
		goto fail;

	pin_path(path, sizeof(path), "links", "hometun", a->tunnel);
	ret = home_tc_attach(bpf_program__fd(skel->progs.crbpf_home_tun),
			     ifindex, false, path, u);
	if (ret) {
		err("failed to attach tc ingress to %s: %s", a->tunnel, strerror(-ret));
		goto fail;
	}
	for (i = 0; i < (int)cfg.nserve; i++) {
		int idx;

		if (resolve_iface(cfg.serve[i], &idx))
			continue; /* keep_missing */
		pin_path(path, sizeof(path), "links", "homesrv", cfg.serve[i]);
		ret = home_tc_attach(bpf_program__fd(skel->progs.crbpf_home_srv),
				     idx, false, path, u);
		if (ret) {
			err("failed to attach tc ingress to %s: %s", cfg.serve[i],
			    strerror(-ret));
			goto fail;
		}
		/* The egress learns tunnelled flows as their container sees
		 * them (after Docker's DNAT): the tuples its replies carry. */
		pin_path(path, sizeof(path), "links", "homefwd", cfg.serve[i]);
		ret = home_tc_attach(bpf_program__fd(skel->progs.crbpf_home_fwd),
				     idx, true, path, u);
		if (ret) {
			err("failed to attach tc egress to %s: %s", cfg.serve[i],
			    strerror(-ret));
			goto fail;
		}
	}
	for (i = 0; i < (int)cfg.nout; i++) {
		int idx, fd = bpf_program__fd(skel->progs.crbpf_home_out);

		resolve_iface(cfg.out[i], &idx);
		pin_path(path, sizeof(path), "links", "homeout", cfg.out[i]);
		ret = home_tc_attach(fd, idx, true, path, u);
		if (ret == -EINVAL || ret == -EOPNOTSUPP) {
			warn("no tc egress hook on %s (neither tcx nor clsact): UDP services bound to the wildcard address will answer tunnelled clients through it",
			     cfg.out[i]);
			memmove(cfg.out[i], cfg.out[i + 1],
				(cfg.nout - i - 1) * IF_NAMESIZE);
			cfg.nout--;
			i--;
			continue;
		}
		if (ret) {
			err("failed to attach tc egress to %s: %s", cfg.out[i],
			    strerror(-ret));
			goto fail;
		}
	}
	rules = true;
	ret = home_rules(&cfg, true);
	if (ret)
		goto fail;
	ret = cfg_store(a->tunnel, &cfg);
	if (ret) {
		err("failed to record the configuration of %s: %s", a->tunnel,
		    strerror(-ret));
		goto fail;
	}
	ret = layout_store();
	if (ret) {
		err("failed to record the layout of %s: %s", pin_root, strerror(-ret));
		goto fail;
	}
	if (upgrade) {
		for (i = 0; i < (int)old.nserve; i++) {
			int idx = 0;

			if (serve_in(&cfg, old.serve[i]))
				continue;
			resolve_iface(old.serve[i], &idx);
			pin_path(path, sizeof(path), "links", "homesrv", old.serve[i]);
			tc_detach_pin(path, idx);
			pin_path(path, sizeof(path), "links", "homefwd", old.serve[i]);
			tc_detach_pin(path, idx);
		}
		for (i = 0; i < (int)old.nout; i++) {
			int idx = 0;

			if (out_in(&cfg, old.out[i]))
				continue;
			resolve_iface(old.out[i], &idx);
			pin_path(path, sizeof(path), "links", "homeout", old.out[i]);
			tc_detach_pin(path, idx);
		}
		home_rules_drop_stale(&old, &cfg);
	}
	info("%s %s: table %u mark 0x%x", upgrade ? "upgraded" : "attached to",
	     a->tunnel, a->table, a->mark);
	goto out;

fail_load:
	err("failed to load the home programs: %s", strerror(-ret));
fail:
	if (rules) {
		home_rules(&cfg, false);
		if (upgrade)
			home_rules(&old, true);
	}
	home_bpf__destroy(skel);
	skel = NULL;
	undo_rollback(u);
	layout_abort(&lc);
out:
	layout_free(&lc);
	home_bpf__destroy(skel);
	free(addrs);
	undo_free(u);
	return ret;
}

/* Learned flows of a tunnel in table name: moved to its new ifindex
 * (re-created), or deleted (to 0: detached). */
static void hflows_retarget_map(const char *name, __u32 from, __u32 to)
{
	struct crbpf_hflow_key *keys;
	struct crbpf_hflow *vals;
	int fd, i, n;

	/* quiet: pins of an older crbpf have no crbpf_hunreplied */
	fd = pin_map_open_quiet(name);
	if (fd < 0)
		return;
	n = map_dump(fd, sizeof(*keys), sizeof(*vals), (void **)&keys,
		     (void **)&vals);
	for (i = 0; i < n; i++) {
		if (vals[i].tunnel_ifindex != from)
			continue;
		vals[i].tunnel_ifindex = to;
		if (!to)
			bpf_map_delete_elem(fd, &keys[i]);
		else
			bpf_map_update_elem(fd, &keys[i], &vals[i], BPF_EXIST);
	}
	if (n >= 0) {
		free(keys);
		free(vals);
	}
	close(fd);
}

static void hflows_retarget(__u32 from, __u32 to)
{
	hflows_retarget_map("crbpf_hflows", from, to);
	hflows_retarget_map("crbpf_hunreplied", from, to);
}

int home_detach(const char *tunnel)
{
	char path[PATH_MAX];
	struct home_cfg cfg;
	int ifindex = 0, ret, r;
	__u32 i;

	ret = cfg_load(tunnel, &cfg);
	if (ret) {
		err("%s is not attached (home)", tunnel);
		return -ENOENT;
	}
	resolve_iface(tunnel, &ifindex);
	pin_path(path, sizeof(path), "links", "hometun", tunnel);
	ret = tc_detach_pin(path, ifindex);
	for (i = 0; i < cfg.nserve; i++) {
		int idx = 0;

		resolve_iface(cfg.serve[i], &idx);
		pin_path(path, sizeof(path), "links", "homesrv", cfg.serve[i]);
		r = tc_detach_pin(path, idx);
		ret = ret ?: r;
		pin_path(path, sizeof(path), "links", "homefwd", cfg.serve[i]);
		if (pin_exists(path)) { /* an older crbpf attached none */
			r = tc_detach_pin(path, idx);
			ret = ret ?: r;
		}
	}
	for (i = 0; i < cfg.nout; i++) {
		int idx = 0;

		resolve_iface(cfg.out[i], &idx);
		pin_path(path, sizeof(path), "links", "homeout", cfg.out[i]);
		r = tc_detach_pin(path, idx);
		ret = ret ?: r;
	}
	r = home_rules(&cfg, false);
	if (r)
		err("failed to remove some rules or routes of table %u: %s",
		    cfg.table, strerror(-r));
	ret = ret ?: r;
	hflows_retarget(cfg.tunnel_ifindex, 0);
	pin_path(path, sizeof(path), "home", NULL, tunnel);
	r = pin_unlink(path);
	ret = ret ?: r;
	if (!home_attached_count()) {
		pin_path(path, sizeof(path), "maps", NULL, "crbpf_hflows");
		pin_unlink(path);
		pin_path(path, sizeof(path), "maps", NULL, "crbpf_hunreplied");
		pin_unlink(path);
		edge_cleanup_idle();
	}
	return ret;
}

static bool addrs_same(const struct home_cfg *cfg, const struct nl_addr *v, int n)
{
	__u32 i, want = 0;
	int j;

	for (j = 0; j < n; j++) {
		if (v[j].scope != RT_SCOPE_UNIVERSE)
			continue;
		if (want++ >= HOME_MAX_ADDRS || !addr_in(cfg, &v[j].addr))
			return false;
	}
	for (i = 0; i < cfg->naddr; i++) {
		for (j = 0; j < n; j++)
			if (v[j].scope == RT_SCOPE_UNIVERSE &&
			    v[j].addr.family == cfg->addrs[i].family &&
			    !memcmp(v[j].addr.a, cfg->addrs[i].a, sizeof(v[j].addr.a)))
				break;
		if (j == n)
			return false;
	}
	return true;
}

/* A pin of kind for dev whose device is gone or re-created: unpinned, so
 * that attach makes a new attachment instead of updating a dead one. */
static bool pin_dead(const char *kind, const char *dev, bool *dead)
{
	char path[PATH_MAX];
	int idx = 0;

	pin_path(path, sizeof(path), "links", kind, dev);
	if (!pin_exists(path))
		return false;
	resolve_iface(dev, &idx);
	if (pin_alive(path, idx) > 0)
		return false;
	pin_unlink(path);
	*dead = true;
	return true;
}

/*
 * crbpf watch, home side: the tunnel or a served device deleted and
 * re-created, the tunnel's addresses or the host's default-route devices
 * changed: attach again from the record (an in-place upgrade for what is
 * still attached). Routes of the table go with a tunnel that goes down;
 * they are put back on every pass (adding what exists changes nothing).
 */
static int home_repair_cb(const char *tunnel, const char *path, void *data)
{
	struct home_cfg cfg, now = {};
	struct home_args a = {};
	struct nl_addr *v = NULL;
	int *missing = data, ifindex, idx, n = 0, ret;
	bool need = false;
	__u32 i;

	(void)path;
	if (cfg_load(tunnel, &cfg))
		return 0;
	if (resolve_iface(tunnel, &ifindex) || !if_is_up(tunnel)) {
		(*missing)++;
		return 0;
	}
	need = (int)cfg.tunnel_ifindex != ifindex;
	pin_dead("hometun", tunnel, &need);
	for (i = 0; i < cfg.nserve; i++) {
		if (resolve_iface(cfg.serve[i], &idx))
			(*missing)++;
		else {
			pin_dead("homesrv", cfg.serve[i], &need);
			pin_dead("homefwd", cfg.serve[i], &need);
		}
	}
	for (i = 0; i < cfg.nout; i++)
		pin_dead("homeout", cfg.out[i], &need);
	now.tunnel_ifindex = ifindex;
	memcpy(now.serve, cfg.serve, sizeof(now.serve));
	now.nserve = cfg.nserve;
	home_out_devs(&now);
	for (i = 0; i < now.nout && now.nout == cfg.nout; i++)
		if (!out_in(&cfg, now.out[i]))
			break;
	if (i < now.nout || now.nout != cfg.nout)
		need = true;
	if (!nl_addrs(ifindex, AF_UNSPEC, &v, &n) && !addrs_same(&cfg, v, n))
		need = true;
	free(v);
	if (!need)
		return home_rules(&cfg, true);
	notice("%s (home) changed: attaching again", tunnel);
	if ((int)cfg.tunnel_ifindex != ifindex)
		hflows_retarget(cfg.tunnel_ifindex, ifindex);
	a.tunnel = tunnel;
	a.table = cfg.table;
	a.mark = cfg.mark;
	a.keep_missing = true;
	for (i = 0; i < cfg.nserve; i++)
		a.serve[a.nserve++] = cfg.serve[i];
	ret = home_attach(&a);
	return ret;
}

int home_repair(int *missing)
{
	return pin_iter(NULL, home_repair_cb, missing);
}

int home_detach_all(void)
{
	char names[64][IF_NAMESIZE * 2];
	int i, n = 0, ret = 0, r;

	n = pin_names(NULL, names, 64);
	for (i = 0; i < n; i++) {
		r = home_detach(names[i]);
		ret = ret ?: r;
	}
	return ret;
}

int parse_home_attach(int argc, char **argv, struct home_args *a)
{
	int i;

	memset(a, 0, sizeof(*a));
	a->table = CRBPF_HOME_TABLE_DEFAULT;
	a->mark = CRBPF_HOME_MARK_DEFAULT;
	for (i = 0; i < argc; i++) {
		const char *opt = argv[i];

		if (!strcmp(opt, "--serve") || !strcmp(opt, "--table") ||
		    !strcmp(opt, "--mark")) {
			if (++i == argc)
				return usage_err("%s needs a value", opt);
			if (!strcmp(opt, "--serve")) {
				if (parse_iface(argv[i]))
					return USAGE;
				if (a->nserve == HOME_MAX_SERVE)
					return usage_err("at most %d --serve devices",
							 HOME_MAX_SERVE);
				a->serve[a->nserve++] = argv[i];
			} else if (!strcmp(opt, "--table")) {
				if (parse_u32(argv[i], &a->table) || !a->table ||
				    (a->table >= RT_TABLE_DEFAULT &&
				     a->table <= RT_TABLE_LOCAL))
					return usage_err("invalid --table '%s' (1-4294967295, not 253-255; decimal or 0x hex, no leading 0)",
							 argv[i]);
			} else if (parse_u32(argv[i], &a->mark) || !a->mark) {
				return usage_err("invalid --mark '%s' (a non-zero 32-bit number; decimal or 0x hex, no leading 0)",
						 argv[i]);
			}
		} else if (opt[0] == '-') {
			return usage_err("unknown option '%s'", opt);
		} else if (a->tunnel) {
			return usage_err("unexpected argument '%s'", opt);
		} else {
			if (parse_iface(opt))
				return USAGE;
			a->tunnel = opt;
		}
	}
	if (!a->tunnel)
		return usage_err("usage: crbpf home attach TUNNEL [--serve IFACE]... [--table N] [--mark N]");
	return 0;
}

int cmd_home(int argc, char **argv)
{
	struct home_args a;
	int ret;

	if (argc < 2)
		return usage_err("home needs a subcommand: attach or detach");
	if (!strcmp(argv[1], "attach")) {
		ret = parse_home_attach(argc - 2, argv + 2, &a);
		if (ret)
			return ret;
		ret = tool_prepare();
		return ret ?: home_attach(&a);
	}
	if (!strcmp(argv[1], "detach")) {
		if (argc != 3 || argv[2][0] == '-')
			return usage_err("usage: crbpf home detach TUNNEL");
		if (parse_iface(argv[2]))
			return USAGE;
		ret = tool_prepare();
		return ret ?: home_detach(argv[2]);
	}
	return usage_err("unknown home subcommand '%s' (expected attach or detach)",
			 argv[1]);
}

struct hstatus {
	FILE *f;
	bool json;
	int n;
};

static int hstatus_cb(const char *tunnel, const char *path, void *data)
{
	struct hstatus *s = data;
	char lpath[PATH_MAX];
	struct home_cfg cfg;
	bool is_link;
	__u32 id = 0, i;

	(void)path;
	if (cfg_load(tunnel, &cfg))
		return 0;
	pin_path(lpath, sizeof(lpath), "links", "hometun", tunnel);
	link_prog_id(lpath, &id, &is_link);
	if (s->json) {
		fprintf(s->f, "%s{\"tunnel\":", s->n ? "," : "");
		json_str(s->f, tunnel);
		fprintf(s->f, ",\"table\":%u,\"mark\":%u,\"prog_id\":%u,\"serve\":[",
			cfg.table, cfg.mark, id);
		for (i = 0; i < cfg.nserve; i++) {
			__u32 sid = 0;

			pin_path(lpath, sizeof(lpath), "links", "homesrv", cfg.serve[i]);
			link_prog_id(lpath, &sid, &is_link);
			fprintf(s->f, "%s{\"dev\":", i ? "," : "");
			json_str(s->f, cfg.serve[i]);
			fprintf(s->f, ",\"prog_id\":%u}", sid);
		}
		fprintf(s->f, "],\"line\":[");
		for (i = 0; i < cfg.nout; i++) {
			fprintf(s->f, "%s", i ? "," : "");
			json_str(s->f, cfg.out[i]);
		}
		fprintf(s->f, "]}");
	} else {
		fprintf(s->f, "  %-12s table %u mark 0x%x tun prog %u (%s)", tunnel,
			cfg.table, cfg.mark, id, tc_pin_kind(lpath));
		for (i = 0; i < cfg.nserve; i++) {
			__u32 sid = 0;

			pin_path(lpath, sizeof(lpath), "links", "homesrv", cfg.serve[i]);
			link_prog_id(lpath, &sid, &is_link);
			fprintf(s->f, "%s%s (prog %u)", i ? ", " : "  serving ",
				cfg.serve[i], sid);
		}
		for (i = 0; i < cfg.nout; i++)
			fprintf(s->f, "%s%s", i ? ", " : "  line egress ",
				cfg.out[i]);
		fputc('\n', s->f);
	}
	s->n++;
	return 0;
}

int home_status_json(FILE *f)
{
	struct hstatus s = { .f = f, .json = true };

	fputc('[', f);
	pin_iter(NULL, hstatus_cb, &s);
	fputc(']', f);
	return 0;
}

int home_status_text(FILE *f)
{
	struct hstatus s = { .f = f };

	pin_iter(NULL, hstatus_cb, &s);
	if (!s.n)
		fprintf(f, "  (none)\n");
	return 0;
}

/* What `home attach` recorded for tunnel, for doctor. */
int home_info_load(const char *tunnel, struct home_info *hi)
{
	struct home_cfg cfg;
	__u32 i;
	int ret;

	ret = cfg_load(tunnel, &cfg);
	if (ret)
		return ret;
	memset(hi, 0, sizeof(*hi));
	hi->table = cfg.table;
	hi->mark = cfg.mark;
	for (i = 0; i < cfg.nserve && i < ARRAY_SIZE(hi->serve); i++)
		snprintf(hi->serve[hi->nserve++], IF_NAMESIZE, "%s", cfg.serve[i]);
	return 0;
}
