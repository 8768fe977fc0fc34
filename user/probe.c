// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/* Run-time probes of the kernel mechanisms crbpf chooses between, so the
 * choice follows what the kernel does, not its version number; and the
 * "kernel:" lines of `crbpf status`. */
#include "tool.h"
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>
#include <sys/utsname.h>
#include <bpf/bpf.h>
#include <linux/bpf.h>

/* An ifindex no device has: the attach fails after the attach type was
 * accepted (ENODEV) or before, because the type is unknown (EINVAL). */
#define PROBE_IFINDEX 0x7ffffff0

static int probe_prog(enum bpf_prog_type type)
{
	/* r0 = -1 (TC_ACT_UNSPEC; XDP would never run it); exit */
	struct bpf_insn insns[] = {
		{ .code = BPF_ALU64 | BPF_MOV | BPF_K, .dst_reg = BPF_REG_0, .imm = -1 },
		{ .code = BPF_JMP | BPF_EXIT },
	};

	return bpf_prog_load(type, "crbpf_probe", "GPL", insns, ARRAY_SIZE(insns), NULL);
}

/* 1: the attach type exists, 0: it does not, -errno: could not tell. */
static int probe_link_type(enum bpf_prog_type ptype, int attach_type)
{
	int pfd, lfd, ret;

	pfd = probe_prog(ptype);
	if (pfd < 0)
		return -errno;
	lfd = bpf_link_create(pfd, PROBE_IFINDEX, attach_type, NULL);
	ret = lfd >= 0 || errno == ENODEV ? 1 : errno == EINVAL ? 0 : -errno;
	if (lfd >= 0)
		close(lfd);
	close(pfd);
	return ret;
}

/* tcx (6.6+): tc programs as links; without it crbpf uses clsact filters. */
int probe_tcx(void)
{
	static int have = -2;

	if (have == -2)
		have = probe_link_type(BPF_PROG_TYPE_SCHED_CLS, BPF_TCX_INGRESS);
	return have;
}

/* 1: XDP programs may call bpf_xdp_adjust_meta (the hand-off's metadata,
 * bpf/handoff.h), 0: the kernel refuses the helper, -errno: could not tell.
 * The probe: r2 = -8; call bpf_xdp_adjust_meta (r1 is the context at
 * entry); r0 = XDP_PASS. */
int probe_xdp_meta(void)
{
	static int have = -2;
	struct bpf_insn insns[] = {
		{ .code = BPF_ALU64 | BPF_MOV | BPF_K, .dst_reg = BPF_REG_2, .imm = -8 },
		{ .code = BPF_JMP | BPF_CALL, .imm = BPF_FUNC_xdp_adjust_meta },
		{ .code = BPF_ALU64 | BPF_MOV | BPF_K, .dst_reg = BPF_REG_0, .imm = XDP_PASS },
		{ .code = BPF_JMP | BPF_EXIT },
	};
	int fd;

	if (have != -2)
		return have;
	fd = bpf_prog_load(BPF_PROG_TYPE_XDP, "crbpf_probe", "GPL", insns,
			   ARRAY_SIZE(insns), NULL);
	if (fd >= 0) {
		close(fd);
		have = 1;
	} else {
		/* EINVAL: the verifier refused the helper; anything else
		 * (EPERM: no BPF at all) says nothing about it */
		have = errno == EINVAL ? 0 : -errno;
	}
	return have;
}

static const char *yesno(int v)
{
	return v > 0 ? "yes" : v == 0 ? "no" : "unknown";
}

void probe_status(FILE *f, bool json)
{
	struct utsname u;
	int tcx = probe_tcx(), meta = probe_xdp_meta();

	if (uname(&u))
		snprintf(u.release, sizeof(u.release), "?");
	if (json) {
		fprintf(f, "{\"release\":");
		json_str(f, u.release);
		fprintf(f, ",\"tcx\":%s,\"tc_attach\":\"%s\",\"xdp_meta\":%s}",
			tcx > 0 ? "true" : "false", tcx > 0 ? "tcx" : "clsact",
			meta > 0 ? "true" : "false");
		return;
	}
	fprintf(f, "kernel %s: tcx %s, XDP metadata %s\n", u.release, yesno(tcx),
		yesno(meta));
	fprintf(f, "  tc programs attach through %s\n",
		tcx > 0 ? "tcx links" : "clsact filters (handle/prio 0xcb)");
	fprintf(f, "  the XDP -> tc hand-off carries its target in %s\n",
		meta > 0 ? "XDP metadata and the frame's marker" :
			   "the frame's marker");
}

/* How a pinned tc attachment was made: "tcx" link or "clsact" program. */
const char *tc_pin_kind(const char *pinpath)
{
	__u32 id;
	bool is_link;

	if (link_prog_id(pinpath, &id, &is_link))
		return "-";
	return is_link ? "tcx" : "clsact";
}
