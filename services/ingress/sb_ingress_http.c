/*  sb_ingress_http — the HTTP side of the ingress: parses and checks each request
    (limits, bearer key, JSON, model), hands chat completions to the router, and
    writes what comes back: one lws_write for a JSON response (headers and body
    together), chunked SSE for a stream (raw bytes ended by the close for HTTP/1.0),
    forwarded as each chunk arrives. Everything here runs on the lws service thread.  */

#include "sb_ingress.h"
#include "sb_clock.h"
#include "sb_json_scan.h"
#include "sb_metrics.h"
#include "sb_oai_error.h"
#include "sb_out.h"

#include <assert.h>
#include <openssl/crypto.h>
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <strings.h>
#include <sys/socket.h>
#include <unistd.h>
#include <stdlib.h>
#include <string.h>

typedef enum {
    S_IDLE = 0,   // between transactions
    S_BODY,       // receiving a POST body
    S_ROUTED,     // waiting for the router's first CHUNK or END
    S_STREAMING,  // SSE headers sent, chunks flowing
    S_RESPONDING, // final bytes queued, transaction completes after the write
} s_state_t;

//  Per-connection state, allocated by lws (zeroed on connect). Invariants: `id` is
//  non-zero exactly while the request holds a slot at the router; out_len bytes
//  wait at out + LWS_PRE; out_len <= max_client_buffer unless being dropped.
struct _sb_conn_t {
    struct lws *wsi;
    s_state_t state;
    uint64_t id;
    char *body;
    size_t body_len, body_cap;
    bool body_too_large;
    bool stream;
    bool head;   // a HEAD request: answers carry a GET's headers, never a body
    bool http10; // an HTTP/1.0 stream: its body goes raw and ends with the connection
    char trace_id[72];
    unsigned char *out;
    size_t out_len, out_cap;
    bool close_after; // close the connection after the queued bytes
    uint64_t last_write_us;
    uint64_t deadline_us; // monotonic; ingress gives up a little after the router should
    char model[SB_MAX_NAME + 1];
    char key_name[SB_MAX_NAME + 1]; // the authenticated key, for the record
    bool is_chat;                   // a chat completion: refusals are recorded here
    bool routed;                    // handed to the router (which records it)
    uint64_t received_us;
};

#define S_TRACE_MAX    64
#define S_MAX_DISCARD  (8u) // bodies up to 8x the limit are read and dropped (clean 413)
#define S_DEADLINE_PAD (2u * 1000000u)

size_t
sb_ingress_conn_size (void)
{
    return sizeof (sb_conn_t);
}

//  -------------------------------------------------------------------------
//  Output buffer: bytes for the client, with LWS_PRE headroom kept in front.

static int
s_out_reserve (sb_conn_t *conn, size_t more)
{
    size_t need = LWS_PRE + conn->out_len + more;
    if (need <= conn->out_cap) return 0;
    size_t cap = conn->out_cap ? conn->out_cap : 4096;
    while (cap < need)
        cap *= 2;
    unsigned char *out = realloc (conn->out, cap);
    if (!out) return -1;
    conn->out = out;
    conn->out_cap = cap;
    return 0;
}

static int
s_out_append (sb_conn_t *conn, const void *data, size_t len)
{
    if (s_out_reserve (conn, len)) return -1;
    memcpy (conn->out + LWS_PRE + conn->out_len, data, len);
    conn->out_len += len;
    return 0;
}

//  One piece of the SSE body: an HTTP/1.1 chunk, or the bytes as they are for an
//  HTTP/1.0 client (chunked encoding is HTTP/1.1 only, RFC 9112 §6.1).
static int
s_out_chunk (sb_conn_t *conn, const void *data, size_t len)
{
    if (len == 0) return 0;
    if (conn->http10) return s_out_append (conn, data, len);
    char head[24];
    int n = snprintf (head, sizeof head, "%zx\r\n", len);
    if (s_out_append (conn, head, (size_t)n) || s_out_append (conn, data, len) ||
        s_out_append (conn, "\r\n", 2))
        return -1;
    return 0;
}

//  The end of the SSE body: the last chunk, or nothing for HTTP/1.0 (the close is).
static int
s_out_last_chunk (sb_conn_t *conn)
{
    return conn->http10 ? 0 : s_out_append (conn, "0\r\n\r\n", 5);
}

//  How the body of a response is delimited.
typedef enum {
    S_FRAME_LENGTH,  // Content-Length
    S_FRAME_CHUNKED, // HTTP/1.1 chunks (a stream on a keep-alive connection)
    S_FRAME_CLOSE,   // the connection's close (a stream to an HTTP/1.0 client)
} s_framing_t;

//  Response headers through lws's helpers (they know the connection's protocol).
//  S_FRAME_CLOSE needs close_after set (it says "connection: close").
static int
s_out_headers (sb_conn_t *conn, int status, const char *content_type, size_t content_length,
               s_framing_t framing, const char *extra, size_t extra_len)
{
    assert (framing != S_FRAME_CLOSE || conn->close_after);
    if (s_out_reserve (conn, 1024 + extra_len)) return -1;
    unsigned char *start = conn->out + LWS_PRE + conn->out_len;
    unsigned char *p = start, *end = conn->out + conn->out_cap;
    //  lws_add_http_common_headers would mark a response without a length
    //  "connection: close"; a chunked stream keeps the connection alive (one that
    //  the close ends says so through close_after).
    if (framing != S_FRAME_LENGTH) {
        if (lws_add_http_header_status (
                conn->wsi, (unsigned int)status | LWSAHH_FLAG_NO_SERVER_NAME, &p, end) ||
            lws_add_http_header_by_token (conn->wsi, WSI_TOKEN_HTTP_CONTENT_TYPE,
                                          (const unsigned char *)content_type,
                                          (int)strlen (content_type), &p, end))
            return -1;
    } else if (lws_add_http_common_headers (conn->wsi,
                                            (unsigned int)status | LWSAHH_FLAG_NO_SERVER_NAME,
                                            content_type, (lws_filepos_t)content_length, &p, end))
        return -1;
    if (lws_add_http_header_by_name (conn->wsi, (const unsigned char *)"x-request-id:",
                                     (const unsigned char *)conn->trace_id,
                                     (int)strlen (conn->trace_id), &p, end))
        return -1;
    if (framing == S_FRAME_CHUNKED &&
        lws_add_http_header_by_token (conn->wsi, WSI_TOKEN_HTTP_TRANSFER_ENCODING,
                                      (const unsigned char *)"chunked", 7, &p, end))
        return -1;
    if (framing != S_FRAME_LENGTH &&
        lws_add_http_header_by_token (conn->wsi, WSI_TOKEN_HTTP_CACHE_CONTROL,
                                      (const unsigned char *)"no-cache", 8, &p, end))
        return -1;
    if (conn->close_after &&
        lws_add_http_header_by_token (conn->wsi, WSI_TOKEN_CONNECTION,
                                      (const unsigned char *)"close", 5, &p, end))
        return -1;
    //  Extra headers from the router arrive as "Name: value\r\n" lines.
    const char *line = extra, *stop = extra + extra_len;
    while (extra && line < stop) {
        const char *eol = memchr (line, '\n', (size_t)(stop - line));
        const char *colon = memchr (line, ':', (size_t)((eol ? eol : stop) - line));
        const char *vend = eol ? eol : stop;
        if (vend > line && vend[-1] == '\r') vend--;
        if (colon && colon > line) {
            char name[80];
            size_t nlen = (size_t)(colon - line) + 1;
            const char *value = colon + 1;
            while (value < vend && *value == ' ')
                value++;
            if (nlen < sizeof name) {
                memcpy (name, line, nlen);
                name[nlen] = '\0';
                if (lws_add_http_header_by_name (conn->wsi, (const unsigned char *)name,
                                                 (const unsigned char *)value, (int)(vend - value),
                                                 &p, end))
                    return -1;
            }
        }
        line = eol ? eol + 1 : stop;
    }
    if (lws_finalize_http_header (conn->wsi, &p, end)) return -1;
    conn->out_len += (size_t)(p - start);
    return 0;
}

static void
s_count_status (int status)
{
    char labels[32];
    snprintf (labels, sizeof labels, "status=%d", status);
    sb_metrics_add (sb_ingress.metrics, "sb_http_responses_total", labels, 1);
}

//  Queues a whole response (headers + body) and asks for a writeable callback. The
//  answer to HEAD has the headers a GET would get, Content-Length included (RFC 9110
//  §9.3.2), and no body: the next bytes on the connection are the next response.
static void
s_respond (sb_conn_t *conn, int status, const char *content_type, const char *body, size_t len,
           const char *extra, size_t extra_len)
{
    s_count_status (status);
    if (s_out_headers (conn, status, content_type, len, S_FRAME_LENGTH, extra, extra_len) == 0) {
        if (!conn->head) s_out_append (conn, body, len);
    } else
        conn->close_after = true;
    conn->state = S_RESPONDING;
    lws_callback_on_writable (conn->wsi);
}

//  A chat completion refused before it reached the router still gets its record
//  (the router records everything it handled).
static void
s_log_refused (sb_conn_t *conn, int status, const char *message)
{
    char rec[2048];
    size_t n = 0;
    size_t cap = sizeof rec - 1;
    int k = snprintf (rec, cap, "{\"request_id\":\"");
    n = (size_t)k;
    sb_json_escape_append (rec, cap, &n, conn->trace_id, strlen (conn->trace_id));
    k = snprintf (rec + n, cap - n, "\",\"key\":\"");
    n += (size_t)k;
    sb_json_escape_append (rec, cap, &n, conn->key_name, strlen (conn->key_name));
    k = snprintf (rec + n, cap - n, "\",\"model\":\"");
    n += (size_t)k;
    sb_json_escape_append (rec, cap, &n, conn->model, strlen (conn->model));
    //  An unauthenticated client gets its refusal recorded, but may not store its
    //  body in Redis.
    size_t body = !conn->key_name[0] ? 0 : conn->body_len < 65536 ? conn->body_len : 65536;
    k = snprintf (rec + n, cap - n,
                  "\",\"group\":\"\",\"channel\":\"\",\"attempts\":0,\"status\":%d,\"stream\":%s,"
                  "\"timings_us\":{\"received\":%llu,\"first_byte\":0,\"total\":0},"
                  "\"usage\":{\"prompt_tokens\":0,\"completion_tokens\":0,\"total_tokens\":0},"
                  "\"attempt_log\":[],\"refused_by\":\"ingress\",\"request_bytes\":%zu,"
                  "\"request_cut\":%s,\"error\":\"",
                  status, conn->stream ? "true" : "false", (unsigned long long)conn->received_us,
                  conn->body_len, body < conn->body_len || conn->body_too_large ? "true" : "false");
    if (k > 0 && (size_t)k < cap - n) n += (size_t)k;
    sb_json_escape_append (rec, cap - 3, &n, message, strlen (message));
    rec[n++] = '"';
    rec[n++] = '}';
    rec[n] = '\0';
    sb_ingress_link_log (conn->trace_id, rec, n, conn->body_too_large ? NULL : conn->body,
                         conn->body_too_large ? 0 : body);
}

static void s_respond_error_extra (sb_conn_t *conn, int status, const char *message,
                                   const char *code, const char *extra);

static void
s_respond_error (sb_conn_t *conn, int status, const char *message, const char *code)
{
    s_respond_error_extra (conn, status, message, code, NULL);
}

static void
s_respond_error_extra (sb_conn_t *conn, int status, const char *message, const char *code,
                       const char *extra)
{
    if (conn->is_chat && !conn->routed) s_log_refused (conn, status, message);
    char body[1024];
    size_t len = sb_oai_error_body (body, sizeof body, status, message, NULL, code);
    s_respond (conn, status, "application/json", body, len, extra, extra ? strlen (extra) : 0);
}

//  -------------------------------------------------------------------------
//  Slot table: a request's id at the router is generation << 32 | slot, so a reply
//  that arrives after its connection closed (and the slot was reused) is dropped.

int
sb_ingress_slot_acquire (sb_conn_t *conn, uint64_t *id)
{
    sb_ingress_t *self = &sb_ingress;
    if (self->free_count == 0) return -1;
    uint32_t slot = self->free_list[--self->free_count];
    self->generations[slot]++;
    if (self->generations[slot] == 0) self->generations[slot] = 1; // id 0 means "none"
    self->slots[slot] = conn;
    *id = ((uint64_t)self->generations[slot] << 32) | slot;
    return 0;
}

void
sb_ingress_slot_release (uint64_t id)
{
    sb_ingress_t *self = &sb_ingress;
    uint32_t slot = (uint32_t)id;
    if (slot >= self->settings.max_inflight || self->generations[slot] != (uint32_t)(id >> 32) ||
        !self->slots[slot])
        return;
    self->slots[slot] = NULL;
    self->free_list[self->free_count++] = slot;
}

sb_conn_t *
sb_ingress_slot_lookup (uint64_t id)
{
    sb_ingress_t *self = &sb_ingress;
    uint32_t slot = (uint32_t)id;
    if (slot >= self->settings.max_inflight || self->generations[slot] != (uint32_t)(id >> 32))
        return NULL;
    return self->slots[slot];
}

static void
s_release (sb_conn_t *conn)
{
    if (conn->id) {
        sb_ingress_slot_release (conn->id);
        conn->id = 0;
    }
}

static void
s_cancel_upstream (sb_conn_t *conn)
{
    if (!conn->id) return;
    sb_msg_t msg = {.type = SB_MSG_CANCEL};
    msg.cancel.id = conn->id;
    sb_ingress_link_send (&msg);
    sb_ingress.cancelled++;
    s_release (conn);
}

//  -------------------------------------------------------------------------
//  Replies from the router.

static void
s_start_stream (sb_conn_t *conn)
{
    s_count_status (200);
    if (conn->http10) conn->close_after = true;
    s_out_headers (conn, 200, "text/event-stream", 0,
                   conn->http10 ? S_FRAME_CLOSE : S_FRAME_CHUNKED, NULL, 0);
    conn->state = S_STREAMING;
}

static void
s_drop_slow_client (sb_conn_t *conn)
{
    //  The client reads slower than the provider writes and its backlog hit the
    //  bound: give up on it rather than buffer without limit.
    sb_ingress.slow_clients_dropped++;
    s_cancel_upstream (conn);
    conn->out_len = 0;
    lws_set_timeout (conn->wsi, PENDING_TIMEOUT_HTTP_CONTENT, LWS_TO_KILL_ASYNC);
}

void
sb_ingress_on_chunk (sb_conn_t *conn, const sb_chunk_t *chunk)
{
    if (conn->state == S_ROUTED) s_start_stream (conn);
    if (conn->state != S_STREAMING) return;
    if (s_out_chunk (conn, chunk->data.data, chunk->data.size) != 0 ||
        conn->out_len > sb_ingress.settings.max_client_buffer) {
        s_drop_slow_client (conn);
        return;
    }
    lws_callback_on_writable (conn->wsi);
}

void
sb_ingress_on_end (sb_conn_t *conn, const sb_end_t *end)
{
    s_release (conn);
    if (conn->state == S_ROUTED) {
        //  Which channel answered, after how many attempts: for clients and tests.
        char extra[SB_MAX_TEXT + SB_MAX_NAME + 96];
        sb_out_t o = sb_out (extra, sizeof extra);
        if (end->headers.size) sb_out_mem (&o, end->headers.data, end->headers.size);
        sb_out_lit (&o, "x-switchboard-attempts: ");
        sb_out_u64 (&o, end->attempts);
        sb_out_lit (&o, "\r\n");
        if (end->channel.size) {
            sb_out_lit (&o, "x-switchboard-channel: ");
            sb_out_mem (&o, end->channel.data, end->channel.size);
            sb_out_lit (&o, "\r\n");
        }
        s_respond (conn, (int)end->status, "application/json", end->body.data, end->body.size,
                   extra, o.len);
        return;
    }
    if (conn->state != S_STREAMING) return;
    s_out_chunk (conn, end->body.data, end->body.size);
    s_out_last_chunk (conn);
    conn->state = S_RESPONDING;
    lws_callback_on_writable (conn->wsi);
}

static void
s_fail_inflight (sb_conn_t *conn, int status, const char *message, const char *code)
{
    if (conn->state == S_ROUTED) {
        s_release (conn);
        s_respond_error (conn, status, message, code);
    } else if (conn->state == S_STREAMING) {
        s_release (conn);
        char event[1200];
        char body[1024];
        sb_oai_error_body (body, sizeof body, status, message, NULL, code);
        int n = snprintf (event, sizeof event, "data: %s\n\ndata: [DONE]\n\n", body);
        s_out_chunk (conn, event, (size_t)n);
        s_out_last_chunk (conn);
        conn->state = S_RESPONDING;
        lws_callback_on_writable (conn->wsi);
    }
}

void
sb_ingress_on_router_lost (sb_conn_t *conn)
{
    s_fail_inflight (conn, 503, "The gateway's router is unavailable; please retry.",
                     "router_unavailable");
}

//  -------------------------------------------------------------------------
//  Requests.

//  A fresh request id ("req_" and 24 hex digits) into out.
static void
s_new_trace_id (char *out, size_t size)
{
    static uint64_t counter;
    static uint64_t seed;
    if (!seed) seed = sb_wall_us () ^ ((uint64_t)getpid () << 40);
    uint64_t x = seed + ++counter * 0x9e3779b97f4a7c15ULL;
    x ^= x >> 31;
    x *= 0xbf58476d1ce4e5b9ULL;
    x ^= x >> 29;
    //  "req_" + 16 + 8 hex digits, written by hand (this runs for every request).
    static const char hex[] = "0123456789abcdef";
    char id[29] = "req_";
    for (int i = 0; i < 16; i++)
        id[4 + i] = hex[(x >> (60 - 4 * i)) & 15];
    for (int i = 0; i < 8; i++)
        id[20 + i] = hex[(counter >> (28 - 4 * i)) & 15];
    id[28] = '\0';
    sb_out_t o = sb_out (out, size);
    sb_out_mem (&o, id, 28);
}

static void
s_set_trace_id (sb_conn_t *conn)
{
    char given[S_TRACE_MAX + 2];
    int n = lws_hdr_custom_copy (conn->wsi, given, sizeof given, "x-request-id:", 13);
    bool ok = n > 0 && n <= S_TRACE_MAX;
    for (int i = 0; ok && i < n; i++)
        if (given[i] < 0x21 || given[i] > 0x7e) ok = false;
    if (ok) {
        memcpy (conn->trace_id, given, (size_t)n + 1);
        return;
    }
    s_new_trace_id (conn->trace_id, sizeof conn->trace_id);
}

//  True unless the request line says HTTP/1.1: the test lws makes (lws_http_action)
//  to choose the version of its status line and the connection's keep-alive default.
static bool
s_request_is_http10 (sb_conn_t *conn)
{
    char version[12];
    int n = lws_hdr_copy (conn->wsi, version, (int)sizeof version - 1, WSI_TOKEN_HTTP);
    return !(n > 7 && version[5] == '1' && version[7] == '1');
}

//  The bearer key → the key entry, or NULL (401).
#define S_AUTH_CACHE_SLOTS  64
#define S_AUTH_CACHE_SECRET 128

static const sb_key_t *
s_authenticate (sb_conn_t *conn)
{
    char auth[512];
    int n = lws_hdr_copy (conn->wsi, auth, sizeof auth, WSI_TOKEN_HTTP_AUTHORIZATION);
    if (n <= 7 || strncasecmp (auth, "Bearer ", 7) != 0) return NULL;
    const char *secret = auth + 7;
    while (*secret == ' ')
        secret++;
    size_t len = strlen (secret);
    while (len > 0 && secret[len - 1] == ' ')
        len--;
    if (!sb_ingress.config || len == 0) return NULL;
    //  Keys seen lately skip the SHA-256 (a third of the ingress's own work per
    //  request): a small cache of secrets that matched, for this snapshot only,
    //  compared in constant time. Secrets that did not match are never kept.
    static struct {
        uint64_t config_gen; // + 1: 0 is an empty slot
        const sb_key_t *key;
        size_t len;
        char secret[S_AUTH_CACHE_SECRET];
    } cache[S_AUTH_CACHE_SLOTS];
    uint64_t h = 0xcbf29ce484222325ULL; // FNV-1a: picks the slot only
    for (size_t i = 0; i < len; i++)
        h = (h ^ (unsigned char)secret[i]) * 0x100000001b3ULL;
    size_t slot = (size_t)(h % S_AUTH_CACHE_SLOTS);
    if (cache[slot].config_gen == sb_ingress.config_gen + 1 && cache[slot].len == len &&
        CRYPTO_memcmp (cache[slot].secret, secret, len) == 0)
        return cache[slot].key;
    const sb_key_t *key = sb_config_key_by_secret (sb_ingress.config, secret, len);
    if (key && len <= sizeof cache[slot].secret) {
        cache[slot].config_gen = sb_ingress.config_gen + 1;
        cache[slot].key = key;
        cache[slot].len = len;
        memcpy (cache[slot].secret, secret, len);
    }
    return key;
}

static void
s_handle_models (sb_conn_t *conn)
{
    const sb_key_t *key = s_authenticate (conn);
    if (!key) {
        s_respond_error (conn, 401, "Incorrect API key provided.", "invalid_api_key");
        return;
    }
    //  Group names and the models of the key's groups, each once.
    json_t *data = json_array ();
    json_t *seen = json_object ();
    for (size_t g = 0; g < key->group_count; g++) {
        const sb_group_t *group = sb_config_group (sb_ingress.config, key->groups[g]);
        for (size_t m = 0; m <= group->model_count; m++) {
            const char *id = m == 0 ? group->name : group->models[m - 1];
            if (json_object_get (seen, id)) continue;
            json_object_set_new (seen, id, json_true ());
            json_array_append_new (data,
                                   json_pack ("{s:s,s:s,s:i,s:s}", "id", id, "object", "model",
                                              "created", 0, "owned_by", group->name));
        }
    }
    json_t *doc = json_pack ("{s:s,s:o}", "object", "list", "data", data);
    char *text = json_dumps (doc, JSON_COMPACT);
    s_respond (conn, 200, "application/json", text, strlen (text), NULL, 0);
    free (text);
    json_decref (doc);
    json_decref (seen);
}

//  True when two recorded top-level members share a name (decoded); the name goes to out.
static bool
s_duplicate_key (const sb_json_member_t *m, size_t count, char *out, size_t out_size)
{
    char a[SB_MAX_NAME + 1], b[SB_MAX_NAME + 1];
    for (size_t i = 0; i < count; i++) {
        bool ia = memchr (m[i].key, '\\', m[i].key_len) != NULL;
        int la = -1;
        for (size_t j = i + 1; j < count; j++) {
            bool same;
            if (!ia && !memchr (m[j].key, '\\', m[j].key_len))
                //  The common case: no escapes, the raw names are the names.
                same =
                    m[i].key_len == m[j].key_len && memcmp (m[i].key, m[j].key, m[i].key_len) == 0;
            else {
                //  Compared with their quotes so sb_json_unescape can decode them.
                if (la < 0) la = sb_json_unescape (m[i].key - 1, m[i].key_len + 2, a, sizeof a);
                int lb = sb_json_unescape (m[j].key - 1, m[j].key_len + 2, b, sizeof b);
                same = (la >= 0 && lb >= 0) ? (la == lb && memcmp (a, b, (size_t)la) == 0)
                                            : (m[i].key_len == m[j].key_len &&
                                               memcmp (m[i].key, m[j].key, m[i].key_len) == 0);
            }
            if (same) {
                snprintf (out, out_size, "%.*s", (int)m[i].key_len, m[i].key);
                return true;
            }
        }
    }
    return false;
}

static void
s_handle_chat (sb_conn_t *conn)
{
    sb_ingress_t *self = &sb_ingress;
    self->requests++;
    const sb_key_t *key = s_authenticate (conn);
    if (!key) {
        s_respond_error (conn, 401,
                         "Incorrect API key provided. Send it as 'Authorization: Bearer <key>'.",
                         "invalid_api_key");
        return;
    }
    snprintf (conn->key_name, sizeof conn->key_name, "%s", key->name);
    if (conn->body_too_large) {
        char msg[128];
        snprintf (msg, sizeof msg, "Request body too large: the limit is %zu bytes.",
                  self->settings.max_body);
        s_respond_error (conn, 413, msg, "request_too_large");
        return;
    }
    sb_json_member_t members[64];
    size_t count = 0;
    const char *why = NULL;
    size_t where = 0;
    if (sb_json_scan_object (conn->body, conn->body_len, members, 64, &count, &why, &where) != 0) {
        char msg[200];
        snprintf (msg, sizeof msg,
                  "We could not parse the JSON body of your request: %s at byte %zu.", why, where);
        s_respond_error (conn, 400, msg, "invalid_json");
        return;
    }
    if (count > 64) {
        s_respond_error (conn, 400, "Too many top-level fields in the request body.", NULL);
        return;
    }
    //  A key given twice would be read one way here (first) and another way by the
    //  provider (usually last): `model` authorised for the key is not the model
    //  served. Refuse duplicates, comparing names as decoded (\u escapes too).
    char dup[SB_MAX_NAME + 1];
    if (s_duplicate_key (members, count, dup, sizeof dup)) {
        char msg[SB_MAX_NAME + 96];
        snprintf (msg, sizeof msg, "The request body has the field '%s' more than once.", dup);
        s_respond_error (conn, 400, msg, "duplicate_field");
        return;
    }
    const sb_json_member_t *model = sb_json_find (members, count, "model");
    const sb_json_member_t *messages = sb_json_find (members, count, "messages");
    if (!model || model->type != SB_JSON_STRING) {
        s_respond_error (conn, 400, "you must provide a model parameter", "missing_model");
        return;
    }
    int model_len_decoded =
        sb_json_unescape (model->value, model->value_len, conn->model, sizeof conn->model);
    if (model_len_decoded < 0) {
        conn->model[0] = '\0';
        s_respond_error (conn, 400, "The model name is too long.", "invalid_model");
        return;
    }
    if (model_len_decoded == 0 || strlen (conn->model) != (size_t)model_len_decoded) {
        conn->model[0] = '\0';
        s_respond_error (conn, 400, "The model name is empty or contains a NUL character.",
                         "invalid_model");
        return;
    }
    if (!messages || messages->type != SB_JSON_ARRAY) {
        s_respond_error (conn, 400, "Missing required parameter: 'messages'.", "missing_messages");
        return;
    }
    const sb_json_member_t *stream = sb_json_find (members, count, "stream");
    if (stream && stream->type != SB_JSON_TRUE && stream->type != SB_JSON_FALSE &&
        stream->type != SB_JSON_NULL) {
        s_respond_error (conn, 400, "Invalid type for 'stream': expected a boolean.", NULL);
        return;
    }
    conn->stream = stream && stream->type == SB_JSON_TRUE;
    if (conn->stream) conn->http10 = s_request_is_http10 (conn);
    bool include_usage = false;
    const sb_json_member_t *opts = sb_json_find (members, count, "stream_options");
    if (opts && opts->type == SB_JSON_OBJECT) {
        sb_json_member_t inner[16];
        size_t n = 0;
        if (sb_json_scan_object (opts->value, opts->value_len, inner, 16, &n, NULL, NULL) == 0) {
            const sb_json_member_t *iu = sb_json_find (inner, n < 16 ? n : 16, "include_usage");
            include_usage = iu && iu->type == SB_JSON_TRUE;
        }
    }
    size_t model_len = strlen (conn->model);
    const sb_group_t *group = sb_config_resolve_model (self->config, key, conn->model, model_len);
    if (!group) {
        char msg[SB_MAX_NAME + 96];
        snprintf (msg, sizeof msg, "The model `%s` does not exist or you do not have access to it.",
                  conn->model);
        s_respond_error (conn, 404, msg, "model_not_found");
        return;
    }
    if (sb_ingress_slot_acquire (conn, &conn->id) != 0) {
        s_respond_error (conn, 503, "The gateway is at its limit of requests in flight; retry.",
                         "overloaded");
        return;
    }
    uint32_t total_ms = group->timeouts.total_ms ? group->timeouts.total_ms : 60000;
    sb_msg_t msg = {.type = SB_MSG_CHAT};
    msg.chat.id = conn->id;
    msg.chat.key_name = sb_bytes_str (key->name);
    msg.chat.group = sb_bytes_str (group->name);
    msg.chat.model = sb_bytes (conn->model, model_len);
    msg.chat.stream = conn->stream;
    msg.chat.include_usage = include_usage;
    msg.chat.body = sb_bytes (conn->body, conn->body_len);
    msg.chat.deadline_ms = sb_wall_ms () + total_ms;
    msg.chat.trace_id = sb_bytes_str (conn->trace_id);
    msg.chat.received_us = sb_wall_us ();
    const sb_json_member_t *tools = sb_json_find (members, count, "tools");
    if (tools && tools->type == SB_JSON_ARRAY) {
        msg.chat.tools_at = (uint64_t)(tools->value - conn->body);
        msg.chat.tools_len = tools->value_len;
    }
    if (sb_ingress_link_send (&msg) != 0) {
        s_release (conn);
        self->router_unavailable++;
        s_respond_error (conn, 503, "The gateway's router is unavailable; please retry.",
                         "router_unavailable");
        return;
    }
    conn->state = S_ROUTED;
    conn->routed = true;
    conn->deadline_us = sb_mono_us () + (uint64_t)total_ms * 1000u + S_DEADLINE_PAD;
    conn->last_write_us = sb_mono_us ();
    uint64_t first = self->settings.ping_ms * 1000ull;
    if (first > (uint64_t)total_ms * 1000u + S_DEADLINE_PAD)
        first = (uint64_t)total_ms * 1000u + S_DEADLINE_PAD;
    lws_set_timer_usecs (conn->wsi, (lws_usec_t)first);
}

static void
s_reset (sb_conn_t *conn)
{
    free (conn->body);
    conn->body = NULL;
    conn->body_len = conn->body_cap = 0;
    conn->body_too_large = false;
    conn->stream = false;
    conn->head = false;
    conn->http10 = false;
    conn->state = S_IDLE;
    conn->is_chat = false;
    conn->routed = false;
    conn->key_name[0] = '\0';
    conn->model[0] = '\0';
}

static int
s_on_body (sb_conn_t *conn, const char *in, size_t len)
{
    size_t limit = sb_ingress.settings.max_body;
    if (conn->body_too_large || conn->body_len + len > limit) {
        conn->body_too_large = true; // keep reading to the end, then answer 413
        return 0;
    }
    if (conn->body_len + len > conn->body_cap) {
        size_t cap = conn->body_cap ? conn->body_cap : 4096;
        while (cap < conn->body_len + len)
            cap *= 2;
        if (cap > limit) cap = limit;
        char *body = realloc (conn->body, cap);
        if (!body) return -1;
        conn->body = body;
        conn->body_cap = cap;
    }
    memcpy (conn->body + conn->body_len, in, len);
    conn->body_len += len;
    return 0;
}

static int
s_on_http (sb_conn_t *conn, const char *path)
{
    sb_ingress_t *self = &sb_ingress;
    s_reset (conn);
    s_set_trace_id (conn);
    bool is_post = lws_hdr_total_length (conn->wsi, WSI_TOKEN_POST_URI) > 0;
    bool is_get = lws_hdr_total_length (conn->wsi, WSI_TOKEN_GET_URI) > 0;
    //  HEAD is GET without the body: the routes a GET reaches answer it (s_respond
    //  leaves the body out), and so do the errors.
    conn->head = !is_post && !is_get && lws_hdr_total_length (conn->wsi, WSI_TOKEN_HEAD_URI) > 0;
    is_get = is_get || conn->head;

    if (strcmp (path, "/v1/chat/completions") == 0 || strcmp (path, "/chat/completions") == 0) {
        conn->is_chat = true;
        conn->received_us = sb_wall_us ();
        if (!is_post) {
            s_respond_error_extra (conn, 405, "Use POST for /v1/chat/completions.",
                                   "method_not_allowed", "Allow: POST\r\n");
            return 0;
        }
        char clen[32];
        if (lws_hdr_copy (conn->wsi, clen, sizeof clen, WSI_TOKEN_HTTP_CONTENT_LENGTH) <= 0) {
            //  lws 4.1 does not hand chunked request bodies to a server: without a
            //  length there would be no body and no answer.
            conn->close_after = true;
            s_respond_error (conn, 411, "A Content-Length header is required.", "length_required");
            return 0;
        }
        {
            unsigned long long declared = strtoull (clen, NULL, 10);
            if (declared > (unsigned long long)self->settings.max_body * S_MAX_DISCARD) {
                //  Too big even to read and drop: answer now and close.
                conn->close_after = true;
                char msg[128];
                snprintf (msg, sizeof msg, "Request body too large: the limit is %zu bytes.",
                          self->settings.max_body);
                s_respond_error (conn, 413, msg, "request_too_large");
                return 0;
            }
        }
        conn->state = S_BODY;
        return 0;
    }
    if (is_get && (strcmp (path, "/v1/models") == 0 || strcmp (path, "/models") == 0)) {
        s_handle_models (conn);
        return 0;
    }
    if (is_get && strcmp (path, "/healthz") == 0) {
        static const char ok[] = "{\"status\":\"ok\"}";
        s_respond (conn, 200, "application/json", ok, sizeof ok - 1, NULL, 0);
        return 0;
    }
    if (is_get && strcmp (path, "/readyz") == 0) {
        char body[160];
        bool ready = self->config && self->router_up;
        int n = snprintf (body, sizeof body, "{\"status\":\"%s\",\"config\":%s,\"router\":%s}",
                          ready ? "ready" : "not_ready", self->config ? "true" : "false",
                          self->router_up ? "true" : "false");
        s_respond (conn, ready ? 200 : 503, "application/json", body, (size_t)n, NULL, 0);
        return 0;
    }
    char msg[160];
    snprintf (msg, sizeof msg, "Invalid URL (%s %.100s)",
              is_post      ? "POST"
              : conn->head ? "HEAD"
              : is_get     ? "GET"
                           : "?",
              path);
    if (is_post) conn->close_after = true; // don't parse an unread body as the next request
    s_respond_error (conn, 404, msg, "unknown_url");
    return 0;
}

static int
s_on_writeable (sb_conn_t *conn)
{
    if (conn->out_len) {
        bool final = conn->state == S_RESPONDING;
        int n = lws_write (conn->wsi, conn->out + LWS_PRE, conn->out_len,
                           final ? LWS_WRITE_HTTP_FINAL : LWS_WRITE_HTTP);
        if (n < 0) return -1;
        conn->out_len = 0;
        conn->last_write_us = sb_mono_us ();
        //  Give back a buffer that grew for one large response.
        if (conn->out_cap > (1u << 20)) {
            free (conn->out);
            conn->out = NULL;
            conn->out_cap = 0;
        }
    }
    if (conn->state == S_RESPONDING) {
        bool close_after = conn->close_after;
        s_reset (conn);
        lws_set_timer_usecs (conn->wsi, LWS_SET_TIMER_USEC_CANCEL);
        if (close_after) return -1;
        if (lws_http_transaction_completed (conn->wsi)) return -1;
    }
    return 0;
}

static void
s_on_timer (sb_conn_t *conn)
{
    uint64_t now = sb_mono_us ();
    if (conn->state != S_ROUTED && conn->state != S_STREAMING) return;
    if (now >= conn->deadline_us) {
        s_cancel_upstream (conn);
        conn->id = 0;
        //  s_fail_inflight needs the state; the slot is already released.
        if (conn->state == S_ROUTED)
            s_respond_error (conn, 504, "The request timed out at the gateway.", "timeout");
        else
            s_fail_inflight (conn, 504, "The request timed out at the gateway.", "timeout");
        return;
    }
    uint64_t ping_us = sb_ingress.settings.ping_ms * 1000ull;
    if (conn->state == S_STREAMING && conn->out_len == 0 && now - conn->last_write_us >= ping_us) {
        //  An SSE comment: ignored by clients, but a write that fails tells us the
        //  client has gone (lws 4.1 misses some half-closed sockets otherwise).
        s_out_chunk (conn, ": ping\n\n", 8);
        lws_callback_on_writable (conn->wsi);
    }
    uint64_t next = ping_us;
    if (conn->deadline_us - now < next) next = conn->deadline_us - now;
    lws_set_timer_usecs (conn->wsi, (lws_usec_t)(next ? next : 1000));
}

//  -------------------------------------------------------------------------
//  Request headers larger than lws's store (SB_MAX_HEADER_BYTES). lws 4.1 has no
//  callback for it, nor any hook on the connection before it goes: lws_parse fails,
//  lws logs "Ran out of header data space" (or, for too many header lines, "More hdr
//  frags than we can deal with"), drops the headers and closes the connection in the
//  same call, shutting its sending side first; a connection on its first request is
//  not even bound to this protocol yet, so no close callback comes either. What lws
//  does give, synchronously on this thread, is its log. The emitter sees the overflow
//  line and turns lws's info lines on for the rest of that call; they name the
//  connection whose headers lws detaches ("wsi %p: ah %p") and, when lws is about to
//  shut that one down, its socket ("shutdown conn: %p (sk %d"). There the 431 goes to
//  the socket, ahead of the shutdown: the client reads the answer, then the end. The
//  info lines go off again then, or at the end of the service round whatever happened.
//  Nothing of this runs for a request that fits. The lines are lws 4.1's (Debian's
//  libwebsockets17): with others, no 431 is sent and the connection closes as before,
//  which tests/e2e/test/http.test.mjs reports.

#define S_LOG_LEVEL (LLL_ERR | LLL_WARN)

static struct {
    bool armed;    // an overflow was logged in this lws call: info lines are on
    uintptr_t wsi; // the connection lws detached the headers of (0: not yet seen)
} s_overflow;

void
sb_ingress_http_log_start (void)
{
    lws_set_log_level (S_LOG_LEVEL, sb_ingress_http_log);
}

static void
s_overflow_end (void)
{
    s_overflow.armed = false;
    s_overflow.wsi = 0;
    lws_set_log_level (S_LOG_LEVEL, sb_ingress_http_log);
}

void
sb_ingress_http_round_done (void)
{
    if (s_overflow.armed) s_overflow_end ();
}

//  The number (%p or %d as printed) after `prefix` at the start of `line`, and where
//  it ends; -1 when the line does not start so or no number follows.
static int
s_log_number (const char *line, const char *prefix, int base, uintptr_t *value, const char **rest)
{
    size_t n = strlen (prefix);
    if (strncmp (line, prefix, n) != 0) return -1;
    char *end;
    errno = 0;
    unsigned long long v = strtoull (line + n, &end, base);
    if (errno || end == line + n) return -1;
    *value = (uintptr_t)v;
    *rest = end;
    return 0;
}

static void
s_answer_headers_too_large (int fd)
{
    char trace_id[72], msg[128], body[512], response[1024];
    s_new_trace_id (trace_id, sizeof trace_id); // the client's own is gone with the headers
    snprintf (msg, sizeof msg, "Request header fields too large: the limit is %u bytes.",
              (unsigned)sb_ingress.settings.max_header);
    size_t len = sb_oai_error_body (body, sizeof body, 431, msg, NULL, "headers_too_large");
    int n = snprintf (response, sizeof response,
                      "HTTP/1.1 431 Request Header Fields Too Large\r\n"
                      "content-type: application/json\r\ncontent-length: %zu\r\n"
                      "x-request-id: %s\r\nconnection: close\r\n\r\n%s",
                      len, trace_id, body);
    if (n <= 0 || (size_t)n >= sizeof response) return;
    s_count_status (431);
    //  A socket lws has just read headers from takes these few hundred bytes whole;
    //  if it cannot, the client gets what went out, then the end, as without this.
    //  (lws 4.1 closes without draining what the client still sends: one still
    //  writing a header of megabytes may see a reset before it reads this.)
    send (fd, response, (size_t)n, MSG_NOSIGNAL | MSG_DONTWAIT);
}

void
sb_ingress_http_log (int level, const char *line)
{
    if (level & S_LOG_LEVEL) {
        lwsl_emit_stderr (level, line);
        if (strstr (line, "Ran out of header data space") ||
            strstr (line, "More hdr frags than we can deal with")) {
            s_overflow.armed = true;
            s_overflow.wsi = 0;
            lws_set_log_level (S_LOG_LEVEL | LLL_INFO, sb_ingress_http_log);
        }
        return;
    }
    if (!s_overflow.armed || level != LLL_INFO) return;
    //  The first detach after the overflow is the failing connection's (lws detaches
    //  before it services anything else); its shutdown line carries its socket.
    uintptr_t wsi, fd;
    const char *rest;
    if (!s_overflow.wsi) {
        if (s_log_number (line, "__lws_header_table_detach: wsi ", 16, &wsi, &rest) == 0 &&
            strncmp (rest, ": ah ", 5) == 0)
            s_overflow.wsi = wsi;
    } else if (s_log_number (line, "__lws_close_free_wsi: shutdown conn: ", 16, &wsi, &rest) == 0 &&
               wsi == s_overflow.wsi && s_log_number (rest, " (sk ", 10, &fd, &rest) == 0 &&
               fd <= INT_MAX) {
        s_answer_headers_too_large ((int)fd);
        s_overflow_end ();
    }
}

int
sb_ingress_http_callback (struct lws *wsi, enum lws_callback_reasons reason, void *user, void *in,
                          size_t len)
{
    sb_conn_t *conn = user;
    if (!conn) //  lws calls some reasons on a connection whose transaction state is gone
        return lws_callback_http_dummy (wsi, reason, user, in, len);
    switch (reason) {
        case LWS_CALLBACK_HTTP:
            conn->wsi = wsi;
            return s_on_http (conn, (const char *)in);
        case LWS_CALLBACK_HTTP_BODY:
            if (conn->state != S_BODY) return 0;
            return s_on_body (conn, in, len);
        case LWS_CALLBACK_HTTP_BODY_COMPLETION:
            if (conn->state != S_BODY) return 0;
            s_handle_chat (conn);
            return 0;
        case LWS_CALLBACK_HTTP_WRITEABLE:
            return s_on_writeable (conn);
        case LWS_CALLBACK_TIMER:
            s_on_timer (conn);
            sb_ingress_link_kick (); // timers run before lws polls
            return 0;
        case LWS_CALLBACK_CLOSED_HTTP: //  the client went away: stop the upstream transfer too
        case LWS_CALLBACK_HTTP_DROP_PROTOCOL:
            s_cancel_upstream (conn);
            sb_ingress_link_kick (); // lws closes timed-out connections before it polls
            s_reset (conn);
            free (conn->out);
            conn->out = NULL;
            conn->out_cap = conn->out_len = 0;
            return 0;
        default:
            break;
    }
    return lws_callback_http_dummy (wsi, reason, user, in, len);
}
