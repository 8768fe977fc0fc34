// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/* crbpf attach / detach / status: the edge programs on a public NIC. */
#include "tool.h"
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <linux/if_arp.h>
#include <linux/if_link.h>
#include "edge.skel.h"

const char *const mode_names[] = { "auto", "native", "generic", "tc" };

/* What attach recorded at $ROOT/edge/<dev>: the ifindex tells a device that
 * was deleted and re-created under the same name from the one attached. */
struct edge_rec {
	__u32 ifindex;
	__u32 mode; /* enum xdp_mode as asked for */
};

/* Room for the names of edge.bpf.o's maps (27 today). */
#define EDGE_MAPS_MAX 48

/* Map pins an edge load may create, so a failed first attach removes them.
 * -E2BIG when max is too small: a pin left out would outlive detach. */
static int edge_map_names(char names[][BPF_OBJ_NAME_LEN], int max)
{
	struct edge_bpf *skel = edge_bpf__open();
	struct bpf_map *map;
	int n = 0;

	if (!skel)
		return -errno;
	bpf_object__for_each_map(map, skel->obj) {
		if (bpf_map__is_internal(map))
			continue;
		if (n == max) {
			n = -E2BIG;
			break;
		}
		snprintf(names[n++], BPF_OBJ_NAME_LEN, "%s", bpf_map__name(map));
	}
	edge_bpf__destroy(skel);
	return n;
}

static int xdp_link_create(int prog_fd, int ifindex, __u32 flags,
			   const char *path, struct undo *u)
{
	LIBBPF_OPTS(bpf_link_create_opts, opts, .flags = flags);
	int fd, ret;

	fd = bpf_link_create(prog_fd, ifindex, BPF_XDP, &opts);
	if (fd < 0)
		return -errno;
	ret = undo_unpin(u, path);
	if (!ret && bpf_obj_pin(fd, path))
		ret = -errno;
	close(fd);
	return ret;
}

int xdp_current_mode(int ifindex)
{
	LIBBPF_OPTS(bpf_xdp_query_opts, q);

	if (bpf_xdp_query(ifindex, 0, &q))
		return -1;
	return q.attach_mode == XDP_ATTACHED_DRV ? MODE_NATIVE :
	       q.attach_mode == XDP_ATTACHED_SKB ? MODE_GENERIC : -1;
}

static int edge_xdp(int prog_fd, const char *dev, int ifindex,
		    enum xdp_mode mode, struct undo *u)
{
	char path[PATH_MAX];
	int ret, cur;

	pin_path(path, sizeof(path), "links", "xdp", dev);
	if (pin_exists(path)) {
		cur = xdp_current_mode(ifindex);
		if (mode == MODE_TC)
			return tc_detach_pin(path, ifindex);
		if (mode == MODE_AUTO || cur < 0 || cur == (int)mode)
			return tc_replace(prog_fd, ifindex, path, u);
		/* native <-> generic: the kernel allows one mode at a time, so
		 * the old link must go before the new one can attach. */
		ret = tc_detach_pin(path, ifindex);
		if (ret)
			return ret;
		ret = xdp_link_create(prog_fd, ifindex,
				      mode == MODE_NATIVE ? XDP_FLAGS_DRV_MODE
							  : XDP_FLAGS_SKB_MODE,
				      path, u);
		if (ret) {
			err("failed to attach XDP to %s in %s mode: %s", dev,
			    mode_names[mode], strerror(-ret));
			if (xdp_link_create(prog_fd, ifindex,
					    cur == MODE_NATIVE ? XDP_FLAGS_DRV_MODE
							       : XDP_FLAGS_SKB_MODE,
					    path, NULL))
				err("%s: XDP could not be restored in %s mode", dev,
				    mode_names[cur]);
		}
		return ret;
	}
	if (mode == MODE_TC)
		return 0;
	if (mode != MODE_GENERIC) {
		ret = xdp_link_create(prog_fd, ifindex, XDP_FLAGS_DRV_MODE, path, u);
		/* Only "no driver support" falls back; EBUSY (another XDP
		 * program) would fail the same way in generic mode. */
		if (!ret || mode == MODE_NATIVE ||
		    (ret != -EOPNOTSUPP && ret != -EINVAL)) {
			if (ret)
				err("failed to attach XDP to %s in native mode: %s",
				    dev, strerror(-ret));
			return ret;
		}
		info("%s: native XDP failed (%s), trying generic", dev,
		     strerror(-ret));
	}
	ret = xdp_link_create(prog_fd, ifindex, XDP_FLAGS_SKB_MODE, path, u);
	if (ret)
		err("failed to attach XDP to %s in generic mode: %s", dev,
		    strerror(-ret));
	return ret;
}

struct tun_upgrade {
	struct edge_bpf *skel;
	struct undo *u;
};

static int tun_upgrade_cb(const char *dev, const char *path, void *data)
{
	struct tun_upgrade *t = data;
	unsigned short type;
	int ifindex, ret;

	if (resolve_iface(dev, &ifindex) || nl_link_type(ifindex, &type)) {
		warn("tunnel device %s is gone; leaving its link pin %s", dev, path);
		return 0;
	}
	ret = tc_replace(bpf_program__fd(type == ARPHRD_ETHER ?
					 t->skel->progs.crbpf_rev_tc :
					 t->skel->progs.crbpf_tun_tc),
			 ifindex, path, t->u);
	if (ret)
		err("failed to upgrade the reverse program on %s: %s", dev,
		    strerror(-ret));
	return ret;
}

static bool addr_listed(const struct nl_addr *v, int n,
			const struct crbpf_addr_key *key)
{
	int i;

	for (i = 0; i < n; i++)
		if (v[i].addr.family == key->family &&
		    !memcmp(v[i].addr.a, key->addr, sizeof(key->addr)))
			return true;
	return false;
}

/* crbpf_local = the device's addresses now; on an upgrade that also drops
 * addresses the device no longer has. */
static int edge_local_fill(int map_fd, int ifindex, struct undo *u)
{
	struct crbpf_addr_key key, next, *prev = NULL;
	struct nl_addr *v;
	int i, n, ret;
	struct crbpf_local val, cur;

	ret = nl_addrs(ifindex, AF_UNSPEC, &v, &n);
	if (ret)
		return ret;
	while (!bpf_map_get_next_key(map_fd, prev, &next)) {
		key = next;
		prev = &key;
		if (bpf_map_lookup_elem(map_fd, &key, &cur) || (int)cur.ifindex != ifindex ||
		    addr_listed(v, n, &key))
			continue;
		ret = undo_map(u, map_fd, &key, sizeof(key), sizeof(cur));
		if (!ret && bpf_map_delete_elem(map_fd, &key))
			ret = -errno;
		if (ret)
			goto out;
		prev = NULL; /* restart: deleting invalidates the walk */
	}
	for (i = 0; i < n; i++) {
		memset(&key, 0, sizeof(key));
		key.family = v[i].addr.family;
		memcpy(key.addr, v[i].addr.a, sizeof(key.addr));
		/* Flags stay: they describe crbpf_ports, not the device. */
		memset(&val, 0, sizeof(val));
		if (!bpf_map_lookup_elem(map_fd, &key, &cur))
			val.flags = cur.flags;
		val.ifindex = ifindex;
		ret = undo_map(u, map_fd, &key, sizeof(key), sizeof(val));
		if (!ret && bpf_map_update_elem(map_fd, &key, &val, BPF_ANY))
			ret = -errno;
		if (ret)
			break;
	}
out:
	free(v);
	cache_gen_bump();
	return ret;
}

int parse_mss(const char *s, struct mss_opt *m)
{
	__u32 v;

	m->set = true;
	memset(&m->cfg, 0, sizeof(m->cfg));
	if (!strcmp(s, "auto")) {
		m->cfg.mode = CRBPF_MSS_AUTO;
	} else if (!strcmp(s, "off")) {
		m->cfg.mode = CRBPF_MSS_OFF;
	} else {
		/* 536: the IPv4 default MSS (RFC 879); above 65495 nothing fits */
		if (parse_u32(s, &v) || v < 536 || v > 65495)
			return -1;
		m->cfg.mode = CRBPF_MSS_FIXED;
		m->cfg.mss = v;
	}
	return 0;
}

static int edge_mss_set(int map_fd, int ifindex, const struct mss_opt *m,
			struct undo *u)
{
	__u32 key = ifindex;
	int ret;

	if (!m->set)
		return 0;
	ret = undo_map(u, map_fd, &key, sizeof(key), sizeof(m->cfg));
	if (!ret && bpf_map_update_elem(map_fd, &key, &m->cfg, BPF_ANY))
		ret = -errno;
	return ret;
}

/* After a conversion the programs of the other public devices still use
 * the old maps, which no pin holds any more: each is attached again, with
 * the mode it was given, so that they all share the new ones. */
static int edge_attach_others(const char *dev)
{
	char names[64][IF_NAMESIZE * 2];
	struct crbpf_timeouts to = {};
	struct mss_opt mss = {};
	struct edge_rec rec;
	int i, n, ifindex, ret = 0, r;

	n = pin_names("edge", names, 64);
	for (i = 0; i < n; i++) {
		if (!strcmp(names[i], dev) ||
		    pin_record_load("edge", names[i], &rec, sizeof(rec)) ||
		    resolve_iface(names[i], &ifindex))
			continue;
		info("attaching %s again onto the converted maps", names[i]);
		r = edge_attach(names[i], ifindex, rec.mode, 0, &to, 0, &mss);
		ret = ret ?: r;
	}
	return ret;
}

/* The XDP -> tc hand-off marker (bpf/handoff.h) into rodata. Not on a
 * bridge or bond port: its rx_handler runs after tc and would forward a
 * marked frame that crbpf's tc missed, where the stack drops it. */
static int edge_handoff_set(struct edge_bpf *skel, const char *dev, int ifindex)
{
	__u8 mac[6], tok[6];
	int master, ret;

	ret = nl_link_l2(ifindex, mac, &master);
	if (ret) {
		err("failed to read the link of %s: %s", dev, strerror(-ret));
		return ret;
	}
	if (master)
		return 0;
	ret = layout_handoff(mac, tok);
	if (ret) {
		err("failed to draw the hand-off token: %s", strerror(-ret));
		return ret;
	}
	memcpy((void *)&skel->rodata->handoff_dst_lo, tok, 4);
	memcpy((void *)&skel->rodata->handoff_dst_hi, tok + 4, 2);
	/* unknown (a probe that failed for another reason): marker only */
	skel->rodata->handoff_meta = probe_xdp_meta() > 0;
	info("%s: the hand-off to tc carries its target in %s", dev,
	     skel->rodata->handoff_meta ? "XDP metadata and the marker" :
					  "the marker");
	return 0;
}

int edge_attach(const char *dev, int ifindex, enum xdp_mode mode,
		       __u32 flows, const struct crbpf_timeouts *to,
		       __u32 to_set, const struct mss_opt *mss)
{
	char names[EDGE_MAPS_MAX][BPF_OBJ_NAME_LEN], maps[PATH_MAX], path[PATH_MAX];
	LIBBPF_OPTS(bpf_object_open_opts, oo, .pin_root_path = maps);
	struct tun_upgrade tu = {};
	struct edge_bpf *skel = NULL;
	struct undo *u = undo_new();
	struct maps_upgrade mu = { .fd = { -1, -1, -1, -1 } };
	struct layout_conv lc = {};
	struct edge_rec rec = {};
	bool upgrade;
	int i, n, ret;

	if (!u)
		return -ENOMEM;
	ret = pin_dirs_create(u);
	if (ret)
		goto fail;
	/* Before the pin walk below, so that a failed attach unpins the new
	 * maps and maps_upgrade_abort() can put the old ones back. */
	ret = layout_check() ?: maps_upgrade_prepare(&mu);
	if (ret)
		goto fail;
	pin_path(maps, sizeof(maps), "maps", NULL, NULL);
	pin_path(path, sizeof(path), "links", "edge", dev);
	upgrade = pin_exists(path);

	n = edge_map_names(names, ARRAY_SIZE(names));
	if (n < 0) {
		ret = n;
		goto fail_load;
	}
	skel = edge_bpf__open_opts(&oo);
	if (!skel) {
		ret = -errno;
		goto fail_load;
	}
	skel->rodata->edge_xdp_attached = mode != MODE_TC;
	ret = mode == MODE_TC ? 0 : edge_handoff_set(skel, dev, ifindex);
	if (ret)
		goto fail;
	/* Only what gets attached is verified (seconds each on a small VPS):
	 * the reverse programs only for an upgrade of the tunnels' ones. */
	bpf_program__set_autoload(skel->progs.crbpf_tun_tc, upgrade);
	bpf_program__set_autoload(skel->progs.crbpf_rev_tc, upgrade);
	bpf_program__set_autoload(skel->progs.crbpf_edge_xdp, mode != MODE_TC);
	/* Unreplied flows get a table of their own, sized after the flow
	 * table; a pinned table of another size is resized (layout.c). */
	flows = layout_flows_size(flows);
	bpf_map__set_max_entries(skel->maps.crbpf_flows, flows);
	bpf_map__set_max_entries(skel->maps.crbpf_unreplied,
				 crbpf_unreplied_entries(flows));
	ret = layout_prepare(skel->obj, &lc);
	if (ret)
		goto fail;
	/* Converted maps are new maps: the reverse programs of the tunnels
	 * must use them too. */
	if (lc.n || mu.warned) {
		bpf_program__set_autoload(skel->progs.crbpf_tun_tc, true);
		bpf_program__set_autoload(skel->progs.crbpf_rev_tc, true);
	}
	for (i = 0; i < n; i++) {
		pin_path(path, sizeof(path), "maps", NULL, names[i]);
		if (!pin_exists(path))
			undo_unpin(u, path);
	}
	ret = edge_bpf__load(skel);
	if (ret)
		goto fail_load;
	ret = layout_finish(skel->obj, &lc);
	if (ret)
		goto fail;

	ret = edge_local_fill(bpf_map__fd(skel->maps.crbpf_local), ifindex, u);
	if (ret) {
		err("failed to record the addresses of %s: %s", dev, strerror(-ret));
		goto fail;
	}
	ret = maps_upgrade_finish(&mu, u);
	if (!ret)
		ret = layout_flows_convert(skel->obj, &lc);
	if (!ret)
		ret = local_flags_sync(u);
	/* always: pins an older crbpf wrote lack CRBPF_BE_TRACK */
	if (!ret)
		ret = rev_refresh_all(u);
	if (ret)
		goto fail;
	ret = txport_ensure(bpf_map__fd(skel->maps.crbpf_txports), ifindex, u);
	if (ret) {
		err("failed to add %s to crbpf_txports: %s", dev, strerror(-ret));
		goto fail;
	}
	ret = timeouts_apply(bpf_map__fd(skel->maps.crbpf_timeouts), to, to_set, u);
	if (ret) {
		err("failed to set the flow timeouts: %s", strerror(-ret));
		goto fail;
	}
	ret = edge_mss_set(bpf_map__fd(skel->maps.crbpf_mss), ifindex, mss, u);
	if (ret) {
		err("failed to set the MSS clamp of %s: %s", dev, strerror(-ret));
		goto fail;
	}
	/* Changes nothing an undo would restore: a new generation only
	 * makes the cache look the FIB up again. */
	ret = nh_sync(bpf_map__fd(skel->maps.crbpf_nhcfg));
	if (ret)
		warn("the XDP next-hop cache stays off: %s", strerror(-ret));

	pin_path(path, sizeof(path), "links", "edge", dev);
	if (upgrade)
		ret = tc_replace(bpf_program__fd(skel->progs.crbpf_edge_tc),
				 ifindex, path, u);
	else
		ret = tc_attach(bpf_program__fd(skel->progs.crbpf_edge_tc),
				ifindex, path, u);
	if (ret) {
		err("failed to attach tc ingress to %s: %s", dev, strerror(-ret));
		goto fail;
	}
	if (upgrade || lc.n || mu.warned) {
		tu.skel = skel;
		tu.u = u;
		ret = pin_iter("tun", tun_upgrade_cb, &tu);
		if (ret)
			goto fail;
	}
	/* XDP last: a native/generic switch cannot be rolled back cleanly. */
	ret = edge_xdp(bpf_program__fd(skel->progs.crbpf_edge_xdp), dev, ifindex,
		       mode, u);
	if (ret)
		goto fail;
	/* After everything else: nothing can fail once it is written. */

	rec.ifindex = ifindex;
	rec.mode = mode;
	ret = pin_record_store("edge", dev, "crbpf_ecfg", &rec, sizeof(rec));
	if (ret) {
		err("failed to record the attachment of %s: %s", dev, strerror(-ret));
		goto fail;
	}
	ret = layout_store();
	if (ret) {
		err("failed to record the layout of %s: %s", pin_root, strerror(-ret));
		goto fail;
	}
	info("%s %s", upgrade ? "upgraded" : "attached to", dev);
	edge_bpf__destroy(skel);
	undo_free(u);
	ret = lc.n || mu.warned ? edge_attach_others(dev) : 0;
	maps_upgrade_free(&mu);
	layout_free(&lc);
	return ret;

fail_load:
	err("failed to load the edge programs: %s", strerror(-ret));
fail:
	edge_bpf__destroy(skel);
	undo_rollback(u);
	undo_free(u);
	layout_abort(&lc);
	layout_free(&lc);
	maps_upgrade_abort(&mu);
	maps_upgrade_free(&mu);
	return ret;
}

int cmd_attach(int argc, char **argv)
{
	enum xdp_mode mode = MODE_AUTO;
	struct crbpf_timeouts to = {};
	struct mss_opt mss = {};
	const char *dev = NULL;
	__u32 flows = 0, to_set = 0;
	int i, ifindex, ret;
	size_t m;

	for (i = 1; i < argc; i++) {
		const char *opt = argv[i];

		if (!strcmp(opt, "--mode") || !strcmp(opt, "--flows") ||
		    !strcmp(opt, "--timeout") || !strcmp(opt, "--mss")) {
			if (++i == argc)
				return usage_err("%s needs a value", opt);
		}
		if (!strcmp(opt, "--mode")) {
			for (m = 0; m < ARRAY_SIZE(mode_names); m++)
				if (!strcmp(argv[i], mode_names[m]))
					break;
			if (m == ARRAY_SIZE(mode_names))
				return usage_err("invalid mode '%s' (expected auto, native, generic or tc)",
						 argv[i]);
			mode = m;
		} else if (!strcmp(opt, "--flows")) {
			if (parse_flows("--flows", argv[i], &flows))
				return USAGE;
		} else if (!strcmp(opt, "--timeout")) {
			ret = timeouts_parse(argv[i], &to, &to_set);
			if (ret)
				return ret;
		} else if (!strcmp(opt, "--mss")) {
			if (parse_mss(argv[i], &mss))
				return usage_err("invalid --mss '%s' (expected auto, off or a number 536-65495)",
						 argv[i]);
		} else if (opt[0] == '-') {
			return usage_err("unknown option '%s'", opt);
		} else if (dev) {
			return usage_err("unexpected argument '%s'", opt);
		} else {
			dev = opt;
		}
	}
	if (!dev)
		return usage_err("usage: crbpf attach IFACE [--mode auto|native|generic|tc] [--flows N] [--timeout NAME=SECONDS[,...]] [--mss auto|off|N]");
	if (parse_iface(dev))
		return USAGE;
	ret = tool_prepare();
	if (ret)
		return ret;
	ret = resolve_iface(dev, &ifindex);
	if (ret) {
		err("failed to attach to %s: %s", dev, strerror(-ret));
		return ret;
	}
	return edge_attach(dev, ifindex, mode, flows, &to, to_set, &mss);
}

static int unlink_map_pin(const char *name)
{
	char path[PATH_MAX];

	pin_path(path, sizeof(path), "maps", NULL, name);
	return pin_unlink(path);
}

static int tun_drop_cb(const char *dev, const char *path, void *data)
{
	int ifindex = 0;

	(void)data;
	resolve_iface(dev, &ifindex);
	tc_detach_pin(path, ifindex);
	return 0;
}

/* When no public device is left, nothing of the edge may stay behind; when
 * the home side is gone too, neither may the shared maps and dirs. */
int edge_cleanup_idle(void)
{
	char names[EDGE_MAPS_MAX][BPF_OBJ_NAME_LEN];
	int i, n;

	if (edge_attached_count(NULL, 0) || pin_count("xdp"))
		return 0;
	pin_iter("tun", tun_drop_cb, NULL);
	n = edge_map_names(names, ARRAY_SIZE(names));
	for (i = 0; i < n; i++)
		if (strcmp(names[i], "crbpf_stats") || !home_attached_count())
			unlink_map_pin(names[i]);
	if (!home_attached_count()) {
		unlink_map_pin("crbpf_hflows");
		unlink_map_pin("crbpf_hunreplied");
		layout_remove();
		pin_dirs_remove_if_empty();
	}
	return 0;
}

/* Entries of crbpf_local that belong to ifindex (0: to a vanished device). */
static int local_purge(int ifindex)
{
	struct crbpf_addr_key key, next, *prev = NULL;
	char name[IF_NAMESIZE];
	struct crbpf_local val;
	int fd, ret = 0;

	fd = pin_map_open("crbpf_local");
	if (fd < 0)
		return fd;
	while (!bpf_map_get_next_key(fd, prev, &next)) {
		key = next;
		prev = &key;
		if (bpf_map_lookup_elem(fd, &key, &val))
			continue;
		if (ifindex ? (int)val.ifindex != ifindex :
			      !!if_indextoname(val.ifindex, name))
			continue;
		if (bpf_map_delete_elem(fd, &key))
			ret = -errno;
		prev = NULL; /* restart: deleting invalidates the walk */
	}
	close(fd);
	cache_gen_bump();
	return ret;
}

int edge_detach(const char *dev)
{
	char path[PATH_MAX];
	struct edge_rec rec;
	int ifindex = 0, fd, ret = 0, r;
	__u32 key;

	if (!edge_is_attached(dev)) {
		err("%s is not attached", dev);
		return -ENOENT;
	}
	/* A vanished device took its attachments along; its pins and map
	 * entries are still ours to remove. */
	resolve_iface(dev, &ifindex);
	pin_path(path, sizeof(path), "links", "xdp", dev);
	r = tc_detach_pin(path, ifindex);
	ret = ret ?: r;
	pin_path(path, sizeof(path), "links", "edge", dev);
	r = tc_detach_pin(path, ifindex);
	ret = ret ?: r;

	/* A re-created device's mappings still carry the ifindex it had. */
	if (!pin_record_load("edge", dev, &rec, sizeof(rec)) &&
	    (int)rec.ifindex != ifindex)
		mappings_purge(rec.ifindex);
	pin_path(path, sizeof(path), "edge", NULL, dev);
	r = pin_unlink(path);
	ret = ret ?: r;
	r = mappings_purge(ifindex);
	ret = ret ?: r;
	r = local_purge(ifindex);
	ret = ret ?: r;
	if (ifindex) {
		fd = pin_map_open("crbpf_txports");
		if (fd >= 0) {
			key = ifindex;
			bpf_map_delete_elem(fd, &key);
			close(fd);
		}
		fd = pin_map_open("crbpf_mss");
		if (fd >= 0) {
			key = ifindex;
			bpf_map_delete_elem(fd, &key);
			close(fd);
		}
	}
	edge_cleanup_idle();
	if (ret)
		err("detach from %s was incomplete: %s", dev, strerror(-ret));
	return ret;
}

/* Whether crbpf_local holds exactly the addresses ifindex has now. */
static bool local_current(int map_fd, int ifindex)
{
	struct crbpf_addr_key key, *prev = NULL;
	struct crbpf_local val;
	struct nl_addr *v;
	int i, n, have = 0;
	bool ok = true;

	if (nl_addrs(ifindex, AF_UNSPEC, &v, &n))
		return true;
	while (ok && !bpf_map_get_next_key(map_fd, prev, &key)) {
		prev = &key;
		if (bpf_map_lookup_elem(map_fd, &key, &val) ||
		    (int)val.ifindex != ifindex)
			continue;
		have++;
		ok = addr_listed(v, n, &key);
	}
	for (i = 0; ok && i < n; i++) {
		struct crbpf_addr_key k = { .family = v[i].addr.family };

		memcpy(k.addr, v[i].addr.a, sizeof(k.addr));
		ok = !bpf_map_lookup_elem(map_fd, &k, &val) &&
		     (int)val.ifindex == ifindex;
	}
	free(v);
	return ok && have == n;
}

/* The programs the dead pins of dev hold, attached to its new ifindex: in
 * milliseconds, where loading them again takes a second or more, during
 * which the VPS's own stack would answer (reset) the mapped ports. */
static int edge_reattach(const char *dev, int ifindex, struct edge_rec *rec)
{
	char path[PATH_MAX], xpath[PATH_MAX];
	int tc_fd, xdp_fd = -1, fd, ret;

	pin_path(path, sizeof(path), "links", "edge", dev);
	pin_path(xpath, sizeof(xpath), "links", "xdp", dev);
	tc_fd = pin_prog_fd(path);
	if (tc_fd < 0)
		return tc_fd;
	if (pin_exists(xpath)) {
		xdp_fd = pin_prog_fd(xpath);
		if (xdp_fd < 0) {
			close(tc_fd);
			return xdp_fd;
		}
	}
	fd = pin_map_open("crbpf_local");
	ret = fd < 0 ? fd : edge_local_fill(fd, ifindex, NULL);
	if (fd >= 0)
		close(fd);
	if (!ret)
		ret = local_flags_sync(NULL);
	if (!ret) {
		pin_unlink(path);
		ret = tc_attach(tc_fd, ifindex, path, NULL);
	}
	if (!ret && xdp_fd >= 0) {
		pin_unlink(xpath);
		ret = edge_xdp(xdp_fd, dev, ifindex, rec->mode, NULL);
	}
	if (!ret) {
		rec->ifindex = ifindex;
		ret = pin_record_store("edge", dev, "crbpf_ecfg", rec, sizeof(*rec));
	}
	close(tc_fd);
	if (xdp_fd >= 0)
		close(xdp_fd);
	return ret;
}

/*
 * crbpf watch, public devices: one whose addresses changed gets crbpf_local
 * and the static reverse rules refreshed; one that was deleted and
 * re-created under its name gets its mappings, flows and counters moved to
 * the new ifindex and is attached again as it was. *missing counts devices
 * that are not there (yet).
 */
static int edge_repair_cb(const char *dev, const char *path, void *data)
{
	struct mss_opt mss = {};
	struct crbpf_timeouts to = {};
	char xpath[PATH_MAX];
	struct edge_rec rec;
	int *missing = data, ifindex, fd, ret;
	bool alive;

	if (resolve_iface(dev, &ifindex)) {
		(*missing)++;
		return 0;
	}
	pin_path(xpath, sizeof(xpath), "links", "xdp", dev);
	alive = pin_alive(path, ifindex) > 0 &&
		(!pin_exists(xpath) || pin_alive(xpath, ifindex) > 0);
	if (pin_record_load("edge", dev, &rec, sizeof(rec))) {
		/* Attached by a crbpf that kept no record: adopt it as is. */
		if (!alive)
			return 0;
		rec.ifindex = ifindex;
		rec.mode = pin_exists(xpath) ? MODE_AUTO : MODE_TC;
		pin_record_store("edge", dev, "crbpf_ecfg", &rec, sizeof(rec));
	}
	if (alive && (int)rec.ifindex == ifindex) {
		fd = pin_map_open("crbpf_local");
		if (fd < 0)
			return 0;
		ret = 0;
		if (!local_current(fd, ifindex)) {
			notice("the addresses of %s changed", dev);
			ret = edge_local_fill(fd, ifindex, NULL) ?:
			      local_flags_sync(NULL) ?: rev_refresh_all(NULL);
		}
		close(fd);
		return ret;
	}
	notice("%s was re-created (ifindex %u, now %d): attaching again", dev,
	     rec.ifindex, ifindex);
	if ((int)rec.ifindex != ifindex) {
		ret = ports_move_public(rec.ifindex, ifindex);
		if (ret) {
			err("failed to move the mappings of %s: %s", dev, strerror(-ret));
			return ret;
		}
		local_purge(rec.ifindex);
	}
	ret = edge_reattach(dev, ifindex, &rec);
	if (ret) {
		/* The pins of the old device hold nothing that is attached. */
		pin_unlink(path);
		pin_unlink(xpath);
		ret = edge_attach(dev, ifindex, rec.mode, 0, &to, 0, &mss);
	}
	return ret ?: rev_refresh_all(NULL);
}

int edge_repair(int *missing)
{
	return pin_iter("edge", edge_repair_cb, missing);
}

int edge_detach_all(void)
{
	char names[64][IF_NAMESIZE * 2];
	int i, n, ret = 0, r;

	n = pin_names("edge", names, 64);
	for (i = 0; i < n; i++) {
		r = edge_detach(names[i]);
		ret = ret ?: r;
	}
	return ret;
}

int cmd_detach(int argc, char **argv)
{
	int ret;

	if (argc != 2 || argv[1][0] == '-')
		return usage_err("usage: crbpf detach IFACE");
	if (parse_iface(argv[1]))
		return USAGE;
	ret = tool_prepare();
	if (ret)
		return ret;
	return edge_detach(argv[1]);
}

/* The XDP mode in use on dev: MODE_NATIVE or MODE_GENERIC, MODE_TC when no
 * XDP link is pinned, MODE_AUTO when one is but the kernel does not say. */
int edge_mode(const char *dev, int ifindex)
{
	char path[PATH_MAX];
	int cur;

	pin_path(path, sizeof(path), "links", "xdp", dev);
	if (!pin_exists(path))
		return MODE_TC;
	cur = xdp_current_mode(ifindex);
	return cur < 0 ? MODE_AUTO : cur;
}
