// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/* Pin layout: $ROOT/maps/<map>, $ROOT/links/<kind>_<dev>, $ROOT/home/<tunnel>,
 * $ROOT/edge/<dev> (what attach recorded about a public device).
 * bpffs refuses '.' in names, and VLAN devices have one (eth0.100): it is
 * stored as '%', which no real interface name keeps ("%d" is a template). */
#include "tool.h"
#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/syscall.h>
#include <unistd.h>
#include <linux/capability.h>
#include <linux/magic.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>

char pin_root[PIN_ROOT_MAX];

bool on_bpffs(const char *path)
{
	char buf[PATH_MAX];
	struct statfs st;
	char *slash;

	snprintf(buf, sizeof(buf), "%s", path);
	/* The root may not exist yet: its nearest existing ancestor decides. */
	while (statfs(buf, &st)) {
		slash = strrchr(buf, '/');
		if (!slash || slash == buf)
			return false;
		*slash = 0;
	}
	return st.f_type == BPF_FS_MAGIC;
}

static int lock_fd = -1;

/* One crbpf at a time: port add reads crbpf_ports to recompute crbpf_rev,
 * so two concurrent edits could undo each other. The lock is on the pin
 * root's parent (it exists once the root is on bpffs) and lasts until exit,
 * or until pin_unlock() (crbpf watch holds it only while it repairs). */
static int pin_lock(void)
{
	char buf[PIN_ROOT_MAX];
	char *slash;
	int fd;

	if (lock_fd >= 0)
		return 0;

	snprintf(buf, sizeof(buf), "%s", pin_root);
	do {
		slash = strrchr(buf, '/');
		if (slash == buf)
			slash[1] = 0;
		else if (slash)
			*slash = 0;
		fd = open(buf, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	} while (fd < 0 && slash && slash != buf);
	if (fd < 0 || flock(fd, LOCK_EX)) {
		err("failed to lock %s: %s", buf, strerror(errno));
		if (fd >= 0)
			close(fd);
		return -errno;
	}
	lock_fd = fd;
	return 0;
}

void pin_unlock(void)
{
	if (lock_fd >= 0)
		close(lock_fd);
	lock_fd = -1;
}

/* pin_root from $CRBPF_PIN_ROOT or the default; no checks of the file
 * system and no lock (doctor reads a root that may be broken or in use). */
int pin_root_resolve(void)
{
	const char *env = getenv("CRBPF_PIN_ROOT");
	size_t len;

	if (!env || !*env)
		env = CRBPF_PIN_ROOT_DEFAULT;
	if (strlen(env) >= sizeof(pin_root) - 64) {
		err("pin root %s is too long (CRBPF_PIN_ROOT)", env);
		return -ENAMETOOLONG;
	}
	snprintf(pin_root, sizeof(pin_root), "%s", env);
	len = strlen(pin_root);
	while (len > 1 && pin_root[len - 1] == '/')
		pin_root[--len] = 0;
	if (pin_root[0] != '/') {
		err("pin root %s is not an absolute path (CRBPF_PIN_ROOT)", pin_root);
		return -EINVAL;
	}
	return 0;
}

int pin_init(void)
{
	int ret = pin_root_resolve();

	if (ret)
		return ret;
	if (on_bpffs(pin_root))
		return pin_lock();
	if (!strncmp(pin_root, "/sys/fs/bpf/", 12)) {
		struct statfs st;

		if (statfs("/sys/fs/bpf", &st) || st.f_type != BPF_FS_MAGIC) {
			err("bpffs is not mounted at /sys/fs/bpf (mount -t bpf bpf /sys/fs/bpf)");
			return -ENOENT;
		}
	}
	err("pin root %s is not on a bpf filesystem (mount -t bpf bpf DIR)", pin_root);
	return -ENOENT;
}

int pin_path(char *buf, size_t len, const char *dir, const char *kind,
	     const char *dev)
{
	char enc[IF_NAMESIZE * 2];
	size_t i;
	int n;

	for (i = 0; dev && dev[i] && i < sizeof(enc) - 1; i++)
		enc[i] = dev[i] == '.' ? '%' : dev[i];
	enc[i] = 0;
	if (kind)
		n = snprintf(buf, len, "%s/%s/%s_%s", pin_root, dir, kind, enc);
	else if (dev)
		n = snprintf(buf, len, "%s/%s/%s", pin_root, dir, enc);
	else
		n = snprintf(buf, len, "%s/%s", pin_root, dir);
	return n < 0 || (size_t)n >= len ? -ENAMETOOLONG : 0;
}

void pin_name_decode(const char *enc, char *dev, size_t len)
{
	size_t i;

	for (i = 0; enc[i] && i < len - 1; i++)
		dev[i] = enc[i] == '%' ? '.' : enc[i];
	dev[i] = 0;
}

bool pin_exists(const char *path)
{
	return !access(path, F_OK);
}

int pin_unlink(const char *path)
{
	if (unlink(path) && errno != ENOENT) {
		int ret = -errno;

		err("failed to remove pin %s: %s", path, strerror(-ret));
		return ret;
	}
	return 0;
}

static int mkdir_one(const char *path, struct undo *u)
{
	if (!mkdir(path, 0700))
		return u ? undo_unlink_dir(u, path) : 0;
	if (errno == EEXIST)
		return 0;
	err("failed to create %s: %s", path, strerror(errno));
	return -errno;
}

int pin_dirs_create(struct undo *u)
{
	static const char *const subdirs[] = { "maps", "links", "home", "edge" };
	char path[PATH_MAX];
	char *slash;
	size_t i;
	int ret;

	/* Parents of the root (CRBPF_PIN_ROOT=/sys/fs/bpf/a/b) first. */
	snprintf(path, sizeof(path), "%s", pin_root);
	for (slash = strchr(path + 1, '/'); slash; slash = strchr(slash + 1, '/')) {
		*slash = 0;
		if (access(path, F_OK)) {
			ret = mkdir_one(path, u);
			if (ret)
				return ret;
		}
		*slash = '/';
	}
	ret = mkdir_one(pin_root, u);
	if (ret)
		return ret;
	for (i = 0; i < ARRAY_SIZE(subdirs); i++) {
		pin_path(path, sizeof(path), subdirs[i], NULL, NULL);
		ret = mkdir_one(path, u);
		if (ret)
			return ret;
	}
	return 0;
}

void pin_dirs_remove_if_empty(void)
{
	static const char *const subdirs[] = { "maps", "links", "home", "edge" };
	char path[PATH_MAX];
	size_t i;

	for (i = 0; i < ARRAY_SIZE(subdirs); i++) {
		pin_path(path, sizeof(path), subdirs[i], NULL, NULL);
		rmdir(path);
	}
	rmdir(pin_root);
}

int pin_map_open(const char *name)
{
	char path[PATH_MAX];
	int fd;

	pin_path(path, sizeof(path), "maps", NULL, name);
	fd = bpf_obj_get(path);
	if (fd < 0) {
		fd = -errno;
		err("failed to open map %s: %s", path, strerror(-fd));
	}
	return fd;
}

/* The same for a map that pins of an older crbpf may lack: no message. */
int pin_map_open_quiet(const char *name)
{
	char path[PATH_MAX];
	int fd;

	pin_path(path, sizeof(path), "maps", NULL, name);
	fd = bpf_obj_get(path);
	return fd < 0 ? -errno : fd;
}

int pin_iter(const char *kind, pin_iter_cb cb, void *data)
{
	char dir[PATH_MAX], path[PATH_MAX * 2], dev[IF_NAMESIZE * 2];
	size_t klen = kind ? strlen(kind) : 0;
	struct dirent *de;
	DIR *d;
	int ret = 0;

	pin_path(dir, sizeof(dir), kind ? "links" : "home", NULL, NULL);
	d = opendir(dir);
	if (!d)
		return errno == ENOENT ? 0 : -errno;
	while ((de = readdir(d))) {
		const char *name = de->d_name;

		if (name[0] == '.')
			continue;
		if (kind) {
			if (strncmp(name, kind, klen) || name[klen] != '_')
				continue;
			name += klen + 1;
		}
		pin_name_decode(name, dev, sizeof(dev));
		snprintf(path, sizeof(path), "%s/%s", dir, de->d_name);
		ret = cb(dev, path, data);
		if (ret)
			break;
	}
	closedir(d);
	return ret < 0 ? ret : 0;
}

static int count_cb(const char *dev, const char *path, void *data)
{
	(void)dev;
	(void)path;
	(*(int *)data)++;
	return 0;
}

int pin_count(const char *kind)
{
	int n = 0;

	pin_iter(kind, count_cb, &n);
	return n;
}

/* A small record the tool keeps about a device (what attach was given, the
 * ifindex it saw): a one-entry ARRAY map pinned at $ROOT/DIR/<name>,
 * replaced whole. The programs never read it. */
int pin_record_store(const char *dir, const char *name, const char *map_name,
		     const void *val, __u32 len)
{
	LIBBPF_OPTS(bpf_map_create_opts, opts);
	char path[PATH_MAX];
	__u32 key = 0;
	int fd, ret = 0;

	fd = bpf_map_create(BPF_MAP_TYPE_ARRAY, map_name, sizeof(key), len, 1,
			    &opts);
	if (fd < 0)
		return -errno;
	pin_path(path, sizeof(path), dir, NULL, name);
	if (bpf_map_update_elem(fd, &key, val, BPF_ANY))
		ret = -errno;
	if (!ret) {
		unlink(path);
		if (bpf_obj_pin(fd, path))
			ret = -errno;
	}
	close(fd);
	return ret;
}

/* -ENOENT: no record; -EINVAL: a larger record (a newer crbpf's). Records
 * only grow at the end: a smaller one (an older crbpf's) reads with the
 * fields it lacks zeroed. */
int pin_record_load(const char *dir, const char *name, void *val, __u32 len)
{
	struct bpf_map_info info = {};
	__u32 ilen = sizeof(info), key = 0;
	char path[PATH_MAX];
	int fd, ret = 0;
	void *buf = NULL;

	pin_path(path, sizeof(path), dir, NULL, name);
	fd = bpf_obj_get(path);
	if (fd < 0)
		return -errno;
	if (bpf_obj_get_info_by_fd(fd, &info, &ilen))
		ret = -errno;
	else if (info.value_size > len || info.max_entries < 1)
		ret = -EINVAL;
	else if (!(buf = calloc(1, len)))
		ret = -ENOMEM;
	else if (bpf_map_lookup_elem(fd, &key, buf))
		ret = -errno;
	else
		memcpy(val, buf, len);
	free(buf);
	close(fd);
	return ret;
}

struct names_ctx {
	char (*names)[IF_NAMESIZE * 2];
	int n, max;
};

static int names_cb(const char *dev, const char *path, void *data)
{
	struct names_ctx *c = data;

	(void)path;
	if (c->n < c->max)
		snprintf(c->names[c->n++], sizeof(c->names[0]), "%s", dev);
	return 0;
}

/* Devices with a pin of kind (NULL: home tunnels), listed before a caller
 * changes the directory it walks. */
int pin_names(const char *kind, char names[][IF_NAMESIZE * 2], int max)
{
	struct names_ctx c = { names, 0, max };
	int ret = pin_iter(kind, names_cb, &c);

	return ret < 0 ? ret : c.n;
}

static bool has_cap(const struct __user_cap_data_struct *d, int cap)
{
	return d[cap / 32].effective & (1U << (cap % 32));
}

/* Checked after parsing and before touching anything. CAP_SYS_ADMIN stands
 * in for CAP_BPF on kernels before 5.8. */
int need_root(void)
{
	struct __user_cap_header_struct h = { _LINUX_CAPABILITY_VERSION_3, 0 };
	struct __user_cap_data_struct d[_LINUX_CAPABILITY_U32S_3] = {};

	if (syscall(SYS_capget, &h, d) == 0 && has_cap(d, CAP_NET_ADMIN) &&
	    (has_cap(d, CAP_BPF) || has_cap(d, CAP_SYS_ADMIN)))
		return 0;
	err("needs root (CAP_BPF, CAP_NET_ADMIN)");
	return -EPERM;
}

/* What every command that touches state checks first, after parsing its
 * arguments: privileges, then the pin root. */
int tool_prepare(void)
{
	return need_root() ?: pin_init();
}

int edge_is_attached(const char *dev)
{
	char path[PATH_MAX];

	pin_path(path, sizeof(path), "links", "edge", dev);
	if (pin_exists(path))
		return 1;
	pin_path(path, sizeof(path), "links", "xdp", dev);
	return pin_exists(path);
}

struct pick {
	char name[IF_NAMESIZE * 2];
	int n;
};

static int pick_cb(const char *dev, const char *path, void *data)
{
	struct pick *p = data;

	(void)path;
	if (!p->n++)
		snprintf(p->name, sizeof(p->name), "%s", dev);
	return 0;
}

/* Number of attached public devices; the first one's name in only. */
int edge_attached_count(char *only, size_t len)
{
	struct pick p = {};

	pin_iter("edge", pick_cb, &p);
	if (only && p.n)
		snprintf(only, len, "%s", p.name);
	return p.n;
}

int home_attached_count(void)
{
	return pin_count(NULL);
}
