/*  sb_anthropic — translation between OpenAI chat-completions and Anthropic's Messages
    API for the router: request bodies, non-streaming responses, error bodies, and the
    path and headers to call. Pure logic (no I/O, no clock, no globals), used on the
    router's event-loop thread. The streaming translator is sb_anthropic_stream.
    Mapping rules and the decisions behind them: docs/anthropic.md.  */

#ifndef SB_ANTHROPIC_H_INCLUDED
#define SB_ANTHROPIC_H_INCLUDED

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define SB_ANTHROPIC_PATH               "/v1/messages"
#define SB_ANTHROPIC_VERSION            "2023-06-01"
#define SB_ANTHROPIC_DEFAULT_MAX_TOKENS 4096
#define SB_ANTHROPIC_HEADER_COUNT       3
//  A size for the `err` buffers below that holds every message this module writes
//  (longer messages are truncated, never overflowed).
#define SB_ANTHROPIC_ERR_SIZE 256

//  ---------------------------------------------------------------------------------
//  Calling the provider

typedef struct {
    const char *name;
    const char *value;
} sb_anthropic_header_t;

//  The path to POST to, relative to the channel's base URL ("/v1/messages").
const char *sb_anthropic_path (void);

//  Fills hdrs[0 .. SB_ANTHROPIC_HEADER_COUNT-1] with the headers every Messages call
//  needs: x-api-key (value = api_key, borrowed), anthropic-version, content-type.
//  Returns the number written (SB_ANTHROPIC_HEADER_COUNT). Values are borrowed:
//  api_key must outlive hdrs, the others are static.
size_t sb_anthropic_headers (const char *api_key, sb_anthropic_header_t *hdrs);

//  ---------------------------------------------------------------------------------
//  Token usage, in both vocabularies. Anthropic's input_tokens excludes cached
//  tokens; OpenAI's prompt_tokens includes them, so prompt_tokens is the sum of the
//  three input counts and cache_read_tokens is reported as cached_tokens.

typedef struct {
    int64_t input_tokens;          //  Anthropic input_tokens (uncached input)
    int64_t cache_creation_tokens; //  Anthropic cache_creation_input_tokens
    int64_t cache_read_tokens;     //  Anthropic cache_read_input_tokens
    int64_t output_tokens;         //  Anthropic output_tokens
    int64_t prompt_tokens;         //  input + cache_creation + cache_read
    int64_t completion_tokens;     //  = output_tokens
    int64_t total_tokens;          //  prompt + completion
} sb_anthropic_usage_t;

//  Updates `usage` from an Anthropic usage object: each count present as a
//  non-negative integer replaces the stored one (message_delta carries cumulative
//  counts), absent or malformed ones are left alone; the derived fields are then
//  recomputed. Counts are clamped so sums cannot overflow. `json` may be NULL.
void sb_anthropic_usage_update (sb_anthropic_usage_t *usage, const json_t *json);

//  The OpenAI usage object for `usage`: {prompt_tokens, completion_tokens,
//  total_tokens, prompt_tokens_details:{cached_tokens}}. Caller owns the result;
//  NULL when memory runs out.
json_t *sb_anthropic_usage_to_json (const sb_anthropic_usage_t *usage);

//  ---------------------------------------------------------------------------------
//  Requests

typedef struct {
    bool stream;        //  the client sent "stream": true
    bool include_usage; //  the client sent stream_options.include_usage: true
} sb_anthropic_request_info_t;

//  Translates an OpenAI chat-completions request body into an Anthropic Messages
//  request body for provider model `model`. `default_max_tokens` is used when the
//  client sends neither max_completion_tokens nor max_tokens (<= 0 means
//  SB_ANTHROPIC_DEFAULT_MAX_TOKENS). `info` (may be NULL) receives what the router
//  needs to know about the client's request.
//  Returns 0 and sets *out_p (NUL-terminated, caller frees with free()) and
//  *out_len_p (may be NULL). Returns -1 on input the provider cannot be asked
//  (malformed JSON, n > 1, unparseable tool-call arguments, unsupported roles or
//  content parts, ...), writing a message suitable for an HTTP 400 body into err,
//  or when memory runs out ("out of memory"); *out_p is then NULL.
int sb_anthropic_request_from_openai (const char *body, size_t body_len, const char *model,
                                      int64_t default_max_tokens, sb_anthropic_request_info_t *info,
                                      char **out_p, size_t *out_len_p, char *err, size_t err_size);

//  ---------------------------------------------------------------------------------
//  Responses

//  The OpenAI finish_reason for an Anthropic stop_reason: end_turn and stop_sequence
//  -> "stop", max_tokens and model_context_window_exceeded -> "length", tool_use ->
//  "tool_calls", refusal -> "content_filter", anything else (pause_turn, future
//  values) -> "stop". NULL stop_reason gives NULL. The result is static.
const char *sb_anthropic_finish_reason (const char *stop_reason);

//  Translates an Anthropic Messages response body (HTTP 200) into an OpenAI
//  chat.completion body. `created` is the caller's clock (Anthropic sends none).
//  `usage` (may be NULL) receives the token counts for billing.
//  Returns 0 and sets *out_p (caller frees with free()) and *out_len_p (may be
//  NULL); -1 when the body is not a Messages response (malformed JSON, an error
//  object, a tool_use block without id or name), writing a reason into err;
//  *out_p is then NULL.
int sb_anthropic_response_to_openai (const char *body, size_t body_len, int64_t created,
                                     char **out_p, size_t *out_len_p, sb_anthropic_usage_t *usage,
                                     char *err, size_t err_size);

//  ---------------------------------------------------------------------------------
//  Errors

typedef struct {
    int status;       //  HTTP status the gateway answers the client with
    bool failover;    //  another channel may succeed (transient or key-specific)
    const char *type; //  OpenAI error.type = sb_oai_error_type (status), static
    const char *code; //  OpenAI error.code (static)
} sb_anthropic_error_map_t;

//  How the gateway answers an Anthropic error of type `anthropic_type` (may be NULL
//  or unknown) received with upstream HTTP status `http_status` (0 when there is
//  none, as for a stream's error event). A known type wins over the status; an
//  unknown type falls back to the status. Table in docs/anthropic.md.
void sb_anthropic_error_map (const char *anthropic_type, int http_status,
                             sb_anthropic_error_map_t *map);

//  Translates an upstream error response (status + body, which may be anything,
//  e.g. an HTML page from a proxy) into an OpenAI error body
//  {"error":{"message","type","code"}} and fills `map` (may be NULL) with the status
//  to answer with. Returns 0 and sets *out_p (caller frees with free()) and
//  *out_len_p (may be NULL); -1 only when memory runs out.
int sb_anthropic_error_to_openai (int http_status, const char *body, size_t body_len, char **out_p,
                                  size_t *out_len_p, sb_anthropic_error_map_t *map);

//  The OpenAI error object {"error":{"message","type","code"}} for an Anthropic error
//  object {"type","message"} (`error` may be NULL or malformed) and status. Shared
//  with sb_anthropic_stream. Caller owns the result; NULL when memory runs out.
json_t *sb_anthropic_error_json (const json_t *error, int http_status,
                                 sb_anthropic_error_map_t *map);

//  Serialises `json` compactly into a malloc'd, NUL-terminated buffer (caller frees
//  with free()), printing each real with the fewest digits that read back as the
//  same double (so 0.7 stays "0.7"). Returns NULL when memory runs out.
char *sb_anthropic_dumps (const json_t *json, size_t *len_p);

#endif
