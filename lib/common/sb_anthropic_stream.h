/*  sb_anthropic_stream — incremental translator from an Anthropic Messages event
    stream (SSE bytes, split anywhere) to OpenAI chat.completion.chunk SSE bytes.
    The router feeds it each piece of the provider's body as it arrives and writes
    what the emit callback receives to the client. One translator per request,
    used on the router's event-loop thread. Rules: docs/anthropic.md.  */

#ifndef SB_ANTHROPIC_STREAM_H_INCLUDED
#define SB_ANTHROPIC_STREAM_H_INCLUDED

#include "sb_anthropic.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct _sb_anthropic_stream_t sb_anthropic_stream_t;

//  Receives complete OpenAI SSE events ("data: {...}\n\n", "data: [DONE]\n\n"), one
//  call per event. Returns 0, or -1 to stop the translation (client gone).
typedef int (sb_anthropic_emit_fn) (const char *bytes, size_t len, void *arg);

//  Default bound on one SSE line and on one event's data, in bytes. Anthropic's
//  events are small (deltas, empty content at message_start); the largest are
//  server-tool results carried whole in content_block_start.
#define SB_ANTHROPIC_STREAM_MAX_EVENT ((size_t)1024 * 1024)

typedef struct {
    bool include_usage;         //  emit a usage chunk (choices: []) before [DONE]
    int64_t created;            //  "created" of every chunk (the caller's clock)
    size_t max_event;           //  line/event bound; 0 means SB_ANTHROPIC_STREAM_MAX_EVENT
    sb_anthropic_emit_fn *emit; //  required
    void *emit_arg;
} sb_anthropic_stream_opts_t;

//  The translator's life. WAITING -> STREAMING -> DONE on message_stop; any live
//  state -> ERRORED on the provider's error event or sb_anthropic_stream_abort (an
//  OpenAI error event and [DONE] were emitted); WAITING/STREAMING -> FAILED on a
//  broken stream (bound exceeded, malformed event, emit refused), after which
//  nothing more is emitted until the caller aborts.
typedef enum {
    SB_ANTHROPIC_STREAM_WAITING,   //  before message_start
    SB_ANTHROPIC_STREAM_STREAMING, //  between message_start and message_stop
    SB_ANTHROPIC_STREAM_DONE,      //  [DONE] emitted after message_stop
    SB_ANTHROPIC_STREAM_ERRORED,   //  error event + [DONE] emitted
    SB_ANTHROPIC_STREAM_FAILED,    //  translation stopped; see sb_anthropic_stream_error
} sb_anthropic_stream_state_t;

//  Returns a translator, or NULL when memory runs out. Caller owns the result.
sb_anthropic_stream_t *sb_anthropic_stream_new (const sb_anthropic_stream_opts_t *opts);

//  Frees the translator; accepts NULL and *self_p == NULL; sets *self_p to NULL.
void sb_anthropic_stream_destroy (sb_anthropic_stream_t **self_p);

//  Feeds the next `len` bytes of the provider's body, emitting every OpenAI event
//  they complete. Returns 0 (bytes after DONE/ERRORED are ignored), or -1 when the
//  stream is or becomes FAILED: a line or event over max_event, an event whose data
//  is not JSON or breaks the protocol, or emit returning -1. Partial lines are kept
//  (up to max_event bytes) until the rest arrives.
int sb_anthropic_stream_feed (sb_anthropic_stream_t *self, const char *bytes, size_t len);

//  Ends a stream that will not complete (upstream closed early, translator FAILED,
//  timeout): emits {"error":{message, type:"upstream_error",
//  code:"upstream_stream_error"}} and [DONE] unless [DONE] was already emitted, and
//  moves to ERRORED. `message` may be NULL (a generic one is used). Returns 0, or
//  -1 when emit refuses.
int sb_anthropic_stream_abort (sb_anthropic_stream_t *self, const char *message);

sb_anthropic_stream_state_t sb_anthropic_stream_state (const sb_anthropic_stream_t *self);

//  Why the stream is FAILED or ERRORED (the provider's message for its error
//  event), or NULL. Valid until the next call on self.
const char *sb_anthropic_stream_error (const sb_anthropic_stream_t *self);

//  Token usage seen so far (message_start, then message_delta's cumulative counts);
//  final once the state is DONE. For billing.
void sb_anthropic_stream_usage (const sb_anthropic_stream_t *self, sb_anthropic_usage_t *usage);

//  The finish_reason sent to the client, or NULL if none was sent yet. Static.
const char *sb_anthropic_stream_finish_reason (const sb_anthropic_stream_t *self);

#endif
