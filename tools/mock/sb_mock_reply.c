/*  sb_mock_reply — sb-mock's answers (see sb_mock_reply.h). A reply is planned as
    content pieces (text split over `chunks`, or tool-call arguments split the same
    way), then rendered in the requested API's shape, either as one JSON body or as
    one SSE event per step with the knobs' delays between them.  */

#include "sb_mock_reply.h"
#include "sb_mock_json.h"

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

//  ---------------------------------------------------------------------------------
//  Rendering. One s_reply_t per reply; its writer holds one document (a JSON body or
//  one SSE event's data) at a time.

//  Room for any one document: 1 MiB of content escaped 6 bytes per byte, and more.
#define S_DOC_MAX (16u * 1024 * 1024)

typedef struct {
    const sb_mock_request_t *req;
    s_plan_t plan;
    sb_mock_json_t j;
    char id[64];      // chatcmpl-... / msg_01...
    char tool_id[64]; // call_... / toolu_01...
    bool include_usage;
} s_reply_t;

//  Makes the writer's document one SSE step, then empties the writer. 0 or -1.
static int
s_sse_step (sb_mock_script_t *script, uint64_t delay_us, const char *name, sb_mock_json_t *j)
{
    int rc = j->failed || sb_mock_script_step (script, delay_us) ||
             sb_mock_script_sse (script, name, j->data, j->len);
    sb_mock_json_clear (j);
    return rc ? -1 : 0;
}

//  Makes the writer's document a complete JSON response in the current step (or half
//  of it followed by a drop, when `half`), then empties the writer. 0 or -1.
static int
s_json_response (sb_mock_script_t *script, int status, sb_mock_json_t *j, const char *extra,
                 bool keep_alive, bool half)
{
    int rc = j->failed ||
             sb_mock_script_head (script, status, "application/json", (int64_t)j->len, extra,
                                  keep_alive) ||
             sb_mock_script_append (script, j->data, half ? j->len / 2 : j->len);
    sb_mock_json_clear (j);
    sb_mock_script_set_end (script, half         ? SB_MOCK_END_DROP
                                    : keep_alive ? SB_MOCK_END_KEEP_ALIVE
                                                 : SB_MOCK_END_CLOSE);
    return rc ? -1 : 0;
}

//  ---------------------------------------------------------------------------------
//  Errors

typedef struct {
    int status;
    const char *openai_type;
    const char *openai_code;
    const char *anthropic_type;
} s_error_kind_t;

//  The first entry is the fallback for 4xx, S_ERROR_5XX the one for 5xx.
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
#define S_ERROR_5XX 9

static const s_error_kind_t *
s_error_kind (int status)
{
    for (size_t i = 0; i < sizeof (s_error_kinds) / sizeof (s_error_kinds[0]); i++)
        if (s_error_kinds[i].status == status) return &s_error_kinds[i];
    return status < 500 ? &s_error_kinds[0] : &s_error_kinds[S_ERROR_5XX];
}

static int
s_error_body (sb_mock_json_t *j, sb_mock_api_t api, int status, const char *message)
{
    const s_error_kind_t *kind = s_error_kind (status);
    if (api == SB_MOCK_API_MESSAGES)
        return sb_mock_json_pack (j, "{s:s, s:{s:s, s:s}}", "type", "error", "error", "type",
                                  kind->anthropic_type, "message", message);
    return sb_mock_json_pack (j, "{s:{s:s, s:s, s:n, s:s}}", "error", "message", message, "type",
                              kind->openai_type, "param", "code", kind->openai_code);
}

static int
s_error (sb_mock_script_t *script, sb_mock_api_t api, int status, const char *message,
         int64_t retry_after, bool keep_alive)
{
    char extra[64] = "";
    if (retry_after >= 0)
        snprintf (extra, sizeof (extra), "Retry-After: %lld\r\n", (long long)retry_after);
    sb_mock_json_t j;
    sb_mock_json_init (&j, 64 * 1024);
    int rc = s_error_body (&j, api, status, message) ||
             s_json_response (script, status, &j, extra, keep_alive, false);
    sb_mock_json_release (&j);
    return rc ? -1 : 0;
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
        snprintf (msg, size, "%s",
                  req->api == SB_MOCK_API_MESSAGES ? "model: Field required"
                                                   : "you must provide a model parameter");
        return false;
    }
    if (!json_is_array (json_object_get (j, "messages"))) {
        snprintf (msg, size, "%s",
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

static void
s_openai_usage (s_reply_t *r)
{
    int64_t prompt = s_prompt_tokens (r->req);
    int64_t completion = (int64_t)r->plan.count;
    sb_mock_json_pack (&r->j, "{s:I, s:I, s:I, s:{s:i, s:i}, s:{s:i, s:i, s:i, s:i}}",
                       "prompt_tokens", prompt, "completion_tokens", completion, "total_tokens",
                       prompt + completion, "prompt_tokens_details", "cached_tokens", 0,
                       "audio_tokens", 0, "completion_tokens_details", "reasoning_tokens", 0,
                       "audio_tokens", 0, "accepted_prediction_tokens", 0,
                       "rejected_prediction_tokens", 0);
}

static int
s_openai_json (sb_mock_script_t *script, s_reply_t *r, bool half)
{
    const s_plan_t *plan = &r->plan;
    sb_mock_json_t *j = &r->j;
    sb_mock_json_pack (j, "{s:s, s:s, s:I, s:s, s:[{s:i, s:", "id", r->id, "object",
                       "chat.completion", "created", r->req->now, "model", s_model (r->req),
                       "choices", "index", 0, "message");
    if (plan->tool)
        sb_mock_json_pack (j, "{s:s, s:n, s:[{s:s, s:s, s:{s:s, s:s%}}], s:n, s:[]}", "role",
                           "assistant", "content", "tool_calls", "id", r->tool_id, "type",
                           "function", "function", "name", plan->name, "arguments", plan->text,
                           plan->text_len, "refusal", "annotations");
    else
        sb_mock_json_pack (j, "{s:s, s:s%, s:n, s:[]}", "role", "assistant", "content", plan->text,
                           plan->text_len, "refusal", "annotations");
    sb_mock_json_pack (j, "s:n, s:s}], s:", "logprobs", "finish_reason",
                       plan->tool ? "tool_calls" : "stop", "usage");
    s_openai_usage (r);
    sb_mock_json_pack (j, "s:s, s:s}", "service_tier", "default", "system_fingerprint",
                       S_FINGERPRINT);
    return s_json_response (script, 200, j, NULL, r->req->keep_alive, half);
}

typedef enum {
    S_CHUNK_FIRST,  // role (and the tool call's id and name)
    S_CHUNK_PIECE,  // one content or arguments piece
    S_CHUNK_FINISH, // empty delta with finish_reason
    S_CHUNK_USAGE,  // "choices": [] and the usage (stream_options.include_usage)
} s_chunk_t;

//  One chat.completion.chunk into the writer. Every chunk carries "usage" (null but on
//  the last) when the client asked for usage, as OpenAI does.
static void
s_openai_chunk (s_reply_t *r, s_chunk_t kind, const s_piece_t *piece)
{
    const s_plan_t *plan = &r->plan;
    sb_mock_json_t *j = &r->j;
    sb_mock_json_pack (j, "{s:s, s:s, s:I, s:s, s:s, s:s, s:[", "id", r->id, "object",
                       "chat.completion.chunk", "created", r->req->now, "model", s_model (r->req),
                       "service_tier", "default", "system_fingerprint", S_FINGERPRINT, "choices");
    if (kind != S_CHUNK_USAGE) {
        sb_mock_json_pack (j, "{s:i, s:", "index", 0, "delta");
        if (kind == S_CHUNK_FIRST && plan->tool)
            sb_mock_json_pack (j, "{s:s, s:n, s:[{s:i, s:s, s:s, s:{s:s, s:s}}], s:n}", "role",
                               "assistant", "content", "tool_calls", "index", 0, "id", r->tool_id,
                               "type", "function", "function", "name", plan->name, "arguments", "",
                               "refusal");
        else if (kind == S_CHUNK_FIRST)
            sb_mock_json_pack (j, "{s:s, s:s, s:n}", "role", "assistant", "content", "", "refusal");
        else if (kind == S_CHUNK_PIECE && plan->tool)
            sb_mock_json_pack (j, "{s:[{s:i, s:{s:s%}}]}", "tool_calls", "index", 0, "function",
                               "arguments", plan->text + piece->offset, piece->len);
        else if (kind == S_CHUNK_PIECE)
            sb_mock_json_pack (j, "{s:s%}", "content", plan->text + piece->offset, piece->len);
        else
            sb_mock_json_pack (j, "{}");
        const char *finish = kind != S_CHUNK_FINISH ? NULL : plan->tool ? "tool_calls" : "stop";
        sb_mock_json_pack (j, "s:n, s:s?}", "logprobs", "finish_reason", finish);
    }
    sb_mock_json_pack (j, "]");
    if (r->include_usage) {
        sb_mock_json_pack (j, "s:", "usage");
        if (kind == S_CHUNK_USAGE)
            s_openai_usage (r);
        else
            sb_mock_json_pack (j, "n");
    }
    sb_mock_json_pack (j, "}");
}

//  Stream timing: head after latency_ms; the first chunk (role, or the tool call's id
//  and name) ttft_ms later; the first piece right after it, the next ones gap_ms apart;
//  the closing events right after the last piece.
static int
s_openai_stream (sb_mock_script_t *script, s_reply_t *r, int64_t cut_after, bool drop,
                 uint64_t gap_us, uint64_t ttft_us)
{
    const sb_mock_request_t *req = r->req;
    if (sb_mock_script_head (script, 200, "text/event-stream; charset=utf-8", -1, NULL,
                             req->keep_alive))
        return -1;
    s_openai_chunk (r, S_CHUNK_FIRST, NULL);
    if (s_sse_step (script, ttft_us, NULL, &r->j)) return -1;
    for (size_t i = 0; i < r->plan.count; i++) {
        if (cut_after >= 0 && (int64_t)i >= cut_after) break;
        s_openai_chunk (r, S_CHUNK_PIECE, &r->plan.pieces[i]);
        if (s_sse_step (script, i ? gap_us : 0, NULL, &r->j)) return -1;
    }
    if (cut_after >= 0 && drop) {
        sb_mock_script_set_end (script, SB_MOCK_END_DROP);
        return 0;
    }
    if (cut_after >= 0) {
        //  A mid-stream error as OpenAI sends it: an error object as the last event.
        s_error_body (&r->j, SB_MOCK_API_CHAT, 500, "sb-mock: injected mid-stream error");
        if (s_sse_step (script, 0, NULL, &r->j)) return -1;
    } else {
        s_openai_chunk (r, S_CHUNK_FINISH, NULL);
        if (s_sse_step (script, 0, NULL, &r->j)) return -1;
        if (r->include_usage) {
            s_openai_chunk (r, S_CHUNK_USAGE, NULL);
            if (s_sse_step (script, 0, NULL, &r->j)) return -1;
        }
        if (sb_mock_script_step (script, 0) || sb_mock_script_sse (script, NULL, "[DONE]", 6))
            return -1;
    }
    if (sb_mock_script_chunked_end (script)) return -1;
    sb_mock_script_set_end (script, req->keep_alive ? SB_MOCK_END_KEEP_ALIVE : SB_MOCK_END_CLOSE);
    return 0;
}

//  ---------------------------------------------------------------------------------
//  Anthropic Messages

//  The tool input as an object (`full`), or the empty one content_block_start carries.
//  Broken arguments cannot be an object (Anthropic parses the input server-side), so a
//  non-streamed "broken" call carries the mistake models really make in objects: a
//  number sent as a string.
static void
s_anthropic_block (s_reply_t *r, bool full)
{
    const s_plan_t *plan = &r->plan;
    sb_mock_json_t *j = &r->j;
    if (!plan->tool) {
        sb_mock_json_pack (j, "{s:s, s:s%}", "type", "text", "text", full ? plan->text : "",
                           full ? plan->text_len : (size_t)0);
        return;
    }
    sb_mock_json_pack (j, "{s:s, s:s, s:s, s:", "type", "tool_use", "id", r->tool_id, "name",
                       plan->name, "input");
    if (!full)
        sb_mock_json_pack (j, "{}");
    else if (sb_mock_knobs_get (r->req->knobs, SB_MOCK_KNOB_TOOL) == SB_MOCK_TOOL_BROKEN)
        sb_mock_json_pack (j, "{s:s, s:s}", "city", "New York", "max_items", "10");
    else
        sb_mock_json_pack (j, "r", SB_MOCK_ARGS_VALID);
    sb_mock_json_pack (j, "}");
}

//  The message object: complete (`full`, the JSON answer) or as message_start has it.
static void
s_anthropic_message (s_reply_t *r, bool full)
{
    sb_mock_json_t *j = &r->j;
    const char *stop = r->plan.tool ? "tool_use" : "end_turn";
    sb_mock_json_pack (j, "{s:s, s:s, s:s, s:s, s:[", "id", r->id, "type", "message", "role",
                       "assistant", "model", s_model (r->req), "content");
    if (full) s_anthropic_block (r, true);
    sb_mock_json_pack (j, "], s:s?, s:n, s:{s:I, s:i, s:i, s:I}}", "stop_reason",
                       full ? stop : NULL, "stop_sequence", "usage", "input_tokens",
                       s_prompt_tokens (r->req), "cache_creation_input_tokens", 0,
                       "cache_read_input_tokens", 0, "output_tokens",
                       full ? (int64_t)r->plan.count : (int64_t)1);
}

static int
s_anthropic_json (sb_mock_script_t *script, s_reply_t *r, bool half)
{
    s_anthropic_message (r, true);
    return s_json_response (script, 200, &r->j, NULL, r->req->keep_alive, half);
}

//  Same timing as the OpenAI stream, message_start taking the first chunk's place.
static int
s_anthropic_stream (sb_mock_script_t *script, s_reply_t *r, int64_t cut_after, bool drop,
                    uint64_t gap_us, uint64_t ttft_us)
{
    const sb_mock_request_t *req = r->req;
    const s_plan_t *plan = &r->plan;
    sb_mock_json_t *j = &r->j;
    if (sb_mock_script_head (script, 200, "text/event-stream; charset=utf-8", -1, NULL,
                             req->keep_alive))
        return -1;
    sb_mock_json_pack (j, "{s:s, s:", "type", "message_start", "message");
    s_anthropic_message (r, false);
    sb_mock_json_pack (j, "}");
    if (s_sse_step (script, ttft_us, "message_start", j)) return -1;
    sb_mock_json_pack (j, "{s:s, s:i, s:", "type", "content_block_start", "index", 0,
                       "content_block");
    s_anthropic_block (r, false);
    sb_mock_json_pack (j, "}");
    if (s_sse_step (script, 0, "content_block_start", j)) return -1;
    sb_mock_json_pack (j, "{s:s}", "type", "ping");
    if (s_sse_step (script, 0, "ping", j)) return -1;
    for (size_t i = 0; i < plan->count; i++) {
        if (cut_after >= 0 && (int64_t)i >= cut_after) break;
        const s_piece_t *piece = &plan->pieces[i];
        sb_mock_json_pack (j, "{s:s, s:i, s:{s:s, s:s%}}", "type", "content_block_delta", "index",
                           0, "delta", "type", plan->tool ? "input_json_delta" : "text_delta",
                           plan->tool ? "partial_json" : "text", plan->text + piece->offset,
                           piece->len);
        if (s_sse_step (script, i ? gap_us : 0, "content_block_delta", j)) return -1;
    }
    if (cut_after >= 0 && drop) {
        sb_mock_script_set_end (script, SB_MOCK_END_DROP);
        return 0;
    }
    if (cut_after >= 0) {
        sb_mock_json_pack (j, "{s:s, s:{s:s, s:s}}", "type", "error", "error", "type",
                           "overloaded_error", "message", "Overloaded");
        if (s_sse_step (script, 0, "error", j)) return -1;
    } else {
        sb_mock_json_pack (j, "{s:s, s:i}", "type", "content_block_stop", "index", 0);
        if (s_sse_step (script, 0, "content_block_stop", j)) return -1;
        sb_mock_json_pack (j, "{s:s, s:{s:s, s:n}, s:{s:I}}", "type", "message_delta", "delta",
                           "stop_reason", plan->tool ? "tool_use" : "end_turn", "stop_sequence",
                           "usage", "output_tokens", (int64_t)plan->count);
        if (s_sse_step (script, 0, "message_delta", j)) return -1;
        sb_mock_json_pack (j, "{s:s}", "type", "message_stop");
        if (s_sse_step (script, 0, "message_stop", j)) return -1;
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
    sb_mock_json_t j;
    sb_mock_json_init (&j, 64 * 1024);
    sb_mock_json_pack (&j, "{s:s, s:[", "object", "list", "data");
    for (size_t i = 0; i < sizeof (s_models) / sizeof (s_models[0]); i++)
        sb_mock_json_pack (&j, "{s:s, s:s, s:i, s:s}", "id", s_models[i], "object", "model",
                           "created", S_MODEL_CREATED, "owned_by", "sb-mock");
    sb_mock_json_pack (&j, "]}");
    int rc = s_json_response (script, 200, &j, NULL, req->keep_alive, false);
    sb_mock_json_release (&j);
    return rc;
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

    s_reply_t r = {.req = req};
    sb_mock_json_init (&r.j, S_DOC_MAX);
    if (s_plan_make (&r.plan, req)) {
        s_plan_release (&r.plan);
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
    //  A JSON answer takes as long as the stream would have: the whole generation.
    uint64_t json_delay =
        latency_us + ttft_us + (r.plan.count > 1 ? (uint64_t)(r.plan.count - 1) * gap_us : 0);
    int rc;
    if (req->api == SB_MOCK_API_MESSAGES) {
        s_make_id (r.id, sizeof (r.id), "msg_01", req->seq, 1, 22);
        s_make_id (r.tool_id, sizeof (r.tool_id), "toolu_01", req->seq, 2, 22);
        if (stream)
            rc = sb_mock_script_step (script, latency_us) ||
                 s_anthropic_stream (script, &r, cut_after, drop, gap_us, ttft_us);
        else
            rc = sb_mock_script_step (script, json_delay) || s_anthropic_json (script, &r, drop);
    } else {
        s_make_id (r.id, sizeof (r.id), "chatcmpl-", req->seq, 1, 29);
        s_make_id (r.tool_id, sizeof (r.tool_id), "call_", req->seq, 2, 24);
        r.include_usage = json_is_true (
            json_object_get (json_object_get (req->json, "stream_options"), "include_usage"));
        if (stream)
            rc = sb_mock_script_step (script, latency_us) ||
                 s_openai_stream (script, &r, cut_after, drop, gap_us, ttft_us);
        else
            rc = sb_mock_script_step (script, json_delay) || s_openai_json (script, &r, drop);
    }
    s_plan_release (&r.plan);
    sb_mock_json_release (&r.j);
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
