/*  sb_mock_script — one HTTP response as sb-mock will send it: a list of timed writes
    (raw HTTP/1.1 bytes, each step written with a single lws_write once its delay has
    passed) and what happens to the connection afterwards. sb_mock_reply builds scripts,
    sb_mock_server plays them. No I/O here; the framing helpers (status line, chunked
    encoding, SSE events) live here so that misbehaviour (half bodies, cut streams) is
    a matter of which bytes go into which step.  */

#ifndef SB_MOCK_SCRIPT_H_INCLUDED
#define SB_MOCK_SCRIPT_H_INCLUDED

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct _sb_mock_script_t sb_mock_script_t;

//  At most this many steps per script: SB_MOCK_MAX_CHUNKS pieces plus the events
//  around them, with room to spare.
#define SB_MOCK_SCRIPT_MAX_STEPS 10100

//  What the server does once every step has been written.
typedef enum {
    SB_MOCK_END_KEEP_ALIVE, // response complete; the connection serves the next request
    SB_MOCK_END_CLOSE,      // response complete; close once flushed (client asked to)
    SB_MOCK_END_DROP,       // close once flushed although the response is incomplete
    SB_MOCK_END_RESET,      // abort the connection with a TCP RST
    SB_MOCK_END_HANG,       // send nothing more, never finish; the client must give up
} sb_mock_end_t;

//  An empty script ending in SB_MOCK_END_KEEP_ALIVE, with status 0. Every step's data
//  is preceded by `headroom` writable bytes (lws wants LWS_PRE of them). Returns NULL
//  when out of memory. Caller owns the result.
sb_mock_script_t *sb_mock_script_new (size_t headroom);
void sb_mock_script_destroy (sb_mock_script_t **self_p);

//  Starts a new step written delay_us after the previous one (after the request for the
//  first step). Data added next goes into it. A step that stays empty is a pure delay.
//  Returns 0, or -1 when out of memory or past SB_MOCK_SCRIPT_MAX_STEPS.
int sb_mock_script_step (sb_mock_script_t *self, uint64_t delay_us);

//  Appends bytes to the current step (a step is started if there is none). 0 or -1.
int sb_mock_script_append (sb_mock_script_t *self, const void *data, size_t len);

//  Appends a status line and headers, ending with the blank line. content_length < 0
//  means a chunked body. `extra` is more header lines, each ending in "\r\n", or NULL.
//  keep_alive false adds "Connection: close". Records the status. 0 or -1.
int sb_mock_script_head (sb_mock_script_t *self, int status, const char *content_type,
                         int64_t content_length, const char *extra, bool keep_alive);

//  Appends one SSE event as one chunk of a chunked body: "event: NAME\n" (when name is
//  not NULL) then "data: DATA\n\n". 0 or -1.
int sb_mock_script_sse (sb_mock_script_t *self, const char *name, const char *data, size_t len);

//  Appends the last chunk of a chunked body ("0\r\n\r\n"). 0 or -1.
int sb_mock_script_chunked_end (sb_mock_script_t *self);

void sb_mock_script_set_end (sb_mock_script_t *self, sb_mock_end_t end);
sb_mock_end_t sb_mock_script_end (const sb_mock_script_t *self);
//  The HTTP status of the response (0 when no head was written: reset, hang).
int sb_mock_script_status (const sb_mock_script_t *self);

size_t sb_mock_script_count (const sb_mock_script_t *self);
//  Step `index` (< count): its delay, and its data (NULL when empty), with `headroom`
//  writable bytes before it. The data stays owned by the script.
uint8_t *sb_mock_script_get (sb_mock_script_t *self, size_t index, uint64_t *delay_us, size_t *len);

#endif
