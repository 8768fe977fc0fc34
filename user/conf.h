/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/* The config file, crbpf.conf(5): INI like wg-quick, [Edge] and [Home]
 * sections. conf_parse() reads and checks all of it without the kernel (no
 * device need exist); conf_write() prints one back in canonical form. */
#ifndef CRBPF_CONF_H
#define CRBPF_CONF_H

#include "tool.h"

#define CRBPF_CONF_DEFAULT "/etc/crbpf/crbpf.conf"
/* Fields of struct crbpf_timeouts; timeout_name() has a name for each. */
#define CONF_TIMEOUTS 6
#define CONF_TIMEOUTS_ALL ((1U << CONF_TIMEOUTS) - 1)

/* One Forward line: the words of `port add` after "port add", checked. */
struct conf_forward {
	int line;
	char *text; /* the words, NUL-separated; args points into it */
	char **argv; /* NULL-terminated; lists make lines of many words */
	struct port_args args;
	struct port_spec spec;
};

struct conf_edge {
	int line;
	char dev[IF_NAMESIZE];
	enum xdp_mode mode;
	struct mss_opt mss; /* set = false: auto, the default */
	struct conf_forward *fwd;
	int nfwd;
	int mode_line, mss_line; /* 0: not given */
};

struct conf_home {
	int line;
	char tunnel[IF_NAMESIZE];
	char serve[HOME_MAX_SERVE][IF_NAMESIZE];
	int nserve;
	__u32 table, mark;
	int table_line, mark_line;
};

/* Flows and Timeout describe the one flow table all edges share: given in
 * several [Edge] sections, they must agree. */
struct conf {
	struct conf_edge *edge;
	int nedge;
	struct conf_home *home;
	int nhome;
	__u32 flows; /* 0: the default */
	int flows_line;
	struct crbpf_timeouts to; /* 0: the default */
	__u32 to_set;
	int to_line[CONF_TIMEOUTS];
	/* Allow, Deny, AllowFile, DenyFile of any [Edge]: the global lists
	 * (every mapping of every edge); not given: no such list */
	struct acl_args acl;
};

int conf_parse(const char *path, struct conf *c);
void conf_free(struct conf *c);
int conf_forward_set(struct conf_forward *f, const char *words);
void conf_write(FILE *f, const struct conf *c);

#endif /* CRBPF_CONF_H */
