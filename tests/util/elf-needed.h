/* What a dynamically linked ELF64 program asks the loader for, read from the file itself. */
#pragma once

/* The DT_NEEDED entries of the file at path (strv, empty for a static program). A malformed file fails
 * the running cmocka test. */
char **elf_needed(const char *path);
