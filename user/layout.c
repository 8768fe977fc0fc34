// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * The layout of the pinned state and its upgrade.
 *
 * $ROOT/layout is a one-entry ARRAY record holding the layout number of the
 * crbpf that last attached (CRBPF_LAYOUT); pins without it are layout 1,
 * from a crbpf older than the record. A newer layout is refused: this crbpf
 * cannot know what it means.
 *
 * Whatever the number, every pinned map is compared with what the program
 * object being loaded wants: type, key size, value size, max_entries and
 * flags. libbpf can only reuse a pin where all five agree, so any other pin
 * is set aside before the load (its fd kept), the new map is created and
 * pinned by the load, and then:
 *   - same key and value size (a new size or flags): every entry is copied,
 *     the ones that do not fit counted and reported;
 *   - another key or value layout: maps_upgrade_prepare() converts the
 *     older port-key and backend layouts; flows of layout 2 are converted
 *     (layout_flows_convert(): tracked replies need them); fragments,
 *     learned endpoints, counters
 *     and reverse rules are dropped with a warning (caches and state the
 *     tool rebuilds); the maps that hold what the user configured
 *     (crbpf_ports, crbpf_except, crbpf_local) are never dropped: such an
 *     attach is refused before anything changes.
 * A failed attach puts the old pins back (layout_abort()).
 */
#include "tool.h"
#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/random.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>

struct layout_rec {
	__u32 layout;
	/* h_dest of the XDP -> tc hand-off marker (bpf/handoff.h): 02 then
	 * 40 secret bits. Drawn once and kept across attaches: tc is replaced
	 * before XDP, and a new token would drop what the old XDP marked in
	 * between. Zero in an older crbpf's record. */
	__u8 handoff[6];
	__u8 pad[2];
};

/* A token this run drew, for layout_store() to keep. */
static __u8 handoff_drawn[6];

/* Maps whose entries only the user can make again. */
static const char *const kept_maps[] = { "crbpf_ports", "crbpf_except",
					 "crbpf_local" };

/* The layout of the pinned state: 0 when nothing is pinned. */
static __u32 layout_pinned(void)
{
	struct layout_rec rec = {};
	char path[PATH_MAX];
	struct dirent *de;
	__u32 v = 0;
	DIR *d;

	if (!pin_record_load("layout", NULL, &rec, sizeof(rec)))
		return rec.layout;
	pin_path(path, sizeof(path), "maps", NULL, NULL);
	d = opendir(path);
	while (d && (de = readdir(d)) && !v)
		v = de->d_name[0] != '.';
	if (d)
		closedir(d);
	return v;
}

int layout_check(void)
{
	__u32 v = layout_pinned();

	if (v <= CRBPF_LAYOUT)
		return 0;
	err("pinned state at %s is layout %u from a newer crbpf (this one knows %u); use that crbpf, or run `crbpf down` and attach again",
	    pin_root, v, CRBPF_LAYOUT);
	return -EPROTO;
}

/* The hand-off token for a device whose MAC is dev_mac: the pinned one, or
 * a new one that differs from dev_mac (frames to the device's own MAC are
 * PACKET_HOST: the fail-safe would not hold, and XDP would drop them). */
int layout_handoff(const __u8 dev_mac[6], __u8 out[6])
{
	struct layout_rec rec = {};
	ssize_t n;

	if (handoff_drawn[0] != 0x02 &&
	    !pin_record_load("layout", NULL, &rec, sizeof(rec)) &&
	    rec.handoff[0] == 0x02)
		memcpy(handoff_drawn, rec.handoff, sizeof(handoff_drawn));
	while (handoff_drawn[0] != 0x02 ||
	       !memcmp(handoff_drawn, dev_mac, sizeof(handoff_drawn))) {
		handoff_drawn[0] = 0x02;
		n = getrandom(handoff_drawn + 1, sizeof(handoff_drawn) - 1, 0);
		if (n != (ssize_t)sizeof(handoff_drawn) - 1) {
			handoff_drawn[0] = 0;
			return n < 0 ? -errno : -EIO;
		}
	}
	memcpy(out, handoff_drawn, sizeof(handoff_drawn));
	return 0;
}

int layout_store(void)
{
	struct layout_rec rec = {};

	if (handoff_drawn[0] == 0x02)
		memcpy(rec.handoff, handoff_drawn, sizeof(rec.handoff));
	else
		pin_record_load("layout", NULL, &rec, sizeof(rec));
	rec.layout = CRBPF_LAYOUT;
	return pin_record_store("layout", NULL, "crbpf_layout", &rec,
				sizeof(rec));
}

void layout_remove(void)
{
	char path[PATH_MAX];

	pin_path(path, sizeof(path), "layout", NULL, NULL);
	unlink(path);
}

static bool is_percpu(__u32 type)
{
	return type == BPF_MAP_TYPE_PERCPU_HASH ||
	       type == BPF_MAP_TYPE_PERCPU_ARRAY ||
	       type == BPF_MAP_TYPE_LRU_PERCPU_HASH;
}

static bool is_flow_table(const char *name)
{
	return !strcmp(name, "crbpf_flows") || !strcmp(name, "crbpf_unreplied");
}

static bool is_kept(const char *name)
{
	size_t i;

	for (i = 0; i < ARRAY_SIZE(kept_maps); i++)
		if (!strcmp(name, kept_maps[i]))
			return true;
	return false;
}

/* The pinned size of map name, or 0 (none pinned). */
__u32 layout_pinned_entries(const char *name)
{
	struct bpf_map_info info = {};
	__u32 len = sizeof(info);
	char path[PATH_MAX];
	int fd;

	pin_path(path, sizeof(path), "maps", NULL, name);
	fd = bpf_obj_get(path);
	if (fd < 0)
		return 0;
	if (bpf_obj_get_info_by_fd(fd, &info, &len))
		info.max_entries = 0;
	close(fd);
	return info.max_entries;
}

/* An older crbpf's flow table of its default size (262144 entries, 44 MiB
 * locked) is taken as no --flows given: it gets the current default. Any
 * other pinned size was asked for and is kept; --flows resizes. */
__u32 layout_flows_size(__u32 asked)
{
	__u32 pinned = layout_pinned_entries("crbpf_flows");

	if (asked)
		return asked;
	if (!pinned || (pinned == 262144 && layout_pinned() < 2))
		return CRBPF_FLOWS_DEFAULT;
	return pinned;
}

int layout_prepare(struct bpf_object *obj, struct layout_conv *c)
{
	char path[PATH_MAX];
	struct bpf_map *map;
	int i, ret = 0;
	__u32 pinned;

	memset(c, 0, sizeof(*c));
	ret = layout_check();
	if (ret)
		return ret;
	bpf_object__for_each_map(map, obj) {
		struct layout_old *o = &c->m[c->n];
		struct bpf_map_info info = {};
		__u32 len = sizeof(info), want;
		const char *name = bpf_map__name(map);
		int fd;

		if (bpf_map__is_internal(map))
			continue;
		pin_path(path, sizeof(path), "maps", NULL, name);
		fd = bpf_obj_get(path);
		if (fd < 0)
			continue;
		if (bpf_obj_get_info_by_fd(fd, &info, &len)) {
			close(fd);
			continue;
		}
		o->type = info.type;
		o->key_size = info.key_size;
		o->value_size = info.value_size;
		o->max_entries = info.max_entries;
		want = bpf_map__map_flags(map);
		/* The kernel adds BPF_F_RDONLY_PROG to a devmap with 4-byte
		 * values; libbpf 1.1 would call that a mismatch. */
		if ((info.type == BPF_MAP_TYPE_DEVMAP ||
		     info.type == BPF_MAP_TYPE_DEVMAP_HASH) &&
		    info.map_flags == (want | BPF_F_RDONLY_PROG)) {
			want |= BPF_F_RDONLY_PROG;
			bpf_map__set_map_flags(map, want);
		}
		if (info.type == bpf_map__type(map) &&
		    info.key_size == bpf_map__key_size(map) &&
		    info.value_size == bpf_map__value_size(map) &&
		    info.max_entries == bpf_map__max_entries(map) &&
		    info.map_flags == want) {
			close(fd);
			continue;
		}
		o->copy = info.key_size == bpf_map__key_size(map) &&
			  info.value_size == bpf_map__value_size(map) &&
			  is_percpu(info.type) == is_percpu(bpf_map__type(map));
		o->widen = is_flow_table(name) &&
			   info.key_size == sizeof(struct crbpf_flow_key) &&
			   info.value_size == OLD_FLOW_SIZE &&
			   bpf_map__value_size(map) == sizeof(struct crbpf_flow);
		if (!o->copy && is_kept(name)) {
			err("pinned state at %s has %s of another layout (key %u, value %u bytes; this crbpf: %u, %u) that it cannot convert; run `crbpf down` and attach again (the mappings must then be added again)",
			    pin_root, name, info.key_size, info.value_size,
			    bpf_map__key_size(map), bpf_map__value_size(map));
			close(fd);
			ret = -EPROTO;
			break;
		}
		snprintf(o->name, sizeof(o->name), "%s", name);
		o->fd = fd;
		if (++c->n == LAYOUT_MAX_MAPS)
			break;
	}
	if (ret) {
		layout_free(c);
		return ret;
	}
	/* Only once nothing is refused: the pins go aside for the load. */
	pinned = layout_pinned();
	for (i = 0; i < c->n; i++) {
		struct layout_old *o = &c->m[i];

		if (!c->warned && pinned < CRBPF_LAYOUT)
			warn("maps pinned by an older crbpf (layout %u, now %u): converting them",
			     pinned, CRBPF_LAYOUT);
		c->warned = true;
		if (o->widen)
			info("%s: flows converted to the layout with mapping ids",
			     o->name);
		else if (!o->copy)
			warn("%s has an older layout (key %u, value %u bytes): its entries are dropped",
			     o->name, o->key_size, o->value_size);
		else
			info("%s: a new map (%u entries, was %u), entries copied",
			     o->name, bpf_map__max_entries(
					       bpf_object__find_map_by_name(obj, o->name)),
			     o->max_entries);
		pin_path(path, sizeof(path), "maps", NULL, o->name);
		ret = pin_unlink(path);
		if (ret) {
			layout_abort(c);
			layout_free(c);
			return ret;
		}
		o->unpinned = true;
	}
	return 0;
}

/* Every entry of the old map into the new one; returns how many did not
 * fit, or -errno. */
static int map_copy(int from, int to, const struct layout_old *info)
{
	size_t vsz = info->value_size;
	char *key, *next, *val;
	bool first = true;
	int lost = 0;

	if (is_percpu(info->type))
		vsz = ((vsz + 7) & ~(size_t)7) * libbpf_num_possible_cpus();
	key = calloc(1, info->key_size);
	next = calloc(1, info->key_size);
	val = calloc(1, vsz);
	if (!key || !next || !val) {
		lost = -ENOMEM;
		goto out;
	}
	while (!bpf_map_get_next_key(from, first ? NULL : key, next)) {
		first = false;
		memcpy(key, next, info->key_size);
		if (bpf_map_lookup_elem(from, key, val))
			continue;
		if (bpf_map_update_elem(to, key, val, BPF_ANY))
			lost++;
	}
out:
	free(key);
	free(next);
	free(val);
	return lost;
}

int layout_finish(struct bpf_object *obj, struct layout_conv *c)
{
	int i, lost;

	for (i = 0; i < c->n; i++) {
		struct layout_old *o = &c->m[i];
		struct bpf_map *map = bpf_object__find_map_by_name(obj, o->name);

		if (!o->copy || !map)
			continue;
		lost = map_copy(o->fd, bpf_map__fd(map), o);
		if (lost < 0) {
			err("failed to copy %s: %s", o->name, strerror(-lost));
			return lost;
		}
		if (lost && is_kept(o->name)) {
			err("failed to copy %s: %d entries do not fit in %u",
			    o->name, lost, bpf_map__max_entries(map));
			return -E2BIG;
		}
		if (lost)
			warn("%s: %d entries did not fit in %u and were dropped",
			     o->name, lost, bpf_map__max_entries(map));
	}
	return 0;
}

/* The mapping id of the crbpf_ports entry (ports_fd) a flow of family
 * and proto came through, from what it recorded of it: 0 when the entry is
 * gone (its replies are then not counted). */
static __u32 flow_mapping(int ports_fd, const struct crbpf_flow_key *k,
			  const struct crbpf_flow *f)
{
	struct crbpf_port_key pk = { .ifindex = f->public_ifindex,
				     .family = k->family,
				     .proto = k->proto,
				     .port = f->public_port };
	struct crbpf_backend be;

	if (f->match & CRBPF_MATCH_ALL)
		pk.port = CRBPF_PORT_ALL;
	if (f->match & CRBPF_MATCH_ADDR)
		memcpy(pk.addr, f->public_addr, sizeof(pk.addr));
	return bpf_map_lookup_elem(ports_fd, &pk, &be) ? 0 : be.mapping;
}

/*
 * Flows of layout 2 (72-byte values) into the new tables, each with the
 * mapping id of the entry it came through: dropped, a tracked mapping's
 * replies (`all`, several public ports on one backend port) would have no
 * translation until the client sends again. Runs once crbpf_ports holds
 * the converted mappings. A flow that does not fit is lost, and said.
 */
int layout_flows_convert(struct bpf_object *obj, struct layout_conv *c)
{
	struct crbpf_flow_key *keys;
	struct crbpf_flow v;
	int i, j, n, ports_fd, lost;
	char *vals;

	ports_fd = pin_map_open("crbpf_ports");
	if (ports_fd < 0)
		return ports_fd;
	for (i = 0; i < c->n; i++) {
		struct layout_old *o = &c->m[i];
		struct bpf_map *map = bpf_object__find_map_by_name(obj, o->name);

		if (!o->widen || !map)
			continue;
		n = map_dump(o->fd, sizeof(*keys), OLD_FLOW_SIZE, (void **)&keys,
			     (void **)&vals);
		if (n < 0) {
			close(ports_fd);
			err("failed to read %s: %s", o->name, strerror(-n));
			return n;
		}
		for (lost = 0, j = 0; j < n; j++) {
			memset(&v, 0, sizeof(v));
			memcpy(&v, vals + (size_t)j * OLD_FLOW_SIZE, OLD_FLOW_SIZE);
			v.mapping = flow_mapping(ports_fd, &keys[j], &v);
			if (bpf_map_update_elem(bpf_map__fd(map), &keys[j], &v,
						BPF_NOEXIST) &&
			    errno != EEXIST)
				lost++;
		}
		if (lost)
			warn("%s: %d of %d flows could not be converted", o->name,
			     lost, n);
		free(keys);
		free(vals);
	}
	close(ports_fd);
	return 0;
}

void layout_abort(struct layout_conv *c)
{
	char path[PATH_MAX];
	int i;

	for (i = 0; i < c->n; i++) {
		if (!c->m[i].unpinned)
			continue;
		pin_path(path, sizeof(path), "maps", NULL, c->m[i].name);
		unlink(path);
		if (bpf_obj_pin(c->m[i].fd, path))
			warn("could not restore pin %s: %s", path, strerror(errno));
	}
}

void layout_free(struct layout_conv *c)
{
	int i;

	for (i = 0; i < c->n; i++)
		close(c->m[i].fd);
	c->n = 0;
}

/* What the kernel charges for a map: memlock in its fdinfo. */
static __u64 fd_memlock(int fd)
{
	unsigned long long v = 0;
	char path[64], line[128];
	FILE *f;

	snprintf(path, sizeof(path), "/proc/self/fdinfo/%d", fd);
	f = fopen(path, "r");
	if (!f)
		return 0;
	while (fgets(line, sizeof(line), f))
		if (sscanf(line, "memlock: %llu", &v) == 1)
			break;
	fclose(f);
	return v;
}

/* Locked memory of every pinned map of crbpf (the kernel's memlock of each),
 * per map through cb when it is not NULL; returns the sum in bytes. */
__u64 layout_memlock(void (*cb)(const char *name, __u64 bytes, void *data),
		     void *data)
{
	char dir[PATH_MAX], path[PATH_MAX * 2];
	__u64 sum = 0;
	struct dirent *de;
	DIR *d;

	pin_path(dir, sizeof(dir), "maps", NULL, NULL);
	d = opendir(dir);
	if (!d)
		return 0;
	while ((de = readdir(d))) {
		__u64 bytes;
		int fd;

		if (de->d_name[0] == '.')
			continue;
		snprintf(path, sizeof(path), "%s/%s", dir, de->d_name);
		fd = bpf_obj_get(path);
		if (fd < 0)
			continue;
		bytes = fd_memlock(fd);
		close(fd);
		sum += bytes;
		if (cb)
			cb(de->d_name, bytes, data);
	}
	closedir(d);
	return sum;
}
