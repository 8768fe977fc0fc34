// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/* Pieces of `port add/del/list` for public addresses (--addr) and the
 * forward-everything mode (`all`, --except): parsing and the address check
 * (their rules are in model.c), and the upgrade of maps pinned by an older
 * crbpf. */
#include "tool.h"
#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <limits.h>
#include <string.h>
#include <unistd.h>
#include <bpf/bpf.h>

/* PORT[,PORT|,FIRST-LAST]... appended to x; the same port twice is fine. */
int parse_except(const char *s, struct except_list *x)
{
	char buf[64];
	const char *p = s, *comma;
	size_t len;

	if (!*s)
		return usage_err("--except needs ports (PORT[,PORT|,FIRST-LAST]...)");
	for (;;) {
		comma = strchr(p, ',');
		len = comma ? (size_t)(comma - p) : strlen(p);
		if (!len || len >= sizeof(buf))
			return usage_err("invalid --except list '%s' (expected PORT[,PORT|,FIRST-LAST]...)", s);
		memcpy(buf, p, len);
		buf[len] = 0;
		if (x->n == (int)ARRAY_SIZE(x->first))
			return usage_err("--except: more than %zu ports or ranges",
					 ARRAY_SIZE(x->first));
		if (parse_port_range(buf, &x->first[x->n], &x->last[x->n]))
			return USAGE;
		x->n++;
		if (!comma)
			return 0;
		p = comma + 1;
	}
}

/* --addr: a plain IPv4 or IPv6 address (no brackets, no port). */
int parse_public_addr(const char *s, struct addr *a)
{
	memset(a, 0, sizeof(*a));
	if (inet_pton(AF_INET, s, a->a) == 1) {
		a->family = CRBPF_V4;
		return 0;
	}
	if (inet_pton(AF_INET6, s, a->a) == 1) {
		a->family = CRBPF_V6;
		return 0;
	}
	return usage_err("invalid --addr '%s' (expected an IPv4 or IPv6 address)", s);
}

/* 1 when a is an address of ifindex, 0 when not, or -errno. */
int addr_on_dev(int ifindex, const struct addr *a)
{
	struct nl_addr *v;
	int i, n, ret;

	ret = nl_addrs(ifindex, af_of(a->family), &v, &n);
	if (ret)
		return ret;
	for (ret = 0, i = 0; i < n && !ret; i++)
		ret = v[i].addr.family == a->family &&
		      !memcmp(v[i].addr.a, a->a, sizeof(a->a));
	free(v);
	return ret;
}

/*
 * Upgrade from a crbpf whose maps predate public addresses in the keys
 * (crbpf_ports and crbpf_mstats keyed by 8 bytes, 24-byte crbpf_rev values,
 * crbpf_local holding a bare ifindex) or mapping ids (24-byte crbpf_ports
 * values, crbpf_mstats a hash by port key): the new programs cannot share
 * those maps. Their pins are set aside before the load, the mappings and
 * local addresses are rewritten into the new maps after it (each range gets
 * a mapping id; per-mapping counters start again), and on failure the old
 * pins come back.
 */
static const struct {
	const char *name;
	__u32 ksz, vsz;
} layouts[MAPS_UPGRADE_N] = {
	{ "crbpf_ports", sizeof(struct crbpf_port_key), sizeof(struct crbpf_backend) },
	{ "crbpf_mstats", sizeof(__u32), sizeof(struct crbpf_mstats) },
	{ "crbpf_rev", sizeof(struct crbpf_rev_key), sizeof(struct crbpf_rev) },
	{ "crbpf_local", sizeof(struct crbpf_addr_key), sizeof(struct crbpf_local) },
};

/* n old 24-byte backends at old as crbpf_backend, without an id yet. */
static struct crbpf_backend *backends_from_old(const void *old, int n)
{
	struct crbpf_backend *v = calloc(n + 1, sizeof(*v));
	int j;

	for (j = 0; v && j < n; j++)
		memcpy(&v[j], (const char *)old + j * OLD_BACKEND_SIZE,
		       OLD_BACKEND_SIZE);
	return v;
}

int maps_upgrade_prepare(struct maps_upgrade *m)
{
	struct old_port_key *ok = NULL;
	char path[PATH_MAX];
	void *ov = NULL;
	int i, fd, n;

	memset(m, 0, sizeof(*m));
	for (i = 0; i < MAPS_UPGRADE_N; i++)
		m->fd[i] = -1;
	for (i = 0; i < MAPS_UPGRADE_N; i++) {
		struct bpf_map_info info = {};
		__u32 len = sizeof(info);

		pin_path(path, sizeof(path), "maps", NULL, layouts[i].name);
		fd = bpf_obj_get(path);
		if (fd < 0)
			continue;
		if (bpf_obj_get_info_by_fd(fd, &info, &len) ||
		    (info.key_size == layouts[i].ksz &&
		     info.value_size == layouts[i].vsz)) {
			close(fd);
			continue;
		}
		if (i == 0 && (info.key_size == sizeof(*ok) ||
			       info.key_size == sizeof(struct crbpf_port_key)) &&
		    info.value_size == OLD_BACKEND_SIZE) {
			n = map_dump(fd, info.key_size, OLD_BACKEND_SIZE,
				     (void **)&ok, &ov);
			if (n < 0) {
				close(fd);
				return n;
			}
			m->port_vals = backends_from_old(ov, n);
			if (info.key_size == sizeof(struct crbpf_port_key)) {
				m->port_keys = (struct crbpf_port_key *)ok;
				ok = NULL;
			} else {
				m->port_keys = calloc(n + 1, sizeof(*m->port_keys));
				if (m->port_keys)
					port_keys_from_old(ok, n, m->port_keys);
			}
			free(ok);
			free(ov);
			ov = NULL;
			if (!m->port_keys || !m->port_vals) {
				close(fd);
				return -ENOMEM;
			}
			m->nports = n;
		}
		if (i == 3 && info.key_size == sizeof(struct crbpf_addr_key) &&
		    info.value_size == sizeof(__u32)) {
			n = map_dump(fd, sizeof(struct crbpf_addr_key), sizeof(__u32),
				     (void **)&m->local_keys, (void **)&m->local_ifs);
			m->nlocal = n > 0 ? n : 0;
		}
		if (!m->warned)
			warn("maps pinned by an older crbpf: converting them");
		if (i == 1)
			warn("per-mapping counters (crbpf stats) start again from 0");
		m->warned = true;
		m->fd[i] = fd;
		if (pin_unlink(path))
			return -EIO;
	}
	return 0;
}

/* Datagram entries of fragments held a public port where the mapping id
 * is now: gone, their fragments follow the address pairs (30 s at most). */
static void frags_clear(void)
{
	struct crbpf_frag_key k;
	int fd = pin_map_open_quiet("crbpf_frags");

	if (fd < 0)
		return;
	while (!bpf_map_get_next_key(fd, NULL, &k) &&
	       !bpf_map_delete_elem(fd, &k))
		;
	close(fd);
}

/* After the load: the old mappings and addresses into the new maps. */
int maps_upgrade_finish(struct maps_upgrade *m, struct undo *u)
{
	int fd, i, ret = 0;

	if (m->nlocal) {
		fd = pin_map_open("crbpf_local");
		if (fd < 0)
			return fd;
		for (i = 0; i < m->nlocal && !ret; i++) {
			struct crbpf_local v = { .ifindex = m->local_ifs[i] };

			ret = undo_map(u, fd, &m->local_keys[i], sizeof(m->local_keys[i]),
				       sizeof(v));
			if (!ret && bpf_map_update_elem(fd, &m->local_keys[i], &v,
							BPF_NOEXIST) &&
			    errno != EEXIST)
				ret = -errno;
		}
		close(fd);
	}
	if (!ret && m->nports) {
		ret = ports_restore(m->port_keys, m->port_vals, m->nports, u);
		frags_clear();
	}
	if (ret)
		err("failed to convert the old maps: %s", strerror(-ret));
	return ret;
}

/* Attach failed: the old maps get their pins back. */
void maps_upgrade_abort(struct maps_upgrade *m)
{
	char path[PATH_MAX];
	int i;

	for (i = 0; i < MAPS_UPGRADE_N; i++) {
		if (m->fd[i] < 0)
			continue;
		pin_path(path, sizeof(path), "maps", NULL, layouts[i].name);
		unlink(path);
		if (bpf_obj_pin(m->fd[i], path))
			warn("could not restore pin %s: %s", path, strerror(errno));
	}
}

void maps_upgrade_free(struct maps_upgrade *m)
{
	int i;

	for (i = 0; i < MAPS_UPGRADE_N; i++)
		if (m->fd[i] >= 0)
			close(m->fd[i]);
	free(m->port_keys);
	free(m->port_vals);
	free(m->local_keys);
	free(m->local_ifs);
	memset(m, 0, sizeof(*m));
}
