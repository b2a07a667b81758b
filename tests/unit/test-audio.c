/* The audio function's release under the fake kernel, whose ALSA unbind disconnects the card and then waits
 * while any process has one of its nodes open, as snd_card_free does: real child processes are the card's
 * clients, a polite one (PipeWire) closing it on the disconnect, a stubborn one not. */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "fakesys.h"
#include "host/audio.h"
#include "shared/strv.h"

#define AUDIO "0000:06:00.1"

typedef struct world {
        fakesys *fs;
        char *real_root;    /* the tree's canonical path, as /proc/PID/fd links show its files */
        char *nodes[3];     /* controlC1 and pcmC1D3p there, absolute */
        char *disconnected; /* the fake kernel's sign that the card was disconnected */
        pid_t clients[2];
        size_t n_clients;
} world;

static void add_card_node(world *w, size_t i, const char *name)
{
        _cleanup_free_ char *rel = NULL, *link = NULL;

        assert_true(asprintf(&rel, "/dev/snd/%s", name) > 0);
        fakesys_add_node(w->fs, rel);
        assert_true(asprintf(&w->nodes[i], "%s%s", w->real_root, rel) > 0);
        assert_true(asprintf(&link, "%s/fake-kernel/alsa/" AUDIO "/%s", w->real_root, name) > 0);
        assert_int_equal(symlink(w->nodes[i], link), 0);
}

/* HDMI audio on snd_hda_intel, with two nodes; ROOT/proc is this system's, so that the scan sees the
 * clients and may signal them. */
static int setup(void **state)
{
        world *w = calloc(1, sizeof(world));
        _cleanup_free_ char *proc = NULL, *cards = NULL, *alsa = NULL;

        w->fs = fakesys_new();
        fakesys_add_driver(w->fs, "snd_hda_intel", NULL);
        fakesys_add_dev(w->fs, AUDIO, 0x040300, 0x10de, 0x10f0, 3);
        fakesys_bind(w->fs, AUDIO, "snd_hda_intel");
        w->real_root = realpath(fakesys_root(w->fs), NULL);
        assert_non_null(w->real_root);
        proc = fakesys_path(w->fs, "/proc");
        assert_int_equal(rmdir(proc), 0);
        assert_int_equal(symlink("/proc", proc), 0);
        cards = fakesys_path(w->fs, "/fake-kernel/alsa");
        alsa = fakesys_path(w->fs, "/fake-kernel/alsa/" AUDIO);
        assert_int_equal(mkdir(cards, 0755), 0);
        assert_int_equal(mkdir(alsa, 0755), 0);
        add_card_node(w, 0, "controlC1");
        add_card_node(w, 1, "pcmC1D3p");
        w->disconnected = fakesys_path(w->fs, "/fake-kernel/disconnected/" AUDIO);
        *state = w;
        return 0;
}

static int teardown(void **state)
{
        world *w = *state;

        for (size_t i = 0; i < w->n_clients; i++) {
                (void)kill(w->clients[i], SIGKILL);
                (void)waitpid(w->clients[i], NULL, 0);
        }
        for (size_t i = 0; w->nodes[i]; i++)
                free(w->nodes[i]);
        free(w->disconnected);
        free(w->real_root);
        fakesys_free(w->fs);
        free(w);
        return 0;
}

/* In the client: closes fd a moment after the card is disconnected (polite: PipeWire handles the error in
 * its loop, and tears the device down), or never; then waits for signals. */
static _Noreturn void client_main(const world *w, int fd, bool polite)
{
        while (polite && access(w->disconnected, F_OK) < 0)
                usleep(5 * 1000);
        if (polite) {
                usleep(200 * 1000);
                close(fd);
        }
        for (;;)
                pause();
}

/* A client holding node; returns once it holds it. */
static pid_t client_start(world *w, const char *node, bool polite, const char *comm)
{
        int p[2];
        char c;
        pid_t pid;

        assert_int_equal(pipe2(p, O_CLOEXEC), 0);
        pid = fork();
        assert_true(pid >= 0);
        if (pid == 0) {
                int fd;

                (void)prctl(PR_SET_PDEATHSIG, SIGKILL);
                (void)prctl(PR_SET_NAME, comm);
                fd = open(node, O_RDONLY | O_CLOEXEC);
                if (fd < 0 || write(p[1], "R", 1) != 1)
                        _exit(1);
                client_main(w, fd, polite);
        }
        close(p[1]);
        assert_int_equal(read(p[0], &c, 1), 1);
        close(p[0]);
        w->clients[w->n_clients++] = pid;
        return pid;
}

/* Alive and never signalled: a signal would have ended it (none is caught). */
static bool client_untouched(pid_t pid)
{
        return waitpid(pid, NULL, WNOHANG) == 0;
}

static int client_term_signal(pid_t pid)
{
        int status;

        assert_int_equal(waitpid(pid, &status, 0), pid);
        assert_true(WIFSIGNALED(status));
        return WTERMSIG(status);
}

static gh_audio_release release_of(const world *w, gh_holders_mode mode, usec_t wait)
{
        return (gh_audio_release){.addr = AUDIO,
                                  .driver = "snd_hda_intel",
                                  .nodes = w->nodes,
                                  .mode = mode,
                                  .grace = USEC_PER_SEC,
                                  .wait = wait};
}

static void assert_unbound(const world *w)
{
        _cleanup_free_ char *d = fakesys_driver(w->fs, AUDIO);

        assert_null(d);
        /* snd_hda_intel's nodes go with the card. */
        assert_int_equal(access(w->nodes[0], F_OK), -1);
        assert_int_equal(access(w->nodes[1], F_OK), -1);
}

/* PipeWire closes the card when it is disconnected: the unbind ends long before the wait is over, and
 * PipeWire is never signalled. */
static void test_client_closes_on_disconnect(void **state)
{
        world *w = *state;
        gh_audio_release a = release_of(w, GH_HOLDERS_TERMINATE, 20 * USEC_PER_SEC);
        gh_error err = {};
        usec_t start = now_usec();
        pid_t pw = client_start(w, w->nodes[0], true, "pipewire");
        pid_t wp = client_start(w, w->nodes[1], true, "wireplumber");

        assert_int_equal(gh_audio_release_run(w->real_root, &a, deadline_after(30 * USEC_PER_SEC), &err), 0);
        assert_false(gh_error_isset(&err));
        assert_true(now_usec() - start < 10 * USEC_PER_SEC);
        assert_unbound(w);
        assert_true(client_untouched(pw));
        assert_true(client_untouched(wp));
}

/* A client that keeps the card open is ended once the wait is over, and the unbind then completes; the
 * polite one next to it is still never signalled. */
static void test_stubborn_client_ended_after_wait(void **state)
{
        world *w = *state;
        usec_t wait = 300 * USEC_PER_MSEC, start = now_usec();
        gh_audio_release a = release_of(w, GH_HOLDERS_TERMINATE, wait);
        gh_error err = {};
        pid_t pw = client_start(w, w->nodes[0], true, "pipewire");
        pid_t stubborn = client_start(w, w->nodes[1], false, "gh-stubborn");

        assert_int_equal(gh_audio_release_run(w->real_root, &a, deadline_after(30 * USEC_PER_SEC), &err), 0);
        assert_false(gh_error_isset(&err));
        assert_true(now_usec() - start >= wait);
        assert_int_equal(client_term_signal(stubborn), SIGTERM);
        w->n_clients = 1;
        assert_unbound(w);
        assert_true(client_untouched(pw));
}

/* holders = fail: one line names the function, the process and the node; the unbind is given up on, the
 * function stays on its driver, and nobody is signalled. */
static void test_stubborn_client_fails(void **state)
{
        world *w = *state;
        gh_audio_release a = release_of(w, GH_HOLDERS_FAIL, USEC_PER_SEC);
        _cleanup_free_ char *want = NULL, *d = NULL;
        gh_error err = {};
        pid_t stubborn = client_start(w, w->nodes[1], false, "gh-stubborn");

        assert_int_equal(gh_audio_release_run(w->real_root, &a, deadline_after(30 * USEC_PER_SEC), &err),
                         -EBUSY);
        assert_true(asprintf(&want,
                             "audio " AUDIO
                             " was not released from 'snd_hda_intel' within 1 s: device nodes "
                             "in use: pid %d (gh-stubborn) holds %s",
                             (int)stubborn, w->nodes[1]) > 0);
        assert_string_equal(err.msg, want);
        assert_null(strchr(err.msg, '\n'));
        d = fakesys_driver(w->fs, AUDIO);
        assert_string_equal(d, "snd_hda_intel");
        assert_true(client_untouched(stubborn));
}

/* Never longer than the hand-over's budget: with no node on record to end holders of, a client that never
 * lets go makes the unbind run into the deadline, and it is given up on (the function stays bound). */
static void test_deadline_bounds_the_wait(void **state)
{
        world *w = *state;
        gh_audio_release a = release_of(w, GH_HOLDERS_TERMINATE, 100 * USEC_PER_MSEC);
        _cleanup_free_ char *d = NULL;
        gh_error err = {};
        usec_t start = now_usec();
        pid_t stubborn = client_start(w, w->nodes[1], false, "gh-stubborn");

        a.nodes = NULL;
        assert_int_equal(gh_audio_release_run(w->real_root, &a, deadline_after(500 * USEC_PER_MSEC), &err),
                         -ETIMEDOUT);
        assert_true(now_usec() - start < 5 * USEC_PER_SEC);
        assert_non_null(strstr(err.msg, AUDIO));
        d = fakesys_driver(w->fs, AUDIO);
        assert_string_equal(d, "snd_hda_intel");
        assert_true(client_untouched(stubborn));
}

/* On another driver (or none): nothing to do. */
static void test_not_bound_to_driver(void **state)
{
        world *w = *state;
        gh_audio_release a = release_of(w, GH_HOLDERS_TERMINATE, 0);
        _cleanup_free_ char *d = NULL;
        gh_error err = {};

        a.driver = "other";
        assert_int_equal(gh_audio_release_run(w->real_root, &a, deadline_after(5 * USEC_PER_SEC), &err), 0);
        d = fakesys_driver(w->fs, AUDIO);
        assert_string_equal(d, "snd_hda_intel");
}

int main(void)
{
        const struct CMUnitTest tests[] = {
                cmocka_unit_test_setup_teardown(test_client_closes_on_disconnect, setup, teardown),
                cmocka_unit_test_setup_teardown(test_stubborn_client_ended_after_wait, setup, teardown),
                cmocka_unit_test_setup_teardown(test_stubborn_client_fails, setup, teardown),
                cmocka_unit_test_setup_teardown(test_deadline_bounds_the_wait, setup, teardown),
                cmocka_unit_test_setup_teardown(test_not_bound_to_driver, setup, teardown),
        };

        return cmocka_run_group_tests(tests, NULL, NULL);
}
