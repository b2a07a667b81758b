/* The loader's view of an ELF64 file: the program headers (PT_INTERP, PT_DYNAMIC), the dynamic section
 * found through them, and its string table found through the PT_LOAD segments. */
#include <elf.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "elf-needed.h"
#include "shared/fileio.h"
#include "shared/macro.h"
#include "shared/strv.h"

static bool elf_range_ok(size_t size, uint64_t off, uint64_t len)
{
        return off <= size && len <= size - off;
}

static const Elf64_Phdr *elf_phdr(const char *img, unsigned i)
{
        const Elf64_Ehdr *eh = (const Elf64_Ehdr *)img;

        return (const Elf64_Phdr *)(img + eh->e_phoff + (size_t)i * eh->e_phentsize);
}

/* File offset of a virtual address, through the PT_LOAD segments. */
static bool elf_vaddr_to_off(const char *img, size_t size, uint64_t vaddr, uint64_t *ret)
{
        const Elf64_Ehdr *eh = (const Elf64_Ehdr *)img;

        for (unsigned i = 0; i < eh->e_phnum; i++) {
                const Elf64_Phdr *ph = elf_phdr(img, i);

                if (ph->p_type == PT_LOAD && vaddr >= ph->p_vaddr && vaddr - ph->p_vaddr < ph->p_filesz) {
                        *ret = ph->p_offset + (vaddr - ph->p_vaddr);
                        return elf_range_ok(size, *ret, 1);
                }
        }
        return false;
}

/* The first program header of this type, or NULL. */
static const Elf64_Phdr *elf_segment(const char *img, size_t size, uint32_t type)
{
        const Elf64_Ehdr *eh = (const Elf64_Ehdr *)img;

        for (unsigned i = 0; i < eh->e_phnum; i++) {
                const Elf64_Phdr *ph = elf_phdr(img, i);

                if (ph->p_type == type) {
                        assert_true(elf_range_ok(size, ph->p_offset, ph->p_filesz));
                        return ph;
                }
        }
        return NULL;
}

static void elf_header_check(const char *img, size_t size)
{
        const Elf64_Ehdr *eh = (const Elf64_Ehdr *)img;

        assert_true(size >= sizeof(*eh));
        assert_memory_equal(eh->e_ident, ELFMAG, SELFMAG);
        assert_int_equal(eh->e_ident[EI_CLASS], ELFCLASS64);
        assert_true(eh->e_phentsize >= sizeof(Elf64_Phdr));
        assert_true(elf_range_ok(size, eh->e_phoff, (uint64_t)eh->e_phnum * eh->e_phentsize));
}

static char **elf_dt_needed(const char *img, size_t size, const Elf64_Phdr *dyn)
{
        _cleanup_strv_free_ char **needed = NULL;
        const Elf64_Dyn *d = (const Elf64_Dyn *)(img + dyn->p_offset), *end = d + dyn->p_filesz / sizeof(*d);
        uint64_t strtab = 0, stroff = 0;
        bool any = false;

        for (const Elf64_Dyn *e = d; e < end && e->d_tag != DT_NULL; e++) {
                if (e->d_tag == DT_STRTAB)
                        strtab = e->d_un.d_ptr;
                any = any || e->d_tag == DT_NEEDED;
        }
        /* A static-pie program's dynamic section may have no string table: it needs none without a name. */
        if (any)
                assert_true(elf_vaddr_to_off(img, size, strtab, &stroff));
        for (const Elf64_Dyn *e = d; any && e < end && e->d_tag != DT_NULL; e++) {
                if (e->d_tag != DT_NEEDED)
                        continue;
                assert_true(elf_range_ok(size, stroff, e->d_un.d_val + 1));
                assert_non_null(memchr(img + stroff + e->d_un.d_val, 0, size - stroff - e->d_un.d_val));
                assert_int_equal(strv_extend(&needed, img + stroff + e->d_un.d_val), 0);
        }
        if (!needed)
                needed = calloc(1, sizeof(char *));
        assert_non_null(needed);
        return TAKE_PTR(needed);
}

void elf_deps_read(const char *path, elf_deps *ret)
{
        _cleanup_free_ char *img = NULL;
        const Elf64_Phdr *dyn;
        size_t size;

        assert_int_equal(read_full_file(path, 64 << 20, &img, &size), 0);
        elf_header_check(img, size);
        *ret = (elf_deps){};
        ret->pie = ((const Elf64_Ehdr *)img)->e_type == ET_DYN;
        ret->interp = elf_segment(img, size, PT_INTERP) != NULL;
        dyn = elf_segment(img, size, PT_DYNAMIC);
        ret->dynamic = dyn != NULL;
        if (dyn)
                ret->needed = elf_dt_needed(img, size, dyn);
        else
                ret->needed = calloc(1, sizeof(char *));
        assert_non_null(ret->needed);
}

void elf_deps_done(elf_deps *d)
{
        strv_free(d->needed);
        d->needed = NULL;
}

char **elf_needed(const char *path)
{
        elf_deps d;

        elf_deps_read(path, &d);
        return TAKE_PTR(d.needed);
}
