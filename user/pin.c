// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/* Pin layout: $ROOT/maps/<map>, $ROOT/links/<kind>_<dev>, $ROOT/home/<tunnel>,
 * $ROOT/edge/<dev> (what attach recorded about a public device).
 * bpffs refuses '.' in names, and VLAN devices have one (eth0.100): it is
 * stored as '%', which no real interface name keeps ("%d" is a template). */
#define _GNU_SOURCE /* O_PATH */
#include "tool.h"
#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/sysmacros.h>
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

/* --- The pin root's safety ---
 * Whoever can write to a directory on the way to a pin can unlink or replace
 * the pin: an unprivileged user who pre-created the root on a bpffs mounted
 * without a mode (1777) could remove crbpf's links and so detach its
 * programs. So every directory from / to the root, and the root's
 * subdirectories, must belong to root (or the user running crbpf), be
 * writable by nobody else and not be a symbolic link. An ancestor writable
 * by others passes only with the sticky bit (bpffs's own root at its default
 * mode 1777, /tmp): then only an entry's owner may remove or rename it, and
 * the entry below must belong to root. Once that holds nobody else can plant
 * or swap anything under the root, so paths below it are safe to use by
 * name; pin_exists() and pin_iter() still ignore symbolic links. */
static const char *const pin_subdirs[] = { "maps", "links", "home", "edge" };

/* -EPERM with what is wrong and what to do in w, or 0: path is safe. */
static int dir_unsafe(const char *path, const struct stat *st, bool ancestor,
		      struct pin_why *w)
{
	if (S_ISLNK(st->st_mode)) {
		snprintf(w->what, sizeof(w->what), "%s is a symbolic link, which crbpf does not follow to its pins",
			 path);
		snprintf(w->fix, sizeof(w->fix), "rm %s", path);
	} else if (!S_ISDIR(st->st_mode)) {
		snprintf(w->what, sizeof(w->what), "%s is not a directory", path);
		snprintf(w->fix, sizeof(w->fix), "rm %s", path);
	} else if (st->st_uid != 0 && st->st_uid != geteuid()) {
		snprintf(w->what, sizeof(w->what), "%s belongs to uid %u, not root: that user can remove crbpf's pins",
			 path, st->st_uid);
		snprintf(w->fix, sizeof(w->fix), "check what is in it, then rm -r %s",
			 path);
	} else if ((st->st_mode & 022) && !(ancestor && (st->st_mode & S_ISVTX))) {
		snprintf(w->what, sizeof(w->what), "%s is writable by %s (mode %04o): other users can remove crbpf's pins",
			 path, st->st_mode & 002 ? "others" : "its group",
			 st->st_mode & 07777);
		snprintf(w->fix, sizeof(w->fix), "chmod 700 %s%s", path,
			 ancestor ? ", or mount bpffs with -o mode=0700" : "");
	} else {
		return 0;
	}
	return -EPERM;
}

/* Directories pin_walk() created (to be journaled or, unused, removed). */
static char pin_created[8][PATH_MAX];
static int pin_ncreated;

/* Walks pin_root from / without following links and checks every directory
 * on the way; create makes the missing ones (0700). Returns an O_PATH fd of
 * the root's parent, and in *root_fd the root itself (readable, to lock) or
 * -1 when it does not exist; or -errno with the reason in w. */
static int pin_walk(bool create, int *root_fd, struct pin_why *w)
{
	char path[PATH_MAX], comp[NAME_MAX + 1];
	const char *p = pin_root, *slash;
	int dfd, fd, ret = 0;
	struct stat st;
	size_t i, n;

	*root_fd = -1;
	dfd = open("/", O_PATH | O_DIRECTORY | O_CLOEXEC);
	if (dfd < 0)
		return -errno;
	while (*p == '/')
		p++;
	while (*p) {
		bool last;

		slash = strchr(p, '/');
		n = slash ? (size_t)(slash - p) : strlen(p);
		if (n >= sizeof(comp)) {
			ret = -ENAMETOOLONG;
			snprintf(w->what, sizeof(w->what), "%s: %s", pin_root,
				 strerror(-ret));
			break;
		}
		memcpy(comp, p, n);
		comp[n] = 0;
		snprintf(path, sizeof(path), "%.*s", (int)(p + n - pin_root), pin_root);
		for (p += n; *p == '/'; p++)
			;
		last = !*p;
		if (fstatat(dfd, comp, &st, AT_SYMLINK_NOFOLLOW) && errno == ENOENT) {
			if (!create)
				break;
			if (!mkdirat(dfd, comp, 0700)) {
				if (pin_ncreated < (int)ARRAY_SIZE(pin_created))
					snprintf(pin_created[pin_ncreated++],
						 sizeof(pin_created[0]), "%s", path);
			} else if (errno != EEXIST) {
				ret = -errno;
				snprintf(w->what, sizeof(w->what),
					 "failed to create %s: %s", path,
					 strerror(-ret));
				break;
			}
		}
		/* What is checked is the directory opened, not the name, so it
		 * cannot be swapped between the check and its use. */
		fd = openat(dfd, comp, (last ? O_RDONLY : O_PATH) | O_DIRECTORY |
					       O_NOFOLLOW | O_CLOEXEC);
		if (fd < 0) {
			ret = -errno;
			if (fstatat(dfd, comp, &st, AT_SYMLINK_NOFOLLOW) ||
			    !dir_unsafe(path, &st, !last, w))
				snprintf(w->what, sizeof(w->what),
					 "failed to open %s: %s", path,
					 strerror(-ret));
			else
				ret = -EPERM;
			break;
		}
		if (fstat(fd, &st))
			ret = -errno;
		else
			ret = dir_unsafe(path, &st, !last, w);
		if (ret || last) {
			if (ret)
				close(fd);
			else
				*root_fd = fd;
			break;
		}
		close(dfd);
		dfd = fd;
	}
	for (i = 0; !ret && *root_fd >= 0 && i < ARRAY_SIZE(pin_subdirs); i++) {
		pin_path(path, sizeof(path), pin_subdirs[i], NULL, NULL);
		if (!fstatat(*root_fd, pin_subdirs[i], &st, AT_SYMLINK_NOFOLLOW))
			ret = dir_unsafe(path, &st, false, w);
	}
	if (ret) {
		if (*root_fd >= 0)
			close(*root_fd);
		*root_fd = -1;
		close(dfd);
		return ret;
	}
	return dfd;
}

/* -EPERM and w when the root (as far as it exists) is unsafe. */
int pin_root_check(struct pin_why *w)
{
	int dfd, fd;

	w->fix[0] = 0;
	dfd = pin_walk(false, &fd, w);
	if (dfd < 0)
		return dfd;
	if (fd >= 0)
		close(fd);
	close(dfd);
	return 0;
}

/* --- The lock ---
 * One writer per pin root at a time: port add reads crbpf_ports to
 * recompute crbpf_rev, so two concurrent edits could undo each other. The
 * lock is flock() on the root directory itself (bpffs holds no regular
 * files), so other roots are not held up; it lasts until exit or
 * pin_unlock() (crbpf watch holds it only while it repairs). Read-only
 * commands take no lock: they may see a change half made, never block. */
static int lock_fd = -1;

/* Seconds a writer waits for the lock: $CRBPF_LOCK_TIMEOUT or 10. */
static unsigned int lock_timeout(void)
{
	const char *env = getenv("CRBPF_LOCK_TIMEOUT");
	__u32 v;

	if (env && *env && !parse_u32(env, &v) && v <= 3600)
		return v;
	return 10;
}

/* "crbpf (pid 123)": who holds the flock on fd, from /proc/locks. */
static void lock_holder(int fd, char *buf, size_t len)
{
	char line[256], comm[64] = "", cpath[64];
	unsigned int maj, min;
	unsigned long ino;
	struct stat st;
	FILE *f, *c;
	int pid;

	snprintf(buf, len, "another process");
	if (fstat(fd, &st))
		return;
	f = fopen("/proc/locks", "re");
	if (!f)
		return;
	while (fgets(line, sizeof(line), f)) {
		if (strstr(line, "->") ||
		    sscanf(line, "%*d: FLOCK %*s %*s %d %x:%x:%lu", &pid, &maj,
			   &min, &ino) != 4 ||
		    ino != st.st_ino || maj != major(st.st_dev) ||
		    min != minor(st.st_dev))
			continue;
		snprintf(cpath, sizeof(cpath), "/proc/%d/comm", pid);
		c = fopen(cpath, "re");
		if (c) {
			if (fgets(comm, sizeof(comm), c))
				comm[strcspn(comm, "\n")] = 0;
			fclose(c);
		}
		snprintf(buf, len, "%s (pid %d)", comm[0] ? comm : "a process", pid);
		break;
	}
	fclose(f);
}

static long long mono_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000LL + ts.tv_nsec / 1000000;
}

/* Removes the directories pin_walk() created that nothing was put in. */
static void pin_created_cleanup(void)
{
	while (pin_ncreated > 0)
		rmdir(pin_created[--pin_ncreated]);
}

static int pin_why_err(const struct pin_why *w, int ret)
{
	if (w->fix[0])
		err("unsafe pin root: %s (%s)", w->what, w->fix);
	else
		err("%s", w->what);
	return ret;
}

static int pin_lock(void)
{
	unsigned int timeout = lock_timeout();
	long long deadline = mono_ms() + timeout * 1000LL;
	const char *base = strrchr(pin_root, '/') + 1;
	static bool cleanup_registered;
	struct pin_why w = {};
	struct stat a, b;
	int dfd, fd;

	if (lock_fd >= 0)
		return 0;
	if (!cleanup_registered) {
		atexit(pin_created_cleanup);
		cleanup_registered = true;
	}
	for (;;) {
		dfd = pin_walk(true, &fd, &w);
		if (dfd < 0)
			return pin_why_err(&w, dfd);
		while (flock(fd, LOCK_EX | LOCK_NB)) {
			int ret = -errno;

			if (ret != -EWOULDBLOCK || mono_ms() >= deadline) {
				if (ret == -EWOULDBLOCK) {
					lock_holder(fd, w.what, sizeof(w.what));
					err("%s holds the lock on %s; waited %u s (CRBPF_LOCK_TIMEOUT)",
					    w.what, pin_root, timeout);
					ret = -EBUSY;
				} else {
					err("failed to lock %s: %s", pin_root,
					    strerror(-ret));
				}
				close(fd);
				close(dfd);
				return ret;
			}
			usleep(20000);
		}
		/* The holder may have removed the root (the last detach) and
		 * someone made it anew: a lock on the old one guards nothing. */
		if (!fstat(fd, &a) && !fstatat(dfd, base, &b, AT_SYMLINK_NOFOLLOW) &&
		    a.st_ino == b.st_ino && a.st_dev == b.st_dev)
			break;
		close(fd);
		close(dfd);
	}
	close(dfd);
	lock_fd = fd;
	return 0;
}

void pin_unlock(void)
{
	pin_created_cleanup();
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
	/* The walk checks each component as it goes down: one that goes up
	 * would check a directory other than the one used. */
	if (strstr(pin_root, "/./") || strstr(pin_root, "/../") ||
	    !strcmp(strrchr(pin_root, '/'), "/.") ||
	    !strcmp(strrchr(pin_root, '/'), "/..")) {
		err("pin root %s has . or .. components (CRBPF_PIN_ROOT)", pin_root);
		return -EINVAL;
	}
	return 0;
}

/* write: the pin root (made if missing) locked for a change; otherwise
 * only checked, for a command that reads. */
static int pin_open(bool write)
{
	int ret = pin_root_resolve();

	if (ret)
		return ret;
	if (on_bpffs(pin_root)) {
		struct pin_why w;

		if (write)
			return pin_lock();
		ret = pin_root_check(&w);
		return ret ? pin_why_err(&w, ret) : 0;
	}
	if (!strncmp(pin_root, "/sys/fs/bpf/", 12)) {
		struct statfs st;

		if (statfs("/sys/fs/bpf", &st) || st.f_type != BPF_FS_MAGIC) {
			err("bpffs is not mounted at /sys/fs/bpf (mount -t bpf -o mode=0700 bpf /sys/fs/bpf)");
			return -ENOENT;
		}
	}
	err("pin root %s is not on a bpf filesystem (mount -t bpf -o mode=0700 bpf DIR)", pin_root);
	return -ENOENT;
}

int pin_init(void)
{
	return pin_open(true);
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
	struct stat st;

	return !lstat(path, &st) && !S_ISLNK(st.st_mode);
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
	char path[PATH_MAX];
	size_t i;
	int ret, k;

	/* pin_init() made the root and its parents, checked; a rollback
	 * removes them like the rest. */
	for (k = 0; u && k < pin_ncreated; k++) {
		ret = undo_unlink_dir(u, pin_created[k]);
		if (ret)
			return ret;
	}
	if (u)
		pin_ncreated = 0;
	for (i = 0; i < ARRAY_SIZE(pin_subdirs); i++) {
		pin_path(path, sizeof(path), pin_subdirs[i], NULL, NULL);
		ret = mkdir_one(path, u);
		if (ret)
			return ret;
	}
	return 0;
}

void pin_dirs_remove_if_empty(void)
{
	char path[PATH_MAX];
	size_t i;

	for (i = 0; i < ARRAY_SIZE(pin_subdirs); i++) {
		pin_path(path, sizeof(path), pin_subdirs[i], NULL, NULL);
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

		if (name[0] == '.' || de->d_type == DT_LNK)
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

/* The same for a command that only reads: the root is checked, not
 * locked, so a change in progress does not hold it up. */
int tool_prepare_read(void)
{
	return need_root() ?: pin_open(false);
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
