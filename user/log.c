// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/* Messages: one line each, prefixed "crbpf: ", on stderr. libbpf is quiet
 * unless -v, because its warnings name internals the user cannot act on. */
#include "tool.h"
#include <stdarg.h>
#include <stdio.h>
#include <bpf/libbpf.h>

int verbose;
static char where[1100];

/* Messages name FILE:LINE instead of "crbpf:" while a config file is read
 * (NULL: back to normal), so the shared parsers' errors point at the line. */
void log_where(const char *file, int line)
{
	if (file)
		snprintf(where, sizeof(where), "%s:%d: ", file, line);
	else
		where[0] = 0;
}

static void vmsg(const char *prefix, const char *fmt, va_list ap)
{
	fprintf(stderr, "%s%s", where[0] ? where : "crbpf: ", prefix);
	vfprintf(stderr, fmt, ap);
	fputc('\n', stderr);
}

void err(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vmsg("", fmt, ap);
	va_end(ap);
}

void warn(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vmsg("warning: ", fmt, ap);
	va_end(ap);
}

void info(const char *fmt, ...)
{
	va_list ap;

	if (!verbose)
		return;
	va_start(ap, fmt);
	vmsg("", fmt, ap);
	va_end(ap);
}

/* What crbpf watch did: always shown, it runs unattended. */
void notice(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vmsg("", fmt, ap);
	va_end(ap);
}

int usage_err(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vmsg("", fmt, ap);
	va_end(ap);
	return USAGE;
}

static int libbpf_print(enum libbpf_print_level level, const char *fmt,
			va_list ap)
{
	if (!verbose || (level == LIBBPF_DEBUG && verbose < 2))
		return 0;
	return vfprintf(stderr, fmt, ap);
}

void log_setup_libbpf(void)
{
	libbpf_set_print(libbpf_print);
}
