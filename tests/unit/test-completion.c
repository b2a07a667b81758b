/* The bash completion script, run by bash as readline would: subcommands, options per subcommand, and
 * domain names from a fake root's configs, libvirt definitions and journals. */
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <sys/wait.h>

#include <cmocka.h>

#include "proc-fake.h"
#include "shared/fileio.h"

#define SCRIPT GH_FIXTURES "/../../config/completion/gpu-handover.bash"
#define BASH "/bin/bash"

/* Sources the script, sets COMP_WORDS to the arguments after "--" (the last one is the word being
 * completed) and prints COMPREPLY, one candidate per line. */
static const char driver[] = "source \"$1\" || exit 3\n"
                             "shift 2\n"
                             "COMP_WORDS=(\"$@\")\n"
                             "COMP_CWORD=$((${#COMP_WORDS[@]} - 1))\n"
                             "_gpu_handover || exit 4\n"
                             "if ((${#COMPREPLY[@]})); then printf '%s\\n' \"${COMPREPLY[@]}\"; fi\n";

/* root: where the script looks for domain names (its _gpu_handover_root), NULL for none set. */
static char *complete_words(const char *root, const char *const *words)
{
        const char *argv[32] = {BASH, "--noprofile", "--norc", "-c", driver, "bash", SCRIPT, "--"};
        char out_path[] = "/tmp/gh-completion-XXXXXX";
        _cleanup_close_ int fd = mkostemp(out_path, O_CLOEXEC);
        char *out = NULL;
        size_t n = 8;
        int status;
        pid_t pid;

        assert_true(fd >= 0);
        for (; *words; words++) {
                assert_true(n < ELEMENTSOF(argv) - 1);
                argv[n++] = *words;
        }
        pid = fork();
        assert_true(pid >= 0);
        if (pid == 0) {
                if (dup2(fd, STDOUT_FILENO) < 0 || (root && setenv("_gpu_handover_root", root, 1) < 0))
                        _exit(127);
                execv(BASH, (char **)argv);
                _exit(127);
        }
        assert_int_equal(waitpid(pid, &status, 0), pid);
        assert_true(WIFEXITED(status));
        assert_int_equal(WEXITSTATUS(status), 0);
        assert_int_equal(read_full_file(out_path, 1 << 16, &out, NULL), 0);
        (void)unlink(out_path);
        return out;
}

#define assert_completes_in(root, want, ...)                                                                \
        do {                                                                                                \
                _cleanup_free_ char *_got =                                                                 \
                        complete_words(root, (const char *[]){"gpu-handover", __VA_ARGS__, NULL});          \
                assert_string_equal(_got, want);                                                            \
        } while (0)
#define assert_completes(want, ...) assert_completes_in(NULL, want, __VA_ARGS__)

static int setup(void **state)
{
        char *root;

        if (access(BASH, X_OK) < 0)
                fail_msg("no %s to run the script in (package bash, which scripts/test installs)", BASH);
        root = pf_root_new("completion");
        pf_write(root, "/etc/gpu-handover/domains/win11.conf", "");
        pf_write(root, "/etc/gpu-handover/domains/my vm.conf", "");
        /* Not a config: the suffix is what makes one. */
        pf_write(root, "/etc/gpu-handover/domains/notes.txt", "");
        pf_write(root, "/etc/libvirt/qemu/win11.xml", "<domain/>");
        pf_write(root, "/etc/libvirt/qemu/linux.xml", "<domain/>");
        pf_write(root, "/run/gpu-handover/stuck.journal", "");
        *state = root;
        return 0;
}

static int teardown(void **state)
{
        pf_root_free(*state);
        return 0;
}

static void test_commands(void **state)
{
        assert_completes(
                "plan\ncheck\nstatus\nrestore\ninstall\nuninstall\nclaim-boot\ndesktop-rules\nhook\n"
                "help\n",
                "");
        /* help takes one command name. */
        assert_completes("check\nclaim-boot\n", "help", "c");
        assert_completes("", "help", "check", "");
        assert_completes("status\n", "st");
        assert_completes("uninstall\n", "un");
        /* --root is not a global option of the installed tool: only install's and uninstall's. */
        assert_completes("--help\n--version\n", "-");
}

static void test_options(void **state)
{
        assert_completes("--json\n", "status", "--j");
        assert_completes("--write\n--remove\n--help\n", "desktop-rules", "--");
        assert_completes("--qemu-d\n--hook-binary\n--root\n--help\n", "install", "--");
        assert_completes("--qemu-d\n--root\n--help\n", "uninstall", "-");
        /* --root takes a directory, and the options go on after it. */
        assert_completes("/etc\n", "install", "--root", "/et");
        assert_completes("--qemu-d\n--root\n--help\n", "uninstall", "--root", "/", "-");
        assert_completes("--xml\n--help\n", "plan", "win11", "");
        assert_completes("--xml\n--connect\n--help\n", "check", "-");
        assert_completes("qemu:///system\n", "check", "win11", "--connect", "");
        /* --connect's URI is not the domain: the options still come after it. */
        assert_completes("--xml\n--connect\n--help\n", "check", "--connect", "qemu:///system", "win11", "");
        assert_completes("-\n", "plan", "win11", "--xml", "-");
        assert_completes("--best-effort\n--help\n", "restore", "-");
}

static void test_domains(void **state)
{
        const char *root = *state;

        /* Configs, libvirt's definitions and journals, each name once, sorted; spaces kept. */
        assert_completes_in(root, "linux\nmy vm\nstuck\nwin11\n", "plan", "");
        assert_completes_in(root, "win11\n", "restore", "w");
        assert_completes_in(root, "my vm\n", "check", "m");
        /* One domain per command. */
        assert_completes_in(root, "", "restore", "win11", "");
        assert_completes_in(root, "win11\n", "restore", "--best-effort", "w");
        assert_completes_in(root, "prepare\n", "hook", "qemu", "win11", "pr");
        assert_completes_in(root, "begin\nend\n-\n", "hook", "qemu", "win11", "prepare", "");
}

static void test_no_domains(void **state)
{
        _cleanup_pf_root_ char *empty = pf_root_new("completion-empty");

        assert_completes_in(empty, "", "plan", "");
}

int main(void)
{
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_commands),
                cmocka_unit_test(test_options),
                cmocka_unit_test(test_domains),
                cmocka_unit_test(test_no_domains),
        };

        return cmocka_run_group_tests(tests, setup, teardown);
}
