/* DT_NEEDED of an ELF64 file: the dynamic segment found through the program headers, its string table
 * through the PT_LOAD segments. Copied from test-hook's reader, for tests that check other programs. */
#include <elf.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "elf-needed.h"
#include "shared/fileio.h"
#include "shared/strv.h"

static bool elf_range_ok(size_t size, uint64_t off, uint64_t len)
{
        return off <= size && len <= size - off;
}

/* File offset of a virtual address, through the PT_LOAD segments. */
static bool elf_vaddr_to_off(const char *img, size_t size, uint64_t vaddr, uint64_t *ret)
{
        const Elf64_Ehdr *eh = (const Elf64_Ehdr *)img;

        for (unsigned i = 0; i < eh->e_phnum; i++) {
                const Elf64_Phdr *ph = (const Elf64_Phdr *)(img + eh->e_phoff + (size_t)i * eh->e_phentsize);

                if (ph->p_type == PT_LOAD && vaddr >= ph->p_vaddr && vaddr - ph->p_vaddr < ph->p_filesz) {
                        *ret = ph->p_offset + (vaddr - ph->p_vaddr);
                        return elf_range_ok(size, *ret, 1);
                }
        }
        return false;
}

static const Elf64_Phdr *elf_dynamic(const char *img, size_t size)
{
        const Elf64_Ehdr *eh = (const Elf64_Ehdr *)img;

        assert_true(size >= sizeof(*eh));
        assert_memory_equal(eh->e_ident, ELFMAG, SELFMAG);
        assert_int_equal(eh->e_ident[EI_CLASS], ELFCLASS64);
        assert_true(eh->e_phentsize >= sizeof(Elf64_Phdr));
        assert_true(elf_range_ok(size, eh->e_phoff, (uint64_t)eh->e_phnum * eh->e_phentsize));
        for (unsigned i = 0; i < eh->e_phnum; i++) {
                const Elf64_Phdr *ph = (const Elf64_Phdr *)(img + eh->e_phoff + (size_t)i * eh->e_phentsize);

                if (ph->p_type == PT_DYNAMIC) {
                        assert_true(elf_range_ok(size, ph->p_offset, ph->p_filesz));
                        return ph;
                }
        }
        return NULL;
}

/* The DT_NEEDED entries of an ELF64 executable, read from the file itself rather than from a tool's output.
 */
char **elf_needed(const char *path)
{
        _cleanup_free_ char *img = NULL;
        _cleanup_strv_free_ char **needed = NULL;
        const Elf64_Phdr *dyn;
        const Elf64_Dyn *d, *end;
        uint64_t strtab = 0, stroff = 0;
        size_t size;

        assert_int_equal(read_full_file(path, 64 << 20, &img, &size), 0);
        dyn = elf_dynamic(img, size);
        if (!dyn) /* static: needs nothing */
                return calloc(1, sizeof(char *));
        d = (const Elf64_Dyn *)(img + dyn->p_offset);
        end = d + dyn->p_filesz / sizeof(*d);
        for (const Elf64_Dyn *e = d; e < end && e->d_tag != DT_NULL; e++)
                if (e->d_tag == DT_STRTAB)
                        strtab = e->d_un.d_ptr;
        assert_true(elf_vaddr_to_off(img, size, strtab, &stroff));
        for (const Elf64_Dyn *e = d; e < end && e->d_tag != DT_NULL; e++) {
                if (e->d_tag != DT_NEEDED)
                        continue;
                assert_true(elf_range_ok(size, stroff, e->d_un.d_val + 1));
                assert_non_null(memchr(img + stroff + e->d_un.d_val, 0, size - stroff - e->d_un.d_val));
                assert_int_equal(strv_extend(&needed, img + stroff + e->d_un.d_val), 0);
        }
        if (!needed)
                needed = calloc(1, sizeof(char *));
        return TAKE_PTR(needed);
}
