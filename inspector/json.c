/*
 * json.c — the streaming JSON writer of json.h.
 */
#include "json.h"

#include <stdio.h>

void json_init(struct json *j, struct out *o)
{
    j->o = o;
    j->depth = 0;
    j->first[0] = true;
    j->after_key = false;
}

/* Writes the separator a new value needs at the current level. */
static void value_start(struct json *j)
{
    if (j->after_key) {
        j->after_key = false;
        return;
    }
    if (!j->first[j->depth])
        out_char(j->o, ',');
    j->first[j->depth] = false;
}

static void nest_open(struct json *j, char c)
{
    value_start(j);
    out_char(j->o, c);
    if (j->depth + 1 < JSON_MAX_DEPTH)
        j->depth++;
    j->first[j->depth] = true;
}

static void nest_close(struct json *j, char c)
{
    out_char(j->o, c);
    if (j->depth > 0)
        j->depth--;
}

void json_obj(struct json *j) { nest_open(j, '{'); }
void json_obj_end(struct json *j) { nest_close(j, '}'); }
void json_arr(struct json *j) { nest_open(j, '['); }
void json_arr_end(struct json *j) { nest_close(j, ']'); }

void json_key(struct json *j, const char *key)
{
    value_start(j);
    out_json_str(j->o, key);
    out_char(j->o, ':');
    j->after_key = true;
}

void json_str(struct json *j, const char *s)
{
    value_start(j);
    out_json_str(j->o, s);
}

void json_u64(struct json *j, uint64_t v)
{
    value_start(j);
    out_u64(j->o, v);
}

void json_i64(struct json *j, int64_t v)
{
    value_start(j);
    if (v < 0) {
        out_char(j->o, '-');
        out_u64(j->o, (uint64_t)0 - (uint64_t)v);
    } else {
        out_u64(j->o, (uint64_t)v);
    }
}

void json_f64(struct json *j, double v)
{
    value_start(j);
    char buf[32];
    if (v != v || v > 1e300 || v < -1e300) {    /* NaN and infinities are not JSON */
        out_str(j->o, "null");
        return;
    }
    snprintf(buf, sizeof buf, "%.6g", v);
    out_str(j->o, buf);
}

void json_bool(struct json *j, bool v)
{
    value_start(j);
    out_str(j->o, v ? "true" : "false");
}

void json_null(struct json *j)
{
    value_start(j);
    out_str(j->o, "null");
}

void json_end(struct json *j)
{
    out_char(j->o, '\n');
}

void json_kstr(struct json *j, const char *key, const char *s)
{
    json_key(j, key);
    json_str(j, s);
}

void json_ku64(struct json *j, const char *key, uint64_t v)
{
    json_key(j, key);
    json_u64(j, v);
}

void json_ki64(struct json *j, const char *key, int64_t v)
{
    json_key(j, key);
    json_i64(j, v);
}

void json_kbool(struct json *j, const char *key, bool v)
{
    json_key(j, key);
    json_bool(j, v);
}
