/*  sb_mock_server — lws HTTP server playing sb_mock_reply scripts (see sb_mock_server.h).
    A request's life: RECEIVING (headers, then body) → PLAYING (script steps, each after
    its delay: an lws timer, then a writeable callback, then one lws_write) → DONE
    (keep-alive: lws_http_transaction_completed) or CLOSING / HANGING. lws gives every
    transaction a fresh, zeroed per-session struct, so state never leaks from one
    request to the next on a keep-alive connection. Everything runs on the one service
    thread.  */

#include "sb_mock_server.h"
#include "sb_mock_faults.h"
#include "sb_mock_json.h"
#include "sb_mock_knobs.h"
#include "sb_mock_reply.h"
#include "sb_mock_script.h"

#include <assert.h>
#include <jansson.h>
#include <libwebsockets.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>

#define S_MAX_PATH 1024
//  A client still sending after this many bytes past max_body is cut off; below it the
//  body is read and discarded so the 413 reaches the client on a healthy connection.
#define S_DISCARD_FACTOR 4
//  Captured request headers (for /_mock/last) are bounded like lws' header buffer.
#define S_HEADERS_MAX (64 * 1024)

typedef enum {
    S_ROUTE_CHAT,
    S_ROUTE_MESSAGES,
    S_ROUTE_MODELS,
    S_ROUTE_OTHER, // unknown path or method: 404 / 405
    S_ROUTE_MOCK_STATS,
    S_ROUTE_MOCK_RESET,
    S_ROUTE_MOCK_LAST,
} s_route_t;

//  Routes before S_ROUTE_MOCK_STATS are counted in the stats, under these names.
static const char *const s_route_names[] = {"/v1/chat/completions", "/v1/messages", "/v1/models",
                                            "other"};
#define S_COUNTED_ROUTES 4

typedef enum {
    S_IDLE = 0,  // fresh per-session struct: no request yet
    S_RECEIVING, // request headers seen, body arriving
    S_PLAYING,   // script steps being written
    S_HANGING,   // the script ended in HANG: nothing more will be sent
    S_CLOSING,   // all written; the connection closes at the next writeable
    S_DONE,      // accounted for; nothing left to do
} s_phase_t;

typedef struct {
    uint64_t requests;  // requests received (not counting /_mock/)
    uint64_t completed; // responses sent in full
    uint64_t cancelled; // client closed before the response was sent in full
    uint64_t dropped;   // the mock cut the response on purpose (reset, drop_after)
    int64_t active;     // requests received and not yet finished one way or another
    uint64_t by_path[S_COUNTED_ROUTES];
} s_stats_t;

//  The last request (not /_mock/) as received, for GET /_mock/last. Owned strings;
//  all NULL before the first request.
typedef struct {
    char *method;
    char *path;
    char *headers; // text of a JSON object {"name": "value"}
    char *body;    // NULL when there was none
    size_t body_len;
} s_last_t;

struct _sb_mock_server_t {
    sb_mock_server_config_t config;
    char host[256];
    struct lws_context *context;
    int port;
    volatile sig_atomic_t stopping;
    sb_mock_faults_t *faults;
    s_stats_t stats;
    s_last_t last;
    uint64_t seq; // requests numbered for ids
};

//  Per-transaction state, allocated zeroed by lws for each request.
//  Invariants: counted ⇒ the request is in stats.requests and, until finished is set,
//  in stats.active; script is non-NULL only in S_PLAYING / S_HANGING / S_CLOSING;
//  body_len <= body_cap <= max_body.
typedef struct {
    s_phase_t phase;
    s_route_t route;
    bool post;
    bool counted;
    bool finished;        // counted request accounted as completed, cancelled or dropped
    bool too_large;       // body over max_body: discarded, answered with 413
    bool length_required; // chunked request body: answered with 411, then closed
    bool delay_done;      // the current step's delay has passed
    char method[8];
    char path[S_MAX_PATH]; // the URI as received
    size_t prefix_off;     // the /x/<knobs>/ list is path[prefix_off .. prefix_off+prefix_len)
    size_t prefix_len;
    char *body;
    size_t body_len;
    size_t body_cap;
    uint64_t body_seen; // bytes received, kept or not
    sb_mock_script_t *script;
    size_t step; // next script step to write
} s_pss_t;

//  Custom (non-lws-token) request headers worth showing in /_mock/last besides the
//  x-mock-<knob> ones: lws keeps unknown headers but cannot list them.
static const char *const s_custom_headers[] = {
    "x-api-key:",
    "anthropic-version:",
    "anthropic-beta:",
    "openai-organization:",
    "openai-project:",
    "openai-beta:",
    "x-request-id:",
    "x-stainless-lang:",
    "x-stainless-package-version:",
    "x-stainless-os:",
    "x-stainless-arch:",
    "x-stainless-runtime:",
    "x-stainless-runtime-version:",
    "x-stainless-retry-count:",
    "x-stainless-timeout:",
    "x-switchboard-request-id:",
    "x-sb-request-id:",
};

//  The x-mock-<knob> header names as lws wants them (with the colon), both spellings:
//  "x-mock-latency_ms:" and "x-mock-latency-ms:"; dashed[k] is empty when the knob
//  name has no '_'. Filled once by s_knob_headers_init, read-only afterwards.
static struct {
    char plain[SB_MOCK_KNOB_COUNT][48];
    char dashed[SB_MOCK_KNOB_COUNT][48];
} s_knob_headers;

static void
s_knob_headers_init (void)
{
    for (int k = 0; k < SB_MOCK_KNOB_COUNT; k++) {
        const char *name = sb_mock_knob_name ((sb_mock_knob_t)k);
        snprintf (s_knob_headers.plain[k], sizeof (s_knob_headers.plain[k]), "x-mock-%s:", name);
        s_knob_headers.dashed[k][0] = '\0';
        if (!strchr (name, '_')) continue;
        memcpy (s_knob_headers.dashed[k], s_knob_headers.plain[k],
                sizeof (s_knob_headers.plain[k]));
        for (char *c = s_knob_headers.dashed[k]; *c; c++)
            if (*c == '_') *c = '-';
    }
}

static sb_mock_server_t *
s_server (struct lws *wsi)
{
    return lws_context_user (lws_get_context (wsi));
}

//  ---------------------------------------------------------------------------------
//  Accounting

static void
s_finish (sb_mock_server_t *self, s_pss_t *pss, uint64_t *counter)
{
    if (pss->counted && !pss->finished) {
        (*counter)++;
        self->stats.active--;
        pss->finished = true;
    }
}

//  Frees what the transaction holds. Called when lws drops the per-session struct
//  (transaction over) and when the connection closes; a request still unfinished then
//  was cut short by the client.
static void
s_pss_release (sb_mock_server_t *self, s_pss_t *pss)
{
    if (!pss) return;
    if (pss->phase != S_IDLE && pss->phase != S_DONE) s_finish (self, pss, &self->stats.cancelled);
    sb_mock_script_destroy (&pss->script);
    free (pss->body);
    pss->body = NULL;
    pss->body_len = pss->body_cap = 0;
    pss->phase = S_DONE;
}

//  ---------------------------------------------------------------------------------
//  Request parsing

//  Finds the route and the /x/<knobs>/ prefix of pss->path.
static s_route_t
s_route (s_pss_t *pss)
{
    const char *path = pss->path;
    pss->prefix_off = pss->prefix_len = 0;
    if (strncmp (path, "/_mock/", 7) == 0) {
        if (strcmp (path, "/_mock/stats") == 0 && !pss->post) return S_ROUTE_MOCK_STATS;
        if (strcmp (path, "/_mock/reset") == 0 && pss->post) return S_ROUTE_MOCK_RESET;
        if (strcmp (path, "/_mock/last") == 0 && !pss->post) return S_ROUTE_MOCK_LAST;
        return S_ROUTE_OTHER;
    }
    if (strncmp (path, "/x/", 3) == 0) {
        const char *end = strchr (path + 3, '/');
        if (!end) return S_ROUTE_OTHER;
        pss->prefix_off = 3;
        pss->prefix_len = (size_t)(end - path) - 3;
        path = end;
    }
    if (strncmp (path, "/v1/", 4) == 0)
        path += 3; // "/v1/chat/completions" and "/chat/completions" alike
    if (strcmp (path, "/chat/completions") == 0) return pss->post ? S_ROUTE_CHAT : S_ROUTE_OTHER;
    if (strcmp (path, "/messages") == 0) return pss->post ? S_ROUTE_MESSAGES : S_ROUTE_OTHER;
    if (strcmp (path, "/models") == 0) return pss->post ? S_ROUTE_OTHER : S_ROUTE_MODELS;
    return S_ROUTE_OTHER;
}

//  True when the path exists for some method (so a miss is 405, not 404).
static bool
s_known_path (const s_pss_t *pss)
{
    const char *path = pss->path;
    if (pss->prefix_len) path += pss->prefix_off + pss->prefix_len;
    if (strncmp (path, "/v1/", 4) == 0) path += 3;
    return strcmp (path, "/chat/completions") == 0 || strcmp (path, "/messages") == 0 ||
           strcmp (path, "/models") == 0 || strncmp (pss->path, "/_mock/", 7) == 0;
}

//  Copies header `token` into a fresh string (caller frees), or NULL when absent.
static char *
s_header (struct lws *wsi, enum lws_token_indexes token, size_t *len_out)
{
    int len = lws_hdr_total_length (wsi, token);
    if (len <= 0) return NULL;
    char *value = malloc ((size_t)len + 1);
    if (value && lws_hdr_copy (wsi, value, len + 1, token) < 0) {
        free (value);
        value = NULL;
    }
    if (value) *len_out = (size_t)len;
    return value;
}

//  Same for a header lws has no token for; `name` ends with ':'.
static char *
s_custom_header (struct lws *wsi, const char *name, size_t *len_out)
{
    int nlen = (int)strlen (name);
    int len = lws_hdr_custom_length (wsi, name, nlen);
    if (len < 0) return NULL;
    char *value = malloc ((size_t)len + 1);
    if (value && lws_hdr_custom_copy (wsi, value, len + 1, name, nlen) < 0) {
        free (value);
        value = NULL;
    }
    if (value) *len_out = (size_t)len;
    return value;
}

//  Adds "name": "value" to the object being written; `name` arrives as "name:".
static void
s_capture_header (sb_mock_json_t *j, const char *name, const char *value, size_t len)
{
    size_t n = strlen (name);
    if (n >= 2) sb_mock_json_pack (j, "s%:s%", name, n - 1, value, len);
}

static void
s_capture_custom (struct lws *wsi, sb_mock_json_t *j, const char *name)
{
    size_t len = 0;
    char *value = s_custom_header (wsi, name, &len);
    if (value) s_capture_header (j, name, value, len);
    free (value);
}

//  Every request header lws lets us see, as the text of {"name": "value", ...}. Caller
//  owns the result; NULL when out of memory or over S_HEADERS_MAX.
static char *
s_capture_headers (struct lws *wsi)
{
    sb_mock_json_t j;
    sb_mock_json_init (&j, S_HEADERS_MAX);
    sb_mock_json_pack (&j, "{");
    for (int t = 0; t < WSI_TOKEN_COUNT; t++) {
        const char *name = (const char *)lws_token_to_string ((enum lws_token_indexes)t);
        size_t n = name ? strlen (name) : 0;
        if (n < 2 || name[0] == ':' || name[n - 1] != ':')
            continue; // method/URI pseudo-tokens and h2 pseudo-headers
        size_t len = 0;
        char *value = s_header (wsi, (enum lws_token_indexes)t, &len);
        if (value) s_capture_header (&j, name, value, len);
        free (value);
    }
    for (size_t i = 0; i < sizeof (s_custom_headers) / sizeof (s_custom_headers[0]); i++)
        s_capture_custom (wsi, &j, s_custom_headers[i]);
    for (int k = 0; k < SB_MOCK_KNOB_COUNT; k++) {
        s_capture_custom (wsi, &j, s_knob_headers.plain[k]);
        if (s_knob_headers.dashed[k][0]) s_capture_custom (wsi, &j, s_knob_headers.dashed[k]);
    }
    sb_mock_json_pack (&j, "}");
    if (j.failed) sb_mock_json_release (&j);
    return j.data; // the writer's text is the caller's now
}

//  Applies the x-mock-<knob> request headers. 0, or -1 with a reason in err.
static int
s_apply_header_knobs (struct lws *wsi, sb_mock_knobs_t *knobs, char *err, size_t err_size)
{
    for (int k = 0; k < SB_MOCK_KNOB_COUNT; k++)
        for (int dashed = 0; dashed < 2; dashed++) {
            const char *name = dashed ? s_knob_headers.dashed[k] : s_knob_headers.plain[k];
            if (!name[0]) continue;
            size_t len = 0;
            char *value = s_custom_header (wsi, name, &len);
            if (!value) continue;
            //  The knob's name is the header's without "x-mock-" and the colon.
            int rc = sb_mock_knobs_set (knobs, name + 7, strlen (name + 7) - 1, value, len, err,
                                        err_size);
            free (value);
            if (rc) return -1;
        }
    return 0;
}

static bool
s_keep_alive (struct lws *wsi)
{
    char value[64];
    if (lws_hdr_total_length (wsi, WSI_TOKEN_CONNECTION) <= 0) return true;
    if (lws_hdr_copy (wsi, value, sizeof (value), WSI_TOKEN_CONNECTION) < 0) return true;
    for (char *c = value; *c; c++)
        if (*c >= 'A' && *c <= 'Z') *c = (char)(*c - 'A' + 'a');
    return strstr (value, "close") == NULL;
}

//  ---------------------------------------------------------------------------------
//  Control endpoints

static char *
s_stats_json (sb_mock_server_t *self)
{
    const s_stats_t *st = &self->stats;
    sb_mock_json_t j;
    sb_mock_json_init (&j, 64 * 1024);
    sb_mock_json_pack (&j, "{s:I, s:I, s:I, s:I, s:I, s:{", "requests", (int64_t)st->requests,
                       "completed", (int64_t)st->completed, "cancelled", (int64_t)st->cancelled,
                       "dropped", (int64_t)st->dropped, "active", st->active, "by_path");
    for (int i = 0; i < S_COUNTED_ROUTES; i++)
        sb_mock_json_pack (&j, "s:I", s_route_names[i], (int64_t)st->by_path[i]);
    sb_mock_json_pack (&j, "}}");
    if (j.failed) sb_mock_json_release (&j);
    return j.data;
}

static char *
s_last_json (sb_mock_server_t *self)
{
    const s_last_t *last = &self->last;
    sb_mock_json_t j;
    //  The body twice (as a string and as JSON), escaped at worst 6 bytes per byte.
    sb_mock_json_init (&j, 8 * self->config.max_body + S_HEADERS_MAX + 4096);
    sb_mock_json_pack (&j, "{s:s, s:s, s:r, s:s%, s:I, s:", "method", last->method, "path",
                       last->path, "headers", last->headers, "body", last->body ? last->body : "",
                       last->body_len, "body_bytes", (int64_t)last->body_len, "json");
    //  The body goes in as is when it parses as JSON.
    json_t *parsed = last->body ? json_loadb (last->body, last->body_len, 0, NULL) : NULL;
    if (parsed)
        sb_mock_json_pack (&j, "r%}", last->body, last->body_len);
    else
        sb_mock_json_pack (&j, "n}");
    json_decref (parsed);
    if (j.failed) sb_mock_json_release (&j);
    return j.data;
}

static void
s_last_release (s_last_t *last)
{
    free (last->method);
    free (last->path);
    free (last->headers);
    free (last->body);
    memset (last, 0, sizeof (*last));
}

static sb_mock_script_t *
s_control (sb_mock_server_t *self, s_pss_t *pss, bool keep_alive)
{
    char *text = NULL;
    if (pss->route == S_ROUTE_MOCK_RESET) {
        int64_t active = self->stats.active;
        memset (&self->stats, 0, sizeof (self->stats));
        self->stats.active = active; // a gauge of what is in flight, not a counter
        sb_mock_faults_reset (self->faults);
        s_last_release (&self->last);
        text = strdup ("{\"ok\":true}");
    } else if (pss->route == S_ROUTE_MOCK_STATS)
        text = s_stats_json (self);
    else if (!self->last.method)
        return sb_mock_reply_error (SB_MOCK_API_CHAT, 404, "sb-mock: no request yet", -1,
                                    keep_alive, LWS_PRE);
    else
        text = s_last_json (self);
    if (!text) return NULL;
    sb_mock_script_t *script = sb_mock_reply_json (200, text, strlen (text), keep_alive, LWS_PRE);
    free (text);
    return script;
}

//  ---------------------------------------------------------------------------------
//  Building the answer

static sb_mock_api_t
s_api (s_route_t route)
{
    return route == S_ROUTE_MESSAGES ? SB_MOCK_API_MESSAGES
           : route == S_ROUTE_MODELS ? SB_MOCK_API_MODELS
                                     : SB_MOCK_API_CHAT;
}

//  The answer to an API request: knobs merged in order (model defaults, path prefix,
//  headers, body "mock"), then the reply built. NULL when out of memory.
static sb_mock_script_t *
s_answer (struct lws *wsi, sb_mock_server_t *self, s_pss_t *pss, bool keep_alive)
{
    sb_mock_api_t api = s_api (pss->route);
    char err[160] = "";
    json_t *json = NULL;
    if (pss->body_len) json = json_loadb (pss->body, pss->body_len, 0, NULL);

    sb_mock_knobs_t knobs;
    sb_mock_knobs_init (&knobs);
    sb_mock_knobs_apply_model (&knobs, json_string_value (json_object_get (json, "model")));
    json_t *mock = json_object_get (json, "mock");
    int rc = sb_mock_knobs_apply_list (&knobs, pss->path + pss->prefix_off, pss->prefix_len, err,
                                       sizeof (err));
    if (!rc) rc = s_apply_header_knobs (wsi, &knobs, err, sizeof (err));
    if (!rc && mock) rc = sb_mock_knobs_apply_json (&knobs, mock, err, sizeof (err));

    sb_mock_script_t *script = NULL;
    if (rc)
        script = sb_mock_reply_error (api, 400, err, -1, keep_alive, LWS_PRE);
    else {
        sb_mock_request_t req = {
            .api = api,
            .body_len = pss->body_len,
            .json = json,
            .knobs = &knobs,
            .faults_apply = true,
            .keep_alive = keep_alive,
            .seq = ++self->seq,
            .now = (int64_t)time (NULL),
        };
        if (sb_mock_knobs_is_set (&knobs, SB_MOCK_KNOB_FAIL_RATE)) {
            //  One sequence per channel: channels differ by their /x/<knobs>/ prefix.
            bool hit =
                sb_mock_faults_next (self->faults, pss->path + pss->prefix_off, pss->prefix_len,
                                     sb_mock_knobs_get (&knobs, SB_MOCK_KNOB_FAIL_RATE),
                                     sb_mock_knobs_is_set (&knobs, SB_MOCK_KNOB_SEED),
                                     (uint64_t)sb_mock_knobs_get (&knobs, SB_MOCK_KNOB_SEED));
            req.faults_apply = hit;
            req.fail_rate_hit = hit;
        }
        script = sb_mock_reply_build (&req, LWS_PRE);
    }
    sb_mock_knobs_release (&knobs);
    json_decref (json);
    return script;
}

//  ---------------------------------------------------------------------------------
//  Playing the script

//  Arranges for the next step: a timer for its delay, then a writeable callback.
static void
s_schedule (struct lws *wsi, s_pss_t *pss)
{
    uint64_t delay_us = 0;
    sb_mock_script_get (pss->script, pss->step, &delay_us, NULL);
    if (delay_us && !pss->delay_done)
        lws_set_timer_usecs (wsi, (lws_usec_t)delay_us);
    else
        lws_callback_on_writable (wsi);
}

//  The script is fully written: do what it ends with. Returns -1 to close.
static int
s_script_end (struct lws *wsi, s_pss_t *pss)
{
    sb_mock_server_t *self = s_server (wsi);
    switch (sb_mock_script_end (pss->script)) {
        case SB_MOCK_END_KEEP_ALIVE:
            s_finish (self, pss, &self->stats.completed);
            sb_mock_script_destroy (&pss->script);
            pss->phase = S_DONE;
            //  May free pss (lws rebinds the protocol for the next transaction). If lws
            //  still holds unsent bytes, it defers this until they are out.
            return lws_http_transaction_completed (wsi) ? -1 : 0;
        case SB_MOCK_END_CLOSE:
            s_finish (self, pss, &self->stats.completed);
            pss->phase = S_CLOSING;
            lws_callback_on_writable (wsi); // closes once lws has flushed what it holds
            return 0;
        case SB_MOCK_END_DROP:
            s_finish (self, pss, &self->stats.dropped);
            pss->phase = S_CLOSING;
            lws_callback_on_writable (wsi);
            return 0;
        case SB_MOCK_END_RESET: {
            s_finish (self, pss, &self->stats.dropped);
            pss->phase = S_DONE;
            //  lws closes gracefully (shutdown, then waits for the peer), which the client
            //  sees as an empty reply. Connecting a TCP socket to AF_UNSPEC aborts it
            //  with a RST at once (Linux tcp_disconnect); linger 0 covers the close.
            int fd = lws_get_socket_fd (wsi);
            struct linger lin = {.l_onoff = 1, .l_linger = 0};
            setsockopt (fd, SOL_SOCKET, SO_LINGER, &lin, sizeof (lin));
            struct sockaddr unspec = {.sa_family = AF_UNSPEC};
            (void)connect (fd, &unspec, sizeof (unspec));
            return -1;
        }
        case SB_MOCK_END_HANG:
            pss->phase = S_HANGING;
            return 0;
    }
    return -1;
}

//  Writes the current step (one lws_write) and moves on. Returns -1 to close.
static int
s_play (struct lws *wsi, s_pss_t *pss)
{
    size_t len = 0;
    uint8_t *data = sb_mock_script_get (pss->script, pss->step, NULL, &len);
    if (len && lws_write (wsi, data, len, LWS_WRITE_HTTP) < (int)len)
        return -1; // the client is gone; s_pss_release counts it as cancelled
    pss->step++;
    pss->delay_done = false;
    if (pss->step < sb_mock_script_count (pss->script)) {
        s_schedule (wsi, pss);
        return 0;
    }
    return s_script_end (wsi, pss);
}

//  The request is complete (body included): answer it. in_body_completion: called
//  from LWS_CALLBACK_HTTP_BODY_COMPLETION. Returns -1 to close.
static int
s_request_done (struct lws *wsi, s_pss_t *pss, bool in_body_completion)
{
    sb_mock_server_t *self = s_server (wsi);
    bool keep_alive = s_keep_alive (wsi) && !pss->length_required;
    sb_mock_script_t *script = NULL;

    if (pss->route >= S_ROUTE_MOCK_STATS)
        script = s_control (self, pss, keep_alive);
    else {
        char *headers = s_capture_headers (wsi);
        if (pss->length_required)
            script = sb_mock_reply_error (s_api (pss->route), 411,
                                          "sb-mock: chunked request bodies are not supported; "
                                          "send Content-Length",
                                          -1, keep_alive, LWS_PRE);
        else if (pss->too_large) {
            char msg[96];
            snprintf (msg, sizeof (msg), "sb-mock: request body over %zu bytes",
                      self->config.max_body);
            script = sb_mock_reply_error (s_api (pss->route), 413, msg, -1, keep_alive, LWS_PRE);
        } else if (pss->route == S_ROUTE_OTHER) {
            char msg[S_MAX_PATH + 64];
            snprintf (msg, sizeof (msg), "Unknown request URL: %s %s", pss->method, pss->path);
            script = sb_mock_reply_error (SB_MOCK_API_CHAT, s_known_path (pss) ? 405 : 404, msg, -1,
                                          keep_alive, LWS_PRE);
        } else
            script = s_answer (wsi, self, pss, keep_alive);

        //  Remember the request for /_mock/last; the body moves, it is not copied.
        s_last_release (&self->last);
        self->last.method = strdup (pss->method);
        self->last.path = strdup (pss->path);
        self->last.headers = headers ? headers : strdup ("{}");
        self->last.body = pss->body;
        self->last.body_len = pss->body ? pss->body_len : 0;
        pss->body = NULL;
        pss->body_len = pss->body_cap = 0;
    }
    if (!script) return -1;

    pss->script = script;
    pss->step = 0;
    pss->phase = S_PLAYING;
    //  No lws timeout may cut a script short: hangs and long streams are on purpose.
    lws_set_timeout (wsi, NO_PENDING_TIMEOUT, 0);
    if (sb_mock_script_count (script) == 0) {
        pss->phase = S_HANGING; // only a hang has no step at all
        return 0;
    }
    uint64_t delay_us = 0;
    sb_mock_script_get (script, 0, &delay_us, NULL);
    if (delay_us == 0 && in_body_completion)
        //  Due now: write it from this callback, as lws_return_http_status does. On
        //  HTTP/1 lws_write never blocks (lws keeps what the socket does not take and
        //  sends it on POLLOUT), and skipping the round trip through the poll loop is
        //  worth a quarter of the throughput. Only from BODY_COMPLETION, where lws
        //  expects a transaction to end; requests without a body (answered from
        //  LWS_CALLBACK_HTTP) and later steps go through WRITEABLE.
        return s_play (wsi, pss);
    s_schedule (wsi, pss);
    return 0;
}

static int
s_writeable (struct lws *wsi, s_pss_t *pss)
{
    if (pss->phase == S_CLOSING) {
        pss->phase = S_DONE;
        return -1;
    }
    if (pss->phase != S_PLAYING || !pss->script) return 0;
    return s_play (wsi, pss);
}

//  ---------------------------------------------------------------------------------
//  lws callback

static int
s_on_http (struct lws *wsi, s_pss_t *pss, const char *uri, size_t len)
{
    sb_mock_server_t *self = s_server (wsi);
    memset (pss, 0, sizeof (*pss));
    pss->phase = S_RECEIVING;
    pss->post = lws_hdr_total_length (wsi, WSI_TOKEN_POST_URI) > 0;
    bool get = lws_hdr_total_length (wsi, WSI_TOKEN_GET_URI) > 0;
    snprintf (pss->method, sizeof (pss->method), "%s", pss->post ? "POST" : get ? "GET" : "OTHER");
    if (len >= sizeof (pss->path))
        len = sizeof (pss->path) - 1; // lws bounds URIs by its header buffer anyway
    memcpy (pss->path, uri, len);
    pss->path[len] = '\0';
    pss->route = pss->post || get ? s_route (pss) : S_ROUTE_OTHER;

    if (pss->route < S_ROUTE_MOCK_STATS) {
        pss->counted = true;
        self->stats.requests++;
        self->stats.active++;
        self->stats.by_path[pss->route]++;
    }

    long long content_length = 0;
    char cl[32];
    if (lws_hdr_total_length (wsi, WSI_TOKEN_HTTP_CONTENT_LENGTH) > 0 &&
        lws_hdr_copy (wsi, cl, sizeof (cl), WSI_TOKEN_HTTP_CONTENT_LENGTH) > 0) {
        char *end = NULL;
        content_length = strtoll (cl, &end, 10);
        if (end == cl || content_length < 0) content_length = 0;
    }
    if (pss->post && lws_hdr_total_length (wsi, WSI_TOKEN_HTTP_TRANSFER_ENCODING) > 0) {
        //  lws 4.1 does not deliver chunked request bodies to servers; say so, and close
        //  since the unread body would be taken for the next request.
        pss->length_required = true;
        return s_request_done (wsi, pss, false);
    }
    if (!pss->post || content_length == 0) return s_request_done (wsi, pss, false);
    if (lws_hdr_total_length (wsi, WSI_TOKEN_HTTP_EXPECT) > 0) {
        //  lws does not answer "Expect: 100-continue"; without this, clients (curl for
        //  bodies over 1 MB) wait a second before sending the body. A 25-byte write on a
        //  connection that has sent nothing yet; lws keeps it if the socket is full.
        static const char cont[] = "HTTP/1.1 100 Continue\r\n\r\n";
        uint8_t buf[LWS_PRE + sizeof (cont)];
        memcpy (buf + LWS_PRE, cont, sizeof (cont) - 1);
        if (lws_write (wsi, buf + LWS_PRE, sizeof (cont) - 1, LWS_WRITE_HTTP) <
            (int)sizeof (cont) - 1)
            return -1;
    }
    //  A declared length lets us allocate once; larger bodies are read and discarded.
    if ((unsigned long long)content_length > self->config.max_body)
        pss->too_large = true;
    else {
        pss->body = malloc ((size_t)content_length + 1);
        if (!pss->body) return -1;
        pss->body_cap = (size_t)content_length;
    }
    return 0;
}

static int
s_on_body (struct lws *wsi, s_pss_t *pss, const void *in, size_t len)
{
    sb_mock_server_t *self = s_server (wsi);
    if (pss->phase != S_RECEIVING) return 0;
    pss->body_seen += len;
    if (pss->body_seen > (uint64_t)self->config.max_body * S_DISCARD_FACTOR)
        return -1; // not worth reading any further just to say 413
    if (pss->too_large) return 0;
    if (len > self->config.max_body - pss->body_len) {
        pss->too_large = true; // longer than announced, and over the bound
        free (pss->body);
        pss->body = NULL;
        pss->body_len = pss->body_cap = 0;
        return 0;
    }
    if (len > pss->body_cap - pss->body_len) {
        //  Longer than announced: grow geometrically, within max_body.
        size_t cap = pss->body_cap ? pss->body_cap : 4096;
        while (cap - pss->body_len < len)
            cap *= 2;
        if (cap > self->config.max_body) cap = self->config.max_body;
        char *body = realloc (pss->body, cap + 1);
        if (!body) return -1;
        pss->body = body;
        pss->body_cap = cap;
    }
    memcpy (pss->body + pss->body_len, in, len);
    pss->body_len += len;
    return 0;
}

//  The one protocol's callback, on the service thread.
static int
s_callback (struct lws *wsi, enum lws_callback_reasons reason, void *user, void *in, size_t len)
{
    s_pss_t *pss = user;
    switch (reason) {
        case LWS_CALLBACK_HTTP:
            return s_on_http (wsi, pss, in, len);
        case LWS_CALLBACK_HTTP_BODY:
            return s_on_body (wsi, pss, in, len);
        case LWS_CALLBACK_HTTP_BODY_COMPLETION:
            return pss->phase == S_RECEIVING ? s_request_done (wsi, pss, true) : 0;
        case LWS_CALLBACK_TIMER:
            if (pss && pss->phase == S_PLAYING) {
                pss->delay_done = true;
                lws_callback_on_writable (wsi);
            }
            return 0;
        case LWS_CALLBACK_HTTP_WRITEABLE:
            return pss ? s_writeable (wsi, pss) : 0;
        case LWS_CALLBACK_HTTP_DROP_PROTOCOL:
        case LWS_CALLBACK_CLOSED_HTTP:
            s_pss_release (s_server (wsi), pss);
            return 0;
        default:
            break;
    }
    return lws_callback_http_dummy (wsi, reason, user, in, len);
}

static const struct lws_protocols s_protocols[] = {
    {"sb-mock-http", s_callback, sizeof (s_pss_t), 0, 0, NULL, 0},
    {NULL, NULL, 0, 0, 0, NULL, 0}, // terminator
};

//  ---------------------------------------------------------------------------------

void
sb_mock_server_config_default (sb_mock_server_config_t *config)
{
    assert (config);
    memset (config, 0, sizeof (*config));
    config->host = "127.0.0.1";
    config->port = 9090;
    config->max_conns = 4096;
    config->max_body = 32u * 1024 * 1024;
    config->keepalive_s = 60;
}

//  lws sizes its fd table from fd_limit_per_thread; the process must allow that many.
//  Returns what can be had.
static int
s_raise_fd_limit (int wanted)
{
    struct rlimit rl;
    if (getrlimit (RLIMIT_NOFILE, &rl)) return wanted;
    if (rl.rlim_cur < (rlim_t)wanted) {
        rl.rlim_cur = rl.rlim_max < (rlim_t)wanted ? rl.rlim_max : (rlim_t)wanted;
        setrlimit (RLIMIT_NOFILE, &rl);
        getrlimit (RLIMIT_NOFILE, &rl);
    }
    return rl.rlim_cur < (rlim_t)wanted ? (int)rl.rlim_cur : wanted;
}

sb_mock_server_t *
sb_mock_server_new (const sb_mock_server_config_t *config)
{
    sb_mock_server_t *self = calloc (1, sizeof (*self));
    if (!self) return NULL;
    if (config)
        self->config = *config;
    else
        sb_mock_server_config_default (&self->config);
    snprintf (self->host, sizeof (self->host), "%s",
              self->config.host ? self->config.host : "127.0.0.1");
    self->config.host = self->host;
    self->faults = sb_mock_faults_new ();
    if (!self->faults) goto fail;
    s_knob_headers_init ();
    //  Ids derive from the request number; starting from the clock keeps them unique
    //  across restarts of the mock.
    self->seq = (uint64_t)time (NULL) << 20;

    //  Debian's lws is built with debug logging; anything below warnings costs a lot.
    lws_set_log_level (LLL_ERR | LLL_WARN, NULL);

    struct lws_context_creation_info info;
    memset (&info, 0, sizeof (info));
    info.port = self->config.port;
    info.iface = strcmp (self->host, "0.0.0.0") == 0 ? NULL : self->host;
    info.protocols = s_protocols;
    info.user = self;
    info.count_threads = 1;
    info.fd_limit_per_thread = (unsigned int)s_raise_fd_limit (self->config.max_conns + 16);
    info.keepalive_timeout = self->config.keepalive_s;
    info.timeout_secs = 30;
    info.max_http_header_data = 16384;
    info.pt_serv_buf_size = 64 * 1024;
    info.options = LWS_SERVER_OPTION_DISABLE_IPV6;
    self->context = lws_create_context (&info);
    if (!self->context) {
        fprintf (stderr, "sb-mock: cannot listen on %s:%d\n", self->host, self->config.port);
        goto fail;
    }
    struct lws_vhost *vhost = lws_get_vhost_by_name (self->context, "default");
    self->port = vhost ? lws_get_vhost_listen_port (vhost) : self->config.port;
    return self;

fail:
    sb_mock_server_destroy (&self);
    return NULL;
}

void
sb_mock_server_destroy (sb_mock_server_t **self_p)
{
    if (!self_p || !*self_p) return;
    sb_mock_server_t *self = *self_p;
    if (self->context) lws_context_destroy (self->context);
    sb_mock_faults_destroy (&self->faults);
    s_last_release (&self->last);
    free (self);
    *self_p = NULL;
}

int
sb_mock_server_port (const sb_mock_server_t *self)
{
    assert (self);
    return self->port;
}

int
sb_mock_server_run (sb_mock_server_t *self)
{
    assert (self);
    while (!self->stopping)
        if (lws_service (self->context, 0) < 0) break;
    return 0;
}

void
sb_mock_server_stop (sb_mock_server_t *self)
{
    assert (self);
    self->stopping = 1;
    lws_cancel_service (self->context);
}
