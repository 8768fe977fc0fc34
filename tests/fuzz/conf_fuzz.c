// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * libFuzzer target: the config file parser, crbpf.conf(5). Any input is
 * read by conf_parse() as a file (no kernel, no root). One that parses is
 * printed back by conf_write(), and that canonical form must parse again
 * and print the same: `crbpf config` output is a file `crbpf apply` takes.
 * Built with ASan/UBSan by `make fuzz-bins` (build/fuzz/conf_fuzz).
 */
#define _GNU_SOURCE
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "conf.h"
#include "fuzz_common.h"

static char *print(const struct conf *c, size_t *len)
{
	char *buf = NULL;
	FILE *f = open_memstream(&buf, len);

	if (!f)
		abort();
	conf_write(f, c);
	fclose(f);
	return buf;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct conf c, again;
	char *p1, *p2;
	size_t l1, l2;

	if (fuzz_put_file(data, size))
		return 0;
	if (conf_parse(fuzz_path, &c)) {
		conf_free(&c);
		return 0;
	}
	p1 = print(&c, &l1);
	conf_free(&c);
	if (fuzz_put_file((const uint8_t *)p1, l1))
		abort();
	if (conf_parse(fuzz_path, &again)) {
		fprintf(stdout, "conf_fuzz: conf_write() output does not parse:\n%s", p1);
		fflush(stdout);
		abort();
	}
	p2 = print(&again, &l2);
	conf_free(&again);
	if (l1 != l2 || memcmp(p1, p2, l1)) {
		fprintf(stdout, "conf_fuzz: conf_write() is not stable:\n%s---\n%s", p1, p2);
		fflush(stdout);
		abort();
	}
	free(p1);
	free(p2);
	return 0;
}
