/*  sb_router_request — one chat request's life in the router, as an explicit
    state machine:

        PICKING ──▶ UPSTREAM ──▶ STREAMING ──▶ DONE
           ▲           │  (first byte     │
           └─ failover ┘   to the client) └─▶ DONE (clean SSE error if it breaks)
                       └──▶ VALIDATING ──▶ DONE   (JSON with tool calls, pool on)

    Failover happens only while nothing has gone to the client. All of it runs on
    the router's one thread; transfers find their request through CURLOPT_PRIVATE.  */

#include "sb_router.h"
#include "sb_anthropic.h"
#include "sb_anthropic_stream.h"
#include "sb_breaker.h"
#include "sb_channel_picker.h"
#include "sb_clock.h"
#include "sb_json_scan.h"
#include "sb_metrics.h"
#include "sb_oai_error.h"
#include "sb_out.h"
#include "sb_sse.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef enum {
    R_TOON,
    R_PICKING,
    R_BACKOFF,
    R_UPSTREAM,
    R_STREAMING,
    R_VALIDATING,
    R_DONE
} r_state_t;

//  One upstream attempt, for the request's record.
typedef struct {
    uint32_t channel; // config channel index
    int status;       // HTTP status, or 0 for a transport error / timeout
    uint32_t ms;      // duration of the attempt
} s_attempt_t;

#define S_MAX_ATTEMPTS_LOGGED 16
#define S_MAX_STREAM_CALLS    64
#define S_MAX_CALL_ARGS       (4u << 20)

//  A tool call being assembled from stream deltas.
typedef struct {
    int choice, index;
    char *id, *name;
    char *args;
    size_t args_len, args_cap;
} s_tcall_t;
#define S_BACKOFF_BASE_US   20000u   // first retry waits ~20 ms (with jitter)
#define S_BACKOFF_MAX_US    1000000u // never more than 1 s between attempts
#define S_RETRY_AFTER_MAX_S 60u      // a longer Retry-After is not waited for

#define S_MAX_RESPONSE (32u << 20) // a JSON response larger than this is a 502
#define S_MAX_EVENT    (4u << 20)  // one SSE event
#define S_MAX_IDENT    256
#define S_BUCKETS      (1u << 16)

//  Invariants: `easy` is non-NULL exactly in R_UPSTREAM/R_STREAMING; `sent` is true
//  once any byte went to the ingress (no failover after that); the request is in
//  the id map from creation to s_finish.
struct _sb_rreq_t {
    sb_rreq_t *next_in_bucket;
    sb_rreq_t *prev_active, *next_active; // all live requests, for the timer scan
    uint64_t id;
    unsigned char ident[S_MAX_IDENT];
    size_t ident_len;
    zmq_msg_t frame; // the CHAT frame; `chat` views point into it
    sb_chat_t chat;
    char model[SB_MAX_NAME + 1];
    char trace[SB_MAX_TEXT + 1];
    sb_rgen_t *gen; // the config generation this request lives in (held)
    const sb_group_t *group;
    size_t group_index;
    r_state_t state;
    CURL *easy;
    char *up_body;   // body rewritten for the current channel (NULL: send the base body)
    char *toon_body; // the client's body with tool results in TOON (NULL: none)
    size_t toon_len;
    uint64_t toon_saved;
    size_t up_len;
    //  response
    long status;
    char *resp; // JSON body (or error body of a failed attempt)
    size_t resp_len, resp_cap;
    bool resp_too_big;
    sb_sse_t *sse;
    sb_anthropic_stream_t *astream; // translator of the current attempt (Anthropic streams)
    bool anthropic;                 // current channel speaks the Messages API
    char *batch;                    // events of one write callback, sent as one CHUNK
    size_t batch_len, batch_cap;
    uint64_t seq;
    bool sent;
    char *capture; // stream chunks for the record: "<offset_ms> <len>\n<bytes>\n"...
    size_t capture_len, capture_cap;
    bool capture_cut;
    bool done_seen;
    bool error_event_seen; // the provider's stream carried an error event (forwarded)
    //  attempts
    uint64_t tried_mask; // picker indexes tried
    int pick;            // picker index of the current attempt, -1 none
    size_t channel;      // config channel index of the current attempt
    uint32_t attempts;
    uint64_t picked_ms;
    char retry_after[32];
    uint64_t wake_us; // R_BACKOFF: when to try again
    s_attempt_t log[S_MAX_ATTEMPTS_LOGGED];
    //  timing (monotonic µs)
    uint64_t start_us, attempt_us, first_byte_us, last_byte_us, deadline_us;
    uint64_t prompt_tokens, completion_tokens;
    //  validation
    uint64_t job_id;
    //  the request's own `tools` (a span of the chat body, "[]" when none); found once
    const char *tools;
    size_t tools_len;
    //  streamed tool calls, held until complete (tool validation on, tools sent)
    bool hold_tools;
    s_tcall_t *calls; // S_MAX_STREAM_CALLS slots, allocated on first use
    size_t call_count;
    char *held; // events after the calls completed, released after them
    size_t held_len, held_cap;
    bool holding;       // a job for the streamed calls is pending
    bool upstream_done; // the transfer ended while the job was pending
    char chunk_id[128]; // id/created/model of the stream, for the released deltas
    long long chunk_created;
    char chunk_model[SB_MAX_NAME + 1];
    char validation_header[160];
    //  last failure, for the final error
    int fail_status;
    char fail_message[400];
    char fail_code[48];
};

static sb_rreq_t *s_buckets[S_BUCKETS];
static sb_rreq_t *s_active_head;
static size_t s_active;
static CURL *s_easy_pool[512];
static size_t s_easy_pool_count;

size_t
sb_router_active (void)
{
    return s_active;
}

//  -------------------------------------------------------------------------
//  id map

static size_t
s_bucket (const void *ident, size_t ident_len, uint64_t id)
{
    uint64_t h = id * 0x9e3779b97f4a7c15ULL;
    const unsigned char *p = ident;
    for (size_t i = 0; i < ident_len; i++)
        h = (h ^ p[i]) * 0x100000001b3ULL;
    return (size_t)(h >> 17) & (S_BUCKETS - 1);
}

static sb_rreq_t *
s_find (const void *ident, size_t ident_len, uint64_t id)
{
    for (sb_rreq_t *r = s_buckets[s_bucket (ident, ident_len, id)]; r; r = r->next_in_bucket)
        if (r->id == id && r->ident_len == ident_len && memcmp (r->ident, ident, ident_len) == 0)
            return r;
    return NULL;
}

static void
s_unlink (sb_rreq_t *req)
{
    sb_rreq_t **p = &s_buckets[s_bucket (req->ident, req->ident_len, req->id)];
    while (*p && *p != req)
        p = &(*p)->next_in_bucket;
    if (*p) *p = req->next_in_bucket;
}

//  -------------------------------------------------------------------------
//  Sending to the ingress.

static void s_finish (sb_rreq_t *req);

static void
s_send_end (sb_rreq_t *req, int status, const char *body, size_t body_len, const char *headers,
            const char *error)
{
    sb_msg_t msg = {.type = SB_MSG_END};
    msg.end.id = req->id;
    msg.end.status = (uint64_t)status;
    msg.end.body = sb_bytes (body, body_len);
    msg.end.headers = sb_bytes_str (headers);
    const sb_channel_t *ch =
        req->attempts ? sb_config_channel (req->gen->config, req->channel) : NULL;
    msg.end.channel = sb_bytes_str (ch ? ch->name : "");
    msg.end.attempts = req->attempts;
    msg.end.prompt_tokens = req->prompt_tokens;
    msg.end.completion_tokens = req->completion_tokens;
    uint64_t now = sb_mono_us ();
    msg.end.upstream_us = req->attempt_us ? now - req->attempt_us : 0;
    msg.end.ttfb_us = req->first_byte_us ? req->first_byte_us - req->attempt_us : 0;
    msg.end.error = sb_bytes_str (error);
    sb_router_send (req->ident, req->ident_len, &msg);
}

static int
s_send_chunk (sb_rreq_t *req, const char *data, size_t len)
{
    //  Keep the chunk for the record, up to the configured cap.
    uint32_t cap = sb_router.settings.log_body_max;
    char head[48];
    int hn = snprintf (head, sizeof head, "%llu %zu\n",
                       (unsigned long long)((sb_mono_us () - req->start_us) / 1000), len);
    if (!req->capture_cut && req->capture_len + (size_t)hn + len + 1 <= cap) {
        if (req->capture_len + (size_t)hn + len + 1 > req->capture_cap) {
            size_t c = req->capture_cap ? req->capture_cap : 4096;
            while (c < req->capture_len + (size_t)hn + len + 1)
                c *= 2;
            char *b = realloc (req->capture, c);
            if (b) {
                req->capture = b;
                req->capture_cap = c;
            }
        }
        if (req->capture_len + (size_t)hn + len + 1 <= req->capture_cap) {
            memcpy (req->capture + req->capture_len, head, (size_t)hn);
            memcpy (req->capture + req->capture_len + hn, data, len);
            req->capture[req->capture_len + (size_t)hn + len] = '\n';
            req->capture_len += (size_t)hn + len + 1;
        } else
            req->capture_cut = true;
    } else
        req->capture_cut = true;

    sb_msg_t msg = {.type = SB_MSG_CHUNK};
    msg.chunk.id = req->id;
    msg.chunk.seq = req->seq++;
    msg.chunk.data = sb_bytes (data, len);
    req->sent = true;
    if (sb_router_send (req->ident, req->ident_len, &msg) != 0) {
        sb_router.client_gone++;
        return -1;
    }
    return 0;
}

//  The final error of a request: JSON error before any byte went out, or a clean
//  SSE error event and [DONE] after.
static void
s_fail (sb_rreq_t *req, int status, const char *message, const char *code)
{
    char body[1024];
    size_t len = sb_oai_error_body (body, sizeof body, status, message, NULL, code);
    char headers[64] = "";
    if (req->retry_after[0])
        snprintf (headers, sizeof headers, "Retry-After: %s\r\n", req->retry_after);
    if (!req->sent)
        s_send_end (req, status, body, len, headers, message);
    else if (req->error_event_seen) {
        //  The client already has the provider's own error event: just end.
        static const char done[] = "data: [DONE]\n\n";
        s_send_end (req, status, done, sizeof done - 1, "", message);
    } else {
        char event[1200];
        int n = snprintf (event, sizeof event, "data: %s\n\ndata: [DONE]\n\n", body);
        s_send_end (req, status, event, (size_t)n, "", message);
    }
    s_finish (req);
}

//  -------------------------------------------------------------------------
//  Logging (never blocks the data path; sb_router_log drops and counts).

static void
s_log_request (sb_rreq_t *req, int status, const char *error)
{
    //  Built with a plain appender, not a JSON tree nor snprintf: this runs for
    //  every request on the router's only thread.
    const sb_channel_t *ch =
        req->attempts ? sb_config_channel (req->gen->config, req->channel) : NULL;
    uint64_t now = sb_mono_us ();
    char rec[4096];
    sb_out_t o = sb_out (rec, sizeof rec);
    sb_out_lit (&o, "{\"request_id\":");
    sb_out_jstr (&o, req->trace, strlen (req->trace));
    sb_out_lit (&o, ",\"key\":");
    sb_out_jstr (&o, req->chat.key_name.data ? req->chat.key_name.data : "",
                 req->chat.key_name.size);
    sb_out_lit (&o, ",\"group\":");
    sb_out_jstr (&o, req->group ? req->group->name : "",
                 req->group ? strlen (req->group->name) : 0);
    sb_out_lit (&o, ",\"model\":");
    sb_out_jstr (&o, req->model, strlen (req->model));
    sb_out_lit (&o, ",\"channel\":");
    sb_out_jstr (&o, ch ? ch->name : "", ch ? strlen (ch->name) : 0);
    sb_out_lit (&o, ",\"attempts\":");
    sb_out_u64 (&o, req->attempts);
    sb_out_lit (&o, ",\"status\":");
    sb_out_i64 (&o, status);
    if (req->chat.stream)
        sb_out_lit (&o, ",\"stream\":true");
    else
        sb_out_lit (&o, ",\"stream\":false");
    sb_out_lit (&o, ",\"timings_us\":{\"received\":");
    sb_out_u64 (&o, req->chat.received_us);
    sb_out_lit (&o, ",\"first_byte\":");
    sb_out_u64 (&o, req->first_byte_us ? req->first_byte_us - req->start_us : 0);
    sb_out_lit (&o, ",\"total\":");
    sb_out_u64 (&o, now - req->start_us);
    bool cost_known = false;
    double cost = req->group
                      ? sb_config_cost (req->gen->config, req->group, req->model,
                                        req->prompt_tokens, req->completion_tokens, &cost_known)
                      : 0;
    sb_out_lit (&o, "},\"billing_mode\":\"");
    sb_out_cstr (&o, !req->group                                 ? ""
                     : req->group->billing == SB_BILL_REQUESTS   ? "request_based"
                     : req->group->billing == SB_BILL_MULTIPLIER ? "cost_multiplier"
                                                                 : "token_based");
    sb_out_lit (&o, "\",\"cost\":");
    if (cost != 0) {
        char num[32];
        int k = snprintf (num, sizeof num, "%.10g", cost);
        sb_out_mem (&o, num, k > 0 ? (size_t)k : 0);
    } else
        sb_out_lit (&o, "0");
    if (cost_known)
        sb_out_lit (&o, ",\"cost_known\":true");
    else
        sb_out_lit (&o, ",\"cost_known\":false");
    sb_out_lit (&o, ",\"usage\":{\"prompt_tokens\":");
    sb_out_u64 (&o, req->prompt_tokens);
    sb_out_lit (&o, ",\"completion_tokens\":");
    sb_out_u64 (&o, req->completion_tokens);
    sb_out_lit (&o, ",\"total_tokens\":");
    sb_out_u64 (&o, req->prompt_tokens + req->completion_tokens);
    sb_out_lit (&o, "}");
    if (req->toon_saved) {
        sb_out_lit (&o, ",\"toon_bytes_saved\":");
        sb_out_u64 (&o, req->toon_saved);
        sb_out_lit (&o, ",\"toon_tokens_saved_est\":");
        sb_out_u64 (&o, req->toon_saved / 4);
    }
    sb_out_lit (&o, ",\"attempt_log\":[");
    for (uint32_t i = 0; i < req->attempts && i < S_MAX_ATTEMPTS_LOGGED; i++) {
        const sb_channel_t *ac = sb_config_channel (req->gen->config, req->log[i].channel);
        if (i) sb_out_lit (&o, ",");
        sb_out_lit (&o, "{\"channel\":");
        sb_out_jstr (&o, ac ? ac->name : "", ac ? strlen (ac->name) : 0);
        sb_out_lit (&o, ",\"status\":");
        sb_out_i64 (&o, req->log[i].status);
        sb_out_lit (&o, ",\"ms\":");
        sb_out_u64 (&o, req->log[i].ms);
        sb_out_lit (&o, "}");
    }
    sb_out_lit (&o, "]");
    if (req->validation_header[0]) {
        sb_out_lit (&o, ",\"tool_validation\":");
        sb_out_jstr (&o, req->validation_header, strlen (req->validation_header));
    }
    size_t cap = sb_router.settings.log_body_max;
    size_t req_len = req->chat.body.size < cap ? req->chat.body.size : cap;
    size_t resp_len =
        (!req->chat.stream && req->resp) ? (req->resp_len < cap ? req->resp_len : cap) : 0;
    sb_out_lit (&o, ",\"request_bytes\":");
    sb_out_u64 (&o, req->chat.body.size);
    if (req_len < req->chat.body.size)
        sb_out_lit (&o, ",\"request_cut\":true");
    else
        sb_out_lit (&o, ",\"request_cut\":false");
    if (req->chat.stream) {
        sb_out_lit (&o, ",\"chunks\":");
        sb_out_u64 (&o, req->seq);
        if (req->capture_cut)
            sb_out_lit (&o, ",\"chunks_cut\":true");
        else
            sb_out_lit (&o, ",\"chunks_cut\":false");
    } else {
        sb_out_lit (&o, ",\"response_bytes\":");
        sb_out_u64 (&o, req->resp_len);
        if (resp_len < req->resp_len)
            sb_out_lit (&o, ",\"response_cut\":true");
        else
            sb_out_lit (&o, ",\"response_cut\":false");
    }
    sb_out_lit (&o, ",\"error\":");
    sb_out_jstr (&o, error ? error : "", error ? strlen (error) : 0);
    sb_out_lit (&o, "}");
    sb_router_log_bodies (req->trace, rec, o.len, sb_bytes (req->chat.body.data, req_len),
                          sb_bytes (req->resp, resp_len),
                          sb_bytes (req->capture, req->capture_len));

    //  Metrics of the finished request.
    sb_metrics_t *m = sb_router.metrics;
    char model[SB_MAX_NAME + 1], channel[SB_MAX_NAME + 1], labels[600];
    sb_metrics_label_value (model, sizeof model, req->model);
    sb_metrics_label_value (channel, sizeof channel, ch ? ch->name : "");
    sb_out_t l = sb_out (labels, sizeof labels);
    sb_out_lit (&l, "status=");
    sb_out_i64 (&l, status);
    sb_out_lit (&l, ",model=");
    sb_out_cstr (&l, model);
    sb_out_lit (&l, ",channel=");
    sb_out_cstr (&l, channel);
    sb_metrics_add (m, "sb_requests_total", labels, 1);
    l = sb_out (labels, sizeof labels);
    sb_out_lit (&l, "model=");
    sb_out_cstr (&l, model);
    sb_metrics_observe (m, "sb_request_duration_ms", labels,
                        (double)(now - req->start_us) / 1000.0);
    sb_metrics_add (m, "sb_prompt_tokens_total", labels, req->prompt_tokens);
    sb_metrics_add (m, "sb_completion_tokens_total", labels, req->completion_tokens);
    if (cost_known)
        sb_metrics_add (m, "sb_cost_microusd_total", labels, (uint64_t)(cost * 1e6 + 0.5));
    if (req->attempts > 1) sb_metrics_add (m, "sb_failovers_total", labels, req->attempts - 1);
    if (req->toon_saved) sb_metrics_add (m, "sb_toon_bytes_saved_total", labels, req->toon_saved);
    if (ch && req->first_byte_us) {
        l = sb_out (labels, sizeof labels);
        sb_out_lit (&l, "channel=");
        sb_out_cstr (&l, channel);
        sb_metrics_observe (m, "sb_upstream_ttfb_ms", labels,
                            (double)(req->first_byte_us - req->attempt_us) / 1000.0);
        sb_metrics_observe (m, "sb_upstream_duration_ms", labels,
                            (double)(now - req->attempt_us) / 1000.0);
    }
    if (req->validation_header[0]) {
        int valid = 0, fixed = 0, invalid = 0;
        if (sscanf (req->validation_header, "mode=%*[a-z_]; valid=%d; fixed=%d; invalid=%d", &valid,
                    &fixed, &invalid) == 3) {
            snprintf (labels, sizeof labels, "result=valid,model=%s", model);
            sb_metrics_add (m, "sb_tool_calls_total", labels, (uint64_t)valid);
            snprintf (labels, sizeof labels, "result=fixed,model=%s", model);
            sb_metrics_add (m, "sb_tool_calls_total", labels, (uint64_t)fixed);
            snprintf (labels, sizeof labels, "result=invalid,model=%s", model);
            sb_metrics_add (m, "sb_tool_calls_total", labels, (uint64_t)invalid);
        } else
            sb_metrics_add (m, "sb_tool_validation_skipped_total", "", 1);
    }
}

//  -------------------------------------------------------------------------
//  Lifecycle

static CURL *
s_easy_get (void)
{
    if (s_easy_pool_count) return s_easy_pool[--s_easy_pool_count];
    return curl_easy_init ();
}

static void
s_easy_put (CURL *easy)
{
    if (s_easy_pool_count < sizeof s_easy_pool / sizeof s_easy_pool[0])
        s_easy_pool[s_easy_pool_count++] = easy;
    else
        curl_easy_cleanup (easy);
}

static void
s_stop_transfer (sb_rreq_t *req)
{
    if (!req->easy) return;
    //  Removing an unfinished transfer closes its connection: the provider sees
    //  the cancel.
    curl_multi_remove_handle (sb_router.multi, req->easy);
    s_easy_put (req->easy);
    req->easy = NULL;
}

//  Finished requests are kept for reuse with their response buffer (when small):
//  a JSON answer then costs no allocation of its own.
#define S_POOL_MAX      256
#define S_POOL_RESP_MAX (16u << 10) // at most 256 x 16 KiB kept
static sb_rreq_t *s_pool[S_POOL_MAX];
static size_t s_pool_count;

static sb_rreq_t *
s_req_get (void)
{
    if (!s_pool_count) return calloc (1, sizeof (sb_rreq_t));
    sb_rreq_t *req = s_pool[--s_pool_count];
    char *resp = req->resp;
    size_t resp_cap = req->resp_cap;
    memset (req, 0, sizeof *req);
    req->resp = resp;
    req->resp_cap = resp_cap;
    return req;
}

static void
s_req_put (sb_rreq_t *req)
{
    if (req->resp_cap > S_POOL_RESP_MAX) {
        free (req->resp);
        req->resp = NULL;
        req->resp_cap = 0;
    }
    if (s_pool_count < S_POOL_MAX)
        s_pool[s_pool_count++] = req;
    else {
        free (req->resp);
        free (req);
    }
}

static void
s_finish (sb_rreq_t *req)
{
    s_stop_transfer (req);
    if (req->job_id) sb_broker_cancel (req->job_id);
    req->job_id = 0;
    s_unlink (req);
    if (req->prev_active)
        req->prev_active->next_active = req->next_active;
    else
        s_active_head = req->next_active;
    if (req->next_active) req->next_active->prev_active = req->prev_active;
    s_active--;
    zmq_msg_close (&req->frame);
    free (req->up_body);
    free (req->toon_body);
    free (req->batch);
    sb_sse_destroy (&req->sse);
    sb_anthropic_stream_destroy (&req->astream);
    sb_rgen_release (req->gen);
    for (size_t i = 0; i < req->call_count; i++) {
        free (req->calls[i].id);
        free (req->calls[i].name);
        free (req->calls[i].args);
    }
    free (req->calls);
    free (req->held);
    free (req->capture);
    s_req_put (req);
}

static void s_start_attempt (sb_rreq_t *req);
static void s_note_attempt (sb_rreq_t *req, int status);

//  Reports the attempt's outcome to the picker (breaker + latency).
static void
s_report (sb_rreq_t *req, bool ok)
{
    sb_picker_t *picker = sb_rgen_picker (req->gen, req->group_index);
    if (ok) s_note_attempt (req, (int)req->status);
    if (!picker || req->pick < 0) return;
    uint64_t now = sb_mono_us ();
    double latency = (double)(now - req->attempt_us) / 1000.0;
    double ttfb =
        req->first_byte_us ? (double)(req->first_byte_us - req->attempt_us) / 1000.0 : -1.0;
    sb_picker_report (picker, req->pick, req->picked_ms, now / 1000, ok, latency, ttfb);
    req->pick = -1;
}

static void
s_cancel_pick (sb_rreq_t *req)
{
    sb_picker_t *picker = sb_rgen_picker (req->gen, req->group_index);
    if (picker && req->pick >= 0) sb_picker_cancel (picker, req->pick, req->picked_ms);
    req->pick = -1;
}

static uint64_t
s_rand (void)
{
    static uint64_t x = 0x9e3779b97f4a7c15ULL;
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    return x;
}

static void
s_note_attempt (sb_rreq_t *req, int status)
{
    if (req->attempts == 0 || req->attempts > S_MAX_ATTEMPTS_LOGGED) return;
    s_attempt_t *a = &req->log[req->attempts - 1];
    a->channel = (uint32_t)req->channel;
    a->status = status;
    a->ms = (uint32_t)((sb_mono_us () - req->attempt_us) / 1000);
}

//  A Retry-After (seconds) from the provider keeps that channel out of rotation
//  until then, for every request.
static void
s_note_retry_after (sb_rreq_t *req)
{
    if (!req->retry_after[0]) return;
    char *end;
    unsigned long secs = strtoul (req->retry_after, &end, 10);
    if (end == req->retry_after || *end || secs == 0)
        secs = 1; // an HTTP date or garbage: back off a little anyway
    if (secs > S_RETRY_AFTER_MAX_S) secs = S_RETRY_AFTER_MAX_S;
    req->gen->channels[req->channel].unavailable_until_us = sb_mono_us () + secs * 1000000u;
}

//  After a failed attempt: try another channel if nothing went out yet.
static void
s_attempt_failed (sb_rreq_t *req, int status, const char *message, const char *code, bool retryable)
{
    s_note_attempt (req, req->status ? (int)req->status : 0);
    s_report (req, false);
    s_stop_transfer (req);
    s_note_retry_after (req);
    req->fail_status = status;
    snprintf (req->fail_message, sizeof req->fail_message, "%s", message);
    snprintf (req->fail_code, sizeof req->fail_code, "%s", code ? code : "");
    sb_router.upstream_errors++;
    if (!req->sent && retryable && req->attempts < req->group->max_attempts &&
        sb_mono_us () < req->deadline_us) {
        sb_router.failovers++;
        req->resp_len = 0;
        req->resp_too_big = false;
        req->status = 0;
        req->first_byte_us = 0;
        sb_sse_reset (req->sse);
        //  Exponential backoff with jitter before the next attempt.
        uint64_t delay = S_BACKOFF_BASE_US << (req->attempts > 6 ? 6 : req->attempts - 1);
        if (delay > S_BACKOFF_MAX_US) delay = S_BACKOFF_MAX_US;
        delay = delay / 2 + s_rand () % (delay / 2 + 1);
        req->state = R_BACKOFF;
        req->wake_us = sb_mono_us () + delay;
        return;
    }
    s_log_request (req, status, message);
    s_fail (req, status, message, code && *code ? code : NULL);
}

//  -------------------------------------------------------------------------
//  Upstream body: the client's bytes, with the model mapped for the channel and
//  stream_options.include_usage forced on for streams (so usage is always known).

static int
s_splice (sb_rreq_t *req, const sb_channel_t *ch)
{
    const char *body = req->toon_body ? req->toon_body : req->chat.body.data;
    size_t len = req->toon_body ? req->toon_len : req->chat.body.size;
    //  The client's model may name a group: use the group's first model.
    const char *want = req->model;
    if (strcmp (req->model, req->group->name) == 0) {
        if (req->group->model_count)
            want = req->group->models[0];
        else if (ch->model_count)
            want = ch->models[0];
    }
    const char *mapped = sb_channel_map_model (ch, want);
    if (ch->type == SB_CHANNEL_ANTHROPIC) {
        //  A different API: the body is translated whole (tools, tool results,
        //  system prompts, images...), never spliced.
        free (req->up_body);
        req->up_body = NULL;
        char err[SB_ANTHROPIC_ERR_SIZE];
        if (sb_anthropic_request_from_openai (body, len, mapped, 0, NULL, &req->up_body,
                                              &req->up_len, err, sizeof err) != 0) {
            snprintf (req->fail_message, sizeof req->fail_message, "%s", err);
            return -1;
        }
        return 0;
    }
    bool remap = strcmp (mapped, req->model) != 0;
    bool add_usage = req->chat.stream && !req->chat.include_usage;
    free (req->up_body);
    req->up_body = NULL;
    if (!remap && !add_usage)
        return 0; // the common case: the client's bytes go out untouched, unscanned
    sb_json_member_t m[64];
    size_t count = 0;
    if (sb_json_scan_object (body, len, m, 64, &count, NULL, NULL) != 0) return -1;
    if (count > 64) count = 64;
    const sb_json_member_t *model = sb_json_find (m, count, "model");
    const sb_json_member_t *opts = sb_json_find (m, count, "stream_options");

    char model_json[SB_MAX_NAME * 6 + 3];
    size_t mlen = 0;
    model_json[mlen++] = '"';
    sb_json_escape_append (model_json, sizeof model_json - 1, &mlen, mapped, strlen (mapped));
    model_json[mlen++] = '"';

    //  Edits sorted by position: (start, end, replacement).
    struct {
        size_t at, cut;
        const char *text;
        size_t text_len;
    } edits[2];
    int n = 0;
    static const char usage_member[] = "\"stream_options\":{\"include_usage\":true},";
    static const char usage_value[] = "{\"include_usage\":true}";
    if (remap && model) {
        edits[n].at = (size_t)(model->value - body);
        edits[n].cut = model->value_len;
        edits[n].text = model_json;
        edits[n].text_len = mlen;
        n++;
    }
    static const char usage_first[] = "\"include_usage\":true,";
    bool usage_done = false;
    if (add_usage) {
        //  An existing stream_options object keeps its other fields: include_usage
        //  is set in place (its value replaced) or added as the first member.
        sb_json_member_t om[16];
        size_t on = 0;
        const sb_json_member_t *iu = NULL;
        bool opts_ok =
            opts && opts->type == SB_JSON_OBJECT &&
            sb_json_scan_object (opts->value, opts->value_len, om, 16, &on, NULL, NULL) == 0 &&
            on <= 16;
        if (opts_ok) iu = sb_json_find (om, on, "include_usage");
        if (opts_ok && iu) {
            edits[n].at = (size_t)(iu->value - body);
            edits[n].cut = iu->value_len;
            edits[n].text = "true";
            edits[n].text_len = 4;
            n++;
            usage_done = true;
        } else if (opts_ok && on > 0) {
            edits[n].at = (size_t)(opts->value - body) + 1;
            edits[n].cut = 0;
            edits[n].text = usage_first;
            edits[n].text_len = sizeof usage_first - 1;
            n++;
            usage_done = true;
        }
    }
    if (add_usage && !usage_done) {
        if (opts && opts->type == SB_JSON_OBJECT) {
            edits[n].at = (size_t)(opts->value - body);
            edits[n].cut = opts->value_len;
        } else if (opts) { // null or another type: replace
            edits[n].at = (size_t)(opts->value - body);
            edits[n].cut = opts->value_len;
        } else {
            const char *brace = memchr (body, '{', len);
            edits[n].at = (size_t)(brace - body) + 1;
            edits[n].cut = 0;
        }
        if (opts) {
            edits[n].text = usage_value;
            edits[n].text_len = sizeof usage_value - 1;
        } else {
            edits[n].text = usage_member;
            edits[n].text_len = sizeof usage_member - 1;
        }
        n++;
    }
    if (n == 2 && edits[1].at < edits[0].at) {
        __typeof__ (edits[0]) t = edits[0];
        edits[0] = edits[1];
        edits[1] = t;
    }
    size_t out_len = len;
    for (int i = 0; i < n; i++)
        out_len = out_len - edits[i].cut + edits[i].text_len;
    char *out = malloc (out_len + 1);
    if (!out) return -1;
    size_t src = 0, dst = 0;
    for (int i = 0; i < n; i++) {
        memcpy (out + dst, body + src, edits[i].at - src);
        dst += edits[i].at - src;
        memcpy (out + dst, edits[i].text, edits[i].text_len);
        dst += edits[i].text_len;
        src = edits[i].at + edits[i].cut;
    }
    memcpy (out + dst, body + src, len - src);
    dst += len - src;
    req->up_body = out;
    req->up_len = dst;
    return 0;
}

//  -------------------------------------------------------------------------
//  Response handling

static void
s_read_usage (sb_rreq_t *req, const char *json, size_t len)
{
    //  The answer goes to the client as it came: reading its usage needs no strict
    //  pass over it (the token counts themselves are parsed strictly).
    sb_json_member_t usage, tokens;
    if (sb_json_lookup (json, len, "usage", &usage) != 0 || usage.type != SB_JSON_OBJECT) return;
    uint64_t v;
    if (sb_json_lookup (usage.value, usage.value_len, "prompt_tokens", &tokens) == 0 &&
        sb_json_uint (&tokens, &v) == 0)
        req->prompt_tokens = v;
    if (sb_json_lookup (usage.value, usage.value_len, "completion_tokens", &tokens) == 0 &&
        sb_json_uint (&tokens, &v) == 0)
        req->completion_tokens = v;
}

//  Appends to a growing buffer (doubling from 4 KiB) that may not pass `max`.
//  Returns 0, or -1 (nothing appended) at the bound or when memory runs out.
static int
s_append (char **buf, size_t *len, size_t *cap, size_t max, const char *data, size_t n)
{
    if (*len + n > max) return -1;
    if (*len + n > *cap) {
        size_t c = *cap ? *cap : 4096;
        while (c < *len + n)
            c *= 2;
        char *b = realloc (*buf, c);
        if (!b) return -1;
        *buf = b;
        *cap = c;
    }
    memcpy (*buf + *len, data, n);
    *len += n;
    return 0;
}

static int
s_batch_append (sb_rreq_t *req, const char *data, size_t len)
{
    return s_append (&req->batch, &req->batch_len, &req->batch_cap, S_MAX_RESPONSE, data, len);
}

static int
s_held_append (sb_rreq_t *req, const char *data, size_t len)
{
    return s_append (&req->held, &req->held_len, &req->held_cap, S_MAX_RESPONSE, data, len);
}

//  Adds the tool-call deltas of one chunk to the calls being assembled. Returns
//  1 when the chunk carried anything else worth forwarding (content, role), else 0;
//  -1 on a bound.
static int
s_collect_calls (sb_rreq_t *req, json_t *chunk)
{
    if (!req->chunk_id[0]) {
        snprintf (req->chunk_id, sizeof req->chunk_id, "%s",
                  json_string_value (json_object_get (chunk, "id")) ?: "");
        snprintf (req->chunk_model, sizeof req->chunk_model, "%s",
                  json_string_value (json_object_get (chunk, "model")) ?: "");
        req->chunk_created = (long long)json_integer_value (json_object_get (chunk, "created"));
    }
    int other = 0;
    size_t ci;
    json_t *choice;
    json_array_foreach (json_object_get (chunk, "choices"), ci, choice)
    {
        json_t *delta = json_object_get (choice, "delta");
        const char *content = json_string_value (json_object_get (delta, "content"));
        if (content && *content) other = 1;
        size_t ti;
        json_t *tc;
        json_array_foreach (json_object_get (delta, "tool_calls"), ti, tc)
        {
            int choice_index = (int)json_integer_value (json_object_get (choice, "index"));
            int index = (int)json_integer_value (json_object_get (tc, "index"));
            s_tcall_t *call = NULL;
            for (size_t k = 0; k < req->call_count; k++)
                if (req->calls[k].choice == choice_index && req->calls[k].index == index)
                    call = &req->calls[k];
            if (!call) {
                if (!req->calls) req->calls = calloc (S_MAX_STREAM_CALLS, sizeof (s_tcall_t));
                if (!req->calls || req->call_count == S_MAX_STREAM_CALLS) return -1;
                call = &req->calls[req->call_count++];
                call->choice = choice_index;
                call->index = index;
            }
            json_t *fn = json_object_get (tc, "function");
            const char *id = json_string_value (json_object_get (tc, "id"));
            const char *name = json_string_value (json_object_get (fn, "name"));
            const char *frag = json_string_value (json_object_get (fn, "arguments"));
            if (id && !call->id) call->id = strdup (id);
            if (name && !call->name) call->name = strdup (name);
            if (frag && *frag) {
                size_t n = strlen (frag);
                if (call->args_len + n > S_MAX_CALL_ARGS) return -1;
                if (call->args_len + n + 1 > call->args_cap) {
                    size_t cap = call->args_cap ? call->args_cap : 256;
                    while (cap < call->args_len + n + 1)
                        cap *= 2;
                    char *a = realloc (call->args, cap);
                    if (!a) return -1;
                    call->args = a;
                    call->args_cap = cap;
                }
                memcpy (call->args + call->args_len, frag, n + 1);
                call->args_len += n;
            }
        }
    }
    return other;
}

//  Finds the request's own `tools` (a span of the chat body) once, at its start: the
//  validation jobs, stream holding and tool auto-detection all read req->tools.
static void
s_find_tools (sb_rreq_t *req)
{
    //  The ingress scanned the body once and says where `tools` is; trusted only
    //  as far as it points at a bracketed span inside the body.
    req->tools = "[]";
    req->tools_len = 2;
    uint64_t at = req->chat.tools_at, len = req->chat.tools_len;
    const char *body = req->chat.body.data;
    if (len >= 2 && at < req->chat.body.size && len <= req->chat.body.size - at &&
        body[at] == '[' && body[at + len - 1] == ']') {
        req->tools = body + at;
        req->tools_len = (size_t)len;
    }
}

//  Releases the held tool calls (repaired ones from `result_calls` when the group
//  repairs), then the events held behind them; ends the request if the upstream
//  already finished.
static void
s_release_stream_calls (sb_rreq_t *req, json_t *result_calls, bool send_now)
{
    if (send_now) req->batch_len = 0;
    for (size_t i = 0; i < req->call_count; i++) {
        s_tcall_t *call = &req->calls[i];
        const char *args = call->args ? call->args : "";
        const char *name = call->name;
        size_t ri;
        json_t *rc;
        json_array_foreach (result_calls, ri, rc)
        {
            const char *state = json_string_value (json_object_get (rc, "state"));
            if (json_integer_value (json_object_get (rc, "choice")) == call->choice &&
                json_integer_value (json_object_get (rc, "index")) == call->index && state &&
                strcmp (state, "fixed") == 0 && req->group->tool_mode == SB_TOOLS_AUTO_FIX &&
                json_is_string (json_object_get (rc, "arguments"))) {
                args = json_string_value (json_object_get (rc, "arguments"));
                if (json_is_string (json_object_get (rc, "name")))
                    name = json_string_value (json_object_get (rc, "name"));
            }
        }
        json_t *ev = json_pack (
            "{s:s,s:s,s:I,s:s,s:[{s:i,s:{s:[{s:i,s:s?,s:s,s:{s:s?,s:s}}]},s:n}]}", "id",
            req->chunk_id, "object", "chat.completion.chunk", "created",
            (json_int_t)req->chunk_created, "model", req->chunk_model, "choices", "index",
            call->choice, "delta", "tool_calls", "index", call->index, "id", call->id, "type",
            "function", "function", "name", name, "arguments", args, "finish_reason");
        //  The provider's first delta carried the role with the first call; the
        //  released first call of each choice carries it again (SDKs require it).
        bool first_of_choice = true;
        for (size_t k = 0; k < i; k++)
            if (req->calls[k].choice == call->choice) first_of_choice = false;
        if (ev && first_of_choice)
            json_object_set_new (
                json_object_get (json_array_get (json_object_get (ev, "choices"), 0), "delta"),
                "role", json_string ("assistant"));
        char *text = ev ? json_dumps (ev, JSON_COMPACT) : NULL;
        if (text) {
            s_batch_append (req, "data: ", 6);
            s_batch_append (req, text, strlen (text));
            s_batch_append (req, "\n\n", 2);
        }
        free (text);
        json_decref (ev);
    }
    for (size_t i = 0; i < req->call_count; i++) {
        free (req->calls[i].id);
        free (req->calls[i].name);
        free (req->calls[i].args);
        memset (&req->calls[i], 0, sizeof req->calls[i]);
    }
    req->call_count = 0;
    if (req->held_len) s_batch_append (req, req->held, req->held_len);
    req->held_len = 0;
    req->holding = false;
    if (!send_now) return; // inside a write callback: the caller sends the batch
    if (req->batch_len) s_send_chunk (req, req->batch, req->batch_len);
    req->batch_len = 0;
    if (req->upstream_done) {
        s_log_request (req, 200, NULL);
        s_send_end (req, 200, NULL, 0, "", NULL);
        s_finish (req);
    }
}

static void
s_submit_stream_calls (sb_rreq_t *req)
{
    json_t *calls = json_array ();
    for (size_t i = 0; i < req->call_count; i++)
        json_array_append_new (calls,
                               json_pack ("{s:i,s:i,s:s?,s:s?,s:s}", "choice", req->calls[i].choice,
                                          "index", req->calls[i].index, "id", req->calls[i].id,
                                          "name", req->calls[i].name, "arguments",
                                          req->calls[i].args ? req->calls[i].args : ""));
    char *text = json_dumps (calls, JSON_COMPACT);
    json_decref (calls);
    uint64_t deadline = sb_mono_us () + (uint64_t)sb_router.settings.validator_budget_ms * 1000u;
    if (deadline > req->deadline_us) deadline = req->deadline_us;
    req->job_id = text ? sb_broker_submit (req, deadline, (int)req->group->tool_mode, req->tools,
                                           req->tools_len, text, strlen (text))
                       : 0;
    free (text);
    if (req->job_id)
        sb_router.validations++;
    else
        snprintf (req->validation_header, sizeof req->validation_header, "skipped; %s",
                  sb_broker_down () ? "no validator connected" : "validator queue full");
    //  With no job the calls go out as they came, after the current batch.
}
static int
s_on_event (void *arg, const sb_sse_event_t *ev)
{
    sb_rreq_t *req = arg;
    bool done = ev->data_len == 6 && memcmp (ev->data, "[DONE]", 6) == 0;
    if (done)
        req->done_seen = true;
    else if (ev->data_len > 9 && memcmp (ev->data, "{\"error\":", 9) == 0)
        req->error_event_seen = true;
    else if (ev->data_len > 0 && memmem (ev->data, ev->data_len, "\"usage\":{", 9)) {
        s_read_usage (req, ev->data, ev->data_len);
        //  The usage-only chunk we asked for on the client's behalf stays here.
        if (!req->chat.include_usage && memmem (ev->data, ev->data_len, "\"choices\":[]", 12))
            return 0;
    }
    if (!req->hold_tools) return s_batch_append (req, ev->raw, ev->raw_len);
    //  Tool validation on: tool-call deltas are held per call until the calls are
    //  complete, then released checked (and repaired) as one delta each; text
    //  deltas pass straight through.
    if (req->holding) return s_held_append (req, ev->raw, ev->raw_len);
    if (!done && memmem (ev->data, ev->data_len, "\"tool_calls\"", 12)) {
        json_error_t jerr;
        json_t *chunk = json_loadb (ev->data, ev->data_len, 0, &jerr);
        int other = chunk ? s_collect_calls (req, chunk) : 1;
        json_decref (chunk);
        if (other < 0) return -1;
        bool finished = memmem (ev->data, ev->data_len, "\"finish_reason\":\"", 17) != NULL;
        if (finished) {
            req->holding = true;
            if (s_held_append (req, ev->raw, ev->raw_len) != 0) return -1;
            s_submit_stream_calls (req);
            if (!req->job_id) s_release_stream_calls (req, NULL, false);
            return 0;
        }
        return other ? s_batch_append (req, ev->raw, ev->raw_len) : 0;
    }
    if (req->call_count &&
        (done || memmem (ev->data, ev->data_len, "\"finish_reason\":\"", 17) != NULL)) {
        req->holding = true;
        if (s_held_append (req, ev->raw, ev->raw_len) != 0) return -1;
        s_submit_stream_calls (req);
        if (!req->job_id) s_release_stream_calls (req, NULL, false);
        return 0;
    }
    return s_batch_append (req, ev->raw, ev->raw_len);
}

//  OpenAI SSE bytes from the Anthropic translator.
static int
s_on_translated (const char *bytes, size_t len, void *arg)
{
    sb_rreq_t *req = arg;
    return sb_sse_feed (req->sse, bytes, len, s_on_event, req) == 0 ? 0 : -1;
}

static size_t
s_on_write (char *data, size_t size, size_t nmemb, void *userp)
{
    sb_rreq_t *req = userp;
    size_t len = size * nmemb;
    uint64_t now = sb_mono_us ();
    if (!req->first_byte_us) {
        req->first_byte_us = now;
        curl_easy_getinfo (req->easy, CURLINFO_RESPONSE_CODE, &req->status);
    }
    req->last_byte_us = now;
    bool ok = req->status >= 200 && req->status < 300;
    if (!req->chat.stream || !ok) {
        //  A JSON answer (or any error body) is kept whole, up to a bound.
        if (req->resp_len + len > S_MAX_RESPONSE) {
            req->resp_too_big = true;
            return 0; // aborts the transfer (CURLE_WRITE_ERROR)
        }
        if (req->resp_len + len > req->resp_cap) {
            size_t cap = req->resp_cap ? req->resp_cap : 8192;
            while (cap < req->resp_len + len)
                cap *= 2;
            char *r = realloc (req->resp, cap);
            if (!r) return 0;
            req->resp = r;
            req->resp_cap = cap;
        }
        memcpy (req->resp + req->resp_len, data, len);
        req->resp_len += len;
        return len;
    }
    //  A stream: frame events, forward the complete ones as one CHUNK.
    if (req->state == R_UPSTREAM) req->state = R_STREAMING;
    req->batch_len = 0;
    if (req->anthropic) {
        if (!req->astream) {
            sb_anthropic_stream_opts_t opts = {.include_usage = req->chat.include_usage,
                                               .created = (int64_t)(sb_wall_ms () / 1000),
                                               .max_event = S_MAX_EVENT,
                                               .emit = s_on_translated,
                                               .emit_arg = req};
            req->astream = sb_anthropic_stream_new (&opts);
            if (!req->astream) return 0;
        }
        sb_anthropic_stream_feed (req->astream, data, len);
        sb_anthropic_stream_state_t st = sb_anthropic_stream_state (req->astream);
        if (st == SB_ANTHROPIC_STREAM_DONE || st == SB_ANTHROPIC_STREAM_ERRORED)
            req->done_seen = true; // [DONE] is in the batch
        else if (st == SB_ANTHROPIC_STREAM_FAILED)
            sb_anthropic_stream_abort (req->astream, sb_anthropic_stream_error (req->astream));
        if (req->batch_len && s_send_chunk (req, req->batch, req->batch_len) != 0) return 0;
        if (st == SB_ANTHROPIC_STREAM_FAILED) {
            req->done_seen = true;
            return 0; // stop the transfer; the client got the error event and [DONE]
        }
        return len;
    }
    if (sb_sse_feed (req->sse, data, len, s_on_event, req) != 0) return 0;
    if (req->batch_len && s_send_chunk (req, req->batch, req->batch_len) != 0) return 0;
    return len;
}

static size_t
s_on_header (char *data, size_t size, size_t nmemb, void *userp)
{
    sb_rreq_t *req = userp;
    size_t len = size * nmemb;
    if (len > 12 && strncasecmp (data, "retry-after:", 12) == 0) {
        const char *v = data + 12;
        size_t vl = len - 12;
        while (vl && (*v == ' ' || *v == '\t'))
            v++, vl--;
        while (vl && (v[vl - 1] == '\r' || v[vl - 1] == '\n' || v[vl - 1] == ' '))
            vl--;
        if (vl < sizeof req->retry_after) {
            memcpy (req->retry_after, v, vl);
            req->retry_after[vl] = '\0';
        }
    }
    return len;
}

//  The provider's own error message, when its body says one.
static void
s_provider_message (sb_rreq_t *req, char *out, size_t out_size)
{
    out[0] = '\0';
    sb_json_member_t m[16];
    size_t count = 0;
    if (!req->resp_len ||
        sb_json_scan_object (req->resp, req->resp_len, m, 16, &count, NULL, NULL) != 0)
        return;
    const sb_json_member_t *err = sb_json_find (m, count < 16 ? count : 16, "error");
    if (!err) return;
    if (err->type == SB_JSON_STRING) {
        sb_json_unescape (err->value, err->value_len, out, out_size);
        return;
    }
    if (err->type != SB_JSON_OBJECT) return;
    sb_json_member_t e[16];
    size_t en = 0;
    if (sb_json_scan_object (err->value, err->value_len, e, 16, &en, NULL, NULL) != 0) return;
    const sb_json_member_t *msg = sb_json_find (e, en < 16 ? en : 16, "message");
    if (msg && msg->type == SB_JSON_STRING)
        if (sb_json_unescape (msg->value, msg->value_len, out, out_size) < 0) out[0] = '\0';
}

static void s_complete_json (sb_rreq_t *req);

void
sb_router_on_transfer_done (CURL *easy, CURLcode result)
{
    sb_rreq_t *req = NULL;
    curl_easy_getinfo (easy, CURLINFO_PRIVATE, (char **)&req);
    if (!req || req->easy != easy) return;
    if (!req->status) curl_easy_getinfo (easy, CURLINFO_RESPONSE_CODE, &req->status);
    const sb_channel_t *ch = sb_config_channel (req->gen->config, req->channel);
    char msg[600];
    if (result != CURLE_OK && !(result == CURLE_WRITE_ERROR && req->resp_too_big)) {
        bool timeout = result == CURLE_OPERATION_TIMEDOUT;
        if (timeout) sb_router.timeouts++;
        snprintf (msg, sizeof msg, "Upstream channel %s failed: %s", ch->name,
                  curl_easy_strerror (result));
        if (req->sent && req->done_seen) {
            //  Everything reached the client; a late error is not the client's.
            s_report (req, true);
        } else if (req->sent) {
            s_report (req, false);
            s_log_request (req, timeout ? 504 : 502, msg);
            if (timeout)
                s_fail (req, 504, "The upstream stream ran past its total timeout and was cut.",
                        "upstream_timeout");
            else
                s_fail (req, 502, "The upstream stream was interrupted after it had started.",
                        "stream_interrupted");
            return;
        } else {
            s_attempt_failed (req, timeout ? 504 : 502, msg,
                              timeout ? "upstream_timeout" : "upstream_unreachable", true);
            return;
        }
    }
    if (req->resp_too_big) {
        s_attempt_failed (req, 502, "The upstream response exceeded the gateway's size limit.",
                          "upstream_too_large", false);
        return;
    }
    long status = req->status;
    if ((status < 200 || status >= 300) && req->anthropic) {
        //  Anthropic's error types decide the status and whether another channel
        //  may do better (overloaded, rate limits, a bad key of ours).
        char *body = NULL;
        size_t body_len = 0;
        sb_anthropic_error_map_t map;
        if (sb_anthropic_error_to_openai ((int)status, req->resp, req->resp_len, &body, &body_len,
                                          &map) != 0) {
            s_attempt_failed (req, 502, "Upstream error (out of memory translating it)", NULL,
                              true);
            return;
        }
        char pmsg[400];
        s_provider_message (req, pmsg, sizeof pmsg); // Anthropic's error.message, as text
        snprintf (msg, sizeof msg, "Upstream channel %s returned %ld%s%s", ch->name, status,
                  pmsg[0] ? ": " : "", pmsg);
        if (map.failover)
            s_attempt_failed (req, map.status, msg, map.code, true);
        else {
            s_report (req, true);
            s_log_request (req, map.status, msg);
            s_send_end (req, map.status, body, body_len, "", msg);
            s_finish (req);
        }
        free (body);
        return;
    }
    if (status < 200 || status >= 300) {
        char pmsg[400];
        s_provider_message (req, pmsg, sizeof pmsg);
        if (sb_group_fails_over (req->group, status)) {
            snprintf (msg, sizeof msg, "Upstream channel %s returned %ld%s%s", ch->name, status,
                      pmsg[0] ? ": " : "", pmsg);
            s_attempt_failed (req, status == 429 ? 429 : 502, msg,
                              status == 429 ? "upstream_rate_limited" : "upstream_error", true);
        } else if (status == 401 || status == 403) {
            snprintf (msg, sizeof msg,
                      "Upstream channel %s rejected the gateway's credentials (%ld)", ch->name,
                      status);
            s_attempt_failed (req, 502, msg, "upstream_auth", true);
        } else {
            //  The provider refused the request itself (400, 404, 422...): the client
            //  gets the provider's status and message.
            s_report (req, true);
            snprintf (msg, sizeof msg, "%s", pmsg[0] ? pmsg : "The provider rejected the request.");
            s_log_request (req, (int)status, msg);
            s_fail (req, (int)status, msg, "upstream_rejected");
        }
        return;
    }
    s_report (req, true);
    if (req->chat.stream && req->holding && req->job_id) {
        //  The provider is done; the client gets the rest once the calls are checked.
        s_stop_transfer (req);
        req->upstream_done = true;
        req->state = R_VALIDATING;
        return;
    }
    if (req->chat.stream) {
        //  Forward whatever the framer still holds, then end.
        if (!req->done_seen) {
            s_log_request (req, 502, "stream ended without [DONE]");
            if (!req->sent) req->sent = true; // still a stream: end it cleanly as one
            s_fail (req, 502, "The upstream stream ended before it was complete.",
                    "stream_incomplete");
            return;
        }
        if (req->astream) {
            sb_anthropic_usage_t usage;
            sb_anthropic_stream_usage (req->astream, &usage);
            req->prompt_tokens = (uint64_t)usage.prompt_tokens;
            req->completion_tokens = (uint64_t)usage.completion_tokens;
        }
        s_log_request (req, 200, NULL);
        s_send_end (req, 200, NULL, 0, "", NULL);
        s_finish (req);
        return;
    }
    s_complete_json (req);
}

//  A complete JSON response: usage, tool validation if the group wants it, END.
static void
s_complete_json (sb_rreq_t *req)
{
    s_stop_transfer (req);
    if (req->anthropic) {
        char *out = NULL;
        size_t out_len = 0;
        sb_anthropic_usage_t usage;
        char err[SB_ANTHROPIC_ERR_SIZE];
        memset (&usage, 0, sizeof usage);
        if (sb_anthropic_response_to_openai (req->resp, req->resp_len,
                                             (int64_t)(sb_wall_ms () / 1000), &out, &out_len,
                                             &usage, err, sizeof err) != 0) {
            char msg[400];
            snprintf (msg, sizeof msg, "The provider's response could not be translated: %s", err);
            s_log_request (req, 502, msg);
            s_fail (req, 502, msg, "upstream_bad_response");
            return;
        }
        free (req->resp);
        req->resp = out;
        req->resp_len = req->resp_cap = out_len;
        req->prompt_tokens = (uint64_t)usage.prompt_tokens;
        req->completion_tokens = (uint64_t)usage.completion_tokens;
    } else
        s_read_usage (req, req->resp, req->resp_len);
    if (req->group->tool_mode != SB_TOOLS_DISABLED && req->resp_len &&
        memmem (req->resp, req->resp_len, "\"tool_calls\"", 12)) {
        json_error_t jerr;
        json_t *doc = json_loadb (req->resp, req->resp_len, 0, &jerr);
        json_t *calls = json_array ();
        json_t *choices = json_object_get (doc, "choices");
        size_t ci;
        json_t *choice;
        json_array_foreach (choices, ci, choice)
        {
            json_t *tcs = json_object_get (json_object_get (choice, "message"), "tool_calls");
            size_t ti;
            json_t *tc;
            json_array_foreach (tcs, ti, tc)
            {
                json_t *fn = json_object_get (tc, "function");
                json_array_append_new (calls, json_pack ("{s:I,s:I,s:O?,s:O?,s:O?}", "choice",
                                                         (json_int_t)ci, "index", (json_int_t)ti,
                                                         "id", json_object_get (tc, "id"), "name",
                                                         json_object_get (fn, "name"), "arguments",
                                                         json_object_get (fn, "arguments")));
            }
        }
        json_decref (doc);
        if (json_array_size (calls) > 0) {
            char *calls_text = json_dumps (calls, JSON_COMPACT);
            uint64_t budget = (uint64_t)sb_router.settings.validator_budget_ms * 1000u;
            uint64_t deadline = sb_mono_us () + budget;
            if (deadline > req->deadline_us) deadline = req->deadline_us;
            req->job_id = sb_broker_submit (req, deadline, (int)req->group->tool_mode, req->tools,
                                            req->tools_len, calls_text, strlen (calls_text));
            free (calls_text);
            json_decref (calls);
            if (req->job_id) {
                req->state = R_VALIDATING;
                sb_router.validations++;
                return;
            }
            snprintf (req->validation_header, sizeof req->validation_header, "skipped; %s",
                      sb_broker_down () ? "no validator connected" : "validator queue full");
        } else
            json_decref (calls);
    }
    char headers[256] = "";
    if (req->validation_header[0])
        snprintf (headers, sizeof headers, "x-switchboard-tool-validation: %s\r\n",
                  req->validation_header);
    s_log_request (req, (int)req->status, NULL);
    s_send_end (req, (int)req->status, req->resp, req->resp_len, headers, NULL);
    s_finish (req);
}

//  The pool answered: apply repaired arguments (auto_fix) and release.
void
sb_router_on_validation (sb_rreq_t *req, const sb_validate_result_t *result)
{
    req->job_id = 0;
    json_error_t jerr;
    if (req->chat.stream) {
        json_t *calls = result->status == 0
                            ? json_loadb (result->calls.data, result->calls.size, 0, &jerr)
                            : NULL;
        json_t *report = json_loadb (result->report.data, result->report.size, 0, &jerr);
        char *text = report ? json_dumps (report, JSON_COMPACT) : NULL;
        if (text) sb_router_log ("tool_validation", req->trace, text, strlen (text));
        free (text);
        json_decref (report);
        int fixed = 0, invalid = 0, valid = 0;
        size_t i;
        json_t *call;
        json_array_foreach (calls, i, call)
        {
            const char *state = json_string_value (json_object_get (call, "state"));
            if (state && strcmp (state, "fixed") == 0)
                fixed++;
            else if (state && strcmp (state, "invalid") == 0)
                invalid++;
            else
                valid++;
        }
        if (calls)
            snprintf (req->validation_header, sizeof req->validation_header,
                      "mode=%s; valid=%d; fixed=%d; invalid=%d",
                      req->group->tool_mode == SB_TOOLS_AUTO_FIX ? "auto_fix" : "validate_only",
                      valid, fixed, invalid);
        else
            snprintf (req->validation_header, sizeof req->validation_header,
                      "skipped; validator engine unavailable");
        s_release_stream_calls (req, calls, true);
        json_decref (calls);
        return;
    }
    json_t *report = json_loadb (result->report.data, result->report.size, 0, &jerr);
    json_t *calls = json_loadb (result->calls.data, result->calls.size, 0, &jerr);
    int valid = 0, fixed = 0, invalid = 0;
    json_t *doc = NULL;
    if (result->status == 0 && json_is_array (calls)) {
        doc = json_loadb (req->resp, req->resp_len, 0, &jerr);
        size_t i;
        json_t *call;
        json_array_foreach (calls, i, call)
        {
            const char *state = json_string_value (json_object_get (call, "state"));
            if (state && strcmp (state, "fixed") == 0)
                fixed++;
            else if (state && strcmp (state, "invalid") == 0)
                invalid++;
            else
                valid++;
            json_t *args = json_object_get (call, "arguments");
            if (!doc || !json_is_string (args) || req->group->tool_mode != SB_TOOLS_AUTO_FIX ||
                !state || strcmp (state, "fixed") != 0)
                continue;
            json_int_t ci = json_integer_value (json_object_get (call, "choice"));
            json_int_t ti = json_integer_value (json_object_get (call, "index"));
            json_t *tc = json_array_get (
                json_object_get (
                    json_object_get (json_array_get (json_object_get (doc, "choices"), (size_t)ci),
                                     "message"),
                    "tool_calls"),
                (size_t)ti);
            json_t *fn = json_object_get (tc, "function");
            if (fn) {
                json_object_set (fn, "arguments", args);
                if (json_is_string (json_object_get (call, "name")))
                    json_object_set (fn, "name", json_object_get (call, "name"));
            }
        }
        snprintf (req->validation_header, sizeof req->validation_header,
                  "mode=%s; valid=%d; fixed=%d; invalid=%d",
                  req->group->tool_mode == SB_TOOLS_AUTO_FIX ? "auto_fix" : "validate_only", valid,
                  fixed, invalid);
    } else
        snprintf (req->validation_header, sizeof req->validation_header,
                  "skipped; validator engine unavailable");
    char *rewritten = NULL;
    if (doc && fixed && req->group->tool_mode == SB_TOOLS_AUTO_FIX)
        rewritten = json_dumps (doc, JSON_COMPACT);
    char headers[256];
    snprintf (headers, sizeof headers, "x-switchboard-tool-validation: %s\r\n",
              req->validation_header);
    if (report) {
        char *text = json_dumps (report, JSON_COMPACT);
        if (text) sb_router_log ("tool_validation", req->trace, text, strlen (text));
        free (text);
    }
    s_log_request (req, (int)req->status, NULL);
    if (rewritten)
        s_send_end (req, (int)req->status, rewritten, strlen (rewritten), headers, NULL);
    else
        s_send_end (req, (int)req->status, req->resp, req->resp_len, headers, NULL);
    free (rewritten);
    json_decref (doc);
    json_decref (calls);
    json_decref (report);
    s_finish (req);
}

void
sb_router_on_validation_timeout (sb_rreq_t *req)
{
    //  Fail-open: the response goes out as the provider sent it, and says so.
    req->job_id = 0;
    sb_router.validation_timeouts++;
    if (req->chat.stream) {
        snprintf (req->validation_header, sizeof req->validation_header,
                  "skipped; validator pool did not answer in time");
        s_release_stream_calls (req, NULL, true);
        return;
    }
    snprintf (req->validation_header, sizeof req->validation_header,
              "skipped; validator pool did not answer in time");
    char headers[256];
    snprintf (headers, sizeof headers, "x-switchboard-tool-validation: %s\r\n",
              req->validation_header);
    s_log_request (req, (int)req->status, NULL);
    s_send_end (req, (int)req->status, req->resp, req->resp_len, headers, NULL);
    s_finish (req);
}

//  -------------------------------------------------------------------------
//  Attempts

static uint32_t
s_timeout (uint32_t channel_ms, uint32_t group_ms, uint32_t fallback)
{
    return channel_ms ? channel_ms : group_ms ? group_ms : fallback;
}

static void
s_start_attempt (sb_rreq_t *req)
{
    sb_router_t *self = &sb_router;
    sb_picker_t *picker = sb_rgen_picker (req->gen, req->group_index);
    uint64_t now = sb_mono_us ();
    //  Channels that cannot serve this model are excluded up front.
    uint64_t excluded = req->tried_mask;
    for (size_t i = 0; i < req->group->channel_count && i < 64; i++) {
        const sb_channel_t *ch = sb_config_channel (req->gen->config, req->group->channels[i]);
        if (!sb_channel_serves (ch, req->model, strlen (req->model)) &&
            strcmp (req->model, req->group->name) != 0)
            excluded |= 1ull << i;
    }
    uint64_t cooling = 0; // channels waiting out a Retry-After
    for (size_t i = 0; i < req->group->channel_count && i < 64; i++)
        if (req->gen->channels[req->group->channels[i]].unavailable_until_us > now)
            cooling |= 1ull << i;
    int pick = picker ? sb_picker_pick (picker, now / 1000, excluded | cooling) : -1;
    if (pick < 0 && cooling && req->attempts < req->group->max_attempts) {
        //  Only channels that asked us to wait are left: wait, if the deadline allows,
        //  then give them another try.
        uint64_t soonest = UINT64_MAX;
        for (size_t i = 0; i < req->group->channel_count && i < 64; i++)
            if ((cooling >> i) & 1) {
                uint64_t until = req->gen->channels[req->group->channels[i]].unavailable_until_us;
                if (until < soonest) soonest = until;
            }
        if (soonest < req->deadline_us) {
            req->tried_mask &= ~cooling;
            req->state = R_BACKOFF;
            req->wake_us = soonest;
            return;
        }
    }
    if (pick < 0) {
        if (req->attempts == 0) {
            //  Every channel is resting (breaker open, or a Retry-After of its own):
            //  tell the client when the first one may take a request again.
            uint64_t wait_ms = UINT64_MAX;
            for (size_t i = 0; picker && i < req->group->channel_count && i < 64; i++) {
                if ((excluded >> i) & 1) continue;
                const sb_breaker_t *b = sb_picker_breaker (picker, (int)i);
                uint64_t w = b ? sb_breaker_wait_ms (b, now / 1000) : 0;
                uint64_t until = req->gen->channels[req->group->channels[i]].unavailable_until_us;
                if (until > now && (until - now + 999) / 1000 > w) w = (until - now + 999) / 1000;
                if (w < wait_ms) wait_ms = w;
            }
            if (wait_ms != UINT64_MAX) {
                uint64_t s = (wait_ms + 999) / 1000;
                snprintf (req->retry_after, sizeof req->retry_after, "%llu",
                          (unsigned long long)(s ? s : 1));
            }
            s_log_request (req, 503, "no channel available");
            s_fail (req, 503, "No channel of this model group is available right now.",
                    "no_channel_available");
        } else {
            s_log_request (req, req->fail_status, req->fail_message);
            s_fail (req, req->fail_status, req->fail_message,
                    req->fail_code[0] ? req->fail_code : NULL);
        }
        return;
    }
    req->pick = pick;
    req->picked_ms = now / 1000;
    req->tried_mask |= 1ull << pick;
    req->channel = req->group->channels[pick];
    req->attempts++;
    req->retry_after[0] = '\0';
    const sb_channel_t *ch = sb_config_channel (req->gen->config, req->channel);
    sb_rchannel_t *rc = &req->gen->channels[req->channel];

    req->fail_message[0] = '\0';
    if (s_splice (req, ch) != 0) {
        s_cancel_pick (req);
        s_log_request (req, 400, req->fail_message);
        s_fail (req, 400,
                req->fail_message[0] ? req->fail_message
                                     : "The request body could not be prepared for the provider.",
                "invalid_request");
        return;
    }
    req->anthropic = ch->type == SB_CHANNEL_ANTHROPIC;
    sb_anthropic_stream_destroy (&req->astream);
    CURL *easy = s_easy_get ();
    if (!easy) {
        s_cancel_pick (req);
        s_fail (req, 503, "The gateway is out of upstream handles.", NULL);
        return;
    }
    req->easy = easy;
    curl_easy_setopt (easy, CURLOPT_CURLU, rc->url);
    curl_easy_setopt (easy, CURLOPT_HTTPHEADER, rc->headers);
    curl_easy_setopt (easy, CURLOPT_POST, 1L);
    if (req->up_body) {
        curl_easy_setopt (easy, CURLOPT_POSTFIELDS, req->up_body);
        curl_easy_setopt (easy, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)req->up_len);
    } else {
        const char *body = req->toon_body ? req->toon_body : req->chat.body.data;
        size_t len = req->toon_body ? req->toon_len : req->chat.body.size;
        curl_easy_setopt (easy, CURLOPT_POSTFIELDS, body);
        curl_easy_setopt (easy, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)len);
    }
    curl_easy_setopt (easy, CURLOPT_WRITEFUNCTION, s_on_write);
    curl_easy_setopt (easy, CURLOPT_WRITEDATA, req);
    curl_easy_setopt (easy, CURLOPT_HEADERFUNCTION, s_on_header);
    curl_easy_setopt (easy, CURLOPT_HEADERDATA, req);
    curl_easy_setopt (easy, CURLOPT_PRIVATE, req);
    curl_easy_setopt (easy, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt (easy, CURLOPT_TCP_NODELAY, 1L);
    curl_easy_setopt (easy, CURLOPT_TCP_KEEPALIVE, 1L);
    curl_easy_setopt (easy, CURLOPT_PROXY, "");
    curl_easy_setopt (easy, CURLOPT_HTTP_VERSION, (long)CURL_HTTP_VERSION_2TLS);
    uint32_t connect_ms =
        s_timeout (ch->timeouts.connect_ms, req->group->timeouts.connect_ms, 5000);
    uint64_t left_ms = req->deadline_us > now ? (req->deadline_us - now) / 1000 : 1;
    uint32_t total_ms = s_timeout (ch->timeouts.total_ms, req->group->timeouts.total_ms, 600000);
    if (total_ms > left_ms) total_ms = (uint32_t)(left_ms ? left_ms : 1);
    curl_easy_setopt (easy, CURLOPT_CONNECTTIMEOUT_MS, (long)connect_ms);
    curl_easy_setopt (easy, CURLOPT_TIMEOUT_MS, (long)total_ms);
    req->state = R_UPSTREAM;
    req->attempt_us = now;
    req->first_byte_us = 0;
    req->last_byte_us = now;
    req->done_seen = false;
    rc->requests++;
    if (curl_multi_add_handle (self->multi, easy) != CURLM_OK) {
        req->easy = NULL;
        s_easy_put (easy);
        s_attempt_failed (req, 502, "The gateway could not start the upstream call.", NULL, true);
    }
}

void
sb_router_on_chat (const void *ident, size_t ident_len, zmq_msg_t *frame, const sb_chat_t *chat)
{
    sb_router_t *self = &sb_router;
    self->requests++;
    if (ident_len > S_MAX_IDENT || s_find (ident, ident_len, chat->id)) {
        self->bad_messages++;
        return;
    }
    sb_rreq_t *req = s_req_get ();
    if (!req) return;
    req->id = chat->id;
    req->gen = self->gen;
    req->gen->refs++;
    memcpy (req->ident, ident, ident_len);
    req->ident_len = ident_len;
    //  Keep the frame: the chat's views (body and all) point into it.
    zmq_msg_init (&req->frame);
    zmq_msg_move (&req->frame, frame);
    req->chat = *chat;
    req->pick = -1;
    size_t bucket = s_bucket (ident, ident_len, chat->id);
    req->next_in_bucket = s_buckets[bucket];
    s_buckets[bucket] = req;
    req->next_active = s_active_head;
    if (s_active_head) s_active_head->prev_active = req;
    s_active_head = req;
    s_active++;
    req->start_us = sb_mono_us ();
    snprintf (req->model, sizeof req->model, "%.*s", (int)chat->model.size,
              chat->model.data ? chat->model.data : "");
    snprintf (req->trace, sizeof req->trace, "%.*s", (int)chat->trace_id.size,
              chat->trace_id.data ? chat->trace_id.data : "");
    //  The deadline crossed processes as wall-clock ms; keep it monotonic here.
    uint64_t wall = sb_wall_ms ();
    uint64_t left_ms = chat->deadline_ms > wall ? chat->deadline_ms - wall : 0;
    req->deadline_us = req->start_us + left_ms * 1000u;

    char gname[SB_MAX_NAME + 1];
    snprintf (gname, sizeof gname, "%.*s", (int)chat->group.size,
              chat->group.data ? chat->group.data : "");
    req->group = sb_config_group_by_name (req->gen->config, gname, strlen (gname));
    if (!req->group) {
        s_fail (req, 404, "The model group of this request is not configured.", "model_not_found");
        return;
    }
    req->group_index = (size_t)(req->group - sb_config_group (req->gen->config, 0));
    if (left_ms == 0) {
        s_fail (req, 504, "The request's deadline passed before it could be sent.", "timeout");
        return;
    }
    s_find_tools (req);
    if (sb_config_auto_detect_tools (req->gen->config) && req->tools_len > 2)
        sb_router_tools_seen (req->tools, req->tools_len);
    req->hold_tools =
        chat->stream && req->group->tool_mode != SB_TOOLS_DISABLED && req->tools_len > 2;
    req->sse = sb_sse_new (S_MAX_EVENT);
    if (!req->sse) {
        s_fail (req, 503, "The gateway is out of memory.", NULL);
        return;
    }
    //  TOON: tool results (or all JSON content) re-encoded by the pool before the
    //  first attempt; the pool's answer (or its silence) starts the attempt.
    if (req->group->toon != SB_TOON_DISABLED &&
        (req->group->toon == SB_TOON_FULL ||
         memmem (chat->body.data, chat->body.size, "\"tool\"", 6))) {
        uint64_t deadline = sb_mono_us () + (uint64_t)self->settings.validator_budget_ms * 1000u;
        if (deadline > req->deadline_us) deadline = req->deadline_us;
        req->job_id = sb_broker_submit_toon (req, deadline, (int)req->group->toon, chat->body.data,
                                             chat->body.size);
        if (req->job_id) {
            req->state = R_TOON;
            return;
        }
    }
    s_start_attempt (req);
}

void
sb_router_on_toon (sb_rreq_t *req, const sb_toon_result_t *result)
{
    req->job_id = 0;
    if (result->status == 0 && result->body.size > 0) {
        req->toon_body = malloc (result->body.size);
        if (req->toon_body) {
            memcpy (req->toon_body, result->body.data, result->body.size);
            req->toon_len = result->body.size;
            req->toon_saved = result->bytes_saved;
            sb_router.toon_bytes_saved += result->bytes_saved;
        }
    }
    s_start_attempt (req);
}

void
sb_router_on_toon_timeout (sb_rreq_t *req)
{
    req->job_id = 0;
    sb_router.validation_timeouts++;
    s_start_attempt (req);
}

void
sb_router_on_cancel (const void *ident, size_t ident_len, uint64_t id)
{
    sb_rreq_t *req = s_find (ident, ident_len, id);
    if (!req) return;
    sb_router.cancels++;
    s_cancel_pick (req);
    s_log_request (req, 499, "client closed the request");
    s_finish (req);
}

//  First-byte and idle timeouts (connect and total are curl's own).
void
sb_router_check_timers (uint64_t now)
{
    {
        sb_rreq_t *req = s_active_head;
        while (req) {
            //  A failed attempt may start another or finish the request (freeing
            //  it), never another request: `next` stays valid.
            sb_rreq_t *next = req->next_active;
            if (req->state == R_BACKOFF && now >= req->wake_us) {
                req->state = R_PICKING;
                s_start_attempt (req);
            } else if (req->state == R_UPSTREAM || req->state == R_STREAMING) {
                const sb_channel_t *ch = sb_config_channel (req->gen->config, req->channel);
                uint32_t fb_ms =
                    s_timeout (ch->timeouts.first_byte_ms, req->group->timeouts.first_byte_ms, 0);
                uint32_t idle_ms =
                    s_timeout (ch->timeouts.idle_ms, req->group->timeouts.idle_ms, 0);
                char msg[300];
                if (!req->first_byte_us && fb_ms && now - req->attempt_us > fb_ms * 1000ull) {
                    sb_router.timeouts++;
                    snprintf (msg, sizeof msg,
                              "Upstream channel %s sent no first byte within %u ms", ch->name,
                              fb_ms);
                    s_attempt_failed (req, 504, msg, "upstream_timeout", true);
                } else if (req->first_byte_us && idle_ms &&
                           now - req->last_byte_us > idle_ms * 1000ull) {
                    sb_router.timeouts++;
                    snprintf (msg, sizeof msg, "Upstream channel %s went idle for %u ms", ch->name,
                              idle_ms);
                    if (req->sent) {
                        s_report (req, false);
                        s_log_request (req, 504, msg);
                        s_fail (req, 504, msg, "upstream_idle_timeout");
                    } else
                        s_attempt_failed (req, 504, msg, "upstream_idle_timeout", true);
                }
            }
            req = next;
        }
    }
}

//  Gauges of every channel's health, once a second (router loop thread).
void
sb_router_publish_channel_gauges (void)
{
    sb_metrics_t *m = sb_router.metrics;
    sb_rgen_t *gen = sb_router.gen;
    for (size_t g = 0; gen && g < gen->group_count; g++) {
        sb_picker_t *picker = gen->pickers[g];
        if (!picker) continue;
        const sb_group_t *group = sb_config_group (gen->config, g);
        char gname[SB_MAX_NAME + 1];
        sb_metrics_label_value (gname, sizeof gname, group->name);
        for (int i = 0; i < sb_picker_size (picker); i++) {
            const sb_breaker_t *br = sb_picker_breaker (picker, i);
            char cname[SB_MAX_NAME + 1], labels[600];
            sb_metrics_label_value (cname, sizeof cname, sb_picker_name (picker, i));
            snprintf (labels, sizeof labels, "group=%s,channel=%s", gname, cname);
            sb_metrics_set (m, "sb_channel_breaker_state", labels,
                            (double)sb_breaker_state (br)); // 0 closed, 1 open, 2 half-open
            sb_metrics_set (m, "sb_channel_error_rate", labels, sb_breaker_error_rate (br));
            sb_metrics_set (m, "sb_channel_latency_ms", labels, sb_picker_latency_ms (picker, i));
        }
    }
}
