/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/* Shared by the libFuzzer targets: the input as a file, for parsers that
 * read one. */
#ifndef CRBPF_FUZZ_COMMON_H
#define CRBPF_FUZZ_COMMON_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

extern char fuzz_path[64];
/* Replaces the contents of fuzz_path with data: 0 or -1. */
int fuzz_put_file(const uint8_t *data, size_t size);

#endif
