/*  sb_sse — SSE framing per the WHATWG EventSource rules that matter to a proxy:
    lines end in \n, \r\n or \r; an empty line ends an event; `data:` lines join
    with \n; a single space after the colon is dropped; comment lines (":") are
    kept in `raw` but carry no data.  */

#include "sb_sse.h"

#include <stdlib.h>
#include <string.h>

struct _sb_sse_t {
    char *buf; // bytes of the event being assembled
    size_t len;
    size_t max;   // max_event
    size_t scan;  // how far buf has been searched for an event end
    char *fields; // scratch: event name + data, rebuilt per event
    size_t fields_size;
};

sb_sse_t *
sb_sse_new (size_t max_event)
{
    sb_sse_t *self = calloc (1, sizeof *self);
    if (!self) return NULL;
    self->max = max_event;
    return self;
}

void
sb_sse_destroy (sb_sse_t **self_p)
{
    if (!self_p || !*self_p) return;
    free ((*self_p)->buf);
    free ((*self_p)->fields);
    free (*self_p);
    *self_p = NULL;
}

void
sb_sse_reset (sb_sse_t *self)
{
    self->len = 0;
    self->scan = 0;
}

size_t
sb_sse_pending (const sb_sse_t *self)
{
    return self->len;
}

//  Finds the end of the first event in [p, p+n): returns the length including the
//  blank line, or 0 when incomplete. A lone '\r' at the very end is ambiguous
//  (may be the first half of "\r\n") and waits for more bytes.
static size_t
s_event_end (const char *p, size_t n, size_t from)
{
    size_t i = from;
    //  Look for a line terminator followed directly by another one.
    while (i < n) {
        char c = p[i];
        if (c != '\n' && c != '\r') {
            i++;
            continue;
        }
        size_t eol = i + 1;
        if (c == '\r') {
            if (eol >= n) return 0;
            if (p[eol] == '\n') eol++;
        }
        if (eol >= n) return 0;
        if (p[eol] == '\n') return eol + 1;
        if (p[eol] == '\r') {
            if (eol + 1 >= n) return 0;
            return p[eol + 1] == '\n' ? eol + 2 : eol + 1;
        }
        i = eol;
    }
    return 0;
}

//  Parses the fields of one complete event into self->fields.
static int
s_dispatch (sb_sse_t *self, const char *raw, size_t raw_len, sb_sse_event_fn *fn, void *arg)
{
    if (self->fields_size < raw_len + 2) {
        char *f = realloc (self->fields, raw_len + 2);
        if (!f) return -1;
        self->fields = f;
        self->fields_size = raw_len + 2;
    }
    //  Layout in fields: event name NUL data NUL (both fit in raw_len + 2).
    char event[64] = "";
    char *data = self->fields;
    size_t data_len = 0;
    int have_data = 0;
    const char *p = raw, *end = raw + raw_len;
    while (p < end) {
        const char *eol = p;
        while (eol < end && *eol != '\n' && *eol != '\r')
            eol++;
        size_t line_len = (size_t)(eol - p);
        if (line_len > 0 && *p != ':') {
            const char *colon = memchr (p, ':', line_len);
            size_t name_len = colon ? (size_t)(colon - p) : line_len;
            const char *value = colon ? colon + 1 : eol;
            if (value < eol && *value == ' ') value++;
            size_t value_len = (size_t)(eol - value);
            if (name_len == 4 && memcmp (p, "data", 4) == 0) {
                if (have_data) data[data_len++] = '\n';
                memcpy (data + data_len, value, value_len);
                data_len += value_len;
                have_data = 1;
            } else if (name_len == 5 && memcmp (p, "event", 5) == 0) {
                size_t n = value_len < sizeof event - 1 ? value_len : sizeof event - 1;
                memcpy (event, value, n);
                event[n] = '\0';
            }
        }
        p = eol;
        if (p < end && *p == '\r') p++;
        if (p < end && *p == '\n') p++;
    }
    data[data_len] = '\0';
    sb_sse_event_t ev = {raw, raw_len, event, data, data_len};
    return fn (arg, &ev);
}

int
sb_sse_feed (sb_sse_t *self, const char *data, size_t len, sb_sse_event_fn *fn, void *arg)
{
    //  Fast path: nothing buffered — frame events straight out of the input.
    while (self->len == 0 && len > 0) {
        size_t n = s_event_end (data, len, 0);
        if (n == 0) break;
        if (n > self->max) return -1;
        int rc = s_dispatch (self, data, n, fn, arg);
        if (rc) return rc;
        data += n;
        len -= n;
    }
    if (len == 0) return 0;
    if (self->len + len > self->max + 2) {
        sb_sse_reset (self);
        return -1;
    }
    if (!self->buf) {
        self->buf = malloc (self->max + 2);
        if (!self->buf) return -1;
    }
    memcpy (self->buf + self->len, data, len);
    self->len += len;
    for (;;) {
        size_t from = self->scan > 2 ? self->scan - 2 : 0;
        size_t n = s_event_end (self->buf, self->len, from);
        if (n == 0) {
            self->scan = self->len;
            if (self->len > self->max) {
                sb_sse_reset (self);
                return -1;
            }
            return 0;
        }
        int rc = s_dispatch (self, self->buf, n, fn, arg);
        memmove (self->buf, self->buf + n, self->len - n);
        self->len -= n;
        self->scan = 0;
        if (rc) return rc;
        if (self->len == 0) return 0;
    }
}
