/*  sb_sse — frames a Server-Sent Events byte stream into whole events as bytes
    arrive in pieces of any size (a provider's TCP segments split lines anywhere).
    The router forwards events, not segments, so it can look inside each one
    (usage, tool-call deltas) and never splits an event for the client.  */

#ifndef SB_SSE_H_INCLUDED
#define SB_SSE_H_INCLUDED

#include <stddef.h>

typedef struct _sb_sse_t sb_sse_t;

//  One complete event: `raw` is the event's bytes including its terminating blank
//  line, `data` the value of its data: field(s) joined by '\n' (NUL-terminated),
//  `event` the event: field or "" (NUL-terminated).
typedef struct {
    const char *raw;
    size_t raw_len;
    const char *event;
    const char *data;
    size_t data_len;
} sb_sse_event_t;

//  Returns 0 to go on, non-zero to stop feeding (sb_sse_feed returns that value).
typedef int (sb_sse_event_fn) (void *arg, const sb_sse_event_t *event);

//  max_event: the largest event accepted (bytes); a longer one is an error.
sb_sse_t *sb_sse_new (size_t max_event);
void sb_sse_destroy (sb_sse_t **self_p);
void sb_sse_reset (sb_sse_t *self);

//  Feeds bytes; calls fn for each event completed by them. Returns 0, -1 when an
//  event exceeds max_event (the framer is then reset), or the callback's value.
int sb_sse_feed (sb_sse_t *self, const char *data, size_t len, sb_sse_event_fn *fn, void *arg);

//  Bytes held for an incomplete event.
size_t sb_sse_pending (const sb_sse_t *self);

#endif
