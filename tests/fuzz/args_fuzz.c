// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * libFuzzer target: the command line parsers of the tool, which need no
 * kernel and no root. The first byte of an input picks the parser, the rest
 * is split into words at NUL or newline bytes (argv as the shell gives it):
 *
 *   0 port add words (port_args_parse + port_add_spec)   1 port del/list
 *   2 home attach words     3 --timeout    4 --mss        5 --except
 *   6 BACKEND               7 --addr       8 PORT[-LAST]
 *
 * Besides ASan/UBSan, what a parser accepts is checked against the manual:
 * ports 1-65535, ranges not reversed, a backend range below 65536, a PORT
 * range accepted exactly when a reference reading of "PORT[-LAST]" does.
 * Built by `make fuzz-bins` (build/fuzz/args_fuzz).
 */
#include <netinet/in.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "tool.h"

#define MAX_WORDS 24

static void check(bool ok, const char *what)
{
	if (!ok) {
		printf("args_fuzz: %s\n", what);
		fflush(stdout);
		abort();
	}
}

/* "PORT[-LAST]" read from the manual: decimal digits only, 1-65535,
 * LAST not below PORT. */
static bool ref_range(const char *s, unsigned long *f, unsigned long *l)
{
	unsigned long v[2] = { 0, 0 };
	int k = 0, digits = 0;

	for (; *s; s++) {
		if (*s == '-' && k == 0 && digits) {
			k = 1;
			digits = 0;
			continue;
		}
		if (*s < '0' || *s > '9' || ++digits > 5)
			return false;
		v[k] = v[k] * 10 + (unsigned long)(*s - '0');
	}
	if (!digits)
		return false;
	if (!k)
		v[1] = v[0];
	*f = v[0];
	*l = v[1];
	return v[0] >= 1 && v[1] <= 65535 && v[0] <= v[1];
}

static void except_ok(const struct except_list *x)
{
	int i;

	check(x->n >= 0 && x->n <= (int)ARRAY_SIZE(x->first), "--except count out of bounds");
	for (i = 0; i < x->n; i++)
		check(x->first[i] >= 1 && x->first[i] <= x->last[i],
		      "--except range reversed or port 0");
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *buf, *argv[MAX_WORDS + 1];
	int argc = 0;
	size_t i, start;
	__u8 sel;

	if (size < 1 || size > 4096)
		return 0;
	sel = data[0] % 9;
	buf = malloc(size);
	if (!buf)
		return 0;
	memcpy(buf, data + 1, size - 1);
	buf[size - 1] = 0;
	for (i = 0, start = 0; i < size; i++) {
		if (i < size - 1 && buf[i] != '\n' && buf[i] != 0)
			continue;
		buf[i] = 0;
		if (argc < MAX_WORDS)
			argv[argc++] = buf + start;
		start = i + 1;
	}
	argv[argc] = NULL;

	switch (sel) {
	case 0:
	case 1: {
		struct port_args a;
		struct port_spec s;

		if (port_args_parse(argc, argv, &a, sel == 0, sel == 1))
			break;
		check(a.npos <= (int)ARRAY_SIZE(a.pos), "more positional words than pos[]");
		except_ok(&a.except);
		acl_args_free(&a.acl);
		if (sel != 0 || port_add_spec(&a, &s))
			break;
		check(s.proto == IPPROTO_TCP || s.proto == IPPROTO_UDP, "protocol");
		check(s.be.family == CRBPF_V4 || s.be.family == CRBPF_V6, "backend family");
		if (s.all) {
			check(s.first == CRBPF_PORT_ALL && s.last == CRBPF_PORT_ALL && !s.bport,
			      "all with ports");
		} else {
			check(s.first >= 1 && s.first <= s.last, "public range");
			check(!s.bport || s.bport + (unsigned int)(s.last - s.first) <= 65535,
			      "backend range past 65535");
		}
		check(!a.addr || s.paddr.family == s.be.family, "--addr family");
		break;
	}
	case 2: {
		struct home_args h;

		if (parse_home_attach(argc, argv, &h))
			break;
		check(h.tunnel && h.nserve <= HOME_MAX_SERVE && h.table && h.mark,
		      "home attach arguments");
		check(h.table < 253 || h.table > 255, "--table names a reserved table");
		break;
	}
	case 3: {
		struct crbpf_timeouts t = {};
		__u32 set = 0;

		timeouts_parse(argv[0], &t, &set);
		break;
	}
	case 4: {
		struct mss_opt m;

		if (!parse_mss(argv[0], &m) && m.cfg.mode == CRBPF_MSS_FIXED)
			check(m.cfg.mss >= 536 && m.cfg.mss <= 65495, "--mss out of range");
		break;
	}
	case 5: {
		struct except_list x = {};

		parse_except(argv[0], &x);
		except_ok(&x);
		break;
	}
	case 6: {
		struct addr a;
		__u16 port = 0;

		if (!parse_backend(argv[0], &a, &port))
			check(a.family == CRBPF_V4 || a.family == CRBPF_V6, "backend family");
		break;
	}
	case 7: {
		struct addr a;

		if (!parse_public_addr(argv[0], &a))
			check(a.family == CRBPF_V4 || a.family == CRBPF_V6, "--addr family");
		break;
	}
	default: {
		__u16 f = 0, l = 0;
		unsigned long rf = 0, rl = 0;
		bool ok = !parse_port_range(argv[0], &f, &l), rok = ref_range(argv[0], &rf, &rl);

		check(ok == rok, ok ? "port range accepted that the manual's form refuses" :
				      "port range refused that the manual's form takes");
		check(!ok || (f == rf && l == rl), "port range read wrong");
		break;
	}
	}
	free(buf);
	return 0;
}
