// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/* tc ingress attachments as pinned tcx links, with the clsact fallback for
 * kernels before 6.6. In the fallback the program itself is pinned where the
 * link would be, so detach and status find it the same way; the filter is
 * then found by handle/priority 0xcb. */
#include "tool.h"
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>

static int tc_clsact_attach(int prog_fd, int ifindex,
			    enum bpf_tc_attach_point dir, struct undo *u)
{
	LIBBPF_OPTS(bpf_tc_hook, hook, .ifindex = ifindex, .attach_point = dir);
	LIBBPF_OPTS(bpf_tc_opts, opts, .handle = CRBPF_TC_HANDLE,
		    .priority = CRBPF_TC_PRIO, .prog_fd = prog_fd,
		    .flags = BPF_TC_F_REPLACE);
	int ret;

	ret = bpf_tc_hook_create(&hook);
	if (ret && ret != -EEXIST)
		return ret;
	ret = bpf_tc_attach(&hook, &opts);
	if (ret)
		return ret;
	/* undo_tc: a negative ifindex stands for egress */
	return u ? undo_tc(u, dir == BPF_TC_EGRESS ? -ifindex : ifindex) : 0;
}

/* The clsact hook (ingress or egress) whose 0xcb filter runs prog_id, or 0. */
static enum bpf_tc_attach_point clsact_dir_of(int ifindex, __u32 prog_id)
{
	static const enum bpf_tc_attach_point dirs[] = { BPF_TC_INGRESS, BPF_TC_EGRESS };
	size_t i;

	for (i = 0; i < ARRAY_SIZE(dirs); i++) {
		LIBBPF_OPTS(bpf_tc_hook, hook, .ifindex = ifindex,
			    .attach_point = dirs[i]);
		LIBBPF_OPTS(bpf_tc_opts, q, .handle = CRBPF_TC_HANDLE,
			    .priority = CRBPF_TC_PRIO);

		if (!bpf_tc_query(&hook, &q) && q.prog_id == prog_id)
			return dirs[i];
	}
	return 0;
}

static __u32 prog_fd_id(int fd)
{
	struct bpf_prog_info info = {};
	__u32 len = sizeof(info);

	return bpf_obj_get_info_by_fd(fd, &info, &len) ? 0 : info.id;
}

/* A tcx link in one direction, or a clsact filter where the kernel has no
 * tcx (before 6.6); either way pinned at pinpath. */
static int tc_attach_dir(int prog_fd, int ifindex, bool egress,
			 const char *pinpath, struct undo *u)
{
	int fd, ret;

#ifdef CRBPF_FORCE_CLSACT /* exercises the pre-6.6 path on new kernels */
	fd = -1;
	errno = EINVAL;
#else
	fd = bpf_link_create(prog_fd, ifindex,
			     egress ? BPF_TCX_EGRESS : BPF_TCX_INGRESS, NULL);
#endif
	if (fd < 0) {
		ret = -errno;
		/* Kernels before 6.6 do not know the tcx attach types. */
		if (ret != -EINVAL && ret != -EOPNOTSUPP)
			return ret;
		info("tcx unavailable (%s), using clsact%s", strerror(-ret),
		     egress ? " egress" : "");
		ret = tc_clsact_attach(prog_fd, ifindex,
				       egress ? BPF_TC_EGRESS : BPF_TC_INGRESS, u);
		if (ret)
			return ret;
		fd = dup(prog_fd);
	}
	ret = undo_unpin(u, pinpath);
	if (!ret && bpf_obj_pin(fd, pinpath))
		ret = -errno;
	close(fd);
	return ret;
}

int tc_attach(int prog_fd, int ifindex, const char *pinpath, struct undo *u)
{
	return tc_attach_dir(prog_fd, ifindex, false, pinpath, u);
}

int tcx_attach_egress(int prog_fd, int ifindex, const char *pinpath,
		      struct undo *u)
{
	return tc_attach_dir(prog_fd, ifindex, true, pinpath, u);
}

/* In-place upgrade: the attachment stays, only its program changes. */
int tc_replace(int prog_fd, int ifindex, const char *pinpath, struct undo *u)
{
	struct bpf_link_info info = {};
	__u32 len = sizeof(info);
	int fd, old = -1, ret;

	fd = bpf_obj_get(pinpath);
	if (fd < 0)
		return -errno;
	if (!fd_is_link(fd)) {
		enum bpf_tc_attach_point dir = clsact_dir_of(ifindex, prog_fd_id(fd));

		ret = tc_clsact_attach(prog_fd, ifindex, dir ?: BPF_TC_INGRESS, NULL);
		if (!ret) {
			unlink(pinpath);
			if (bpf_obj_pin(prog_fd, pinpath))
				ret = -errno;
		}
		goto out;
	}
	if (bpf_obj_get_info_by_fd(fd, &info, &len)) {
		ret = -errno;
		goto out;
	}
	old = bpf_prog_get_fd_by_id(info.prog_id);
	if (old >= 0 && u) {
		ret = undo_link_prog(u, fd, old);
		if (ret)
			goto out;
	}
	ret = bpf_link_update(fd, prog_fd, NULL) ? -errno : 0;
out:
	if (old >= 0)
		close(old);
	close(fd);
	return ret;
}

int tc_detach_pin(const char *pinpath, int ifindex)
{
	int fd = bpf_obj_get(pinpath);

	if (fd < 0)
		return errno == ENOENT ? 0 : pin_unlink(pinpath);
	if (fd_is_link(fd)) {
		if (bpf_link_detach(fd) && errno != EINVAL)
			warn("failed to detach link %s: %s", pinpath, strerror(errno));
	} else if (ifindex > 0) {
		enum bpf_tc_attach_point dir = clsact_dir_of(ifindex, prog_fd_id(fd));
		LIBBPF_OPTS(bpf_tc_hook, hook, .ifindex = ifindex,
			    .attach_point = dir ?: BPF_TC_INGRESS);
		LIBBPF_OPTS(bpf_tc_opts, opts, .handle = CRBPF_TC_HANDLE,
			    .priority = CRBPF_TC_PRIO);
		int ret = bpf_tc_detach(&hook, &opts);

		if (ret && ret != -ENOENT)
			warn("failed to remove tc filter 0xcb from ifindex %d: %s",
			     ifindex, strerror(-ret));
	}
	close(fd);
	/* The last reference to a tcx/XDP link goes with its pin: detached. */
	return pin_unlink(pinpath);
}

int link_prog_id(const char *pinpath, __u32 *prog_id, bool *is_link)
{
	int fd = bpf_obj_get(pinpath), ret = 0;

	if (fd < 0)
		return -errno;
	*is_link = fd_is_link(fd);
	if (*is_link) {
		struct bpf_link_info info = {};
		__u32 len = sizeof(info);

		if (bpf_obj_get_info_by_fd(fd, &info, &len))
			ret = -errno;
		*prog_id = info.prog_id;
	} else {
		struct bpf_prog_info info = {};
		__u32 len = sizeof(info);

		if (bpf_obj_get_info_by_fd(fd, &info, &len))
			ret = -errno;
		*prog_id = info.id;
	}
	close(fd);
	return ret;
}

int prog_name_by_id(__u32 id, char *name, size_t len)
{
	struct bpf_prog_info info = {};
	__u32 ilen = sizeof(info);
	int fd = bpf_prog_get_fd_by_id(id), ret = 0;

	if (fd < 0)
		return -errno;
	if (bpf_obj_get_info_by_fd(fd, &info, &ilen))
		ret = -errno;
	else
		snprintf(name, len, "%s", info.name);
	close(fd);
	return ret;
}

/* bpf_fib_lookup refuses to forward from a device without forwarding on. */
int sysctl_forwarding(const char *dev, struct undo *u)
{
	static const char *const fams[] = { "ipv4", "ipv6" };
	char path[PATH_MAX], old[16] = "";
	size_t i;
	int fd, ret;
	ssize_t n;

	for (i = 0; i < ARRAY_SIZE(fams); i++) {
		snprintf(path, sizeof(path), "/proc/sys/net/%s/conf/%s/forwarding",
			 fams[i], dev);
		fd = open(path, O_RDWR);
		if (fd < 0) {
			if (errno == ENOENT && i == 1)
				continue; /* IPv6 disabled on this device */
			ret = -errno;
			goto fail;
		}
		n = read(fd, old, sizeof(old) - 1);
		old[n > 0 ? n : 0] = 0;
		if (atoi(old) == 1) {
			close(fd);
			continue;
		}
		ret = undo_sysctl(u, path, old);
		if (!ret && pwrite(fd, "1\n", 2, 0) != 2)
			ret = -errno;
		close(fd);
		if (ret)
			goto fail;
	}
	return 0;
fail:
	err("failed to enable forwarding (%s): %s", path, strerror(-ret));
	return ret;
}

/* Reused pins keep the size they were created with (e.g. --flows), and the
 * flags the kernel added: a devmap with 4-byte values reports
 * BPF_F_RDONLY_PROG, which libbpf 1.1 would otherwise call a mismatch. */
int map_sync_pins(struct bpf_object *obj)
{
	char path[PATH_MAX];
	struct bpf_map *map;

	bpf_object__for_each_map(map, obj) {
		struct bpf_map_info info = {};
		__u32 len = sizeof(info);
		int fd;

		if (bpf_map__is_internal(map))
			continue;
		pin_path(path, sizeof(path), "maps", NULL, bpf_map__name(map));
		fd = bpf_obj_get(path);
		if (fd < 0)
			continue;
		if (!bpf_obj_get_info_by_fd(fd, &info, &len)) {
			bpf_map__set_max_entries(map, info.max_entries);
			bpf_map__set_map_flags(map, info.map_flags);
		}
		close(fd);
	}
	return 0;
}

/* Whether the attachment pinned at pinpath still hooks the device that now
 * has ifindex: 1 yes, 0 no (the device was deleted, and maybe re-created
 * under the same name), -errno when the pin cannot be read. In the clsact
 * fallback the pinned program must be the one in the device's 0xcb filter. */
int pin_alive(const char *pinpath, int ifindex)
{
	struct bpf_link_info info = {};
	__u32 len = sizeof(info);
	int fd = bpf_obj_get(pinpath), ret;

	if (fd < 0)
		return -errno;
	if (!fd_is_link(fd)) {
		ret = ifindex > 0 && clsact_dir_of(ifindex, prog_fd_id(fd)) != 0;
	} else if (bpf_obj_get_info_by_fd(fd, &info, &len)) {
		ret = -errno;
	} else {
		/* XDP and tcx (type 11, not in the 6.1 headers) links both
		 * start their union member with the ifindex; the kernel sets
		 * it to 0 when the device goes away. Other link types carry
		 * no device. */
		ret = info.type == BPF_LINK_TYPE_XDP || info.type == 11 ?
			      ifindex > 0 && (int)info.xdp.ifindex == ifindex : 1;
	}
	close(fd);
	return ret;
}

/* The program of the attachment pinned at pinpath (a new fd), or -errno.
 * A pin left by a deleted device still holds its program: attaching that
 * to the re-created device skips loading and verifying it again. */
int pin_prog_fd(const char *pinpath)
{
	struct bpf_link_info info = {};
	__u32 len = sizeof(info);
	int fd = bpf_obj_get(pinpath), ret;

	if (fd < 0 || !fd_is_link(fd))
		return fd < 0 ? -errno : fd;
	ret = bpf_obj_get_info_by_fd(fd, &info, &len) ? -errno :
	      bpf_prog_get_fd_by_id(info.prog_id);
	if (ret == -1)
		ret = -errno;
	close(fd);
	return ret;
}

bool prog_is(int prog_fd, const char *name)
{
	struct bpf_prog_info info = {};
	__u32 len = sizeof(info);

	return !bpf_obj_get_info_by_fd(prog_fd, &info, &len) &&
	       !strncmp(info.name, name, sizeof(info.name) - 1);
}
