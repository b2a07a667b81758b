/* Running a program from a test: its exit status, stdout and stderr, with stdin from a file. */
#pragma once

#include "shared/macro.h"

typedef struct gh_run {
        int status; /* the exit status, or 128 + the signal that ended it */
        char *out, *err;
} gh_run;

/* Runs argv (argv[0] a path) with stdin from stdin_path (NULL: /dev/null); fails the test if it cannot. */
void gh_run_capture(const char *const *argv, const char *stdin_path, gh_run *ret);
void gh_run_done(gh_run *r);
