// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/* crbpf: forward public ports of a VPS through a WireGuard tunnel with
 * XDP/tc. Commands return 0, -errno or USAGE; exit 0 ok, 1 failed, 2 usage. */
#include "tool.h"
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#ifndef CAP_BPF
#define CAP_BPF 39
#endif

static const char usage_text[] =
	"Usage: crbpf [-v] COMMAND\n"
	"\n"
	"  crbpf attach IFACE [--mode auto|native|generic|tc] [--flows N]\n"
	"               [--timeout NAME=SECONDS[,NAME=SECONDS]...] [--mss auto|off|N]\n"
	"  crbpf detach IFACE\n"
	"  crbpf port add PROTO PORT[-LAST] BACKEND [--addr PUBLIC] [--dev IFACE] [--force] [--xdp-veth]\n"
	"                 [--allow PREFIX | --deny PREFIX | --allow-file FILE | --deny-file FILE]...\n"
	"                 [--limit-pps RATE[:BURST]] [--limit-flows RATE[:BURST]] [--limit-prefix V4LEN[,V6LEN]]\n"
	"                 [--backup ADDR[,ADDR]... [--probe { tcp | udp }:PORT] [--handshake-max SEC]]\n"
	"  crbpf port add PROTO all ADDR [--except PORT[,PORT|,FIRST-LAST]...]... [--addr PUBLIC] [--dev IFACE]\n"
	"                 [--allow PREFIX | --deny PREFIX | --allow-file FILE | --deny-file FILE]...\n"
	"                 [--limit-pps RATE[:BURST]] [--limit-flows RATE[:BURST]] [--limit-prefix V4LEN[,V6LEN]]\n"
	"  crbpf port del PROTO { PORT[-LAST] | all } [--addr PUBLIC] [--dev IFACE]\n"
	"  crbpf port list [--dev IFACE] [--json]\n"
	"  crbpf acl load { allow | deny } { global | PROTO { PORT | all } } [PREFIX]... [--file FILE]...\n"
	"                 [--addr PUBLIC] [--dev IFACE]\n"
	"  crbpf acl clear { allow | deny } { global | PROTO { PORT | all } } [--addr PUBLIC] [--dev IFACE]\n"
	"  crbpf acl list [--json]\n"
	"  crbpf stats [--dev IFACE] [--json | --prometheus [--output FILE]]\n"
	"  crbpf flows [--dev IFACE] [--json]\n"
	"  crbpf status [--json]\n"
	"  crbpf home attach TUNNEL [--serve IFACE]... [--table N] [--mark N]\n"
	"  crbpf home detach TUNNEL\n"
	"  crbpf watch [FILE]\n"
	"  crbpf down\n"
	"  crbpf doctor [--json]\n"
	"  crbpf apply [--check] [FILE]\n"
	"  crbpf config\n"
	"  crbpf help | --help | --version\n"
	"\n"
	"PROTO is tcp or udp. BACKEND is ADDR, ADDR:PORT, [ADDR6] or [ADDR6]:PORT.\n"
	"PROTO all forwards every port (kept) except --except ports and what a local\n"
	"socket serves. --addr PUBLIC: only packets to that address of the device.\n"
	"PREFIX is ADDR or ADDR/LEN (IPv4 or IPv6); a FILE holds one a line, # comments.\n"
	"Deny lists win over allow lists; a non-empty allow list admits only its\n"
	"prefixes. Lists apply to mapped traffic only, global ones to every mapping.\n"
	"--limit-pps and --limit-flows: packets and new flows (TCP SYN, UDP tuple not\n"
	"yet seen) per second per source, RATE 1-10000000, BURST (default RATE) at\n"
	"once; off removes it. Sources by --limit-prefix (default 32,64). The excess\n"
	"is dropped and counted (crbpf stats).\n"
	"Timeout NAMEs: tcp, tcp-syn, tcp-fin, tcp-close, udp, udp-stream.\n"
	"apply makes the live state equal to FILE (default /etc/crbpf/crbpf.conf,\n"
	"see crbpf.conf(5)); config prints the live state in that format.\n"
	"Pins live under $CRBPF_PIN_ROOT (default " CRBPF_PIN_ROOT_DEFAULT ").\n";

void usage(FILE *f)
{
	fputs(usage_text, f);
}

static const struct {
	const char *name;
	int (*fn)(int argc, char **argv);
} cmds[] = {
	{ "attach", cmd_attach },
	{ "detach", cmd_detach },
	{ "port", cmd_port },
	{ "acl", cmd_acl },
	{ "stats", cmd_stats },
	{ "flows", cmd_flows },
	{ "status", cmd_status },
	{ "home", cmd_home },
	{ "watch", cmd_watch },
	{ "down", cmd_down },
	{ "doctor", cmd_doctor },
	{ "apply", cmd_apply },
	{ "config", cmd_config },
};

int main(int argc, char **argv)
{
	size_t i;
	int ret;

	argc--;
	argv++;
	while (argc && (!strcmp(argv[0], "-v") || !strcmp(argv[0], "--verbose"))) {
		verbose++;
		argc--;
		argv++;
	}
	log_setup_libbpf();
	/* a rollback may put crbpf_local back: the datapath's copy is stale */
	undo_map_restored = cache_gen_bump;
	if (!argc) {
		usage(stderr);
		return 2;
	}
	if (!strcmp(argv[0], "help") || !strcmp(argv[0], "--help") ||
	    !strcmp(argv[0], "-h")) {
		usage(stdout);
		return 0;
	}
	if (!strcmp(argv[0], "--version")) {
		printf("crbpf " CRBPF_VERSION "\n");
		return 0;
	}
	for (i = 0; i < ARRAY_SIZE(cmds); i++) {
		if (strcmp(argv[0], cmds[i].name))
			continue;
		ret = cmds[i].fn(argc, argv);
		return ret == USAGE ? 2 : ret ? 1 : 0;
	}
	err("unknown command '%s' (see crbpf help)", argv[0]);
	return 2;
}
