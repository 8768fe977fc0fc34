// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/* Temporary: replaced by user/apply.c (config files). */
#include "tool.h"
#include <errno.h>

int apply_file(const char *path, bool check_only)
{
	(void)check_only;
	err("%s: config files are not supported yet", path);
	return USAGE;
}
