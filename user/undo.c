// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/* A journal of what one invocation changed, so a failure half way can put
 * everything back in reverse order. Each helper records before it acts. */
#include "tool.h"
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>

enum undo_kind {
	UNDO_MAP, /* restore a map entry: old value, or delete if there was none */
	UNDO_UNPIN, /* remove a pin (and so the link it holds) */
	UNDO_RMDIR,
	UNDO_LINK_PROG, /* point a link back at its previous program */
	UNDO_SYSCTL,
	UNDO_TC, /* remove our clsact filter */
};

struct undo_ent {
	enum undo_kind kind;
	int map; /* UNDO_MAP: index into undo.maps */
	int fd;
	int fd2;
	int ifindex;
	bool had_value;
	void *key;
	void *value;
	char *path;
	char *text;
};

/* A map the journal restores entries of: one fd for all of them, however
 * many (a range of 13,536 ports journals 40,000 entries; an fd each would
 * run into `ulimit -n`). Known by its id: the caller's fd number may be
 * closed and reused for another map while the journal lives. */
struct undo_map {
	__u32 id;
	int fd;
	size_t vlen;
};

/*
 * A journal opened while another is open (apply calling port add) is part
 * of it: its entries go into the root's arrays from mark on; rolling it back
 * undoes those entries only, freeing it leaves them to the root.
 */
struct undo {
	struct undo_ent *ents;
	int n, cap;
	struct undo_map *maps;
	int nmaps;
	struct undo *parent;
	int mark;
	bool rolled_back;
};

/*
 * Signals. While a root journal is open, SIGINT, SIGTERM, SIGHUP and SIGQUIT
 * only set a flag: the next undo_map() (every map entry a command writes is
 * journaled first) or undo_check() returns -EINTR, the command's failure
 * path rolls back what it wrote, and it exits 1. Once a command has made a
 * change that its journal cannot take back (undo_no_return()), a signal
 * waits until the command is done. SIGKILL cannot be caught: what was
 * written stays written, each map entry whole.
 */
static const int undo_sigs[] = { SIGINT, SIGTERM, SIGHUP, SIGQUIT };
static struct sigaction undo_old_sa[ARRAY_SIZE(undo_sigs)];
static volatile sig_atomic_t undo_signo;
static struct undo *undo_root;
static bool undo_forward; /* undo_no_return(): finish whatever arrives */

static void undo_on_signal(int signo)
{
	if (!undo_signo)
		undo_signo = signo;
}

static void undo_signals_catch(void)
{
	struct sigaction sa = { .sa_handler = undo_on_signal,
				.sa_flags = SA_RESTART };
	size_t i;

	sigemptyset(&sa.sa_mask);
	undo_signo = 0;
	undo_forward = false;
	/* A signal ignored at start stays ignored (nohup; a shell's
	 * background job without job control ignores SIGINT and SIGQUIT). */
	for (i = 0; i < ARRAY_SIZE(undo_sigs); i++)
		if (!sigaction(undo_sigs[i], NULL, &undo_old_sa[i]) &&
		    undo_old_sa[i].sa_handler != SIG_IGN)
			sigaction(undo_sigs[i], &sa, NULL);
}

static void undo_signals_restore(void)
{
	size_t i;

	for (i = 0; i < ARRAY_SIZE(undo_sigs); i++)
		sigaction(undo_sigs[i], &undo_old_sa[i], NULL);
}

static const char *sig_name(int signo)
{
	switch (signo) {
	case SIGINT:
		return "SIGINT";
	case SIGTERM:
		return "SIGTERM";
	case SIGHUP:
		return "SIGHUP";
	default:
		return "SIGQUIT";
	}
}

int undo_interrupted(void)
{
	return undo_signo;
}

/* -EINTR when a signal asks the command to stop and it still can. */
int undo_check(struct undo *u)
{
	return u && undo_signo && !undo_forward ? -EINTR : 0;
}

void undo_no_return(void)
{
	undo_forward = true;
}

/* Part of another command's journal (apply): what cannot be undone waits. */
bool undo_nested(const struct undo *u)
{
	return u && u->parent;
}

static struct undo *undo_top(struct undo *u)
{
	while (u->parent)
		u = u->parent;
	return u;
}

struct undo *undo_new(void)
{
	struct undo *u = calloc(1, sizeof(struct undo));

	if (!u)
		return NULL;
	if (undo_root) {
		u->parent = undo_root;
		u->mark = undo_root->n;
	} else {
		undo_root = u;
		undo_signals_catch();
	}
	return u;
}

static int undo_push(struct undo *u, enum undo_kind kind, struct undo_ent **out)
{
	struct undo_ent *e;

	u = undo_top(u);
	if (u->n == u->cap) {
		int cap = u->cap ? u->cap * 2 : 16;

		e = realloc(u->ents, cap * sizeof(*e));
		if (!e)
			return -ENOMEM;
		u->ents = e;
		u->cap = cap;
	}
	e = &u->ents[u->n++];
	memset(e, 0, sizeof(*e));
	e->kind = kind;
	e->fd = e->fd2 = -1;
	*out = e;
	return 0;
}

/* Per-CPU maps hand out one value per possible CPU. */
static size_t map_value_len(const struct bpf_map_info *info, size_t vsz)
{
	switch (info->type) {
	case BPF_MAP_TYPE_PERCPU_HASH:
	case BPF_MAP_TYPE_PERCPU_ARRAY:
	case BPF_MAP_TYPE_LRU_PERCPU_HASH:
		return ((vsz + 7) & ~7UL) * libbpf_num_possible_cpus();
	default:
		return vsz;
	}
}

/* The journal's entry for the map of map_fd, added on first use. */
static int undo_map_ref(struct undo *u, int map_fd, size_t vsz)
{
	struct bpf_map_info info = {};
	__u32 len = sizeof(info);
	struct undo_map *m;
	int i;

	if (bpf_obj_get_info_by_fd(map_fd, &info, &len))
		return -errno;
	for (i = 0; i < u->nmaps; i++)
		if (u->maps[i].id == info.id)
			return i;
	m = realloc(u->maps, (u->nmaps + 1) * sizeof(*m));
	if (!m)
		return -ENOMEM;
	u->maps = m;
	m = &u->maps[u->nmaps];
	m->id = info.id;
	m->vlen = map_value_len(&info, vsz);
	m->fd = dup(map_fd);
	if (m->fd < 0)
		return -errno;
	return u->nmaps++;
}

/*
 * For tests only (tests/integration/26_ranges.sh): with CRBPF_TEST_PAUSE_AT=N
 * the command stops once N map entries are journaled and written, says so
 * on stderr, and waits for a signal, so that one surely lands half way.
 */
static void undo_test_pause(const struct undo *r)
{
	static long at = -1;
	sigset_t block, old;
	const char *s;
	size_t i;

	if (at < 0) {
		s = getenv("CRBPF_TEST_PAUSE_AT");
		at = s ? atol(s) : 0;
	}
	if (at <= 0 || r->n != at)
		return;
	sigemptyset(&block);
	for (i = 0; i < ARRAY_SIZE(undo_sigs); i++)
		sigaddset(&block, undo_sigs[i]);
	sigprocmask(SIG_BLOCK, &block, &old);
	fprintf(stderr, "crbpf: test pause after %ld map entries\n", at);
	while (!undo_signo)
		sigsuspend(&old);
	sigprocmask(SIG_SETMASK, &old, NULL);
}

int undo_map(struct undo *u, int map_fd, const void *key, size_t ksz,
	     size_t vsz)
{
	struct undo_ent *e;
	struct undo *r;
	int map, ret;

	if (!u)
		return 0;
	r = undo_top(u);
	undo_test_pause(r);
	ret = undo_check(u);
	if (ret)
		return ret;
	map = undo_map_ref(r, map_fd, vsz);
	if (map < 0)
		return map;
	ret = undo_push(u, UNDO_MAP, &e);
	if (ret)
		return ret;
	e->map = map;
	e->key = malloc(ksz);
	e->value = malloc(r->maps[map].vlen);
	if (!e->key || !e->value) {
		r->n--;
		free(e->key);
		free(e->value);
		return -ENOMEM;
	}
	memcpy(e->key, key, ksz);
	e->had_value = !bpf_map_lookup_elem(map_fd, key, e->value);
	return 0;
}

int undo_unpin(struct undo *u, const char *path)
{
	struct undo_ent *e;

	if (!u)
		return 0;
	if (undo_push(u, UNDO_UNPIN, &e) || !(e->path = strdup(path)))
		return -ENOMEM;
	return 0;
}

int undo_unlink_dir(struct undo *u, const char *path)
{
	struct undo_ent *e;

	if (!u)
		return 0;
	if (undo_push(u, UNDO_RMDIR, &e) || !(e->path = strdup(path)))
		return -ENOMEM;
	return 0;
}

int undo_link_prog(struct undo *u, int link_fd, int old_prog_fd)
{
	struct undo_ent *e;

	if (!u)
		return 0;
	if (undo_push(u, UNDO_LINK_PROG, &e))
		return -ENOMEM;
	e->fd = dup(link_fd);
	e->fd2 = dup(old_prog_fd);
	return e->fd < 0 || e->fd2 < 0 ? -errno : 0;
}

int undo_sysctl(struct undo *u, const char *path, const char *old)
{
	struct undo_ent *e;

	if (!u)
		return 0;
	if (undo_push(u, UNDO_SYSCTL, &e) || !(e->path = strdup(path)) ||
	    !(e->text = strdup(old)))
		return -ENOMEM;
	return 0;
}

int undo_tc(struct undo *u, int ifindex)
{
	struct undo_ent *e;

	if (!u)
		return 0;
	if (undo_push(u, UNDO_TC, &e))
		return -ENOMEM;
	e->ifindex = ifindex;
	return 0;
}

static void undo_one(const struct undo *r, struct undo_ent *e)
{
	int fd;

	switch (e->kind) {
	case UNDO_MAP:
		fd = r->maps[e->map].fd;
		if (e->had_value)
			bpf_map_update_elem(fd, e->key, e->value, BPF_ANY);
		else
			bpf_map_delete_elem(fd, e->key);
		break;
	case UNDO_UNPIN:
		link_release(e->path);
		break;
	case UNDO_RMDIR:
		rmdir(e->path);
		break;
	case UNDO_LINK_PROG:
		bpf_link_update(e->fd, e->fd2, NULL);
		break;
	case UNDO_SYSCTL:
		fd = open(e->path, O_WRONLY);
		if (fd >= 0) {
			if (write(fd, e->text, strlen(e->text)) < 0)
				warn("failed to restore %s", e->path);
			close(fd);
		}
		break;
	case UNDO_TC: {
		/* undo_tc: a negative ifindex stands for egress */
		LIBBPF_OPTS(bpf_tc_hook, hook, .ifindex = abs(e->ifindex),
			    .attach_point = e->ifindex < 0 ? BPF_TC_EGRESS
							   : BPF_TC_INGRESS);
		LIBBPF_OPTS(bpf_tc_opts, opts, .handle = CRBPF_TC_HANDLE,
			    .priority = CRBPF_TC_PRIO);
		bpf_tc_detach(&hook, &opts);
		break;
	}
	}
}

static void undo_ent_free(struct undo_ent *e)
{
	if (e->fd >= 0 && e->kind != UNDO_MAP)
		close(e->fd);
	if (e->fd2 >= 0)
		close(e->fd2);
	free(e->key);
	free(e->value);
	free(e->path);
	free(e->text);
}

/* Called after a rollback restored map entries (main.c sets it to
 * cache_gen_bump(): the journal sits below the files that know the maps). */
void (*undo_map_restored)(void);

/* Undoes the entries of u (of a child journal: its part of the root's). */
void undo_rollback(struct undo *u)
{
	bool restored_map = false;
	struct undo *r;
	int i;

	if (!u)
		return;
	r = undo_top(u);
	for (i = r->n - 1; i >= u->mark; i--) {
		restored_map |= r->ents[i].kind == UNDO_MAP;
		undo_one(r, &r->ents[i]);
		undo_ent_free(&r->ents[i]);
	}
	r->n = u->mark;
	/* crbpf_local may be among them: the datapath's copies go stale */
	if (restored_map && undo_map_restored)
		undo_map_restored();
	u->rolled_back = true;
	if (!u->parent && undo_signo)
		err("interrupted by %s: every change of this command was rolled back",
		    sig_name(undo_signo));
}

/* Ends u: a root's changes are final, a child's are left to its root. */
void undo_free(struct undo *u)
{
	int i;

	if (!u)
		return;
	if (u->parent) {
		free(u);
		return;
	}
	if (undo_signo && !u->rolled_back)
		notice("%s arrived after the change was complete: it stands",
		       sig_name(undo_signo));
	for (i = 0; i < u->n; i++)
		undo_ent_free(&u->ents[i]);
	for (i = 0; i < u->nmaps; i++)
		close(u->maps[i].fd);
	free(u->maps);
	free(u->ents);
	free(u);
	undo_root = NULL;
	undo_signals_restore();
	undo_signo = 0;
}

/* A pin holds either a link or (clsact fallback) a program; fdinfo says which. */
bool fd_is_link(int fd)
{
	char path[64], line[128];
	bool link = false;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/self/fdinfo/%d", fd);
	f = fopen(path, "r");
	if (!f)
		return true;
	while (fgets(line, sizeof(line), f)) {
		if (!strncmp(line, "link_type:", 10))
			link = true;
	}
	fclose(f);
	return link;
}

/* Unpinning alone frees a link only after an RCU grace period, so a new
 * attachment right after would still find the old one (XDP: -EEXIST):
 * detach it explicitly first. */
void link_release(const char *pinpath)
{
	int fd = bpf_obj_get(pinpath);

	if (fd >= 0) {
		if (fd_is_link(fd))
			bpf_link_detach(fd);
		close(fd);
	}
	unlink(pinpath);
}
