/* What every fuzz target shares: the libFuzzer entry point, a check that aborts, a NUL-ended copy. */
#pragma once

#include <stddef.h>
#include <stdint.h>

#include "shared/macro.h"

/* Called by libFuzzer, or by replay.c's main for each corpus file. Returns 0; a broken property aborts. */
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

_noreturn_ void fuzz_fail(const char *what, const char *file, int line);

/* An abort, not an assert(): it must fire in every build type, and both libFuzzer and ctest see it. */
#define fuzz_check(cond)                                                                                    \
        do {                                                                                                \
                if (!(cond))                                                                                \
                        fuzz_fail(#cond, __FILE__, __LINE__);                                               \
        } while (0)

/* The input as a C string: a copy ended by a NUL (the bytes after an inner NUL are simply not read). */
char *fuzz_strndup(const uint8_t *data, size_t size);

/* Both NULL, or the same strings in the same order. */
bool fuzz_strv_equal(char *const *a, char *const *b);
