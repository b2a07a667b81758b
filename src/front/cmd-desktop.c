/* `gpu-handover desktop-rules`, and install's and uninstall's part of the session-keeping mode: from the
 * domains that opted in (their config's keep_session, their persistent definition, the host's GPUs), the
 * udev rules that keep the desktop off their GPUs and the device lists KWin and wlroots read
 * (core/desktop-rules.h says why these). Writing them is install's business, as the claim rules are
 * claim-boot's: no plan, no journal. On the host, udev is asked to run the DRM devices' rules again
 * (trigger_drm); nothing is restarted: a running compositor keeps what it has open, and the next login,
 * or the GPU's next hot-plug, reads the new files. */
#include <errno.h>
#include <getopt.h>

#include "core/desktop-rules.h"
#include "front.h"
#include "host/child.h"
#include "host/conffile.h"
#include "host/dirnames.h"
#include "host/etcfile.h"
#include "host/pci.h"
#include "shared/fileio.h"
#include "shared/strv.h"

#define RULES_MAX (1 << 20)
#define TRIGGER_HINT "udevadm trigger --action=change --subsystem-match=drm"
/* udevadm trigger writes to each card's uevent file in sysfs and returns once the events are queued,
 * which takes a moment; a stuck device or udevd may make it wait for ever. So it runs in a child under
 * this deadline, and one that does not end in time is told to the user as not run. */
#define TRIGGER_TIMEOUT (10 * USEC_PER_SEC)

typedef struct desktop_file {
        const char *dir, *name;
        int (*format)(const gh_desktop *d, char **ret);
} desktop_file;

static const desktop_file files[] = {
        {GH_DESKTOP_RULES_DIR, GH_DESKTOP_RULES_NAME, gh_desktop_format_rules},
        {GH_DESKTOP_ENV_DIR, GH_DESKTOP_ENV_NAME, gh_desktop_format_env},
        {GH_DESKTOP_PROFILE_DIR, GH_DESKTOP_PROFILE_NAME, gh_desktop_format_profile},
};

/* One domain's part; a domain whose files cannot be read is skipped with a line saying why. */
static int add_domain(const char *root, const char *domain, gh_pci_dev *devs, size_t n, gh_desktop *d)
{
        const gh_facts f = {.devs = devs, .n_devs = n};
        _cleanup_(gh_policy_done) gh_policy p = {};
        _cleanup_(gh_domain_done) gh_domain dom = {};
        _cleanup_free_ char *why = NULL;
        gh_error err = {};
        int r;

        gh_policy_init(&p);
        r = gh_config_load(root, domain, 0, &p, &err);
        if (r >= 0)
                r = gh_domain_file_parse(root, domain, &dom, &err);
        if (r == -ENOMEM)
                return r;
        if (r < 0) {
                printf("%s: skipped: %s\n", domain, err.msg[0] ? err.msg : strerror(-r));
                return 0;
        }
        r = gh_desktop_add_domain(d, domain, &p, &dom, &f, &why);
        if (r < 0)
                return r;
        if (why)
                printf("%s: %s\n", domain, why);
        return 0;
}

static int desktop_plan(const char *root, gh_desktop *d)
{
        _cleanup_strv_free_ char **domains = NULL;
        gh_pci_dev *devs = NULL;
        size_t n = 0;
        int r;

        /* The domains that opted in: GH_CONF_DOMAINS/NAME.conf. */
        r = gh_dir_names(root, GH_CONF_DOMAINS, ".conf", &domains);
        if (r < 0)
                return r;
        /* No sysfs (a root dpkg unpacks into): no GPU to keep away, nothing to write. */
        r = gh_pci_list(root, &devs, &n);
        if (r == -ENOENT)
                r = 0;
        STRV_FOREACH(dom, domains)
        if (r >= 0)
                r = add_domain(root, *dom, devs, n, d);
        if (r >= 0)
                r = gh_desktop_find_host(d, devs, n);
        gh_pci_devs_free(devs, n);
        return r;
}

/* 1 when a file changed. */
static int write_files(const char *root, const gh_desktop *d, bool remove, gh_error *err)
{
        bool changed = false;

        for (size_t i = 0; i < ELEMENTSOF(files); i++) {
                _cleanup_free_ char *text = NULL;
                int r = remove ? 0 : files[i].format(d, &text);

                if (r >= 0)
                        r = gh_etc_file_write(root, files[i].dir, files[i].name, text, err);
                if (r < 0)
                        return r;
                if (r > 0)
                        printf("%s %s/%s\n", text ? "Wrote" : "Removed", files[i].dir, files[i].name);
                changed = changed || r > 0;
        }
        return changed;
}

/* Has udevd run the DRM devices' rules again, so that the names the device lists use exist before the
 * next login (environment.d cannot check for them) and the tag is on a card present now. A change event
 * adds nothing a compositor acts on (mutter and KWin look for add, remove and HOTPLUG=1), and is no
 * hand-over step: running the rules again is all it does. Only on the host itself, never below a root. */
static bool trigger_drm(const char *root)
{
        static const char *const argv[] = {"udevadm", "trigger", "--action=change", "--subsystem-match=drm",
                                           NULL};

        if (!streq(root, "/") && *root)
                return false;
        fflush(stdout);
        return gh_child_exec(argv, deadline_after(TRIGGER_TIMEOUT)) == 0;
}

int gh_desktop_files_update(const char *root, bool remove, gh_error *err)
{
        _cleanup_(gh_desktop_done) gh_desktop d = {};
        int r = remove ? 0 : desktop_plan(root, &d);

        if (r < 0)
                return gh_error_set(err, r, "cannot work out which GPUs to keep away from the desktop: %s",
                                    strerror(-r));
        r = write_files(root, &d, remove, err);
        if (r <= 0)
                return r;
        if (trigger_drm(root))
                printf("Ran '" TRIGGER_HINT "'. A running desktop keeps what it has open:\n"
                       "log out and in again for it to use what these files say.\n");
        else
                printf("A running desktop keeps what it has open: log out and in again after running\n"
                       "    " TRIGGER_HINT "\n"
                       "(or reboot) for the desktop to use what these files say.\n");
        return r;
}

static int show(const char *root)
{
        _cleanup_(gh_desktop_done) gh_desktop d = {};
        int r = desktop_plan(root, &d);

        if (r < 0) {
                fprintf(stderr, "gpu-handover: desktop-rules: %s\n", strerror(-r));
                return GH_EXIT_FAILURE;
        }
        for (size_t i = 0; i < ELEMENTSOF(files); i++) {
                _cleanup_free_ char *text = NULL;

                if (files[i].format(&d, &text) < 0)
                        return GH_EXIT_FAILURE;
                printf("\n%s/%s: %s\n%s", files[i].dir, files[i].name, text ? "" : "(none)", strempty(text));
        }
        return GH_EXIT_OK;
}

int gh_desktop_rules_read(const char *root, gh_desktop_gpu **ret, size_t *ret_n, gh_error *err)
{
        _cleanup_free_ char *text = NULL;
        int r = gh_etc_file_read(root, GH_DESKTOP_RULES_DIR, GH_DESKTOP_RULES_NAME, RULES_MAX, &text, err);

        if (r == -ENOENT) {
                *ret = NULL;
                *ret_n = 0;
                return 0;
        }
        return r < 0 ? r : gh_desktop_parse_rules(text, ret, ret_n);
}

static int cmd_desktop_rules(gh_context *ctx, const gh_command *self, int argc, char *argv[])
{
        static const struct option opts[] = {
                {"write", no_argument, NULL, 'w'}, {"remove", no_argument, NULL, 'x'}, GH_OPTION_HELP, {}};
        gh_opts o = {.cmd = self, .longopts = opts};
        gh_error err = {};
        int r, what = 0;

        while ((r = gh_opts_next(&o, argc, argv)) != GH_ARGS_END) {
                if (r < 0)
                        return gh_args_exit(r);
                if (what && what != r) {
                        fprintf(stderr,
                                "gpu-handover: desktop-rules: --write and --remove exclude each other\n");
                        return GH_EXIT_USAGE;
                }
                what = r;
        }
        if ((r = gh_args_positional(self, argc, argv, 0, 0)) < 0)
                return gh_args_exit(r);
        if (!what)
                return show(ctx->root);
        r = gh_desktop_files_update(ctx->root, what == 'x', &err);
        if (r < 0) {
                fprintf(stderr, "gpu-handover: desktop-rules: %s\n", err.msg[0] ? err.msg : strerror(-r));
                return GH_EXIT_FAILURE;
        }
        if (r == 0)
                printf("The desktop files are as they should be already: nothing changed.\n");
        return GH_EXIT_OK;
}

const gh_command gh_command_desktop_rules = {
        .name = "desktop-rules",
        .run = cmd_desktop_rules,
        .args = "[--write | --remove]",
        .summary = "keep the desktop off the GPUs lent to domains (keep_session); install writes them",
        .details =
                "For each opted-in domain whose config says keep_session = yes (or auto, where its GPU is\n"
                "not the boot VGA and the host keeps another GPU with a driver), its GPUs, read from\n"
                "/etc/libvirt/qemu/DOMAIN.xml, are kept away from the desktop by:\n"
                "    " GH_DESKTOP_RULES_PATH "  (GNOME: tag mutter-device-ignore)\n"
                "    " GH_DESKTOP_ENV_PATH "       (KWIN_DRM_DEVICES, WLR_DRM_DEVICES)\n"
                "    " GH_DESKTOP_PROFILE_PATH "           (the same, for a TTY login)\n"
                "Without an option, shows what it decided and the files' text; changes nothing. 'install'\n"
                "writes them and 'uninstall' removes them.\n\n"
                "  --write    write the files (after changing keep_session or a domain's GPU)\n"
                "  --remove   remove them: the desktop may use every GPU again\n",
};
