/* Text from outside (an XML value, a name) made fit to quote in a one-line message. */
#pragma once

#include "macro.h"

#define GH_PRINTABLE_MAX 256

/* Copies s into buf (size bytes, at least 4), with each control character and DEL written as \xNN: the
 * copy is one line and sends nothing raw to a terminal. Cut short with "..." when too long. Returns buf. */
char *gh_printable(const char *s, char *buf, size_t size);

/* A compound literal buffer, for use in printf arguments. */
#define GH_PRINTABLE(s) gh_printable((s), (char[GH_PRINTABLE_MAX]){}, GH_PRINTABLE_MAX)
