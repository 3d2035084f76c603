/*  sb_out — a bounded text appender for the per-request records and metric labels
    built on the hot path, where snprintf's format parsing costs more than the
    work. Writes stop at the buffer's end (the text is cut, never overrun) and the
    text is always NUL-terminated.  */

#ifndef SB_OUT_H_INCLUDED
#define SB_OUT_H_INCLUDED

#include "sb_oai_error.h"

#include <stdint.h>
#include <string.h>

typedef struct {
    char *data;
    size_t len, size; // size > 0: the buffer's size, NUL included
} sb_out_t;

static inline sb_out_t
sb_out (char *buf, size_t size)
{
    buf[0] = '\0';
    return (sb_out_t){buf, 0, size};
}

static inline void
sb_out_mem (sb_out_t *o, const void *data, size_t len)
{
    if (len > o->size - 1 - o->len) len = o->size - 1 - o->len;
    memcpy (o->data + o->len, data, len);
    o->len += len;
    o->data[o->len] = '\0';
}

//  A string literal.
#define sb_out_lit(o, lit) sb_out_mem ((o), "" lit, sizeof (lit) - 1)

static inline void
sb_out_cstr (sb_out_t *o, const char *text)
{
    sb_out_mem (o, text, strlen (text));
}

static inline void
sb_out_u64 (sb_out_t *o, uint64_t v)
{
    char digits[20];
    size_t n = 0;
    do
        digits[sizeof digits - 1 - n++] = (char)('0' + v % 10);
    while ((v /= 10));
    sb_out_mem (o, digits + sizeof digits - n, n);
}

static inline void
sb_out_i64 (sb_out_t *o, int64_t v)
{
    if (v < 0) {
        sb_out_lit (o, "-");
        sb_out_u64 (o, (uint64_t)0 - (uint64_t)v);
    } else
        sb_out_u64 (o, (uint64_t)v);
}

//  `text` as a JSON string, quotes included.
static inline void
sb_out_jstr (sb_out_t *o, const char *text, size_t len)
{
    sb_out_lit (o, "\"");
    if (o->size - o->len > 2) {
        sb_json_escape_append (o->data, o->size - 1, &o->len, text, len);
        o->data[o->len] = '\0';
    }
    sb_out_lit (o, "\"");
}

#endif
