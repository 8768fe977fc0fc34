// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
#define _GNU_SOURCE
#include <fcntl.h>
#include <stdlib.h>
#include <unistd.h>
#include "fuzz_common.h"

char fuzz_path[64];
static int fd = -1;

static void remove_file(void)
{
	unlink(fuzz_path);
}

int fuzz_put_file(const uint8_t *data, size_t size)
{
	if (fd < 0) {
		snprintf(fuzz_path, sizeof(fuzz_path), "/tmp/crbpf-fuzz.%d", (int)getpid());
		fd = open(fuzz_path, O_RDWR | O_CREAT | O_TRUNC, 0600);
		if (fd < 0)
			return -1;
		atexit(remove_file);
	}
	if (ftruncate(fd, 0) || pwrite(fd, data, size, 0) != (ssize_t)size)
		return -1;
	return 0;
}
