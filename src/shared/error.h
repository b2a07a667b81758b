/* A place for the layer that detects a failure to say what failed; only the front prints it. */
#pragma once

#include "macro.h"

#define GH_ERROR_MAX 512

typedef struct gh_error {
        int code;               /* negative errno, 0 when unset */
        char msg[GH_ERROR_MAX]; /* one line, names the thing: domain, address, file:line */
} gh_error;

/* Records the first error only (the root cause) and returns r, which must be negative.
 * err may be NULL. */
int gh_error_set(gh_error *err, int r, const char *fmt, ...) _printf_(3, 4);

/* Overwrites whatever was recorded; the arguments may quote err->msg, to wrap the old message. */
int gh_error_replace(gh_error *err, int r, const char *fmt, ...) _printf_(3, 4);

/* Adds one more item after what was recorded (sep between them), cut short when the message is full;
 * the code stays the first one's. For reports of several failures, where each counts. */
int gh_error_append(gh_error *err, int r, const char *sep, const char *fmt, ...) _printf_(4, 5);

static inline bool gh_error_isset(const gh_error *err)
{
        return err && err->msg[0];
}
