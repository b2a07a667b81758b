/* Running a program from a test: its exit status, stdout and stderr, with the stdin it is given. */
#pragma once

#include "shared/macro.h"

typedef struct gh_run {
        int status; /* the exit status, or 128 + the signal that ended it */
        char *out, *err;
} gh_run;

/* Runs argv (argv[0] a path) with input on its stdin (NULL: /dev/null); fails the test if it cannot. */
void gh_run_capture(const char *const *argv, const char *input, gh_run *ret);
void gh_run_done(gh_run *r);
