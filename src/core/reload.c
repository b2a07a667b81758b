/* Whether the modules a hand-over unloads can come back when the VM stops. The loaded module's srcversion
 * (/sys/module/NAME/srcversion) and the file's (its modinfo) are the same string for the same build, and
 * a module has either both or neither: modpost adds it for MODULE_VERSION() or
 * CONFIG_MODULE_SRCVERSION_ALL, and sysfs shows it whenever the module has one. Two modules without one
 * leave nothing to compare: then the file's presence is all that is checked. */
#include <errno.h>

#include "reload.h"

#define WHY "module '%s' cannot be loaded again after the hand-over"

static const char *or_none(const char *s)
{
        return s ? s : "none";
}

int gh_module_check_reload(const gh_facts *f, const char *domain, const char *name, gh_error *err)
{
        const gh_module *m = gh_facts_find_module(f, name);

        if (!m || m->builtin)
                return 0;
        if (!m->path)
                return gh_error_set(err, -ENOENT,
                                    "domain '%s': " WHY ": no file for the running kernel %s (removed by a "
                                    "kernel upgrade?)",
                                    domain, name, f->kernel_release ? f->kernel_release : "(unknown)");
        if (!m->file_srcversion && !m->loaded_srcversion)
                return 0;
        if (streq_ptr(m->file_srcversion, m->loaded_srcversion))
                return 0;
        return gh_error_set(
                err, -ESTALE,
                "domain '%s': " WHY ": %s has srcversion %s, the loaded module %s (was it rebuilt "
                "by DKMS?)",
                domain, name, m->path, or_none(m->file_srcversion), or_none(m->loaded_srcversion));
}
