/*  sb_mock_reply — builds the script (sb_mock_script) of sb-mock's answer to one
    request: OpenAI chat completions (JSON or SSE), Anthropic Messages (JSON or SSE),
    the model list, and every misbehaviour the knobs ask for (delays, errors, resets,
    hangs, cut streams, broken tool calls). Pure logic, no I/O, no clock: the caller
    passes the time and a request number in, so a reply is a function of its inputs.
    Shapes follow the providers' documented ones; docs/mock-provider.md lists them.  */

#ifndef SB_MOCK_REPLY_H_INCLUDED
#define SB_MOCK_REPLY_H_INCLUDED

#include "sb_mock_knobs.h"
#include "sb_mock_script.h"

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef enum {
    SB_MOCK_API_CHAT,     // POST /v1/chat/completions (OpenAI)
    SB_MOCK_API_MESSAGES, // POST /v1/messages (Anthropic)
    SB_MOCK_API_MODELS,   // GET /v1/models (OpenAI)
} sb_mock_api_t;

//  The tool arguments sb-mock answers with, byte for byte.
#define SB_MOCK_ARGS_BROKEN "{'city': 'New York', max_items: '10'}"
#define SB_MOCK_ARGS_VALID  "{\"city\":\"New York\",\"max_items\":10}"
//  The tool name when the request lists no tools.
#define SB_MOCK_DEFAULT_TOOL "get_weather"

//  One request as the reply builder sees it. Everything is borrowed.
typedef struct {
    sb_mock_api_t api;
    size_t body_len;              // request body size in bytes (prompt tokens = ceil(/4))
    const json_t *json;           // the parsed body (NULL when there is none)
    const sb_mock_knobs_t *knobs; // merged knobs
    bool faults_apply;            // failure knobs (status, reset, hang, drop_after,
                                  // error_after) act: no fail_rate, or its sequence hit
    bool fail_rate_hit;           // fail_rate chose this request: HTTP 500 unless
                                  // another failure knob says what to do
    bool keep_alive;              // the connection may serve another request
    uint64_t seq;                 // request number, makes the ids
    int64_t now;                  // unix time, for "created"
} sb_mock_request_t;

//  The script answering `req`. Request validation happens here: a body the API would
//  reject gets that API's 400 error. Returns NULL when out of memory. Caller owns the
//  result.
sb_mock_script_t *sb_mock_reply_build (const sb_mock_request_t *req, size_t headroom);

//  An error response in the shape of `api` (OpenAI {"error":{...}} or Anthropic
//  {"type":"error","error":{...}}). retry_after >= 0 adds a Retry-After header. NULL
//  when out of memory. Caller owns the result.
sb_mock_script_t *sb_mock_reply_error (sb_mock_api_t api, int status, const char *message,
                                       int64_t retry_after, bool keep_alive, size_t headroom);

//  A plain JSON response with `body` (len bytes). NULL when out of memory. Caller owns
//  the result.
sb_mock_script_t *sb_mock_reply_json (int status, const char *body, size_t len, bool keep_alive,
                                      size_t headroom);

#endif
