// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/* The reverse program on a device that reaches backends (a tunnel, or an
 * Ethernet next hop): attached once per device, by port add, apply,
 * crbpf watch and failover alike. */
#include "tool.h"
#include <errno.h>
#include <limits.h>
#include <string.h>
#include <unistd.h>
#include <bpf/libbpf.h>
#include "edge.skel.h"

/* Reverse program on the device that reaches backends, as tun_<dev>. */
int tun_ensure(int oif, const char *oifname, bool l2, struct undo *u)
{
	char maps[PATH_MAX], path[PATH_MAX];
	LIBBPF_OPTS(bpf_object_open_opts, oo, .pin_root_path = maps);
	struct bpf_program *prog, *p;
	struct edge_bpf *skel = NULL;
	int fd, ret;

	pin_path(path, sizeof(path), "links", "tun", oifname);
	if (pin_exists(path)) {
		ret = pin_alive(path, oif);
		if (ret > 0)
			return 0;
		/* Unknown (out of fds, say) is not gone: the pin stays. */
		if (ret < 0 && ret != -ENOENT) {
			err("failed to check the reverse program of %s: %s",
			    oifname, strerror(-ret));
			return ret;
		}
		/* Its device was deleted (and re-created): the attachment
		 * went with it; the pin still holds the program. */
		info("%s was re-created; attaching its reverse program again", oifname);
		fd = pin_prog_fd(path);
		ret = pin_unlink(path);
		if (!ret && fd >= 0 && prog_is(fd, l2 ? "crbpf_rev_tc" : "crbpf_tun_tc")) {
			ret = tc_attach(fd, oif, path, u);
			close(fd);
			goto sysctls;
		}
		if (fd >= 0)
			close(fd);
		if (ret)
			return ret;
	}
	pin_path(maps, sizeof(maps), "maps", NULL, NULL);
	skel = edge_bpf__open_opts(&oo);
	if (!skel)
		return -errno;
	prog = l2 ? skel->progs.crbpf_rev_tc : skel->progs.crbpf_tun_tc;
	/* Verifying the other programs of the object would take seconds on a
	 * small VPS (crbpf watch attaches this while traffic waits). */
	bpf_object__for_each_program(p, skel->obj)
		bpf_program__set_autoload(p, p == prog);
	map_sync_pins(skel->obj);
	ret = edge_bpf__load(skel);
	if (ret) {
		err("failed to load the edge programs: %s", strerror(-ret));
		goto out;
	}
	ret = tc_attach(bpf_program__fd(prog), oif, path, u);
	edge_bpf__destroy(skel);
	skel = NULL;
sysctls:
	if (ret) {
		err("failed to attach the reverse program to %s: %s", oifname,
		    strerror(-ret));
		return ret;
	}
	/* Never the public NIC's sysctls: IPv6 forwarding there would turn
	 * off SLAAC on a real VPS. */
	if (edge_is_attached(oifname))
		info("%s is a public device; leaving its forwarding sysctls alone",
		     oifname);
	else
		ret = sysctl_forwarding(oifname, u);
out:
	edge_bpf__destroy(skel);
	return ret;
}
