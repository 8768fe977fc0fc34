// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/* crbpf status: what is attached where, edge and home side. */
#include "tool.h"
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>
#include <bpf/bpf.h>

struct status_ctx {
	FILE *f;
	bool json;
	int n;
};

static void prog_desc(const char *path, __u32 *id, char *name, size_t len)
{
	bool is_link;

	*id = 0;
	snprintf(name, len, "-");
	if (link_prog_id(path, id, &is_link))
		return;
	prog_name_by_id(*id, name, len);
}

static int status_edge_cb(const char *dev, const char *path, void *data)
{
	struct status_ctx *s = data;
	char xpath[PATH_MAX], name[64];
	const char *mode = "tc";
	__u32 tc_id, xdp_id = 0;
	int ifindex = 0;

	resolve_iface(dev, &ifindex);
	prog_desc(path, &tc_id, name, sizeof(name));
	pin_path(xpath, sizeof(xpath), "links", "xdp", dev);
	if (pin_exists(xpath)) {
		prog_desc(xpath, &xdp_id, name, sizeof(name));
		mode = xdp_current_mode(ifindex) == MODE_NATIVE ? "native" :
		       xdp_current_mode(ifindex) == MODE_GENERIC ? "generic" : "xdp";
	}
	if (!ifindex)
		mode = "gone";
	if (s->json) {
		fprintf(s->f, "%s{\"dev\":", s->n ? "," : "");
		json_str(s->f, dev);
		fprintf(s->f, ",\"ifindex\":%d,\"mode\":\"%s\",\"xdp_prog_id\":%u,\"tc_prog_id\":%u,\"tc_attach\":\"%s\"}",
			ifindex, mode, xdp_id, tc_id, tc_pin_kind(path));
	} else {
		fprintf(s->f, "  %-12s mode %-8s xdp prog %-6u tc prog %u (%s)\n", dev,
			mode, xdp_id, tc_id, tc_pin_kind(path));
	}
	s->n++;
	return 0;
}

static int status_tun_cb(const char *dev, const char *path, void *data)
{
	struct status_ctx *s = data;
	char name[64];
	__u32 id;

	prog_desc(path, &id, name, sizeof(name));
	if (s->json) {
		fprintf(s->f, "%s{\"dev\":", s->n ? "," : "");
		json_str(s->f, dev);
		fprintf(s->f, ",\"prog\":\"%s\",\"prog_id\":%u,\"tc_attach\":\"%s\"}",
			name, id, tc_pin_kind(path));
	} else {
		fprintf(s->f, "  %-12s %s prog %u (%s)\n", dev, name, id, tc_pin_kind(path));
	}
	s->n++;
	return 0;
}

static void mem_text_cb(const char *name, __u64 bytes, void *data)
{
	(void)data;
	if (verbose)
		printf("  %-16s %8.2f MiB\n", name, bytes / 1048576.0);
}

static void mem_json_cb(const char *name, __u64 bytes, void *data)
{
	int *n = data;

	printf("%s{\"name\":", (*n)++ ? "," : "");
	json_str(stdout, name);
	printf(",\"memlock\":%llu}", (unsigned long long)bytes);
}

/* crbpf_edge_xdp's next-hop cache (nexthop.c): "on", "off" (policy rules
 * other than the kernel's) or NULL (no edge attached). */
static const char *nh_state(__u32 *gen)
{
	int fd = pin_map_open_quiet("crbpf_nhcfg");
	struct crbpf_nhcfg cfg = {};
	__u32 key = 0;

	if (fd < 0)
		return NULL;
	if (bpf_map_lookup_elem(fd, &key, &cfg))
		cfg.on = 0;
	close(fd);
	*gen = cfg.gen;
	return cfg.on ? "on" : "off";
}

int cmd_status(int argc, char **argv)
{
	const char *nh;
	__u32 nh_gen = 0;
	struct status_ctx s = { .f = stdout };
	__u64 sum;
	int ret;

	if (argc == 2 && !strcmp(argv[1], "--json"))
		s.json = true;
	else if (argc != 1)
		return usage_err("usage: crbpf status [--json]");
	ret = tool_prepare_read();
	if (ret)
		return ret;
	if (s.json) {
		printf("{\"pin_root\":");
		json_str(stdout, pin_root);
		printf(",\"kernel\":");
		probe_status(stdout, true);
		printf(",\"edge\":[");
		pin_iter("edge", status_edge_cb, &s);
		nh = nh_state(&nh_gen);
		printf("],\"nh_cache\":\"%s\",\"nh_gen\":%u,\"tunnels\":[",
		       nh ? nh : "none", nh_gen);
		s.n = 0;
		pin_iter("tun", status_tun_cb, &s);
		printf("],\"lists\":");
		acl_lists_print(stdout, true, "");
		printf(",");
		fo_status_print(stdout, true);
		printf(",\"home\":");
		home_status_json(stdout);
		printf(",\"maps\":[");
		s.n = 0;
		sum = layout_memlock(mem_json_cb, &s.n);
		printf("],\"maps_memlock\":%llu}\n", (unsigned long long)sum);
		return 0;
	}
	probe_status(stdout, false);
	printf("pin root %s\n", pin_root);
	/* What the kernel charges for crbpf's maps (memlock of each). */
	sum = layout_memlock(NULL, NULL);
	printf("map memory %.2f MiB%s\n", sum / 1048576.0,
	       verbose ? ":" : " (crbpf -v status: per map)");
	layout_memlock(mem_text_cb, NULL);
	printf("edge:\n");
	pin_iter("edge", status_edge_cb, &s);
	if (!s.n)
		printf("  (none)\n");
	nh = nh_state(&nh_gen);
	if (nh)
		printf("XDP next-hop cache: %s\n",
		       strcmp(nh, "on") ? "off (policy rules other than the kernel's: every packet looks the FIB up)" :
					  "on");
	printf("tunnels:\n");
	s.n = 0;
	pin_iter("tun", status_tun_cb, &s);
	if (!s.n)
		printf("  (none)\n");
	printf("lists:\n");
	acl_lists_print(stdout, false, "  ");
	fo_status_print(stdout, false);
	printf("home:\n");
	home_status_text(stdout);
	return 0;
}
