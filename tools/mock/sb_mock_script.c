/*  sb_mock_script — timed writes of one response (see sb_mock_script.h). Steps grow
    geometrically but are bounded by the bounds on what goes into them: a script never
    holds more than SB_MOCK_SCRIPT_MAX_STEPS steps, and the reply builder bounds each
    step's text (knob limits, 32 MiB request bodies).  */

#include "sb_mock_script.h"

#include <assert.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

//  Invariants: buf is NULL when cap == 0, else headroom + cap bytes; len <= cap.
typedef struct {
    uint64_t delay_us;
    uint8_t *buf;
    size_t len;
    size_t cap;
} s_step_t;

//  Invariants: count <= steps_cap <= SB_MOCK_SCRIPT_MAX_STEPS.
struct _sb_mock_script_t {
    size_t headroom;
    s_step_t *steps;
    size_t count;
    size_t steps_cap;
    sb_mock_end_t end;
    int status;
};

sb_mock_script_t *
sb_mock_script_new (size_t headroom)
{
    sb_mock_script_t *self = calloc (1, sizeof (*self));
    if (!self) return NULL;
    self->headroom = headroom;
    self->end = SB_MOCK_END_KEEP_ALIVE;
    return self;
}

void
sb_mock_script_destroy (sb_mock_script_t **self_p)
{
    if (!self_p || !*self_p) return;
    sb_mock_script_t *self = *self_p;
    for (size_t i = 0; i < self->count; i++)
        free (self->steps[i].buf);
    free (self->steps);
    free (self);
    *self_p = NULL;
}

int
sb_mock_script_step (sb_mock_script_t *self, uint64_t delay_us)
{
    assert (self);
    if (self->count == self->steps_cap) {
        if (self->steps_cap >= SB_MOCK_SCRIPT_MAX_STEPS) return -1;
        size_t cap = self->steps_cap ? self->steps_cap * 2 : 8;
        if (cap > SB_MOCK_SCRIPT_MAX_STEPS) cap = SB_MOCK_SCRIPT_MAX_STEPS;
        s_step_t *steps = realloc (self->steps, cap * sizeof (*steps));
        if (!steps) return -1;
        self->steps = steps;
        self->steps_cap = cap;
    }
    self->steps[self->count++] = (s_step_t){.delay_us = delay_us};
    return 0;
}

int
sb_mock_script_append (sb_mock_script_t *self, const void *data, size_t len)
{
    assert (self);
    if (self->count == 0 && sb_mock_script_step (self, 0)) return -1;
    s_step_t *step = &self->steps[self->count - 1];
    if (len > step->cap - step->len) {
        size_t cap = step->cap ? step->cap : 256;
        while (cap - step->len < len) {
            if (cap > SIZE_MAX / 2) return -1;
            cap *= 2;
        }
        uint8_t *buf = realloc (step->buf, self->headroom + cap);
        if (!buf) return -1;
        step->buf = buf;
        step->cap = cap;
    }
    if (len) memcpy (step->buf + self->headroom + step->len, data, len);
    step->len += len;
    return 0;
}

static int
s_append_str (sb_mock_script_t *self, const char *text)
{
    return sb_mock_script_append (self, text, strlen (text));
}

static const char *
s_reason (int status)
{
    switch (status) {
        case 200:
            return "OK";
        case 400:
            return "Bad Request";
        case 401:
            return "Unauthorized";
        case 403:
            return "Forbidden";
        case 404:
            return "Not Found";
        case 405:
            return "Method Not Allowed";
        case 408:
            return "Request Timeout";
        case 409:
            return "Conflict";
        case 411:
            return "Length Required";
        case 413:
            return "Payload Too Large";
        case 422:
            return "Unprocessable Entity";
        case 429:
            return "Too Many Requests";
        case 500:
            return "Internal Server Error";
        case 501:
            return "Not Implemented";
        case 502:
            return "Bad Gateway";
        case 503:
            return "Service Unavailable";
        case 504:
            return "Gateway Timeout";
        case 529:
            return "Overloaded";
        default:
            return status < 400 ? "OK" : "Error";
    }
}

int
sb_mock_script_head (sb_mock_script_t *self, int status, const char *content_type,
                     int64_t content_length, const char *extra, bool keep_alive)
{
    assert (self);
    assert (content_type);
    char head[512];
    int n;
    if (content_length >= 0)
        n = snprintf (head, sizeof (head),
                      "HTTP/1.1 %d %s\r\nContent-Type: %s\r\nContent-Length: %lld\r\n%s", status,
                      s_reason (status), content_type, (long long)content_length,
                      keep_alive ? "" : "Connection: close\r\n");
    else
        n = snprintf (head, sizeof (head),
                      "HTTP/1.1 %d %s\r\nContent-Type: %s\r\nCache-Control: no-cache\r\n"
                      "Transfer-Encoding: chunked\r\n%s",
                      status, s_reason (status), content_type,
                      keep_alive ? "" : "Connection: close\r\n");
    if (n < 0 || (size_t)n >= sizeof (head)) return -1;
    if (sb_mock_script_append (self, head, (size_t)n)) return -1;
    if (extra && s_append_str (self, extra)) return -1;
    if (s_append_str (self, "\r\n")) return -1;
    self->status = status;
    return 0;
}

int
sb_mock_script_sse (sb_mock_script_t *self, const char *name, const char *data, size_t len)
{
    assert (self);
    assert (data);
    //  Chunk size = "event: " name "\n" + "data: " data "\n\n".
    size_t size = (name ? 8 + strlen (name) : 0) + 6 + len + 2;
    char prefix[64];
    int n = snprintf (prefix, sizeof (prefix), "%zx\r\n", size);
    if (n < 0 || (size_t)n >= sizeof (prefix)) return -1;
    if (sb_mock_script_append (self, prefix, (size_t)n)) return -1;
    if (name &&
        (s_append_str (self, "event: ") || s_append_str (self, name) || s_append_str (self, "\n")))
        return -1;
    if (s_append_str (self, "data: ") || sb_mock_script_append (self, data, len) ||
        s_append_str (self, "\n\n\r\n"))
        return -1;
    return 0;
}

int
sb_mock_script_chunked_end (sb_mock_script_t *self)
{
    return s_append_str (self, "0\r\n\r\n");
}

void
sb_mock_script_set_end (sb_mock_script_t *self, sb_mock_end_t end)
{
    assert (self);
    self->end = end;
}

sb_mock_end_t
sb_mock_script_end (const sb_mock_script_t *self)
{
    assert (self);
    return self->end;
}

int
sb_mock_script_status (const sb_mock_script_t *self)
{
    assert (self);
    return self->status;
}

size_t
sb_mock_script_count (const sb_mock_script_t *self)
{
    assert (self);
    return self->count;
}

uint8_t *
sb_mock_script_get (sb_mock_script_t *self, size_t index, uint64_t *delay_us, size_t *len)
{
    assert (self);
    assert (index < self->count);
    s_step_t *step = &self->steps[index];
    if (delay_us) *delay_us = step->delay_us;
    if (len) *len = step->len;
    return step->buf ? step->buf + self->headroom : NULL;
}
