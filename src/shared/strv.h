/* NULL-terminated string vectors. */
#pragma once

#include "macro.h"

typedef char **strv_t;

void strv_free(char **l);
DEFINE_TRIVIAL_CLEANUP_FUNC(char **, strv_free)
#define _cleanup_strv_free_ _cleanup_(strv_freep)

size_t strv_length(char *const *l);
bool strv_contains(char *const *l, const char *s);
/* Appends a copy of s. */
int strv_extend(char ***l, const char *s);
/* Appends a copy of s unless it is present already. */
int strv_extend_unique(char ***l, const char *s);
/* Takes ownership of s, also on failure. */
int strv_push(char ***l, char *s);
char **strv_copy(char *const *l);
/* Splits on any of the separator characters, dropping empty words. */
int strv_split(const char *s, const char *separators, char ***ret);

#define STRV_FOREACH(s, l) for (char *const *s = (l); s && *s; s++)
