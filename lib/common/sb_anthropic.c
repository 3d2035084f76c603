/*  sb_anthropic — OpenAI chat-completions <-> Anthropic Messages translation for the
    router (requests, non-streaming responses, errors, path and headers). Everything
    here is a pure function of its arguments; rules and decisions: docs/anthropic.md.  */

#include "sb_anthropic.h"
#include "sb_oai_error.h"

#include <assert.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

//  Largest body this module serialises. Anthropic refuses requests over 32 MB, so a
//  translated body past twice that is a bug or an attack, not a request to send.
#define S_MAX_OUTPUT ((size_t)64 * 1024 * 1024)

//  Token counts are clamped to this so that summing four of them cannot overflow.
#define S_MAX_TOKENS (INT64_MAX / 8)

//  ---------------------------------------------------------------------------------
//  Small helpers

static void
s_set_err (char *err, size_t err_size, const char *fmt, ...)
{
    if (!err || err_size == 0) return;
    va_list args;
    va_start (args, fmt);
    vsnprintf (err, err_size, fmt, args);
    va_end (args);
}

//  A growable output buffer with a hard ceiling (S_MAX_OUTPUT). Once an append fails
//  the buffer stays failed, so callers check once at the end.
typedef struct {
    char *data;
    size_t len; //  bytes used, excluding the NUL kept after them
    size_t cap;
    bool failed;
} s_buf_t;

static int
s_buf_append (s_buf_t *self, const char *bytes, size_t n)
{
    if (self->failed) return -1;
    if (n > S_MAX_OUTPUT - self->len) {
        self->failed = true;
        return -1;
    }
    if (self->len + n + 1 > self->cap) {
        size_t cap = self->cap ? self->cap : 256;
        while (cap < self->len + n + 1)
            cap *= 2;
        char *data = realloc (self->data, cap);
        if (!data) {
            self->failed = true;
            return -1;
        }
        self->data = data;
        self->cap = cap;
    }
    memcpy (self->data + self->len, bytes, n);
    self->len += n;
    self->data[self->len] = '\0';
    return 0;
}

static int
s_dump_cb (const char *bytes, size_t n, void *arg)
{
    return s_buf_append ((s_buf_t *)arg, bytes, n);
}

//  Fewest significant digits (15..17) that print `v` so it reads back unchanged.
//  jansson's default (17) turns 0.7 into 0.69999999999999996; 15 alone would lose
//  bits of some doubles. Relies on the "C" numeric locale, as jansson's dtostr does.
static int
s_real_precision (double v)
{
    char text[64];
    for (int precision = 15; precision < 17; precision++) {
        snprintf (text, sizeof text, "%.*g", precision, v);
        if (strtod (text, NULL) == v) return precision;
    }
    return 17;
}

//  The precision the whole document needs: the largest any of its reals needs.
//  Recursion depth is bounded by jansson's parser depth limit.
static int
s_doc_precision (const json_t *json)
{
    int best = 0;
    if (json_is_real (json)) return s_real_precision (json_real_value (json));
    if (json_is_object (json)) {
        const char *key;
        json_t *value;
        json_object_foreach ((json_t *)json, key, value)
        {
            int p = s_doc_precision (value);
            if (p > best) best = p;
        }
    } else if (json_is_array (json)) {
        size_t index;
        json_t *value;
        json_array_foreach (json, index, value)
        {
            int p = s_doc_precision (value);
            if (p > best) best = p;
        }
    }
    return best;
}

char *
sb_anthropic_dumps (const json_t *json, size_t *len_p)
{
    assert (json);
    size_t flags = JSON_COMPACT | JSON_ENCODE_ANY;
    int precision = s_doc_precision (json);
    if (precision > 0) flags |= (size_t)JSON_REAL_PRECISION (precision);
    s_buf_t buf = {0};
    if (json_dump_callback (json, s_dump_cb, &buf, flags) != 0 || buf.failed || !buf.data) {
        free (buf.data);
        return NULL;
    }
    if (len_p) *len_p = buf.len;
    return buf.data;
}

static const char *
s_string_member (const json_t *object, const char *key)
{
    return json_string_value (json_object_get (object, key));
}

//  json_object_set_new that reports failure as -1 (jansson frees `value` either way).
static int
s_set (json_t *object, const char *key, json_t *value)
{
    if (!value) return -1;
    return json_object_set_new (object, key, value);
}

static int
s_push (json_t *array, json_t *value)
{
    if (!value) return -1;
    return json_array_append_new (array, value);
}

//  ---------------------------------------------------------------------------------
//  Path, headers

const char *
sb_anthropic_path (void)
{
    return SB_ANTHROPIC_PATH;
}

size_t
sb_anthropic_headers (const char *api_key, sb_anthropic_header_t *hdrs)
{
    assert (api_key);
    assert (hdrs);
    hdrs[0] = (sb_anthropic_header_t){"x-api-key", api_key};
    hdrs[1] = (sb_anthropic_header_t){"anthropic-version", SB_ANTHROPIC_VERSION};
    hdrs[2] = (sb_anthropic_header_t){"content-type", "application/json"};
    return SB_ANTHROPIC_HEADER_COUNT;
}

//  ---------------------------------------------------------------------------------
//  Usage

static void
s_usage_take (int64_t *field, const json_t *usage, const char *key)
{
    const json_t *value = json_object_get (usage, key);
    if (!json_is_integer (value)) return;
    json_int_t n = json_integer_value (value);
    if (n < 0) return;
    *field = n > S_MAX_TOKENS ? S_MAX_TOKENS : (int64_t)n;
}

void
sb_anthropic_usage_update (sb_anthropic_usage_t *usage, const json_t *json)
{
    assert (usage);
    if (json_is_object (json)) {
        s_usage_take (&usage->input_tokens, json, "input_tokens");
        s_usage_take (&usage->cache_creation_tokens, json, "cache_creation_input_tokens");
        s_usage_take (&usage->cache_read_tokens, json, "cache_read_input_tokens");
        s_usage_take (&usage->output_tokens, json, "output_tokens");
    }
    usage->prompt_tokens =
        usage->input_tokens + usage->cache_creation_tokens + usage->cache_read_tokens;
    usage->completion_tokens = usage->output_tokens;
    usage->total_tokens = usage->prompt_tokens + usage->completion_tokens;
}

json_t *
sb_anthropic_usage_to_json (const sb_anthropic_usage_t *usage)
{
    assert (usage);
    return json_pack ("{s:I, s:I, s:I, s:{s:I}}", "prompt_tokens", (json_int_t)usage->prompt_tokens,
                      "completion_tokens", (json_int_t)usage->completion_tokens, "total_tokens",
                      (json_int_t)usage->total_tokens, "prompt_tokens_details", "cached_tokens",
                      (json_int_t)usage->cache_read_tokens);
}

//  ---------------------------------------------------------------------------------
//  Requests

//  Scratch state of one request translation, so helpers can report where in the
//  OpenAI body a problem is without passing five arguments around.
typedef struct {
    char *err;
    size_t err_size;
} s_req_t;

//  A text block, or nothing for empty text: Anthropic rejects empty text blocks, and
//  an empty OpenAI string carries nothing.
static int
s_push_text (json_t *blocks, const char *text, size_t len)
{
    if (len == 0) return 0;
    return s_push (blocks, json_pack ("{s:s, s:s%}", "type", "text", "text", text, len));
}

static int
s_push_text_value (json_t *blocks, const json_t *string)
{
    return s_push_text (blocks, json_string_value (string), json_string_length (string));
}

//  An image_url part -> an image block: data: URLs become a base64 source, http(s)
//  URLs a url source. Anything else is refused rather than guessed at.
static int
s_push_image (s_req_t *req, json_t *blocks, const json_t *part, const char *where)
{
    const json_t *image_url = json_object_get (part, "image_url");
    const char *url = json_is_object (image_url) ? s_string_member (image_url, "url")
                                                 : json_string_value (image_url);
    if (!url) {
        s_set_err (req->err, req->err_size, "%s.image_url.url must be a string", where);
        return -1;
    }
    size_t url_len = strlen (url);
    json_t *source = NULL;
    if (strncasecmp (url, "data:", 5) == 0) {
        const char *comma = memchr (url, ',', url_len);
        const char *marker = ";base64";
        size_t marker_len = strlen (marker);
        const char *media = url + 5;
        size_t header_len = comma ? (size_t)(comma - media) : 0;
        if (!comma || header_len <= marker_len ||
            strncasecmp (comma - marker_len, marker, marker_len) != 0 ||
            memchr (media, ';', header_len - marker_len)) {
            s_set_err (req->err, req->err_size,
                       "%s.image_url.url: data URLs must be data:<media type>;base64,<data>",
                       where);
            return -1;
        }
        source = json_pack ("{s:s, s:s%, s:s}", "type", "base64", "media_type", media,
                            header_len - marker_len, "data", comma + 1);
    } else if (strncasecmp (url, "https://", 8) == 0 || strncasecmp (url, "http://", 7) == 0)
        source = json_pack ("{s:s, s:s}", "type", "url", "url", url);
    else {
        s_set_err (req->err, req->err_size,
                   "%s.image_url.url must be an http(s) URL or a base64 data URL", where);
        return -1;
    }
    if (!source) return -1;
    return s_push (blocks, json_pack ("{s:s, s:o}", "type", "image", "source", source));
}

//  Content (a string or an array of parts) -> blocks appended to `blocks`.
//  `images` says whether image_url parts are allowed (user turns only).
static int
s_push_content (s_req_t *req, json_t *blocks, const json_t *content, bool images, const char *where)
{
    if (!content || json_is_null (content)) return 0;
    if (json_is_string (content)) return s_push_text_value (blocks, content);
    if (!json_is_array (content)) {
        s_set_err (req->err, req->err_size, "%s.content must be a string or an array", where);
        return -1;
    }
    size_t index;
    const json_t *part;
    json_array_foreach (content, index, part)
    {
        char part_where[160];
        snprintf (part_where, sizeof part_where, "%s.content[%zu]", where, index);
        const char *type = s_string_member (part, "type");
        if (type && strcmp (type, "text") == 0 && json_is_string (json_object_get (part, "text"))) {
            if (s_push_text_value (blocks, json_object_get (part, "text"))) return -1;
        }
        //  An assistant refusal in the history is what the assistant said.
        else if (type && strcmp (type, "refusal") == 0 &&
                 json_is_string (json_object_get (part, "refusal"))) {
            if (s_push_text_value (blocks, json_object_get (part, "refusal"))) return -1;
        } else if (images && type && strcmp (type, "image_url") == 0) {
            if (s_push_image (req, blocks, part, part_where)) return -1;
        } else {
            s_set_err (req->err, req->err_size, "%s: unsupported content part type '%s'",
                       part_where, type ? type : "(none)");
            return -1;
        }
    }
    return 0;
}

//  An OpenAI tool call -> a tool_use block. The arguments string must parse to a
//  JSON object: an empty string means no arguments ({}), anything else that does
//  not parse is refused, because guessing would call a tool with made-up input.
static int
s_push_tool_use (s_req_t *req, json_t *blocks, const json_t *call, const char *where)
{
    const json_t *function = json_object_get (call, "function");
    const char *id = s_string_member (call, "id");
    const char *type = s_string_member (call, "type");
    const char *name = s_string_member (function, "name");
    const json_t *arguments = json_object_get (function, "arguments");
    if (!id || !name || (type && strcmp (type, "function") != 0)) {
        s_set_err (req->err, req->err_size,
                   "%s must be {id, type:\"function\", function:{name, arguments}}", where);
        return -1;
    }
    json_t *input = NULL;
    if (!arguments || json_is_null (arguments))
        input = json_object ();
    else if (json_is_string (arguments)) {
        const char *text = json_string_value (arguments);
        size_t len = json_string_length (arguments);
        size_t blank = strspn (text, " \t\r\n");
        if (blank == len)
            input = json_object ();
        else {
            json_error_t jerr;
            input = json_loadb (text, len, JSON_REJECT_DUPLICATES, &jerr);
            if (!input) {
                s_set_err (req->err, req->err_size,
                           "%s.function.arguments is not valid JSON: %s at position %d", where,
                           jerr.text, jerr.position);
                return -1;
            }
        }
    } else {
        s_set_err (req->err, req->err_size, "%s.function.arguments must be a string", where);
        return -1;
    }
    if (!json_is_object (input)) {
        s_set_err (req->err, req->err_size, "%s.function.arguments must encode a JSON object",
                   where);
        json_decref (input);
        return -1;
    }
    return s_push (blocks, json_pack ("{s:s, s:s, s:s, s:o}", "type", "tool_use", "id", id, "name",
                                      name, "input", input));
}

static bool
s_is_tool_result (const json_t *block)
{
    const char *type = s_string_member (block, "type");
    return type && strcmp (type, "tool_result") == 0;
}

//  Appends a turn, merging it into the previous one when the role repeats (Anthropic
//  requires user/assistant alternation). In a user turn, tool_result blocks must
//  come before any other block, so they are inserted after the last tool_result
//  rather than at the end. Steals `blocks`; an empty turn is dropped.
static int
s_append_turn (json_t *messages, const char *role, json_t *blocks)
{
    int rc = 0;
    if (json_array_size (blocks) == 0) goto cleanup;
    json_t *last = json_array_get (messages, json_array_size (messages) - 1);
    const char *last_role = s_string_member (last, "role");
    if (!last || !last_role || strcmp (last_role, role) != 0) {
        rc = s_push (messages, json_pack ("{s:s, s:O}", "role", role, "content", blocks));
        goto cleanup;
    }
    json_t *content = json_object_get (last, "content");
    size_t index;
    json_t *block;
    json_array_foreach (blocks, index, block)
    {
        size_t at = json_array_size (content);
        if (s_is_tool_result (block)) {
            at = 0;
            while (at < json_array_size (content) &&
                   s_is_tool_result (json_array_get (content, at)))
                at++;
        }
        if (json_array_insert (content, at, block)) {
            rc = -1;
            goto cleanup;
        }
    }
cleanup:
    json_decref (blocks);
    return rc;
}

//  Translates the messages array into `system` blocks and `messages` turns.
static int
s_translate_messages (s_req_t *req, const json_t *in_messages, json_t *system, json_t *messages)
{
    if (!json_is_array (in_messages) || json_array_size (in_messages) == 0) {
        s_set_err (req->err, req->err_size, "messages must be a non-empty array");
        return -1;
    }
    size_t index;
    const json_t *message;
    json_array_foreach (in_messages, index, message)
    {
        char where[48];
        snprintf (where, sizeof where, "messages[%zu]", index);
        const char *role = s_string_member (message, "role");
        const json_t *content = json_object_get (message, "content");
        if (!role) {
            s_set_err (req->err, req->err_size, "%s.role must be a string", where);
            return -1;
        }
        if (strcmp (role, "system") == 0 || strcmp (role, "developer") == 0) {
            if (s_push_content (req, system, content, false, where)) return -1;
            continue;
        }
        json_t *blocks = json_array ();
        if (!blocks) return -1;
        const char *turn_role = role;
        if (strcmp (role, "user") == 0) {
            if (s_push_content (req, blocks, content, true, where)) goto failed;
        } else if (strcmp (role, "assistant") == 0) {
            if (s_push_content (req, blocks, content, false, where)) goto failed;
            const json_t *calls = json_object_get (message, "tool_calls");
            if (calls && !json_is_null (calls) && !json_is_array (calls)) {
                s_set_err (req->err, req->err_size, "%s.tool_calls must be an array", where);
                goto failed;
            }
            size_t call_index;
            const json_t *call;
            json_array_foreach (calls, call_index, call)
            {
                char call_where[96];
                snprintf (call_where, sizeof call_where, "%s.tool_calls[%zu]", where, call_index);
                if (s_push_tool_use (req, blocks, call, call_where)) goto failed;
            }
        } else if (strcmp (role, "tool") == 0) {
            const char *tool_call_id = s_string_member (message, "tool_call_id");
            if (!tool_call_id) {
                s_set_err (req->err, req->err_size, "%s.tool_call_id must be a string", where);
                goto failed;
            }
            json_t *result =
                json_pack ("{s:s, s:s}", "type", "tool_result", "tool_use_id", tool_call_id);
            if (s_push (blocks, result)) goto failed;
            //  A string stays a string; text parts become text blocks.
            if (json_is_string (content)) {
                if (json_string_length (content) > 0 &&
                    s_set (result, "content", json_copy ((json_t *)content)))
                    goto failed;
            } else if (content && !json_is_null (content)) {
                json_t *parts = json_array ();
                if (s_set (result, "content", parts) ||
                    s_push_content (req, parts, content, false, where))
                    goto failed;
            }
            turn_role = "user";
        } else {
            s_set_err (req->err, req->err_size, "%s.role '%s' is not supported", where, role);
            goto failed;
        }
        if (s_append_turn (messages, turn_role, blocks)) return -1;
        continue;
    failed:
        json_decref (blocks);
        return -1;
    }
    if (json_array_size (messages) == 0) {
        s_set_err (req->err, req->err_size,
                   "messages must contain at least one non-empty user or assistant message");
        return -1;
    }
    return 0;
}

static int
s_translate_tools (s_req_t *req, const json_t *in_tools, json_t *tools)
{
    if (!json_is_array (in_tools)) {
        s_set_err (req->err, req->err_size, "tools must be an array");
        return -1;
    }
    size_t index;
    const json_t *tool;
    json_array_foreach (in_tools, index, tool)
    {
        const char *type = s_string_member (tool, "type");
        const json_t *function = json_object_get (tool, "function");
        const char *name = s_string_member (function, "name");
        const json_t *description = json_object_get (function, "description");
        const json_t *parameters = json_object_get (function, "parameters");
        if (!type || strcmp (type, "function") != 0 || !name) {
            s_set_err (req->err, req->err_size,
                       "tools[%zu] must be {type:\"function\", function:{name, ...}}", index);
            return -1;
        }
        if (parameters && !json_is_null (parameters) && !json_is_object (parameters)) {
            s_set_err (req->err, req->err_size, "tools[%zu].function.parameters must be an object",
                       index);
            return -1;
        }
        json_t *out = json_pack ("{s:s}", "name", name);
        if (s_push (tools, out)) return -1;
        if (json_is_string (description) &&
            s_set (out, "description", json_copy ((json_t *)description)))
            return -1;
        //  OpenAI: omitting parameters defines a function that takes none.
        json_t *schema = json_is_object (parameters)
                             ? json_deep_copy (parameters)
                             : json_pack ("{s:s, s:{}}", "type", "object", "properties");
        if (s_set (out, "input_schema", schema)) return -1;
    }
    return 0;
}

//  tool_choice + parallel_tool_calls -> Anthropic tool_choice, or NULL (into
//  *choice_p) when the provider default applies.
static int
s_translate_tool_choice (s_req_t *req, const json_t *in, const json_t *parallel, json_t **choice_p)
{
    json_t *choice = NULL;
    *choice_p = NULL;
    if (parallel && !json_is_null (parallel) && !json_is_boolean (parallel)) {
        s_set_err (req->err, req->err_size, "parallel_tool_calls must be a boolean");
        return -1;
    }
    bool serial = json_is_false (parallel);
    bool absent = !in || json_is_null (in);
    const char *mode = json_string_value (in);
    const json_t *function = json_object_get (in, "function");
    const char *name = s_string_member (function, "name");
    if (absent && !serial) return 0;
    if (absent || (mode && strcmp (mode, "auto") == 0))
        choice = json_pack ("{s:s}", "type", "auto");
    else if (mode && strcmp (mode, "none") == 0)
        choice = json_pack ("{s:s}", "type", "none");
    else if (mode && strcmp (mode, "required") == 0)
        choice = json_pack ("{s:s}", "type", "any");
    else if (json_is_object (in) && name && s_string_member (in, "type") &&
             strcmp (s_string_member (in, "type"), "function") == 0)
        choice = json_pack ("{s:s, s:s}", "type", "tool", "name", name);
    else {
        s_set_err (req->err, req->err_size,
                   "tool_choice must be \"auto\", \"none\", \"required\" or "
                   "{type:\"function\", function:{name}}");
        return -1;
    }
    if (!choice) return -1;
    //  "none" takes no disable_parallel_tool_use: there is nothing to parallelise.
    if (serial && strcmp (s_string_member (choice, "type"), "none") != 0 &&
        s_set (choice, "disable_parallel_tool_use", json_true ())) {
        json_decref (choice);
        return -1;
    }
    *choice_p = choice;
    return 0;
}

static int
s_translate_stop (s_req_t *req, const json_t *stop, json_t *out)
{
    json_t *sequences = NULL;
    if (json_is_string (stop))
        sequences = json_pack ("[O]", stop);
    else if (json_is_array (stop)) {
        size_t index;
        const json_t *value;
        json_array_foreach (stop, index, value)
        {
            if (!json_is_string (value)) {
                s_set_err (req->err, req->err_size, "stop[%zu] must be a string", index);
                return -1;
            }
        }
        if (json_array_size (stop) == 0) return 0;
        sequences = json_deep_copy (stop);
    } else {
        s_set_err (req->err, req->err_size, "stop must be a string or an array of strings");
        return -1;
    }
    return s_set (out, "stop_sequences", sequences);
}

//  A member that is either absent/null (skipped) or a number copied as is: ranges
//  differ (OpenAI temperature goes to 2, Anthropic's to 1) but rescaling would
//  change what the client asked for, so the provider's own 400 is the answer.
static int
s_copy_number (s_req_t *req, const json_t *in, const char *key, json_t *out)
{
    const json_t *value = json_object_get (in, key);
    if (!value || json_is_null (value)) return 0;
    if (!json_is_number (value)) {
        s_set_err (req->err, req->err_size, "%s must be a number", key);
        return -1;
    }
    return s_set (out, key, json_copy ((json_t *)value));
}

static int
s_max_tokens (s_req_t *req, const json_t *in, int64_t fallback, json_int_t *max_p)
{
    const char *keys[] = {"max_completion_tokens", "max_tokens"};
    for (size_t i = 0; i < 2; i++) {
        const json_t *value = json_object_get (in, keys[i]);
        if (!value || json_is_null (value)) continue;
        if (!json_is_integer (value) || json_integer_value (value) < 1) {
            s_set_err (req->err, req->err_size, "%s must be a positive integer", keys[i]);
            return -1;
        }
        *max_p = json_integer_value (value);
        return 0;
    }
    *max_p = fallback > 0 ? (json_int_t)fallback : SB_ANTHROPIC_DEFAULT_MAX_TOKENS;
    return 0;
}

//  Builds the Anthropic request object from the parsed OpenAI one.
static json_t *
s_translate_request (s_req_t *req, const json_t *in, const char *model, int64_t default_max_tokens,
                     sb_anthropic_request_info_t *info)
{
    json_t *system = json_array ();
    json_t *messages = json_array ();
    json_t *tools = json_array ();
    json_t *choice = NULL;
    json_t *out = json_object ();
    if (!system || !messages || !tools || !out) goto failed;

    const json_t *n = json_object_get (in, "n");
    if (n && !json_is_null (n) && (!json_is_integer (n) || json_integer_value (n) != 1)) {
        s_set_err (req->err, req->err_size,
                   "n must be 1: this provider returns a single choice per request");
        goto failed;
    }
    const json_t *stream = json_object_get (in, "stream");
    if (stream && !json_is_null (stream) && !json_is_boolean (stream)) {
        s_set_err (req->err, req->err_size, "stream must be a boolean");
        goto failed;
    }
    if (info) {
        info->stream = json_is_true (stream);
        info->include_usage = json_is_true (
            json_object_get (json_object_get (in, "stream_options"), "include_usage"));
    }
    json_int_t max_tokens;
    if (s_max_tokens (req, in, default_max_tokens, &max_tokens)) goto failed;
    if (s_translate_messages (req, json_object_get (in, "messages"), system, messages)) goto failed;
    const json_t *in_tools = json_object_get (in, "tools");
    if (in_tools && !json_is_null (in_tools) && s_translate_tools (req, in_tools, tools))
        goto failed;
    //  Without tools there is nothing to choose between; Anthropic would refuse a
    //  tool_choice, OpenAI clients commonly send "none" anyway.
    if (json_array_size (tools) > 0 &&
        s_translate_tool_choice (req, json_object_get (in, "tool_choice"),
                                 json_object_get (in, "parallel_tool_calls"), &choice))
        goto failed;

    if (s_set (out, "model", json_string (model)) ||
        s_set (out, "max_tokens", json_integer (max_tokens)))
        goto failed;
    //  One system text stays a plain string; several become text blocks.
    if (json_array_size (system) == 1) {
        if (json_object_set (out, "system", json_object_get (json_array_get (system, 0), "text")))
            goto failed;
    } else if (json_array_size (system) > 1 && json_object_set (out, "system", system))
        goto failed;
    if (json_object_set (out, "messages", messages)) goto failed;
    if (json_array_size (tools) > 0 && json_object_set (out, "tools", tools)) goto failed;
    if (choice && json_object_set (out, "tool_choice", choice)) goto failed;
    const json_t *stop = json_object_get (in, "stop");
    if (stop && !json_is_null (stop) && s_translate_stop (req, stop, out)) goto failed;
    if (s_copy_number (req, in, "temperature", out) || s_copy_number (req, in, "top_p", out))
        goto failed;
    const json_t *user = json_object_get (in, "user");
    if (user && !json_is_null (user) && !json_is_string (user)) {
        s_set_err (req->err, req->err_size, "user must be a string");
        goto failed;
    }
    if (json_string_length (user) > 0 &&
        s_set (out, "metadata", json_pack ("{s:O}", "user_id", user)))
        goto failed;
    if (json_is_true (stream) && s_set (out, "stream", json_true ())) goto failed;
    json_decref (system);
    json_decref (messages);
    json_decref (tools);
    json_decref (choice);
    return out;

failed:
    json_decref (system);
    json_decref (messages);
    json_decref (tools);
    json_decref (choice);
    json_decref (out);
    return NULL;
}

int
sb_anthropic_request_from_openai (const char *body, size_t body_len, const char *model,
                                  int64_t default_max_tokens, sb_anthropic_request_info_t *info,
                                  char **out_p, size_t *out_len_p, char *err, size_t err_size)
{
    assert (body || body_len == 0);
    assert (model);
    assert (out_p);
    *out_p = NULL;
    if (err && err_size > 0) err[0] = '\0';
    if (info) *info = (sb_anthropic_request_info_t){0};
    s_req_t req = {err, err_size};
    json_t *out = NULL;
    json_error_t jerr;
    json_t *in = json_loadb (body ? body : "", body_len, 0, &jerr);
    if (!in) {
        s_set_err (err, err_size, "request body is not valid JSON: %s at position %d", jerr.text,
                   jerr.position);
        goto cleanup;
    }
    if (!json_is_object (in)) {
        s_set_err (err, err_size, "request body must be a JSON object");
        goto cleanup;
    }
    out = s_translate_request (&req, in, model, default_max_tokens, info);
    if (out) *out_p = sb_anthropic_dumps (out, out_len_p);
    if (out && !*out_p)
        s_set_err (err, err_size, "out of memory");
    else if (!out && err && err_size > 0 && err[0] == '\0')
        s_set_err (err, err_size, "out of memory");
cleanup:
    json_decref (in);
    json_decref (out);
    return *out_p ? 0 : -1;
}

//  ---------------------------------------------------------------------------------
//  Responses

const char *
sb_anthropic_finish_reason (const char *stop_reason)
{
    if (!stop_reason) return NULL;
    if (strcmp (stop_reason, "max_tokens") == 0 ||
        strcmp (stop_reason, "model_context_window_exceeded") == 0)
        return "length";
    if (strcmp (stop_reason, "tool_use") == 0) return "tool_calls";
    if (strcmp (stop_reason, "refusal") == 0) return "content_filter";
    return "stop";
}

//  Builds the chat.completion object from a parsed Messages response.
static json_t *
s_translate_response (const json_t *in, int64_t created, sb_anthropic_usage_t *usage, char *err,
                      size_t err_size)
{
    s_buf_t text = {0};
    bool has_text = false;
    json_t *calls = json_array ();
    json_t *out = NULL;
    if (!calls) goto cleanup;
    const json_t *content = json_object_get (in, "content");
    size_t index;
    const json_t *block;
    json_array_foreach (content, index, block)
    {
        const char *type = s_string_member (block, "type");
        if (!type) continue;
        if (strcmp (type, "text") == 0) {
            const json_t *value = json_object_get (block, "text");
            has_text = true;
            if (json_is_string (value))
                s_buf_append (&text, json_string_value (value), json_string_length (value));
        } else if (strcmp (type, "tool_use") == 0) {
            const char *id = s_string_member (block, "id");
            const char *name = s_string_member (block, "name");
            const json_t *input = json_object_get (block, "input");
            if (!id || !name || (input && !json_is_object (input))) {
                s_set_err (err, err_size, "content[%zu]: tool_use needs id, name, object input",
                           index);
                goto cleanup;
            }
            json_t *empty = input ? NULL : json_object ();
            char *arguments = sb_anthropic_dumps (input ? input : empty, NULL);
            json_decref (empty);
            if (!arguments) goto cleanup;
            int rc =
                s_push (calls, json_pack ("{s:s, s:s, s:{s:s, s:s}}", "id", id, "type", "function",
                                          "function", "name", name, "arguments", arguments));
            free (arguments);
            if (rc) goto cleanup;
        }
        //  thinking, redacted_thinking, server tool blocks: nothing OpenAI can show.
    }
    if (text.failed) goto cleanup;

    const char *finish = sb_anthropic_finish_reason (s_string_member (in, "stop_reason"));
    json_t *message = json_pack ("{s:s}", "role", "assistant");
    json_t *content_value = has_text ? json_stringn (text.data ? text.data : "", text.len)
                            : json_array_size (calls) > 0 ? json_null ()
                                                          : json_string ("");
    if (s_set (message, "content", content_value) ||
        (json_array_size (calls) > 0 && json_object_set (message, "tool_calls", calls))) {
        json_decref (message);
        goto cleanup;
    }
    sb_anthropic_usage_update (usage, json_object_get (in, "usage"));
    const char *id = s_string_member (in, "id");
    const char *model = s_string_member (in, "model");
    out = json_pack ("{s:s, s:s, s:I, s:s, s:[{s:i, s:o, s:s?}], s:o}", "id", id ? id : "",
                     "object", "chat.completion", "created", (json_int_t)created, "model",
                     model ? model : "", "choices", "index", 0, "message", message, "finish_reason",
                     finish, "usage", sb_anthropic_usage_to_json (usage));
cleanup:
    free (text.data);
    json_decref (calls);
    return out;
}

int
sb_anthropic_response_to_openai (const char *body, size_t body_len, int64_t created, char **out_p,
                                 size_t *out_len_p, sb_anthropic_usage_t *usage, char *err,
                                 size_t err_size)
{
    assert (body || body_len == 0);
    assert (out_p);
    *out_p = NULL;
    if (err && err_size > 0) err[0] = '\0';
    sb_anthropic_usage_t scratch = {0};
    if (!usage) usage = &scratch;
    *usage = (sb_anthropic_usage_t){0};
    json_t *out = NULL;
    json_error_t jerr;
    json_t *in = json_loadb (body ? body : "", body_len, 0, &jerr);
    if (!in) {
        s_set_err (err, err_size, "response body is not valid JSON: %s at position %d", jerr.text,
                   jerr.position);
        goto cleanup;
    }
    const char *type = s_string_member (in, "type");
    if (!json_is_object (in) || !type || strcmp (type, "message") != 0 ||
        (json_object_get (in, "content") && !json_is_array (json_object_get (in, "content")))) {
        s_set_err (err, err_size, "response body is not a Messages response (type '%s')",
                   type ? type : "(none)");
        goto cleanup;
    }
    out = s_translate_response (in, created, usage, err, err_size);
    if (out) *out_p = sb_anthropic_dumps (out, out_len_p);
    if (!*out_p && err && err_size > 0 && err[0] == '\0')
        s_set_err (err, err_size, "out of memory");
cleanup:
    json_decref (in);
    json_decref (out);
    return *out_p ? 0 : -1;
}

//  ---------------------------------------------------------------------------------
//  Errors

//  One row per Anthropic error type. Why the statuses differ from Anthropic's own:
//  authentication and billing errors are about the gateway's provider key, not the
//  client's, so the client sees 502 (a 401 would tell it its own key is bad); 5xx
//  from the provider is a bad gateway (502); 529 is not a standard status, 503 is
//  what OpenAI clients retry on. error.type follows the status (sb_oai_error_type),
//  as for every other error the gateway answers.
typedef struct {
    const char *anthropic_type;
    int upstream_status; //  the status Anthropic documents for it
    int status;          //  the status the gateway answers with
    bool failover;       //  another channel may succeed
    const char *code;    //  OpenAI error.code
} s_error_row_t;

static const s_error_row_t s_errors[] = {
    {"invalid_request_error", 400, 400, false, "invalid_request"},
    {"authentication_error", 401, 502, true, "upstream_authentication_failed"},
    {"billing_error", 402, 502, true, "upstream_billing_error"},
    {"permission_error", 403, 403, true, "permission_denied"},
    {"not_found_error", 404, 404, false, "not_found"},
    {"request_too_large", 413, 413, false, "request_too_large"},
    {"rate_limit_error", 429, 429, true, "rate_limit_exceeded"},
    {"api_error", 500, 502, true, "upstream_error"},
    {"timeout_error", 504, 504, true, "upstream_timeout"},
    {"overloaded_error", 529, 503, true, "upstream_overloaded"},
};

#define S_ROW_INVALID_REQUEST 0
#define S_ROW_API_ERROR       7
#define S_ROW_OVERLOADED      9

void
sb_anthropic_error_map (const char *anthropic_type, int http_status, sb_anthropic_error_map_t *map)
{
    assert (map);
    size_t rows = sizeof s_errors / sizeof s_errors[0];
    const s_error_row_t *row = NULL;
    for (size_t i = 0; anthropic_type && i < rows && !row; i++)
        if (strcmp (s_errors[i].anthropic_type, anthropic_type) == 0) row = &s_errors[i];
    for (size_t i = 0; i < rows && !row; i++)
        if (s_errors[i].upstream_status == http_status) row = &s_errors[i];
    if (!row && http_status == 503) row = &s_errors[S_ROW_OVERLOADED];
    //  Anthropic: invalid_request_error also covers 4xx statuses it does not list.
    if (!row && http_status >= 400 && http_status < 500) row = &s_errors[S_ROW_INVALID_REQUEST];
    if (!row) row = &s_errors[S_ROW_API_ERROR];
    *map = (sb_anthropic_error_map_t){row->status, row->failover, sb_oai_error_type (row->status),
                                      row->code};
}

json_t *
sb_anthropic_error_json (const json_t *error, int http_status, sb_anthropic_error_map_t *map)
{
    sb_anthropic_error_map_t scratch;
    if (!map) map = &scratch;
    const char *type = s_string_member (error, "type");
    const char *message = s_string_member (error, "message");
    sb_anthropic_error_map (type, http_status, map);
    char fallback[96];
    if (!message || !*message) {
        if (http_status > 0)
            snprintf (fallback, sizeof fallback, "provider returned HTTP %d (%s)", http_status,
                      type ? type : "no error details");
        else
            snprintf (fallback, sizeof fallback, "provider reported an error (%s)",
                      type ? type : "no error details");
        message = fallback;
    }
    return json_pack ("{s:{s:s, s:s, s:s}}", "error", "message", message, "type", map->type, "code",
                      map->code);
}

int
sb_anthropic_error_to_openai (int http_status, const char *body, size_t body_len, char **out_p,
                              size_t *out_len_p, sb_anthropic_error_map_t *map)
{
    assert (body || body_len == 0);
    assert (out_p);
    json_t *in = body ? json_loadb (body, body_len, 0, NULL) : NULL;
    //  {"type":"error","error":{...}}; anything else (HTML, empty) maps by status.
    const json_t *error = json_object_get (in, "error");
    json_t *out = sb_anthropic_error_json (json_is_object (error) ? error : NULL, http_status, map);
    *out_p = out ? sb_anthropic_dumps (out, out_len_p) : NULL;
    json_decref (in);
    json_decref (out);
    return *out_p ? 0 : -1;
}
