/*  test_sb_sse — events framed identically however the bytes are split.  */

#include "sb_sse.h"
#include "sb_test.h"

#include <stdlib.h>

typedef struct {
    char log[4096];
    size_t len;
    int events;
} s_sink_t;

static int
s_on_event (void *arg, const sb_sse_event_t *ev)
{
    s_sink_t *sink = arg;
    int n = snprintf (sink->log + sink->len, sizeof sink->log - sink->len, "[%s|%s|%zu]", ev->event,
                      ev->data, ev->raw_len);
    sink->len += (size_t)n;
    sink->events++;
    return 0;
}

int
main (void)
{
    const char *stream = "data: {\"a\":1}\n\n"
                         ": ping\n\n"
                         "event: message_start\r\ndata: {\"b\":2}\r\n\r\n"
                         "data: line1\ndata: line2\n\n"
                         "data:nospace\r\rdata: [DONE]\n\n";
    size_t len = strlen (stream);
    s_sink_t whole = {0};
    sb_sse_t *sse = sb_sse_new (1024);
    CHECK (sb_sse_feed (sse, stream, len, s_on_event, &whole) == 0);
    CHECK (whole.events == 6);
    CHECK_STR (whole.log, "[|{\"a\":1}|15][||8][message_start|{\"b\":2}|39][|line1\nline2|25]"
                          "[|nospace|14][|[DONE]|14]");
    CHECK (sb_sse_pending (sse) == 0);

    //  Every split point, and byte-at-a-time, give the same events.
    int same = 1;
    for (size_t cut = 0; cut <= len; cut++) {
        s_sink_t part = {0};
        sb_sse_reset (sse);
        sb_sse_feed (sse, stream, cut, s_on_event, &part);
        sb_sse_feed (sse, stream + cut, len - cut, s_on_event, &part);
        if (strcmp (part.log, whole.log) != 0) same = 0;
    }
    CHECK (same);
    s_sink_t bytes = {0};
    sb_sse_reset (sse);
    for (size_t i = 0; i < len; i++)
        sb_sse_feed (sse, stream + i, 1, s_on_event, &bytes);
    CHECK_STR (bytes.log, whole.log);

    //  An event over the bound is an error and the framer starts clean after it.
    sb_sse_t *small = sb_sse_new (16);
    s_sink_t sink = {0};
    CHECK (sb_sse_feed (small, "data: 0123456789abcdef\n\n", 24, s_on_event, &sink) == -1);
    CHECK (sb_sse_feed (small, "data: 01234567890123", 20, s_on_event, &sink) == -1);
    CHECK (sb_sse_pending (small) == 0);
    CHECK (sb_sse_feed (small, "data: ok\n\n", 10, s_on_event, &sink) == 0);
    CHECK (sink.events == 1);
    sb_sse_destroy (&small);
    sb_sse_destroy (&sse);
    CHECK (sse == NULL);
    return SB_TEST_DONE ();
}
