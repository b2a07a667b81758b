/* The claim rules file under ROOT/etc/udev/rules.d: written whole or not at all, since udevd reads it as
 * it is when it starts (and when its rules change). */
#include <errno.h>
#include <fcntl.h>

#include "claimfile.h"
#include "rundir.h"
#include "shared/fileio.h"

#define RULES_MAX (1 << 20)

static int read_text(const char *root, char **ret, gh_error *err)
{
        _cleanup_free_ char *path = path_join(root, GH_CLAIM_RULES_PATH);
        int r;

        if (!path)
                return -ENOMEM;
        r = read_regular_file(path, RULES_MAX, ret, NULL);
        if (r < 0 && r != -ENOENT)
                return gh_error_set(err, r, "cannot read '%s': %s", GH_CLAIM_RULES_PATH, strerror(-r));
        return r;
}

int gh_claim_file_read(const char *root, gh_pci_addr **ret, size_t *ret_n, gh_error *err)
{
        _cleanup_free_ char *text = NULL;
        int r = read_text(root, &text, err);

        if (r == -ENOENT) {
                *ret = NULL;
                *ret_n = 0;
                return 0;
        }
        return r < 0 ? r : gh_claim_rules_parse(text, ret, ret_n);
}

static int remove_file(const char *root, gh_error *err)
{
        _cleanup_free_ char *path = path_join(root, GH_CLAIM_RULES_PATH);

        if (!path)
                return -ENOMEM;
        if (unlink(path) < 0)
                return errno == ENOENT ? 0
                                       : gh_error_set(err, -errno, "cannot remove '%s': %s",
                                                      GH_CLAIM_RULES_PATH, strerror(errno));
        return 1;
}

int gh_claim_file_write(const char *root, const char *text, gh_error *err)
{
        _cleanup_free_ char *old = NULL, *dir = path_join(root, GH_CLAIM_RULES_DIR);
        _cleanup_close_ int fd = -1;
        int r;

        if (!dir)
                return -ENOMEM;
        if (!text)
                return remove_file(root, err);
        r = read_text(root, &old, err);
        if (r < 0 && r != -ENOENT)
                return r;
        if (old && streq(old, text))
                return 0;
        r = mkdir_p(dir, 0755);
        if (r < 0)
                return gh_error_set(err, r, "cannot create '%s': %s", GH_CLAIM_RULES_DIR, strerror(-r));
        fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (fd < 0)
                return gh_error_set(err, -errno, "cannot open '%s': %s", GH_CLAIM_RULES_DIR,
                                    strerror(errno));
        r = gh_replace_file_at(fd, GH_CLAIM_RULES_NAME, GH_CLAIM_RULES_PATH, text, 0644, err);
        return r < 0 ? r : 1;
}
