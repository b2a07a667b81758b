/* The tool's log: sd-journal with SYSLOG_IDENTIFIER=gpu-handover and structured fields; optionally stderr. */
#pragma once

#include <syslog.h>

#include "shared/macro.h"
#include "shared/time-util.h"

typedef struct gh_log_fields {
        const char *domain;  /* GH_DOMAIN= */
        const char *addr;    /* GH_PCI_ADDR= */
        const char *step;    /* GH_STEP= */
        usec_t duration;     /* GH_DURATION_USEC=, when has_duration */
        bool has_duration;
} gh_log_fields;

typedef enum gh_log_target {
        GH_LOG_JOURNAL = 1 << 0,
        GH_LOG_STDERR = 1 << 1,
} gh_log_target;

void gh_log_setup(unsigned targets, int max_level);
/* Logs at level; error (negative errno, or 0) is appended as ": strerror". Returns error, or -EIO
 * if error is 0 and level is LOG_ERR, so it can be returned directly. */
int gh_log_full(int level, int error, const gh_log_fields *f, const char *fmt, ...) _printf_(4, 5);

#define log_info(...) gh_log_full(LOG_INFO, 0, NULL, __VA_ARGS__)
#define log_debug(...) gh_log_full(LOG_DEBUG, 0, NULL, __VA_ARGS__)
#define log_warning(...) gh_log_full(LOG_WARNING, 0, NULL, __VA_ARGS__)
#define log_error_errno(r, ...) gh_log_full(LOG_ERR, (r), NULL, __VA_ARGS__)
