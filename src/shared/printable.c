/* Quoting outside text in messages without letting it break the line or reach a terminal raw. */
#include "printable.h"

static size_t shown_len(unsigned char c)
{
        return c >= 0x20 && c != 0x7f ? 1 : 4;
}

char *gh_printable(const char *s, char *buf, size_t size)
{
        const unsigned char *p = (const unsigned char *)s;
        size_t total = 0, k = 0, room = size - 1;

        for (const unsigned char *q = p; *q; q++)
                total += shown_len(*q);
        if (total > room)
                room -= 3; /* for the "..." */
        for (; *p && k + shown_len(*p) <= room; p++) {
                if (shown_len(*p) == 1)
                        buf[k++] = (char)*p;
                else
                        k += (size_t)snprintf(buf + k, size - k, "\\x%02x", *p);
        }
        snprintf(buf + k, size - k, "%s", *p ? "..." : "");
        return buf;
}
