/*  sb_mock_reply — sb-mock's answers (see sb_mock_reply.h). A reply is planned as
    content pieces (text split over `chunks`, or tool-call arguments split the same
    way), then rendered in the requested API's shape, either as one JSON body or as
    one SSE event per step with the knobs' delays between them.  */

#include "sb_mock_reply.h"

#include <assert.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define S_US_PER_MS     1000ull
#define S_FINGERPRINT   "fp_sbmock"
#define S_MODEL_CREATED 1700000000 // fixed so /v1/models is byte-stable

//  Models /v1/models lists; they are also the ones with per-model knob defaults.
static const char *const s_models[] = {"demo-chat",  "demo-tools",       "mock-chat",
                                       "mock-tools", "mock-tools-valid", "mock-slow"};

static const char *const s_lorem[] = {"Lorem",       "ipsum",      "dolor",      "sit",   "amet",
                                      "consectetur", "adipiscing", "elit",       "sed",   "do",
                                      "eiusmod",     "tempor",     "incididunt", "ut",    "labore",
                                      "et",          "dolore",     "magna",      "aliqua"};

//  ---------------------------------------------------------------------------------
//  The plan: what the reply says, independent of the API shape.

typedef struct {
    size_t offset; // into s_plan_t.text
    size_t len;
} s_piece_t;

//  Invariants: pieces tile text[0..text_len) in order; text is NUL-terminated.
typedef struct {
    bool tool;        // a tool call instead of text
    const char *name; // tool name (borrowed from the request or static)
    char *text;       // the whole text, or the whole arguments string
    size_t text_len;
    s_piece_t *pieces; // how the text is split over the stream's deltas
    size_t count;
} s_plan_t;

static void
s_plan_release (s_plan_t *plan)
{
    free (plan->text);
    free (plan->pieces);
    memset (plan, 0, sizeof (*plan));
}

//  Splits text into n pieces of (nearly) equal numbers of UTF-8 characters, never
//  cutting a character. n is clamped to the character count.
static int
s_plan_split (s_plan_t *plan, size_t n)
{
    size_t chars = 0;
    for (size_t i = 0; i < plan->text_len; i++)
        if (((unsigned char)plan->text[i] & 0xC0) != 0x80) chars++;
    if (n > chars) n = chars;
    plan->count = 0;
    if (n == 0) return 0;
    plan->pieces = calloc (n, sizeof (s_piece_t));
    if (!plan->pieces) return -1;
    size_t pos = 0, char_index = 0;
    for (size_t p = 0; p < n; p++) {
        size_t end_char = (p + 1) * chars / n;
        size_t start = pos;
        while (pos < plan->text_len && char_index < end_char) {
            pos++;
            while (pos < plan->text_len && ((unsigned char)plan->text[pos] & 0xC0) == 0x80)
                pos++;
            char_index++;
        }
        plan->pieces[p] = (s_piece_t){start, pos - start};
    }
    plan->count = n;
    return 0;
}

static int
s_plan_set_text (s_plan_t *plan, const char *text, size_t len)
{
    plan->text = malloc (len + 1);
    if (!plan->text) return -1;
    memcpy (plan->text, text, len);
    plan->text[len] = '\0';
    plan->text_len = len;
    return 0;
}

//  Default text: one lorem word per piece, words after the first led by a space.
static int
s_plan_lorem (s_plan_t *plan, size_t n)
{
    const size_t words = sizeof (s_lorem) / sizeof (s_lorem[0]);
    size_t len = 0;
    for (size_t i = 0; i < n; i++)
        len += strlen (s_lorem[i % words]) + (i ? 1 : 0);
    plan->text = malloc (len + 1);
    plan->pieces = calloc (n ? n : 1, sizeof (s_piece_t));
    if (!plan->text || !plan->pieces) return -1;
    size_t pos = 0;
    for (size_t i = 0; i < n; i++) {
        size_t start = pos;
        if (i) plan->text[pos++] = ' ';
        size_t w = strlen (s_lorem[i % words]);
        memcpy (plan->text + pos, s_lorem[i % words], w);
        pos += w;
        plan->pieces[i] = (s_piece_t){start, pos - start};
    }
    plan->text[pos] = '\0';
    plan->text_len = pos;
    plan->count = n;
    return 0;
}

//  The first tool's name in the request: OpenAI tools[0].function.name, Anthropic
//  tools[0].name.
static const char *
s_first_tool (const sb_mock_request_t *req)
{
    json_t *tool = json_array_get (json_object_get (req->json, "tools"), 0);
    const char *name = NULL;
    if (req->api == SB_MOCK_API_MESSAGES)
        name = json_string_value (json_object_get (tool, "name"));
    else
        name = json_string_value (json_object_get (json_object_get (tool, "function"), "name"));
    return name && *name ? name : SB_MOCK_DEFAULT_TOOL;
}

static int
s_plan_make (s_plan_t *plan, const sb_mock_request_t *req)
{
    const sb_mock_knobs_t *k = req->knobs;
    size_t chunks = (size_t)sb_mock_knobs_get (k, SB_MOCK_KNOB_CHUNKS);
    int64_t tool = sb_mock_knobs_get (k, SB_MOCK_KNOB_TOOL);
    memset (plan, 0, sizeof (*plan));
    if (tool != SB_MOCK_TOOL_NONE) {
        const char *args = tool == SB_MOCK_TOOL_BROKEN ? SB_MOCK_ARGS_BROKEN : SB_MOCK_ARGS_VALID;
        plan->tool = true;
        plan->name = s_first_tool (req);
        //  Arguments always arrive, in at least one piece.
        return s_plan_set_text (plan, args, strlen (args)) ||
               s_plan_split (plan, chunks ? chunks : 1);
    }
    if (k->content)
        return s_plan_set_text (plan, k->content, k->content_len) || s_plan_split (plan, chunks);
    return s_plan_lorem (plan, chunks);
}

//  ---------------------------------------------------------------------------------
//  Small helpers

//  splitmix64's finaliser: a bijective scramble of 64 bits.
static uint64_t
s_mix (uint64_t z)
{
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

//  Ids look like the providers' ones: prefix + `n` base62 characters, derived from the
//  request number (salted so two kinds of id of one request differ).
static void
s_make_id (char *out, size_t size, const char *prefix, uint64_t seq, uint64_t salt, size_t n)
{
    static const char alphabet[] = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";
    size_t pos = (size_t)snprintf (out, size, "%s", prefix);
    uint64_t state = s_mix (s_mix (seq) ^ salt);
    uint64_t bits = 0;
    for (size_t i = 0; i < n && pos + 1 < size; i++) {
        if (i % 10 == 0) // 10 base62 digits use 60 of the 64 bits
            bits = s_mix (state += 0x9e3779b97f4a7c15ull);
        out[pos++] = alphabet[bits % 62];
        bits /= 62;
    }
    out[pos < size ? pos : size - 1] = '\0';
}

static int64_t
s_prompt_tokens (const sb_mock_request_t *req)
{
    return (int64_t)((req->body_len + 3) / 4);
}

static const char *
s_model (const sb_mock_request_t *req)
{
    const char *model = json_string_value (json_object_get (req->json, "model"));
    return model ? model : "mock-chat";
}

//  Serialises and frees `event` into one SSE step. 0 or -1.
static int
s_sse_step (sb_mock_script_t *script, uint64_t delay_us, const char *name, json_t *event)
{
    if (!event) return -1;
    char *text = json_dumps (event, JSON_COMPACT);
    json_decref (event);
    if (!text) return -1;
    int rc = sb_mock_script_step (script, delay_us) ||
             sb_mock_script_sse (script, name, text, strlen (text));
    free (text);
    return rc;
}

//  Serialises and frees `body` into a complete JSON response in the current step (or
//  half of it followed by a drop, when `half`). 0 or -1.
static int
s_json_response (sb_mock_script_t *script, int status, json_t *body, const char *extra,
                 bool keep_alive, bool half)
{
    if (!body) return -1;
    char *text = json_dumps (body, JSON_COMPACT);
    json_decref (body);
    if (!text) return -1;
    size_t len = strlen (text);
    int rc =
        sb_mock_script_head (script, status, "application/json", (int64_t)len, extra, keep_alive) ||
        sb_mock_script_append (script, text, half ? len / 2 : len);
    free (text);
    sb_mock_script_set_end (script, half         ? SB_MOCK_END_DROP
                                    : keep_alive ? SB_MOCK_END_KEEP_ALIVE
                                                 : SB_MOCK_END_CLOSE);
    return rc;
}

//  ---------------------------------------------------------------------------------
//  Errors

typedef struct {
    int status;
    const char *openai_type;
    const char *openai_code;
    const char *anthropic_type;
} s_error_kind_t;

static const s_error_kind_t s_error_kinds[] = {
    {400, "invalid_request_error", "invalid_request", "invalid_request_error"},
    {401, "invalid_request_error", "invalid_api_key", "authentication_error"},
    {403, "permission_error", "permission_denied", "permission_error"},
    {404, "invalid_request_error", "not_found", "not_found_error"},
    {405, "invalid_request_error", "method_not_allowed", "invalid_request_error"},
    {408, "timeout_error", "timeout", "timeout_error"},
    {411, "invalid_request_error", "length_required", "invalid_request_error"},
    {413, "invalid_request_error", "request_too_large", "request_too_large"},
    {429, "requests", "rate_limit_exceeded", "rate_limit_error"},
    {500, "server_error", "server_error", "api_error"},
    {502, "server_error", "bad_gateway", "api_error"},
    {503, "server_error", "service_unavailable", "overloaded_error"},
    {504, "server_error", "timeout", "timeout_error"},
    {529, "server_error", "overloaded", "overloaded_error"},
};

static const s_error_kind_t *
s_error_kind (int status)
{
    for (size_t i = 0; i < sizeof (s_error_kinds) / sizeof (s_error_kinds[0]); i++)
        if (s_error_kinds[i].status == status) return &s_error_kinds[i];
    return status < 500 ? &s_error_kinds[0] : &s_error_kinds[9];
}

static json_t *
s_error_body (sb_mock_api_t api, int status, const char *message)
{
    const s_error_kind_t *kind = s_error_kind (status);
    if (api == SB_MOCK_API_MESSAGES)
        return json_pack ("{s:s, s:{s:s, s:s}}", "type", "error", "error", "type",
                          kind->anthropic_type, "message", message);
    return json_pack ("{s:{s:s, s:s, s:n, s:s}}", "error", "message", message, "type",
                      kind->openai_type, "param", "code", kind->openai_code);
}

static int
s_error (sb_mock_script_t *script, sb_mock_api_t api, int status, const char *message,
         int64_t retry_after, bool keep_alive)
{
    char extra[64] = "";
    if (retry_after >= 0)
        snprintf (extra, sizeof (extra), "Retry-After: %lld\r\n", (long long)retry_after);
    return s_json_response (script, status, s_error_body (api, status, message), extra, keep_alive,
                            false);
}

sb_mock_script_t *
sb_mock_reply_error (sb_mock_api_t api, int status, const char *message, int64_t retry_after,
                     bool keep_alive, size_t headroom)
{
    sb_mock_script_t *script = sb_mock_script_new (headroom);
    if (script && s_error (script, api, status, message, retry_after, keep_alive))
        sb_mock_script_destroy (&script);
    return script;
}

sb_mock_script_t *
sb_mock_reply_json (int status, const char *body, size_t len, bool keep_alive, size_t headroom)
{
    sb_mock_script_t *script = sb_mock_script_new (headroom);
    if (!script) return NULL;
    if (sb_mock_script_head (script, status, "application/json", (int64_t)len, NULL, keep_alive) ||
        sb_mock_script_append (script, body, len))
        sb_mock_script_destroy (&script);
    else
        sb_mock_script_set_end (script, keep_alive ? SB_MOCK_END_KEEP_ALIVE : SB_MOCK_END_CLOSE);
    return script;
}

//  Checks the request body the way the provider would; fills msg and returns false when
//  the provider would answer 400.
static bool
s_valid (const sb_mock_request_t *req, char *msg, size_t size)
{
    const json_t *j = req->json;
    if (req->api == SB_MOCK_API_MODELS) return true;
    if (!json_is_object (j)) {
        snprintf (msg, size, "The request body is not valid JSON.");
        return false;
    }
    if (!json_is_string (json_object_get (j, "model"))) {
        snprintf (msg, size,
                  req->api == SB_MOCK_API_MESSAGES ? "model: Field required"
                                                   : "you must provide a model parameter");
        return false;
    }
    if (!json_is_array (json_object_get (j, "messages"))) {
        snprintf (msg, size,
                  req->api == SB_MOCK_API_MESSAGES ? "messages: Field required"
                                                   : "Missing required parameter: 'messages'.");
        return false;
    }
    if (req->api == SB_MOCK_API_MESSAGES && !json_is_integer (json_object_get (j, "max_tokens"))) {
        snprintf (msg, size, "max_tokens: Field required");
        return false;
    }
    return true;
}

//  ---------------------------------------------------------------------------------
//  OpenAI chat completions

typedef struct {
    const sb_mock_request_t *req;
    const s_plan_t *plan;
    char id[64];
    char call_id[64];
    bool include_usage;
} s_openai_t;

static json_t *
s_openai_usage (const s_openai_t *o)
{
    int64_t prompt = s_prompt_tokens (o->req);
    int64_t completion = (int64_t)o->plan->count;
    return json_pack ("{s:I, s:I, s:I, s:{s:i, s:i}, s:{s:i, s:i, s:i, s:i}}", "prompt_tokens",
                      (json_int_t)prompt, "completion_tokens", (json_int_t)completion,
                      "total_tokens", (json_int_t)(prompt + completion), "prompt_tokens_details",
                      "cached_tokens", 0, "audio_tokens", 0, "completion_tokens_details",
                      "reasoning_tokens", 0, "audio_tokens", 0, "accepted_prediction_tokens", 0,
                      "rejected_prediction_tokens", 0);
}

static json_t *
s_openai_message (const s_openai_t *o)
{
    const s_plan_t *plan = o->plan;
    if (plan->tool)
        return json_pack ("{s:s, s:n, s:[{s:s, s:s, s:{s:s, s:s%}}], s:n, s:[]}", "role",
                          "assistant", "content", "tool_calls", "id", o->call_id, "type",
                          "function", "function", "name", plan->name, "arguments", plan->text,
                          plan->text_len, "refusal", "annotations");
    return json_pack ("{s:s, s:s%, s:n, s:[]}", "role", "assistant", "content", plan->text,
                      plan->text_len, "refusal", "annotations");
}

static int
s_openai_json (sb_mock_script_t *script, const s_openai_t *o, bool half)
{
    const sb_mock_request_t *req = o->req;
    json_t *body = json_pack ("{s:s, s:s, s:I, s:s, s:[{s:i, s:o, s:n, s:s}], s:o, s:s, s:s}", "id",
                              o->id, "object", "chat.completion", "created", (json_int_t)req->now,
                              "model", s_model (req), "choices", "index", 0, "message",
                              s_openai_message (o), "logprobs", "finish_reason",
                              o->plan->tool ? "tool_calls" : "stop", "usage", s_openai_usage (o),
                              "service_tier", "default", "system_fingerprint", S_FINGERPRINT);
    return s_json_response (script, 200, body, NULL, req->keep_alive, half);
}

//  One chat.completion.chunk. `choice` NULL gives "choices": [] (the usage chunk);
//  `usage` NULL gives "usage": null when the client asked for usage, else no usage key.
static json_t *
s_openai_chunk (const s_openai_t *o, json_t *choice, json_t *usage)
{
    json_t *chunk = json_pack ("{s:s, s:s, s:I, s:s, s:s, s:s, s:[]}", "id", o->id, "object",
                               "chat.completion.chunk", "created", (json_int_t)o->req->now, "model",
                               s_model (o->req), "service_tier", "default", "system_fingerprint",
                               S_FINGERPRINT, "choices");
    if (!chunk) {
        json_decref (choice);
        json_decref (usage);
        return NULL;
    }
    if (choice) json_array_append_new (json_object_get (chunk, "choices"), choice);
    if (o->include_usage)
        json_object_set_new (chunk, "usage", usage ? usage : json_null ());
    else
        json_decref (usage);
    return chunk;
}

static json_t *
s_openai_choice (json_t *delta, const char *finish_reason)
{
    if (!delta) return NULL;
    return json_pack ("{s:i, s:o, s:n, s:s?}", "index", 0, "delta", delta, "logprobs",
                      "finish_reason", finish_reason);
}

static json_t *
s_openai_first_delta (const s_openai_t *o)
{
    if (o->plan->tool)
        return json_pack ("{s:s, s:n, s:[{s:i, s:s, s:s, s:{s:s, s:s}}], s:n}", "role", "assistant",
                          "content", "tool_calls", "index", 0, "id", o->call_id, "type", "function",
                          "function", "name", o->plan->name, "arguments", "", "refusal");
    return json_pack ("{s:s, s:s, s:n}", "role", "assistant", "content", "", "refusal");
}

static json_t *
s_openai_piece_delta (const s_openai_t *o, const s_piece_t *piece)
{
    const char *text = o->plan->text + piece->offset;
    if (o->plan->tool)
        return json_pack ("{s:[{s:i, s:{s:s%}}]}", "tool_calls", "index", 0, "function",
                          "arguments", text, piece->len);
    return json_pack ("{s:s%}", "content", text, piece->len);
}

//  Stream timing: head after latency_ms; the first chunk (role, or the tool call's id
//  and name) ttft_ms later; the first piece right after it, the next ones gap_ms apart;
//  the closing events right after the last piece.
static int
s_openai_stream (sb_mock_script_t *script, const s_openai_t *o, int64_t cut_after, bool drop,
                 uint64_t gap_us, uint64_t ttft_us)
{
    const sb_mock_request_t *req = o->req;
    if (sb_mock_script_head (script, 200, "text/event-stream; charset=utf-8", -1, NULL,
                             req->keep_alive))
        return -1;
    if (s_sse_step (script, ttft_us, NULL,
                    s_openai_chunk (o, s_openai_choice (s_openai_first_delta (o), NULL), NULL)))
        return -1;
    for (size_t i = 0; i < o->plan->count; i++) {
        if (cut_after >= 0 && (int64_t)i >= cut_after) break;
        json_t *delta = s_openai_piece_delta (o, &o->plan->pieces[i]);
        if (s_sse_step (script, i ? gap_us : 0, NULL,
                        s_openai_chunk (o, s_openai_choice (delta, NULL), NULL)))
            return -1;
    }
    if (cut_after >= 0 && drop) {
        sb_mock_script_set_end (script, SB_MOCK_END_DROP);
        return 0;
    }
    if (cut_after >= 0) {
        //  A mid-stream error as OpenAI sends it: an error object as the last event.
        json_t *err = s_error_body (SB_MOCK_API_CHAT, 500, "sb-mock: injected mid-stream error");
        if (s_sse_step (script, 0, NULL, err)) return -1;
    } else {
        json_t *finish = s_openai_choice (json_object (), o->plan->tool ? "tool_calls" : "stop");
        if (s_sse_step (script, 0, NULL, s_openai_chunk (o, finish, NULL))) return -1;
        if (o->include_usage &&
            s_sse_step (script, 0, NULL, s_openai_chunk (o, NULL, s_openai_usage (o))))
            return -1;
        if (sb_mock_script_step (script, 0) || sb_mock_script_sse (script, NULL, "[DONE]", 6))
            return -1;
    }
    if (sb_mock_script_chunked_end (script)) return -1;
    sb_mock_script_set_end (script, req->keep_alive ? SB_MOCK_END_KEEP_ALIVE : SB_MOCK_END_CLOSE);
    return 0;
}

//  ---------------------------------------------------------------------------------
//  Anthropic Messages

typedef struct {
    const sb_mock_request_t *req;
    const s_plan_t *plan;
    char id[64];
    char tool_id[64];
} s_anthropic_t;

//  The tool input as an object. Broken arguments cannot be an object (Anthropic parses
//  the input server-side), so a non-streamed "broken" call carries the mistake models
//  really make in objects: a number sent as a string.
static json_t *
s_anthropic_input (const s_anthropic_t *a)
{
    if (sb_mock_knobs_get (a->req->knobs, SB_MOCK_KNOB_TOOL) == SB_MOCK_TOOL_BROKEN)
        return json_pack ("{s:s, s:s}", "city", "New York", "max_items", "10");
    return json_loads (SB_MOCK_ARGS_VALID, 0, NULL);
}

static json_t *
s_anthropic_usage (const s_anthropic_t *a, int64_t output)
{
    return json_pack ("{s:I, s:i, s:i, s:I}", "input_tokens", (json_int_t)s_prompt_tokens (a->req),
                      "cache_creation_input_tokens", 0, "cache_read_input_tokens", 0,
                      "output_tokens", (json_int_t)output);
}

static json_t *
s_anthropic_block (const s_anthropic_t *a, bool full)
{
    if (a->plan->tool)
        return json_pack ("{s:s, s:s, s:s, s:o}", "type", "tool_use", "id", a->tool_id, "name",
                          a->plan->name, "input", full ? s_anthropic_input (a) : json_object ());
    return json_pack ("{s:s, s:s%}", "type", "text", "text", full ? a->plan->text : "",
                      full ? a->plan->text_len : 0);
}

static json_t *
s_anthropic_message (const s_anthropic_t *a, bool full)
{
    const char *stop = a->plan->tool ? "tool_use" : "end_turn";
    return json_pack ("{s:s, s:s, s:s, s:s, s:o, s:s?, s:n, s:o}", "id", a->id, "type", "message",
                      "role", "assistant", "model", s_model (a->req), "content",
                      full ? json_pack ("[o]", s_anthropic_block (a, true)) : json_array (),
                      "stop_reason", full ? stop : NULL, "stop_sequence", "usage",
                      s_anthropic_usage (a, full ? (int64_t)a->plan->count : 1));
}

static int
s_anthropic_json (sb_mock_script_t *script, const s_anthropic_t *a, bool half)
{
    return s_json_response (script, 200, s_anthropic_message (a, true), NULL, a->req->keep_alive,
                            half);
}

//  Same timing as the OpenAI stream, message_start taking the first chunk's place.
static int
s_anthropic_stream (sb_mock_script_t *script, const s_anthropic_t *a, int64_t cut_after, bool drop,
                    uint64_t gap_us, uint64_t ttft_us)
{
    const sb_mock_request_t *req = a->req;
    if (sb_mock_script_head (script, 200, "text/event-stream; charset=utf-8", -1, NULL,
                             req->keep_alive))
        return -1;
    if (s_sse_step (script, ttft_us, "message_start",
                    json_pack ("{s:s, s:o}", "type", "message_start", "message",
                               s_anthropic_message (a, false))))
        return -1;
    if (s_sse_step (script, 0, "content_block_start",
                    json_pack ("{s:s, s:i, s:o}", "type", "content_block_start", "index", 0,
                               "content_block", s_anthropic_block (a, false))))
        return -1;
    if (s_sse_step (script, 0, "ping", json_pack ("{s:s}", "type", "ping"))) return -1;
    for (size_t i = 0; i < a->plan->count; i++) {
        if (cut_after >= 0 && (int64_t)i >= cut_after) break;
        const s_piece_t *piece = &a->plan->pieces[i];
        const char *text = a->plan->text + piece->offset;
        json_t *delta = a->plan->tool ? json_pack ("{s:s, s:s%}", "type", "input_json_delta",
                                                   "partial_json", text, piece->len)
                                      : json_pack ("{s:s, s:s%}", "type", "text_delta", "text",
                                                   text, piece->len);
        if (s_sse_step (script, i ? gap_us : 0, "content_block_delta",
                        json_pack ("{s:s, s:i, s:o}", "type", "content_block_delta", "index", 0,
                                   "delta", delta)))
            return -1;
    }
    if (cut_after >= 0 && drop) {
        sb_mock_script_set_end (script, SB_MOCK_END_DROP);
        return 0;
    }
    if (cut_after >= 0) {
        if (s_sse_step (script, 0, "error",
                        json_pack ("{s:s, s:{s:s, s:s}}", "type", "error", "error", "type",
                                   "overloaded_error", "message", "Overloaded")))
            return -1;
    } else {
        const char *stop = a->plan->tool ? "tool_use" : "end_turn";
        if (s_sse_step (script, 0, "content_block_stop",
                        json_pack ("{s:s, s:i}", "type", "content_block_stop", "index", 0)))
            return -1;
        if (s_sse_step (script, 0, "message_delta",
                        json_pack ("{s:s, s:{s:s, s:n}, s:{s:I}}", "type", "message_delta", "delta",
                                   "stop_reason", stop, "stop_sequence", "usage", "output_tokens",
                                   (json_int_t)a->plan->count)))
            return -1;
        if (s_sse_step (script, 0, "message_stop", json_pack ("{s:s}", "type", "message_stop")))
            return -1;
    }
    if (sb_mock_script_chunked_end (script)) return -1;
    sb_mock_script_set_end (script, req->keep_alive ? SB_MOCK_END_KEEP_ALIVE : SB_MOCK_END_CLOSE);
    return 0;
}

//  ---------------------------------------------------------------------------------
//  Models

static int
s_models_list (sb_mock_script_t *script, const sb_mock_request_t *req)
{
    json_t *data = json_array ();
    for (size_t i = 0; data && i < sizeof (s_models) / sizeof (s_models[0]); i++)
        json_array_append_new (data, json_pack ("{s:s, s:s, s:i, s:s}", "id", s_models[i], "object",
                                                "model", "created", S_MODEL_CREATED, "owned_by",
                                                "sb-mock"));
    return s_json_response (script, 200, json_pack ("{s:s, s:o}", "object", "list", "data", data),
                            NULL, req->keep_alive, false);
}

//  ---------------------------------------------------------------------------------

static int
s_build (sb_mock_script_t *script, const sb_mock_request_t *req)
{
    const sb_mock_knobs_t *k = req->knobs;
    uint64_t latency_us = (uint64_t)sb_mock_knobs_get (k, SB_MOCK_KNOB_LATENCY_MS) * S_US_PER_MS;
    uint64_t ttft_us = (uint64_t)sb_mock_knobs_get (k, SB_MOCK_KNOB_TTFT_MS) * S_US_PER_MS;
    uint64_t gap_us = (uint64_t)sb_mock_knobs_get (k, SB_MOCK_KNOB_GAP_MS) * S_US_PER_MS;
    int64_t status = sb_mock_knobs_get (k, SB_MOCK_KNOB_STATUS);
    bool faults = req->faults_apply;

    //  Failures that happen before any answer, in order of precedence.
    if (faults && sb_mock_knobs_get (k, SB_MOCK_KNOB_RESET)) {
        sb_mock_script_set_end (script, SB_MOCK_END_RESET);
        return sb_mock_script_step (script, latency_us);
    }
    if (faults && sb_mock_knobs_get (k, SB_MOCK_KNOB_HANG)) {
        sb_mock_script_set_end (script, SB_MOCK_END_HANG);
        return 0;
    }
    bool cut = faults && (sb_mock_knobs_is_set (k, SB_MOCK_KNOB_DROP_AFTER) ||
                          sb_mock_knobs_is_set (k, SB_MOCK_KNOB_ERROR_AFTER));
    if (faults && status < 400 && req->fail_rate_hit && !cut)
        status = 500; // fail_rate alone means "HTTP 500"
    if (faults && status >= 400) {
        char msg[96];
        snprintf (msg, sizeof (msg), "sb-mock: injected HTTP %d", (int)status);
        int64_t retry_after = -1;
        if ((status == 429 || status == 503 || status == 529) &&
            sb_mock_knobs_is_set (k, SB_MOCK_KNOB_RETRY_AFTER))
            retry_after = sb_mock_knobs_get (k, SB_MOCK_KNOB_RETRY_AFTER);
        return sb_mock_script_step (script, latency_us) ||
               s_error (script, req->api, (int)status, msg, retry_after, req->keep_alive);
    }

    char msg[128];
    if (!s_valid (req, msg, sizeof (msg)))
        return sb_mock_script_step (script, latency_us) ||
               s_error (script, req->api, 400, msg, -1, req->keep_alive);
    if (req->api == SB_MOCK_API_MODELS)
        return sb_mock_script_step (script, latency_us) || s_models_list (script, req);

    s_plan_t plan;
    if (s_plan_make (&plan, req)) {
        s_plan_release (&plan);
        return -1;
    }
    //  drop_after wins over error_after when both are given.
    bool drop = faults && sb_mock_knobs_is_set (k, SB_MOCK_KNOB_DROP_AFTER);
    int64_t cut_after = -1;
    if (drop)
        cut_after = sb_mock_knobs_get (k, SB_MOCK_KNOB_DROP_AFTER);
    else if (cut)
        cut_after = sb_mock_knobs_get (k, SB_MOCK_KNOB_ERROR_AFTER);
    bool stream = json_is_true (json_object_get (req->json, "stream"));
    int rc;

    //  A JSON answer takes as long as the stream would have: the whole generation.
    uint64_t json_delay =
        latency_us + ttft_us + (plan.count > 1 ? (uint64_t)(plan.count - 1) * gap_us : 0);
    if (req->api == SB_MOCK_API_MESSAGES) {
        s_anthropic_t a = {.req = req, .plan = &plan};
        s_make_id (a.id, sizeof (a.id), "msg_01", req->seq, 1, 22);
        s_make_id (a.tool_id, sizeof (a.tool_id), "toolu_01", req->seq, 2, 22);
        if (stream)
            rc = sb_mock_script_step (script, latency_us) ||
                 s_anthropic_stream (script, &a, cut_after, drop, gap_us, ttft_us);
        else
            rc = sb_mock_script_step (script, json_delay) || s_anthropic_json (script, &a, drop);
    } else {
        s_openai_t o = {.req = req, .plan = &plan};
        s_make_id (o.id, sizeof (o.id), "chatcmpl-", req->seq, 1, 29);
        s_make_id (o.call_id, sizeof (o.call_id), "call_", req->seq, 2, 24);
        o.include_usage = json_is_true (
            json_object_get (json_object_get (req->json, "stream_options"), "include_usage"));
        if (stream)
            rc = sb_mock_script_step (script, latency_us) ||
                 s_openai_stream (script, &o, cut_after, drop, gap_us, ttft_us);
        else
            rc = sb_mock_script_step (script, json_delay) || s_openai_json (script, &o, drop);
    }
    s_plan_release (&plan);
    return rc;
}

sb_mock_script_t *
sb_mock_reply_build (const sb_mock_request_t *req, size_t headroom)
{
    assert (req);
    assert (req->knobs);
    sb_mock_script_t *script = sb_mock_script_new (headroom);
    if (script && s_build (script, req)) sb_mock_script_destroy (&script);
    return script;
}
