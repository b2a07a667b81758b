/* A small streaming JSON writer: compact output to a FILE, commas and escaping done for the caller. */
#pragma once

#include <stdint.h>

#include "macro.h"

#define GH_JSON_DEPTH_MAX 64

typedef struct gh_json {
        FILE *f;
        unsigned depth;
        uint64_t is_object; /* bit d: the container at depth d is an object */
        uint64_t has_items; /* bit d: the container at depth d has an element already */
        bool after_key;     /* a key was written: its value comes next */
        int error;          /* first misuse (-EINVAL) or -E2BIG for nesting too deep; 0 when none */
} gh_json;

void gh_json_init(gh_json *j, FILE *f);
/* 0 when one complete value was written, every container closed and f has no error; else -errno. */
int gh_json_finish(gh_json *j);

void gh_json_object_begin(gh_json *j);
void gh_json_object_end(gh_json *j);
void gh_json_array_begin(gh_json *j);
void gh_json_array_end(gh_json *j);
/* Inside an object, before each value. */
void gh_json_key(gh_json *j, const char *key);

/* s NULL writes null. Valid UTF-8 passes through; a byte that is not part of valid UTF-8 becomes
 * U+FFFD, so that any C string (a process name, say) gives valid JSON. */
void gh_json_string(gh_json *j, const char *s);
void gh_json_int(gh_json *j, int64_t v);
void gh_json_uint(gh_json *j, uint64_t v);
void gh_json_bool(gh_json *j, bool v);
void gh_json_null(gh_json *j);

/* Writes s as a quoted JSON string, escaped as above. */
void gh_json_write_string(FILE *f, const char *s);
