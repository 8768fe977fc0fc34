// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/* A journal of what one invocation changed, so a failure half way can put
 * everything back in reverse order. Each helper records before it acts. */
#include "tool.h"
#include <errno.h>
#include <fcntl.h>
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
	int fd;
	int fd2;
	int ifindex;
	bool had_value;
	void *key;
	void *value;
	char *path;
	char *text;
};

struct undo {
	struct undo_ent *ents;
	int n, cap;
};

struct undo *undo_new(void)
{
	return calloc(1, sizeof(struct undo));
}

static struct undo_ent *undo_push(struct undo *u, enum undo_kind kind)
{
	struct undo_ent *e;

	if (u->n == u->cap) {
		int cap = u->cap ? u->cap * 2 : 16;

		e = realloc(u->ents, cap * sizeof(*e));
		if (!e)
			return NULL;
		u->ents = e;
		u->cap = cap;
	}
	e = &u->ents[u->n++];
	memset(e, 0, sizeof(*e));
	e->kind = kind;
	e->fd = e->fd2 = -1;
	return e;
}

/* Per-CPU maps hand out one value per possible CPU. */
static size_t map_value_len(int map_fd, size_t vsz)
{
	struct bpf_map_info info = {};
	__u32 len = sizeof(info);

	if (bpf_obj_get_info_by_fd(map_fd, &info, &len))
		return vsz;
	switch (info.type) {
	case BPF_MAP_TYPE_PERCPU_HASH:
	case BPF_MAP_TYPE_PERCPU_ARRAY:
	case BPF_MAP_TYPE_LRU_PERCPU_HASH:
		return ((vsz + 7) & ~7UL) * libbpf_num_possible_cpus();
	default:
		return vsz;
	}
}

int undo_map(struct undo *u, int map_fd, const void *key, size_t ksz,
	     size_t vsz)
{
	size_t vlen = map_value_len(map_fd, vsz);
	struct undo_ent *e;

	if (!u)
		return 0;
	e = undo_push(u, UNDO_MAP);

	if (!e)
		return -ENOMEM;
	e->fd = dup(map_fd);
	e->key = malloc(ksz);
	e->value = malloc(vlen);
	if (e->fd < 0 || !e->key || !e->value) {
		u->n--;
		if (e->fd >= 0)
			close(e->fd);
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
	e = undo_push(u, UNDO_UNPIN);
	if (!e || !(e->path = strdup(path)))
		return -ENOMEM;
	return 0;
}

int undo_unlink_dir(struct undo *u, const char *path)
{
	struct undo_ent *e;

	if (!u)
		return 0;
	e = undo_push(u, UNDO_RMDIR);
	if (!e || !(e->path = strdup(path)))
		return -ENOMEM;
	return 0;
}

int undo_link_prog(struct undo *u, int link_fd, int old_prog_fd)
{
	struct undo_ent *e;

	if (!u)
		return 0;
	e = undo_push(u, UNDO_LINK_PROG);
	if (!e)
		return -ENOMEM;
	e->fd = dup(link_fd);
	e->fd2 = dup(old_prog_fd);
	return 0;
}

int undo_sysctl(struct undo *u, const char *path, const char *old)
{
	struct undo_ent *e;

	if (!u)
		return 0;
	e = undo_push(u, UNDO_SYSCTL);
	if (!e || !(e->path = strdup(path)) || !(e->text = strdup(old)))
		return -ENOMEM;
	return 0;
}

int undo_tc(struct undo *u, int ifindex)
{
	struct undo_ent *e;

	if (!u)
		return 0;
	e = undo_push(u, UNDO_TC);
	if (!e)
		return -ENOMEM;
	e->ifindex = ifindex;
	return 0;
}

static void undo_one(struct undo_ent *e)
{
	int fd;

	switch (e->kind) {
	case UNDO_MAP:
		if (e->had_value)
			bpf_map_update_elem(e->fd, e->key, e->value, BPF_ANY);
		else
			bpf_map_delete_elem(e->fd, e->key);
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

void undo_rollback(struct undo *u)
{
	int i;

	if (!u)
		return;
	for (i = u->n - 1; i >= 0; i--)
		undo_one(&u->ents[i]);
}

void undo_free(struct undo *u)
{
	int i;

	if (!u)
		return;
	for (i = 0; i < u->n; i++) {
		struct undo_ent *e = &u->ents[i];

		if (e->fd >= 0)
			close(e->fd);
		if (e->fd2 >= 0)
			close(e->fd2);
		free(e->key);
		free(e->value);
		free(e->path);
		free(e->text);
	}
	free(u->ents);
	free(u);
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
