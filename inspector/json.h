/*
 * json.h — a small streaming JSON writer on output.h's buffered writer:
 * values are written as they are produced (100,000 goroutines never sit in
 * memory as a document), commas and nesting are tracked here.
 */
#ifndef GOINSPECT_JSON_H
#define GOINSPECT_JSON_H

#include <stdbool.h>
#include <stdint.h>

#include "output.h"

#define JSON_MAX_DEPTH 32

struct json {
    struct out *o;
    int depth;
    bool first[JSON_MAX_DEPTH];     /* no value yet at this level */
    bool after_key;                 /* a key was written; its value comes next */
};

void json_init(struct json *j, struct out *o);
void json_obj(struct json *j);          /* { */
void json_obj_end(struct json *j);      /* } */
void json_arr(struct json *j);          /* [ */
void json_arr_end(struct json *j);      /* ] */
void json_key(struct json *j, const char *key);
void json_str(struct json *j, const char *s);   /* NULL writes null */
void json_u64(struct json *j, uint64_t v);
void json_i64(struct json *j, int64_t v);
void json_f64(struct json *j, double v);  /* 6 significant digits */
void json_bool(struct json *j, bool v);
void json_null(struct json *j);
/* Ends the document with a newline. */
void json_end(struct json *j);

/* Key and value in one call. */
void json_kstr(struct json *j, const char *key, const char *s);
void json_ku64(struct json *j, const char *key, uint64_t v);
void json_ki64(struct json *j, const char *key, int64_t v);
void json_kbool(struct json *j, const char *key, bool v);

#endif
