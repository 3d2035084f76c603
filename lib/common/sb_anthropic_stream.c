/*  sb_anthropic_stream — Anthropic Messages SSE -> OpenAI chat.completion.chunk SSE.
    Two layers: an SSE framer (bytes -> events, bounded buffers, any split) and an
    event translator (one Anthropic event -> zero or more OpenAI events), driven by
    the explicit state enum in the header.  */

#include "sb_anthropic_stream.h"
#include "sb_oai_error.h"

#include <assert.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

//  Content blocks open at once. Anthropic streams one block at a time (start,
//  deltas, stop), so a handful is generous; more is treated as a broken stream.
#define S_MAX_OPEN_BLOCKS 16

typedef enum {
    S_BLOCK_TEXT,  //  text: deltas go to delta.content
    S_BLOCK_TOOL,  //  tool_use: deltas go to delta.tool_calls[tool_index]
    S_BLOCK_OTHER, //  thinking, server tools, future types: dropped
} s_block_kind_t;

typedef struct {
    json_int_t index;      //  Anthropic content block index
    s_block_kind_t kind;   //  what its deltas become
    json_int_t tool_index; //  OpenAI tool_calls index (S_BLOCK_TOOL only)
} s_block_t;

//  Invariants: line_len <= max_event and data_len <= max_event (checked before every
//  append, buffers grow to at most max_event + 1); open[0 .. open_count) are the
//  blocks started and not yet stopped; tool_count is the number of tool_use blocks
//  started so far (OpenAI numbers tool calls apart from content blocks); once state
//  is DONE or ERRORED nothing more is emitted.
struct _sb_anthropic_stream_t {
    sb_anthropic_stream_state_t state;
    sb_anthropic_stream_opts_t opts; //  max_event resolved to its default
    char *line;                      //  the current, unterminated SSE line
    size_t line_len;
    size_t line_cap;
    char *data; //  the current event's data lines, joined by "\n"
    size_t data_len;
    size_t data_cap;
    bool has_data;                     //  a data field was seen in the current event
    bool after_cr;                     //  last byte was CR: an LF next ends the same line
    char event[32];                    //  the event field (truncated; a fallback type)
    char *id;                          //  message id from message_start (owned)
    char *model;                       //  model from message_start (owned)
    json_int_t tool_count;             //  tool_use blocks seen
    s_block_t open[S_MAX_OPEN_BLOCKS]; //  blocks started, not stopped
    size_t open_count;                 //  entries used in open
    const char *finish_reason;         //  sent to the client, static, or NULL
    sb_anthropic_usage_t usage;        //  from message_start and message_delta
    char error[SB_ANTHROPIC_ERR_SIZE]; //  why FAILED or ERRORED
};

//  ---------------------------------------------------------------------------------
//  State

//  The one place the state changes; asserts the transitions the header documents.
static void
s_set_state (sb_anthropic_stream_t *self, sb_anthropic_stream_state_t to)
{
    sb_anthropic_stream_state_t from = self->state;
    bool allowed = false;
    switch (from) {
        case SB_ANTHROPIC_STREAM_WAITING:
            allowed = to == SB_ANTHROPIC_STREAM_STREAMING || to == SB_ANTHROPIC_STREAM_ERRORED ||
                      to == SB_ANTHROPIC_STREAM_FAILED;
            break;
        case SB_ANTHROPIC_STREAM_STREAMING:
            allowed = to == SB_ANTHROPIC_STREAM_DONE || to == SB_ANTHROPIC_STREAM_ERRORED ||
                      to == SB_ANTHROPIC_STREAM_FAILED;
            break;
        case SB_ANTHROPIC_STREAM_FAILED:
            allowed = to == SB_ANTHROPIC_STREAM_ERRORED || to == SB_ANTHROPIC_STREAM_FAILED;
            break;
        case SB_ANTHROPIC_STREAM_DONE:
        case SB_ANTHROPIC_STREAM_ERRORED:
            break;
    }
    assert (allowed);
    (void)allowed;
    self->state = to;
}

static int
s_fail (sb_anthropic_stream_t *self, const char *fmt, ...)
{
    va_list args;
    va_start (args, fmt);
    vsnprintf (self->error, sizeof self->error, fmt, args);
    va_end (args);
    s_set_state (self, SB_ANTHROPIC_STREAM_FAILED);
    return -1;
}

//  ---------------------------------------------------------------------------------
//  Output

static int
s_emit_bytes (sb_anthropic_stream_t *self, const char *bytes, size_t len)
{
    if (self->opts.emit (bytes, len, self->opts.emit_arg) != 0)
        return s_fail (self, "client write failed");
    return 0;
}

//  Emits "data: <json>\n\n". Steals `json`; NULL (an allocation failed) fails.
static int
s_emit_json (sb_anthropic_stream_t *self, json_t *json)
{
    size_t len = 0;
    char *text = json ? sb_anthropic_dumps (json, &len) : NULL;
    json_decref (json);
    char *event = text ? malloc (len + 8) : NULL;
    if (!event) {
        free (text);
        return s_fail (self, "out of memory");
    }
    memcpy (event, "data: ", 6);
    memcpy (event + 6, text, len);
    memcpy (event + 6 + len, "\n\n", 2);
    int rc = s_emit_bytes (self, event, len + 8);
    free (event);
    free (text);
    return rc;
}

static int
s_emit_done (sb_anthropic_stream_t *self)
{
    static const char done[] = "data: [DONE]\n\n";
    return s_emit_bytes (self, done, sizeof done - 1);
}

//  A chat.completion.chunk with one choice. Steals `delta`.
static int
s_emit_chunk (sb_anthropic_stream_t *self, json_t *delta, const char *finish_reason)
{
    if (!delta) return s_fail (self, "out of memory");
    return s_emit_json (
        self, json_pack ("{s:s, s:s, s:I, s:s, s:[{s:i, s:o, s:s?}]}", "id",
                         self->id ? self->id : "", "object", "chat.completion.chunk", "created",
                         (json_int_t)self->opts.created, "model", self->model ? self->model : "",
                         "choices", "index", 0, "delta", delta, "finish_reason", finish_reason));
}

//  ---------------------------------------------------------------------------------
//  Anthropic events

static s_block_t *
s_block_find (sb_anthropic_stream_t *self, json_int_t index)
{
    for (size_t i = 0; i < self->open_count; i++)
        if (self->open[i].index == index) return &self->open[i];
    return NULL;
}

static int
s_on_message_start (sb_anthropic_stream_t *self, const json_t *event)
{
    if (self->state != SB_ANTHROPIC_STREAM_WAITING)
        return s_fail (self, "message_start after the message started");
    const json_t *message = json_object_get (event, "message");
    const char *id = json_string_value (json_object_get (message, "id"));
    const char *model = json_string_value (json_object_get (message, "model"));
    self->id = strdup (id ? id : "");
    self->model = strdup (model ? model : "");
    if (!self->id || !self->model) return s_fail (self, "out of memory");
    sb_anthropic_usage_update (&self->usage, json_object_get (message, "usage"));
    s_set_state (self, SB_ANTHROPIC_STREAM_STREAMING);
    return s_emit_chunk (self, json_pack ("{s:s, s:s}", "role", "assistant", "content", ""), NULL);
}

static int
s_on_block_start (sb_anthropic_stream_t *self, const json_t *event)
{
    const json_t *index = json_object_get (event, "index");
    const json_t *block = json_object_get (event, "content_block");
    const char *type = json_string_value (json_object_get (block, "type"));
    if (!json_is_integer (index) || !type)
        return s_fail (self, "content_block_start without index or content_block.type");
    if (s_block_find (self, json_integer_value (index)))
        return s_fail (self, "content block %lld started twice",
                       (long long)json_integer_value (index));
    if (self->open_count == S_MAX_OPEN_BLOCKS)
        return s_fail (self, "more than %d content blocks open", S_MAX_OPEN_BLOCKS);
    s_block_t *open = &self->open[self->open_count++];
    *open = (s_block_t){json_integer_value (index), S_BLOCK_OTHER, -1};

    if (strcmp (type, "text") == 0) {
        open->kind = S_BLOCK_TEXT;
        const json_t *text = json_object_get (block, "text");
        if (json_string_length (text) == 0) return 0;
        return s_emit_chunk (self, json_pack ("{s:O}", "content", text), NULL);
    }
    if (strcmp (type, "tool_use") == 0) {
        const char *id = json_string_value (json_object_get (block, "id"));
        const char *name = json_string_value (json_object_get (block, "name"));
        if (!id || !name) return s_fail (self, "tool_use block without id or name");
        open->kind = S_BLOCK_TOOL;
        open->tool_index = self->tool_count++;
        return s_emit_chunk (self,
                             json_pack ("{s:[{s:I, s:s, s:s, s:{s:s, s:s}}]}", "tool_calls",
                                        "index", open->tool_index, "id", id, "type", "function",
                                        "function", "name", name, "arguments", ""),
                             NULL);
    }
    return 0;
}

static int
s_on_block_delta (sb_anthropic_stream_t *self, const json_t *event)
{
    const json_t *delta = json_object_get (event, "delta");
    const char *type = json_string_value (json_object_get (delta, "type"));
    if (!type) return s_fail (self, "content_block_delta without delta.type");
    if (strcmp (type, "text_delta") == 0) {
        const json_t *text = json_object_get (delta, "text");
        if (!json_is_string (text)) return s_fail (self, "text_delta without text");
        if (json_string_length (text) == 0) return 0;
        return s_emit_chunk (self, json_pack ("{s:O}", "content", text), NULL);
    }
    if (strcmp (type, "input_json_delta") == 0) {
        const json_t *index = json_object_get (event, "index");
        const json_t *partial = json_object_get (delta, "partial_json");
        s_block_t *block =
            json_is_integer (index) ? s_block_find (self, json_integer_value (index)) : NULL;
        if (!block || block->kind != S_BLOCK_TOOL || !json_is_string (partial))
            return s_fail (self, "input_json_delta outside a tool_use block");
        if (json_string_length (partial) == 0) return 0;
        return s_emit_chunk (self,
                             json_pack ("{s:[{s:I, s:{s:O}}]}", "tool_calls", "index",
                                        block->tool_index, "function", "arguments", partial),
                             NULL);
    }
    //  thinking_delta, signature_delta, citations_delta, future types.
    return 0;
}

static int
s_on_block_stop (sb_anthropic_stream_t *self, const json_t *event)
{
    const json_t *index = json_object_get (event, "index");
    s_block_t *block =
        json_is_integer (index) ? s_block_find (self, json_integer_value (index)) : NULL;
    if (block) *block = self->open[--self->open_count];
    return 0;
}

static int
s_on_message_delta (sb_anthropic_stream_t *self, const json_t *event)
{
    sb_anthropic_usage_update (&self->usage, json_object_get (event, "usage"));
    const char *stop_reason =
        json_string_value (json_object_get (json_object_get (event, "delta"), "stop_reason"));
    //  OpenAI sends one finish_reason; a second message_delta only updates usage.
    if (!stop_reason || self->finish_reason) return 0;
    self->finish_reason = sb_anthropic_finish_reason (stop_reason);
    return s_emit_chunk (self, json_object (), self->finish_reason);
}

static int
s_on_message_stop (sb_anthropic_stream_t *self)
{
    if (!self->finish_reason) {
        self->finish_reason = "stop";
        if (s_emit_chunk (self, json_object (), self->finish_reason)) return -1;
    }
    if (self->opts.include_usage &&
        s_emit_json (self,
                     json_pack ("{s:s, s:s, s:I, s:s, s:[], s:o}", "id", self->id, "object",
                                "chat.completion.chunk", "created", (json_int_t)self->opts.created,
                                "model", self->model, "choices", "usage",
                                sb_anthropic_usage_to_json (&self->usage))))
        return -1;
    if (s_emit_done (self)) return -1;
    s_set_state (self, SB_ANTHROPIC_STREAM_DONE);
    return 0;
}

static int
s_on_error (sb_anthropic_stream_t *self, const json_t *event)
{
    const json_t *error = json_object_get (event, "error");
    const char *message = json_string_value (json_object_get (error, "message"));
    snprintf (self->error, sizeof self->error, "provider error: %s",
              message ? message : "(no message)");
    if (s_emit_json (self,
                     sb_anthropic_error_json (json_is_object (error) ? error : NULL, 0, NULL)) ||
        s_emit_done (self))
        return -1;
    s_set_state (self, SB_ANTHROPIC_STREAM_ERRORED);
    return 0;
}

//  One complete SSE event: its data is JSON whose "type" names it (the event field
//  is only a fallback). Unknown types are ignored, as Anthropic asks of clients.
static int
s_dispatch (sb_anthropic_stream_t *self)
{
    json_error_t jerr;
    json_t *event = json_loadb (self->data, self->data_len, 0, &jerr);
    if (!json_is_object (event)) {
        json_decref (event);
        return s_fail (self, "event '%s': data is not a JSON object", self->event);
    }
    const char *type = json_string_value (json_object_get (event, "type"));
    if (!type) type = self->event;
    int rc = 0;
    bool message_event = strncmp (type, "content_block_", 14) == 0 ||
                         strcmp (type, "message_delta") == 0 || strcmp (type, "message_stop") == 0;
    if (message_event && self->state != SB_ANTHROPIC_STREAM_STREAMING)
        rc = s_fail (self, "%s before message_start", type);
    else if (strcmp (type, "message_start") == 0)
        rc = s_on_message_start (self, event);
    else if (strcmp (type, "content_block_start") == 0)
        rc = s_on_block_start (self, event);
    else if (strcmp (type, "content_block_delta") == 0)
        rc = s_on_block_delta (self, event);
    else if (strcmp (type, "content_block_stop") == 0)
        rc = s_on_block_stop (self, event);
    else if (strcmp (type, "message_delta") == 0)
        rc = s_on_message_delta (self, event);
    else if (strcmp (type, "message_stop") == 0)
        rc = s_on_message_stop (self);
    else if (strcmp (type, "error") == 0)
        rc = s_on_error (self, event);
    //  ping and anything new: nothing to send.
    json_decref (event);
    return rc;
}

//  ---------------------------------------------------------------------------------
//  SSE framing (WHATWG event-stream rules: CRLF, LF or CR end a line; a blank line
//  ends an event; ':' starts a comment; one space after the colon is dropped)

//  Makes room for `need` bytes plus a NUL in *buf, growing geometrically up to the
//  bound. The caller has already checked need <= max_event.
static int
s_reserve (char **buf, size_t *cap, size_t need)
{
    if (need + 1 <= *cap) return 0;
    size_t new_cap = *cap ? *cap : 256;
    while (new_cap < need + 1)
        new_cap *= 2;
    char *grown = realloc (*buf, new_cap);
    if (!grown) return -1;
    *buf = grown;
    *cap = new_cap;
    return 0;
}

static int
s_line_append (sb_anthropic_stream_t *self, const char *bytes, size_t n)
{
    if (n == 0) return 0;
    if (n > self->opts.max_event - self->line_len)
        return s_fail (self, "SSE line longer than %zu bytes", self->opts.max_event);
    if (s_reserve (&self->line, &self->line_cap, self->line_len + n))
        return s_fail (self, "out of memory");
    memcpy (self->line + self->line_len, bytes, n);
    self->line_len += n;
    return 0;
}

static int
s_data_append (sb_anthropic_stream_t *self, const char *value, size_t n)
{
    size_t sep = self->has_data ? 1 : 0;
    if (n + sep > self->opts.max_event - self->data_len)
        return s_fail (self, "SSE event data longer than %zu bytes", self->opts.max_event);
    if (s_reserve (&self->data, &self->data_cap, self->data_len + sep + n))
        return s_fail (self, "out of memory");
    if (sep) self->data[self->data_len++] = '\n';
    memcpy (self->data + self->data_len, value, n);
    self->data_len += n;
    self->has_data = true;
    return 0;
}

static void
s_event_reset (sb_anthropic_stream_t *self)
{
    self->data_len = 0;
    self->has_data = false;
    self->event[0] = '\0';
}

//  A complete line is in self->line: apply it to the current event.
static int
s_line_end (sb_anthropic_stream_t *self)
{
    const char *line = self->line;
    size_t len = self->line_len;
    self->line_len = 0;
    int rc = 0;
    if (len == 0) {
        if (self->has_data) rc = s_dispatch (self);
        s_event_reset (self);
        return rc;
    }
    if (line[0] == ':') return 0;
    const char *colon = memchr (line, ':', len);
    size_t name_len = colon ? (size_t)(colon - line) : len;
    const char *value = colon ? colon + 1 : line + len;
    size_t value_len = (size_t)(line + len - value);
    if (value_len > 0 && value[0] == ' ') {
        value++;
        value_len--;
    }
    if (name_len == 4 && memcmp (line, "data", 4) == 0)
        return s_data_append (self, value, value_len);
    if (name_len == 5 && memcmp (line, "event", 5) == 0) {
        size_t keep = value_len < sizeof self->event - 1 ? value_len : sizeof self->event - 1;
        memcpy (self->event, value, keep);
        self->event[keep] = '\0';
    }
    //  id, retry and unknown fields mean nothing here.
    return 0;
}

int
sb_anthropic_stream_feed (sb_anthropic_stream_t *self, const char *bytes, size_t len)
{
    assert (self);
    assert (bytes || len == 0);
    size_t at = 0;
    while (at < len) {
        if (self->state == SB_ANTHROPIC_STREAM_DONE || self->state == SB_ANTHROPIC_STREAM_ERRORED)
            return 0;
        if (self->state == SB_ANTHROPIC_STREAM_FAILED) return -1;
        if (self->after_cr) {
            self->after_cr = false;
            if (bytes[at] == '\n') {
                at++;
                continue;
            }
        }
        size_t end = at;
        while (end < len && bytes[end] != '\n' && bytes[end] != '\r')
            end++;
        if (s_line_append (self, bytes + at, end - at)) return -1;
        if (end == len) break;
        self->after_cr = bytes[end] == '\r';
        at = end + 1;
        if (s_line_end (self)) return -1;
    }
    return self->state == SB_ANTHROPIC_STREAM_FAILED ? -1 : 0;
}

//  ---------------------------------------------------------------------------------
//  Life and queries

sb_anthropic_stream_t *
sb_anthropic_stream_new (const sb_anthropic_stream_opts_t *opts)
{
    assert (opts);
    assert (opts->emit);
    sb_anthropic_stream_t *self = calloc (1, sizeof *self);
    if (!self) return NULL;
    self->state = SB_ANTHROPIC_STREAM_WAITING;
    self->opts = *opts;
    if (self->opts.max_event == 0) self->opts.max_event = SB_ANTHROPIC_STREAM_MAX_EVENT;
    return self;
}

void
sb_anthropic_stream_destroy (sb_anthropic_stream_t **self_p)
{
    if (!self_p || !*self_p) return;
    sb_anthropic_stream_t *self = *self_p;
    free (self->line);
    free (self->data);
    free (self->id);
    free (self->model);
    free (self);
    *self_p = NULL;
}

int
sb_anthropic_stream_abort (sb_anthropic_stream_t *self, const char *message)
{
    assert (self);
    if (self->state == SB_ANTHROPIC_STREAM_DONE || self->state == SB_ANTHROPIC_STREAM_ERRORED)
        return 0;
    if (!message)
        message = self->state == SB_ANTHROPIC_STREAM_FAILED
                      ? self->error
                      : "provider stream ended before the response was complete";
    json_t *error = json_pack ("{s:{s:s, s:s, s:s}}", "error", "message", message, "type",
                               sb_oai_error_type (502), "code", "upstream_stream_error");
    //  Copy after packing: `message` may point into self->error.
    if (message != self->error) snprintf (self->error, sizeof self->error, "%s", message);
    if (s_emit_json (self, error) || s_emit_done (self)) return -1;
    s_set_state (self, SB_ANTHROPIC_STREAM_ERRORED);
    return 0;
}

sb_anthropic_stream_state_t
sb_anthropic_stream_state (const sb_anthropic_stream_t *self)
{
    assert (self);
    return self->state;
}

const char *
sb_anthropic_stream_error (const sb_anthropic_stream_t *self)
{
    assert (self);
    return self->error[0] ? self->error : NULL;
}

void
sb_anthropic_stream_usage (const sb_anthropic_stream_t *self, sb_anthropic_usage_t *usage)
{
    assert (self);
    assert (usage);
    *usage = self->usage;
    sb_anthropic_usage_update (usage, NULL);
}

const char *
sb_anthropic_stream_finish_reason (const sb_anthropic_stream_t *self)
{
    assert (self);
    return self->finish_reason;
}
