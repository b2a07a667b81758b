/* `gpu-handover install` and `uninstall`: link libvirt's qemu hook entry to the libc-only hook binary (and
 * create the config directory), or remove that link. They restart nothing: libvirt looks for hooks when
 * its daemon starts. */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <limits.h>
#include <stdio.h>
#include <sys/stat.h>

#include "front.h"
#include "host/claimfile.h"
#include "host/conffile.h"
#include "host/journal.h"
#include "host/safepath.h"
#include "shared/error.h"
#include "shared/fileio.h"
#include "shared/strv.h"

#define HOOKS_DIR "/etc/libvirt/hooks"
#define HOOK_ENTRY HOOKS_DIR "/qemu"
#define HOOK_DROPIN_DIR HOOKS_DIR "/qemu.d"
#define HOOK_DROPIN HOOK_DROPIN_DIR "/gpu-handover"
/* Any install prefix: a link into another prefix's libexec is still ours, to refresh. */
#define HOOK_SUFFIX "/gpu-handover/qemu-hook"

typedef enum entry_state {
        ENTRY_ABSENT,
        ENTRY_CURRENT, /* our link, to the hook binary asked for */
        ENTRY_STALE,   /* our link, to another hook binary */
        ENTRY_FOREIGN, /* anything else: another program's hook */
        _ENTRY_STATE_MAX,
        _ENTRY_STATE_INVALID = -EINVAL,
} entry_state;

typedef struct install_args {
        const char *root; /* --root's, or the context's */
        char *hook;       /* absolute, as seen inside the root */
        bool qemu_d;
} install_args;

static void install_args_done(install_args *a)
{
        free(a->hook);
}

static bool entry_is_ours(entry_state s)
{
        return s == ENTRY_CURRENT || s == ENTRY_STALE;
}

/* Makes path absolute against the working directory; only meaningful without --root. */
static int absolute_path(const char *path, char **ret)
{
        char cwd[PATH_MAX];

        if (path[0] == '/') {
                *ret = strdup(path);
                return *ret ? 0 : -ENOMEM;
        }
        if (!getcwd(cwd, sizeof(cwd)))
                return -errno;
        return asprintf(ret, "%s/%s", cwd, path) < 0 ? -ENOMEM : 0;
}

static bool root_is_host(const char *root)
{
        return !root || !*root || streq(root, "/");
}

/* install's and uninstall's --root: where a package is unpacked (dpkg's DPKG_ROOT). They only place or
 * remove links there; nothing else of the tool takes a root outside the test build. */
#define OPTION_ROOT {"root", required_argument, NULL, 'r'}

/* 0 to go on, GH_ARGS_HELP / GH_ARGS_BAD (reported here), or another -errno. */
static int parse_args(const gh_command *self, int argc, char *argv[], install_args *a)
{
        static const struct option opts[] = {
                {"qemu-d", no_argument, NULL, 'd'},
                {"hook-binary", required_argument, NULL, 'b'},
                OPTION_ROOT,
                GH_OPTION_HELP,
                {},
        };
        gh_opts o = {.cmd = self, .longopts = opts};
        const char *hook = GH_HOOK_PATH;
        int r;

        while ((r = gh_opts_next(&o, argc, argv)) != GH_ARGS_END) {
                if (r < 0)
                        return r;
                if (r == 'd')
                        a->qemu_d = true;
                else if (r == 'r')
                        a->root = optarg;
                else
                        hook = optarg;
        }
        if ((r = gh_args_positional(self, argc, argv, 0, 0)) < 0)
                return r;
        if (hook[0] != '/' && !root_is_host(a->root)) {
                fprintf(stderr, "gpu-handover: install: --hook-binary '%s' must be absolute with --root\n",
                        hook);
                return GH_ARGS_BAD;
        }
        return absolute_path(hook, &a->hook);
}

/* libvirt runs the hook as root for every domain event: a missing or non-executable file would break
 * every start, and one that anyone but root could have written would run their code as root. */
static int check_hook_binary(const char *root, const char *hook, gh_error *err)
{
        gh_error why = {};
        int r = gh_safe_path_check(root, hook, geteuid(), &why);

        if (r < 0)
                return gh_error_set(err, r, "hook binary '%s': %s", hook, why.msg[0] ? why.msg : strerror(-r));
        return 0;
}

/* mkdir -p of path below root (root itself must exist); directories it creates get mode exactly. */
static int mkdir_under(const char *root, const char *path, mode_t mode, gh_error *err)
{
        _cleanup_free_ char *full = path_join(root, path);
        size_t start;

        if (!full)
                return -ENOMEM;
        start = strlen(full) - strlen(path);
        for (char *p = full + start + 1;; p++) {
                char saved = *p;
                struct stat st;

                if (*p != '/' && *p)
                        continue;
                *p = 0;
                if (mkdir(full, mode) >= 0) {
                        if (chmod(full, mode) < 0)
                                return gh_error_set(err, -errno, "chmod '%s': %s", full, strerror(errno));
                } else if (errno != EEXIST)
                        return gh_error_set(err, -errno, "mkdir '%s': %s", full, strerror(errno));
                else if (stat(full, &st) < 0 || !S_ISDIR(st.st_mode))
                        return gh_error_set(err, -ENOTDIR, "'%s' is not a directory", full);
                *p = saved;
                if (!saved)
                        return 0;
        }
}

static entry_state entry_state_of(const char *path, const char *hook)
{
        char target[PATH_MAX];
        struct stat st;
        ssize_t n;

        if (lstat(path, &st) < 0)
                return errno == ENOENT ? ENTRY_ABSENT : -errno;
        if (!S_ISLNK(st.st_mode))
                return ENTRY_FOREIGN;
        n = readlink(path, target, sizeof(target) - 1);
        if (n < 0)
                return -errno;
        target[n] = 0;
        if (streq(target, hook))
                return ENTRY_CURRENT;
        if ((size_t)n > strlen(HOOK_SUFFIX) && streq(target + n - strlen(HOOK_SUFFIX), HOOK_SUFFIX))
                return ENTRY_STALE;
        return ENTRY_FOREIGN;
}

/* Builds the link under a temporary name in the hooks directory (never in qemu.d, where libvirt would run
 * it) and renames it into place, so the entry is always either the old or the new link. */
static int link_atomic(const char *root, const char *hook, const char *dest, bool replace, gh_error *err)
{
        _cleanup_free_ char *dir = path_join(root, HOOKS_DIR);
        _cleanup_free_ char *tmp = NULL;
        int r;

        if (!dir)
                return -ENOMEM;
        for (unsigned i = 0;; i++) {
                free(tmp);
                if (asprintf(&tmp, "%s/.gpu-handover.%ld.%u", dir, (long)getpid(), i) < 0) {
                        tmp = NULL;
                        return -ENOMEM;
                }
                if (symlink(hook, tmp) >= 0)
                        break;
                if (errno != EEXIST || i >= 100)
                        return gh_error_set(err, -errno, "symlink '%s': %s", tmp, strerror(errno));
        }
        r = renameat2(AT_FDCWD, tmp, AT_FDCWD, dest, replace ? 0 : RENAME_NOREPLACE);
        if (r < 0 && errno == EINVAL && !replace)
                /* No RENAME_NOREPLACE on this file system: link(2) refuses an existing name too. */
                r = linkat(AT_FDCWD, tmp, AT_FDCWD, dest, 0);
        if (r < 0)
                r = gh_error_set(err, -errno, "cannot put the link in place as '%s': %s", dest,
                                 strerror(errno));
        (void)unlink(tmp); /* after a rename it is gone already */
        return r;
}

/* Chooses where our entry goes: exactly one entry may be ours, or libvirt would run the hook twice. */
static int choose_entry(const char *entry, const char *dropin, entry_state se, entry_state sd, bool qemu_d,
                        bool *ret_dropin, gh_error *err)
{
        bool use_dropin = qemu_d || (entry_is_ours(sd) && !entry_is_ours(se));

        if (!use_dropin && se == ENTRY_FOREIGN)
                return gh_error_set(err, -EEXIST,
                                    "'%s' is another program's hook, left in place: use 'install --qemu-d'",
                                    entry);
        if (use_dropin && sd == ENTRY_FOREIGN)
                return gh_error_set(err, -EEXIST,
                                    "'%s' exists and is not gpu-handover's link; not replacing it", dropin);
        *ret_dropin = use_dropin;
        return 0;
}

typedef struct install_result {
        char *where;   /* the entry now in place */
        char *removed; /* our other entry, removed; or NULL */
        bool changed;
} install_result;

static void install_result_done(install_result *res)
{
        free(res->where);
        free(res->removed);
}

/* Links *path (in state s) to hook and removes *other if it is ours too; takes both paths into res. */
static int place_entry(const char *root, const char *hook, char **path, entry_state s, char **other,
                       entry_state so, install_result *res, gh_error *err)
{
        int r;

        if (s != ENTRY_CURRENT) {
                r = link_atomic(root, hook, *path, s == ENTRY_STALE, err);
                if (r < 0)
                        return r;
                res->changed = true;
        }
        /* Removed only once the new entry is in place: never a moment without a hook. */
        if (entry_is_ours(so)) {
                if (unlink(*other) < 0)
                        return gh_error_set(err, -errno, "cannot remove '%s': %s", *other, strerror(errno));
                res->removed = TAKE_PTR(*other);
                res->changed = true;
        }
        res->where = TAKE_PTR(*path);
        return 0;
}

static int install_entry(const char *root, const char *hook, bool qemu_d, install_result *res, gh_error *err)
{
        _cleanup_free_ char *entry = path_join(root, HOOK_ENTRY);
        _cleanup_free_ char *dropin = path_join(root, HOOK_DROPIN);
        entry_state se, sd;
        bool use_dropin = false;
        int r;

        if (!entry || !dropin)
                return -ENOMEM;
        se = entry_state_of(entry, hook);
        if (se < 0)
                return gh_error_set(err, se, "'%s': %s", entry, strerror(-se));
        sd = entry_state_of(dropin, hook);
        if (sd < 0)
                return gh_error_set(err, sd, "'%s': %s", dropin, strerror(-sd));
        r = choose_entry(entry, dropin, se, sd, qemu_d, &use_dropin, err);
        if (r < 0)
                return r;
        if (use_dropin && (r = mkdir_under(root, HOOK_DROPIN_DIR, 0755, err)) < 0)
                return r;
        if (use_dropin)
                return place_entry(root, hook, &dropin, sd, &entry, se, res, err);
        return place_entry(root, hook, &entry, se, &dropin, sd, res, err);
}

/* The config loader refuses a directory that is not root's or that others may write: say so now. */
static void warn_conf_dir(const char *root)
{
        _cleanup_free_ char *dir = path_join(root, GH_CONF_DOMAINS);
        struct stat st;

        if (!dir || stat(dir, &st) < 0 || geteuid() != 0)
                return;
        if (st.st_uid != 0 || (st.st_mode & 0022))
                fprintf(stderr,
                        "gpu-handover: install: warning: '%s' must be root's and not writable by others\n",
                        dir);
}

static int make_conf_dir(const char *root, gh_error *err)
{
        _cleanup_free_ char *dir = path_join(root, GH_CONF_DOMAINS);
        struct stat st;
        bool existed;
        int r;

        if (!dir)
                return -ENOMEM;
        existed = stat(dir, &st) >= 0;
        r = mkdir_under(root, GH_CONF_DOMAINS, 0755, err);
        if (r < 0 || existed)
                return r;
        /* A set-group-ID parent would hand the group down: make it root's outright. */
        if (geteuid() == 0 && chown(dir, 0, 0) < 0)
                return gh_error_set(err, -errno, "chown '%s': %s", dir, strerror(errno));
        return 0;
}

static int install(const char *root, const install_args *a, install_result *res, gh_error *err)
{
        int r;

        r = check_hook_binary(root, a->hook, err);
        if (r < 0)
                return r;
        r = mkdir_under(root, HOOKS_DIR, 0755, err);
        if (r < 0)
                return r;
        r = install_entry(root, a->hook, a->qemu_d, res, err);
        if (r < 0)
                return r;
        return make_conf_dir(root, err);
}

static void report(const char *root, const char *hook, const install_result *res)
{
        _cleanup_free_ char *conf = path_join(root, GH_CONF_DOMAINS);

        if (res->removed)
                printf("Removed '%s': one hook entry is enough.\n", res->removed);
        if (!res->changed) {
                printf("The libvirt hook is in place already: '%s' -> '%s'. Nothing changed.\n", res->where,
                       hook);
                return;
        }
        printf("Installed the libvirt hook: '%s' -> '%s'.\n", res->where, hook);
        printf("Nothing was restarted. libvirt looks for hooks when its daemon starts, so restart\n");
        printf("libvirtd (or virtqemud, with the modular daemons) before starting a VM:\n");
        printf("    systemctl restart libvirtd\n");
        printf("A domain opts in with '%s/DOMAIN.conf'.\n", strempty(conf));
}

static int cmd_install(gh_context *ctx, const gh_command *self, int argc, char *argv[])
{
        _cleanup_(install_args_done) install_args a = {};
        _cleanup_(install_result_done) install_result res = {};
        gh_error err = {};
        int r;

        a.root = ctx->root;
        r = parse_args(self, argc, argv, &a);
        if (r == GH_ARGS_HELP || r == GH_ARGS_BAD)
                return gh_args_exit(r);
        if (r >= 0)
                r = install(a.root, &a, &res, &err);
        if (r < 0) {
                fprintf(stderr, "gpu-handover: install: %s\n",
                        gh_error_isset(&err) ? err.msg : strerror(-r));
                return GH_EXIT_FAILURE;
        }
        report(a.root, a.hook, &res);
        warn_conf_dir(a.root);
        /* After the hook: a config that cannot be read costs its domain its entry, never the hook. */
        if (gh_desktop_files_update(a.root, false, &err) < 0) {
                fprintf(stderr, "gpu-handover: install: %s\n", err.msg);
                return GH_EXIT_FAILURE;
        }
        return GH_EXIT_OK;
}

/* A domain that has the GPU now gets it back only through the hook (or `restore`): removing the hook
 * first would strand the device on vfio-pci, and the desktop with it. */
static int check_no_handovers(const char *root, gh_error *err)
{
        _cleanup_strv_free_ char **domains = NULL;
        int r;

        r = gh_journal_list(root, &domains);
        if (r < 0)
                return gh_error_set(err, r, "cannot look for hand-overs in progress in '%s': %s", GH_RUN_DIR,
                                    strerror(-r));
        if (domains && domains[0])
                return gh_error_set(err, -EBUSY,
                                    "domain '%s' has a hand-over in progress: shut it down (or run "
                                    "'gpu-handover restore %s'), then uninstall",
                                    domains[0], domains[0]);
        return 0;
}

typedef enum removal {
        REMOVAL_ABSENT,
        REMOVAL_DONE,
        REMOVAL_FOREIGN, /* another program's entry, left alone */
        _REMOVAL_MAX,
        _REMOVAL_INVALID = -EINVAL,
} removal;

/* Removes path (below root) if it is our link, to any prefix's hook binary, present or not. */
static removal remove_ours(const char *root, const char *path, gh_error *err)
{
        _cleanup_free_ char *full = path_join(root, path);
        entry_state s;

        if (!full)
                return -ENOMEM;
        s = entry_state_of(full, GH_HOOK_PATH);
        if (s < 0)
                return gh_error_set(err, s, "'%s': %s", full, strerror(-s));
        if (s == ENTRY_ABSENT)
                return REMOVAL_ABSENT;
        if (!entry_is_ours(s))
                return REMOVAL_FOREIGN;
        if (unlink(full) < 0 && errno != ENOENT)
                return gh_error_set(err, -errno, "cannot remove '%s': %s", full, strerror(errno));
        return REMOVAL_DONE;
}

static void report_removal(const char *root, const char *path, removal what)
{
        _cleanup_free_ char *full = path_join(root, path);

        if (what == REMOVAL_DONE)
                printf("Removed the libvirt hook entry '%s'.\n", strempty(full));
        else if (what == REMOVAL_FOREIGN)
                printf("'%s' is another program's hook: left in place.\n", strempty(full));
}

/* 1 for --qemu-d, 0 without, or GH_ARGS_HELP / GH_ARGS_BAD; --root's in *root. */
static int parse_uninstall_args(const gh_command *self, int argc, char *argv[], const char **root)
{
        static const struct option opts[] = {{"qemu-d", no_argument, NULL, 'd'}, OPTION_ROOT, GH_OPTION_HELP, {}};
        gh_opts o = {.cmd = self, .longopts = opts};
        bool qemu_d = false;
        int r;

        while ((r = gh_opts_next(&o, argc, argv)) != GH_ARGS_END) {
                if (r < 0)
                        return r;
                if (r == 'r')
                        *root = optarg;
                else
                        qemu_d = true;
        }
        r = gh_args_positional(self, argc, argv, 0, 0);
        return r < 0 ? r : qemu_d;
}

/* Stops at the first entry it cannot handle; ret says what happened to each entry before that. */
static int uninstall(const char *root, bool qemu_d, removal ret[2], gh_error *err)
{
        static const char *const paths[2] = {HOOK_ENTRY, HOOK_DROPIN};
        int r;

        r = check_no_handovers(root, err);
        if (r < 0)
                return r;
        for (size_t i = qemu_d ? 1 : 0; i < ELEMENTSOF(paths); i++) {
                ret[i] = remove_ours(root, paths[i], err);
                if (ret[i] < 0)
                        return ret[i];
        }
        return 0;
}

static int cmd_uninstall(gh_context *ctx, const gh_command *self, int argc, char *argv[])
{
        removal done[2] = {REMOVAL_ABSENT, REMOVAL_ABSENT};
        const char *root = ctx->root;
        gh_error err = {};
        bool qemu_d;
        int r, rules = 0, desktop = 0;

        r = parse_uninstall_args(self, argc, argv, &root);
        if (r < 0)
                return gh_args_exit(r);
        qemu_d = r;
        r = uninstall(root, qemu_d, done, &err);
        report_removal(root, HOOK_ENTRY, done[0]);
        report_removal(root, HOOK_DROPIN, done[1]);
        /* Without the tool nothing would bind what the claim rules reserve, nor give it back. */
        if (r >= 0 && (rules = gh_claim_file_write(root, NULL, &err)) > 0)
                printf("Removed %s: no GPU is reserved for vfio-pci at boot any more.\n",
                       GH_CLAIM_RULES_PATH);
        if (r >= 0 && rules < 0)
                r = rules;
        /* The desktop may use every GPU again once the tool is gone. */
        if (r >= 0 && (desktop = gh_desktop_files_update(root, true, &err)) < 0)
                r = desktop;
        if (r < 0) {
                fprintf(stderr, "gpu-handover: uninstall: %s\n",
                        gh_error_isset(&err) ? err.msg : strerror(-r));
                return GH_EXIT_FAILURE;
        }
        if (done[0] != REMOVAL_DONE && done[1] != REMOVAL_DONE && (rules > 0 || desktop > 0))
                return GH_EXIT_OK;
        if (done[0] != REMOVAL_DONE && done[1] != REMOVAL_DONE) {
                printf("No gpu-handover hook entry is installed: nothing changed.\n");
                return GH_EXIT_OK;
        }
        printf("Nothing was restarted. libvirt keeps calling the hooks it found when its daemon started,\n");
        printf("so restart libvirtd (or virtqemud, with the modular daemons) now:\n");
        printf("    systemctl restart libvirtd\n");
        return GH_EXIT_OK;
}

const gh_command gh_command_install = {
        .name = "install",
        .run = cmd_install,
        .args = "[--qemu-d] [--hook-binary PATH] [--root DIR]",
        .summary = "put the libvirt hook entry in place",
        .details = "Links " HOOK_ENTRY " to the hook binary (default " GH_HOOK_PATH ")\n"
                   "and creates " GH_CONF_DOMAINS ". Restarts nothing: restart libvirt's daemon afterwards.\n"
                   "Writes the files that keep the desktop off the GPUs of domains with keep_session\n"
                   "('gpu-handover desktop-rules' shows them).\n"
                   "Another program's hook is never replaced. The hook binary, and every directory on the way\n"
                   "to it, must be root's and not writable by group or others.\n\n"
                   "  --qemu-d             install as " HOOK_DROPIN ", next to another program's hook\n"
                   "  --hook-binary PATH   the hook binary to link to, as seen inside the root\n"
                   "  --root DIR           install into the system unpacked at DIR (as dpkg's DPKG_ROOT)\n",
};

const gh_command gh_command_uninstall = {
        .name = "uninstall",
        .run = cmd_uninstall,
        .args = "[--qemu-d] [--root DIR]",
        .summary = "remove the libvirt hook entry",
        .details = "Removes gpu-handover's libvirt hook entries, where they are gpu-handover's links:\n"
                   "    " HOOK_ENTRY "\n    " HOOK_DROPIN "\n"
                   "Another program's hook is left alone. The configuration stays. Refused while a\n"
                   "hand-over is in progress. Also removes the claim rules, " GH_CLAIM_RULES_PATH ":\n"
                   "without the tool, nothing would bind or give back what they reserve at boot; and the\n"
                   "files that keep the desktop off lent GPUs ('gpu-handover desktop-rules').\n\n"
                   "  --qemu-d     remove only " HOOK_DROPIN "\n"
                   "  --root DIR   remove them from the system unpacked at DIR (as dpkg's DPKG_ROOT)\n",
};
