/* What an ELF64 program asks of the loader, read from the file itself. */
#pragma once

#include <stdbool.h>

typedef struct elf_deps {
        char **needed; /* the DT_NEEDED entries, in order (strv, empty for a static program) */
        bool dynamic;  /* has a PT_DYNAMIC segment (a static-pie program has one, for its own relocations) */
        bool interp;   /* has a PT_INTERP: the kernel starts the dynamic loader before the program */
        bool pie;      /* ET_DYN: position-independent, loaded at a random address (ASLR) */
} elf_deps;

/* Reads the file at path. A malformed file fails the running cmocka test. */
void elf_deps_read(const char *path, elf_deps *ret);
void elf_deps_done(elf_deps *d);

/* The DT_NEEDED entries of the file at path (strv, empty for a static program). */
char **elf_needed(const char *path);
