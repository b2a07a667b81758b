/* The tool's log: structured entries in the systemd journal, and optionally one line each on stderr. */
#include <errno.h>
#include <stdarg.h>
#include <systemd/sd-journal.h>

#include "log.h"

static unsigned log_targets = GH_LOG_STDERR;
static int log_max_level = LOG_INFO;

void gh_log_setup(unsigned targets, int max_level)
{
        log_targets = targets;
        log_max_level = max_level;
}

static void log_to_journal(int level, const gh_log_fields *f, const char *msg)
{
        char dur[32] = "";

        if (f && f->has_duration)
                snprintf(dur, sizeof(dur), "%llu", (unsigned long long)f->duration);
        /* Empty fields are dropped by the journal's readers only by convention; send them only when set. */
        sd_journal_send("MESSAGE=%s", msg, "PRIORITY=%i", level, "SYSLOG_IDENTIFIER=gpu-handover",
                        "GH_DOMAIN=%s", f && f->domain ? f->domain : "", "GH_PCI_ADDR=%s",
                        f && f->addr ? f->addr : "", "GH_STEP=%s", f && f->step ? f->step : "",
                        "GH_DURATION_USEC=%s", dur, NULL);
}

int gh_log_full(int level, int error, const gh_log_fields *f, const char *fmt, ...)
{
        char msg[1024];
        va_list ap;
        int n;

        if (error > 0)
                error = -error;
        if (level > log_max_level)
                return error;
        va_start(ap, fmt);
        n = vsnprintf(msg, sizeof(msg), fmt, ap);
        va_end(ap);
        if (error && n >= 0 && (size_t)n < sizeof(msg))
                snprintf(msg + n, sizeof(msg) - (size_t)n, ": %s", strerror(-error));
        if (log_targets & GH_LOG_JOURNAL)
                log_to_journal(level, f, msg);
        if (log_targets & GH_LOG_STDERR)
                fprintf(stderr, "gpu-handover: %s\n", msg);
        if (!error && level <= LOG_ERR)
                return -EIO;
        return error;
}
