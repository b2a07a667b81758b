/* gh_error: first-error-wins context for failures, formatted once where they are found. */
#include <stdarg.h>

#include "error.h"

_printf_(3, 0) static int error_vset(gh_error *err, int r, const char *fmt, va_list ap)
{
        if (!err)
                return r;
        err->code = r;
        vsnprintf(err->msg, sizeof(err->msg), fmt, ap);
        return r;
}

int gh_error_set(gh_error *err, int r, const char *fmt, ...)
{
        va_list ap;

        if (gh_error_isset(err))
                return r;
        va_start(ap, fmt);
        error_vset(err, r, fmt, ap);
        va_end(ap);
        return r;
}

int gh_error_replace(gh_error *err, int r, const char *fmt, ...)
{
        gh_error next = {};
        va_list ap;

        if (!err)
                return r;
        /* Formatted apart: the arguments may quote err->msg itself, to wrap the old message. */
        va_start(ap, fmt);
        error_vset(&next, r, fmt, ap);
        va_end(ap);
        *err = next;
        return r;
}

int gh_error_append(gh_error *err, int r, const char *sep, const char *fmt, ...)
{
        size_t len;
        va_list ap;

        if (!err)
                return r;
        len = strlen(err->msg);
        if (len == 0)
                err->code = r;
        else
                len += (size_t)snprintf(err->msg + len, sizeof(err->msg) - len, "%s", sep);
        if (len >= sizeof(err->msg) - 1)
                return r;
        va_start(ap, fmt);
        vsnprintf(err->msg + len, sizeof(err->msg) - len, fmt, ap);
        va_end(ap);
        return r;
}
