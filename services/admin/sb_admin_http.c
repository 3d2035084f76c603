/*  sb_admin_http — request parsing, auth, body limits and response writing for
    admin; what a request means is sb_admin_api's business. Responses carry
    "cache-control: no-store": some hold a secret shown once.  */

#include "sb_admin_http.h"
#include "sb_admin_logs.h"
#include "sb_admin_page.h"
#include "sb_oai_error.h"

#include <openssl/crypto.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define S_MAX_PATH 1024

typedef enum {
    S_IDLE = 0,   // between transactions
    S_BODY,       // receiving a request body
    S_WAITING,    // a logs query is with the Redis thread (ticket)
    S_RESPONDING, // response queued in out, written on WRITEABLE
} s_state_t;

//  Per-connection state, allocated (zeroed) by lws. Invariants: body_len <=
//  SB_ADMIN_MAX_BODY; out_len bytes wait at out + LWS_PRE while S_RESPONDING.
typedef struct {
    struct lws *wsi;
    s_state_t state;
    sb_admin_method_t method;
    char path[S_MAX_PATH + 1]; // decoded, without "/api/"
    char *body;
    size_t body_len, body_cap;
    bool too_large; // body went past the limit: answered 413 at its end
    unsigned char *out;
    size_t out_len, out_cap;
    bool close_after; // close instead of keeping the connection alive
    uint64_t ticket;  // S_WAITING: the Redis thread's ticket
} s_conn_t;

//  Headers of the dashboard's files: the page handles the admin token, so it
//  loads nothing from elsewhere, runs no inline script and cannot be framed.
static const struct {
    const char *name, *value;
} s_page_headers[] = {
    {"content-security-policy:",
     "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
     "connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"},
    {"x-content-type-options:", "nosniff"},
    {"x-frame-options:", "DENY"},
    {"referrer-policy:", "no-referrer"},
};

size_t
sb_admin_http_conn_size (void)
{
    return sizeof (s_conn_t);
}

static sb_admin_http_ctx_t *
s_ctx (struct lws *wsi)
{
    return (sb_admin_http_ctx_t *)lws_get_protocol (wsi)->user;
}

static void
s_free_out (s_conn_t *conn)
{
    //  The buffer may have held a secret shown once.
    if (conn->out) OPENSSL_cleanse (conn->out, conn->out_cap);
    free (conn->out);
    conn->out = NULL;
    conn->out_cap = conn->out_len = 0;
}

static void
s_reset (s_conn_t *conn)
{
    if (conn->body) OPENSSL_cleanse (conn->body, conn->body_len);
    free (conn->body);
    conn->body = NULL;
    conn->body_len = conn->body_cap = 0;
    conn->too_large = false;
    conn->state = S_IDLE;
}

//  Queues a whole response (headers + body) for one lws_write. `page`: add the
//  dashboard's security headers.
static int
s_respond_as (s_conn_t *conn, int status, const char *type, bool page, const void *body, size_t len)
{
    sb_admin_http_ctx_t *ctx = s_ctx (conn->wsi);
    if (ctx->own) {
        char labels[32];
        snprintf (labels, sizeof labels, "status=%d", status);
        sb_metrics_add (ctx->own, "sb_admin_http_responses_total", labels, 1);
    }
    size_t need = LWS_PRE + 2048 + len;
    if (conn->out_cap < need) {
        s_free_out (conn);
        conn->out = malloc (need);
        if (!conn->out) return -1;
        conn->out_cap = need;
    }
    unsigned char *start = conn->out + LWS_PRE, *p = start, *end = conn->out + conn->out_cap;
    if (lws_add_http_common_headers (conn->wsi, (unsigned int)status | LWSAHH_FLAG_NO_SERVER_NAME,
                                     type, (lws_filepos_t)len, &p, end) ||
        lws_add_http_header_by_token (conn->wsi, WSI_TOKEN_HTTP_CACHE_CONTROL,
                                      (const unsigned char *)"no-store", 8, &p, end))
        return -1;
    for (size_t i = 0; page && i < sizeof s_page_headers / sizeof s_page_headers[0]; i++)
        if (lws_add_http_header_by_name (conn->wsi, (const unsigned char *)s_page_headers[i].name,
                                         (const unsigned char *)s_page_headers[i].value,
                                         (int)strlen (s_page_headers[i].value), &p, end))
            return -1;
    if (status == 401 && lws_add_http_header_by_token (conn->wsi, WSI_TOKEN_HTTP_WWW_AUTHENTICATE,
                                                       (const unsigned char *)"Bearer", 6, &p, end))
        return -1;
    if (conn->close_after &&
        lws_add_http_header_by_token (conn->wsi, WSI_TOKEN_CONNECTION,
                                      (const unsigned char *)"close", 5, &p, end))
        return -1;
    if (lws_finalize_http_header (conn->wsi, &p, end)) return -1;
    if ((size_t)(end - p) < len) return -1;
    if (len) memcpy (p, body, len);
    conn->out_len = (size_t)(p - start) + len;
    conn->state = S_RESPONDING;
    lws_callback_on_writable (conn->wsi);
    return 0;
}

static int
s_respond (s_conn_t *conn, int status, const char *body, size_t len)
{
    return s_respond_as (conn, status, "application/json", false, body, len);
}

static int
s_respond_error (s_conn_t *conn, int status, const char *message, const char *code)
{
    char body[1024];
    size_t n = sb_oai_error_body (body, sizeof body, status, message, NULL, code);
    return s_respond (conn, status, body, n);
}

static int
s_respond_reply (s_conn_t *conn, sb_admin_reply_t *reply)
{
    int rc = reply->body ? s_respond (conn, reply->status, reply->body, reply->len)
                         : s_respond_error (conn, 500, "Out of memory", "internal_error");
    if (reply->body) OPENSSL_cleanse (reply->body, reply->len);
    free (reply->body);
    reply->body = NULL;
    return rc;
}

static sb_admin_method_t
s_method (struct lws *wsi, const char **name)
{
    static const struct {
        enum lws_token_indexes token;
        sb_admin_method_t method;
        const char *name;
    } methods[] = {
        {WSI_TOKEN_GET_URI, SB_ADMIN_GET, "GET"},
        {WSI_TOKEN_POST_URI, SB_ADMIN_POST, "POST"},
        {WSI_TOKEN_PUT_URI, SB_ADMIN_PUT, "PUT"},
        {WSI_TOKEN_PATCH_URI, SB_ADMIN_PATCH, "PATCH"},
        {WSI_TOKEN_DELETE_URI, SB_ADMIN_DELETE, "DELETE"},
    };
    for (size_t i = 0; i < sizeof methods / sizeof methods[0]; i++)
        if (lws_hdr_total_length (wsi, methods[i].token) > 0) {
            *name = methods[i].name;
            return methods[i].method;
        }
    *name = "?";
    return SB_ADMIN_OTHER;
}

static bool
s_authorized (s_conn_t *conn)
{
    char header[600];
    int n = lws_hdr_copy (conn->wsi, header, sizeof header, WSI_TOKEN_HTTP_AUTHORIZATION);
    bool ok = n > 0 && sb_admin_auth_check (s_ctx (conn->wsi)->auth, header, (size_t)n);
    OPENSSL_cleanse (header, sizeof header);
    return ok;
}

static int
s_handle_api (s_conn_t *conn)
{
    sb_admin_reply_t reply = {0};
    sb_admin_api_handle (s_ctx (conn->wsi)->api, conn->method, conn->path,
                         conn->body ? conn->body : "", conn->body_len, &reply);
    s_reset (conn);
    return s_respond_reply (conn, &reply);
}

//  GET /metrics: Prometheus text exposition format 0.0.4.
static int
s_handle_metrics (s_conn_t *conn)
{
    sb_admin_http_ctx_t *ctx = s_ctx (conn->wsi);
    if (conn->method != SB_ADMIN_GET)
        return s_respond_error (conn, 405, "Use GET for /metrics.", "method_not_allowed");
    if (ctx->metrics_need_token && !s_authorized (conn))
        return s_respond_error (conn, 401,
                                "Missing or invalid admin token (Authorization: Bearer <token>).",
                                "invalid_admin_token");
    if (!ctx->metrics) return s_respond_error (conn, 404, "No metrics here.", "unknown_url");
    if (ctx->refresh) ctx->refresh (ctx->refresh_arg);
    size_t len = 0;
    char *text = sb_admin_metrics_prometheus (ctx->metrics, &len);
    if (!text) return s_respond_error (conn, 500, "Out of memory", "internal_error");
    int rc = s_respond_as (conn, 200, "text/plain; version=0.0.4; charset=utf-8", false, text, len);
    free (text);
    return rc;
}

static int
s_wait (s_conn_t *conn, uint64_t ticket)
{
    sb_admin_http_ctx_t *ctx = s_ctx (conn->wsi);
    for (size_t i = 0; ticket && i < SB_ADMIN_REDIS_MAX_JOBS; i++)
        if (!ctx->waiting_ticket[i]) {
            ctx->waiting_ticket[i] = ticket;
            ctx->waiting_conn[i] = conn;
            conn->ticket = ticket;
            conn->state = S_WAITING;
            return 0;
        }
    //  The Redis thread refused (its queue is full); or, never (the table has as
    //  many slots as the thread has jobs), no slot: the answer will be dropped.
    return s_respond_error (conn, 503, "Too many log queries at once; try again.", "busy");
}

static void
s_unwait (s_conn_t *conn)
{
    if (!conn->ticket) return;
    sb_admin_http_ctx_t *ctx = s_ctx (conn->wsi);
    for (size_t i = 0; i < SB_ADMIN_REDIS_MAX_JOBS; i++)
        if (ctx->waiting_ticket[i] == conn->ticket) {
            ctx->waiting_ticket[i] = 0;
            ctx->waiting_conn[i] = NULL;
        }
    conn->ticket = 0;
}

//  GET /api/logs (filters in the query) and GET /api/logs/{request_id}: queued
//  to the Redis thread; the connection waits (sb_admin_http_logs_done).
static int
s_handle_logs (s_conn_t *conn)
{
    sb_admin_http_ctx_t *ctx = s_ctx (conn->wsi);
    if (conn->method != SB_ADMIN_GET)
        return s_respond_error (conn, 405, "Use GET for request logs.", "method_not_allowed");
    if (!ctx->redis)
        return s_respond_error (conn, 503, "Request logs are not configured.", "logs_unavailable");
    if (conn->path[4] == '/') {
        const char *id = conn->path + 5;
        if (!sb_admin_logs_valid_id (id))
            return s_respond_error (conn, 400,
                                    "A request id is 1 to 256 printable characters without '/'.",
                                    "invalid_value");
        return s_wait (conn, sb_admin_redis_get (ctx->redis, id));
    }
    sb_admin_logs_filter_t filter;
    sb_admin_logs_filter_init (&filter);
    char arg[700], err[300];
    for (int i = 0;; i++) {
        int n = lws_hdr_copy_fragment (conn->wsi, arg, sizeof arg, WSI_TOKEN_HTTP_URI_ARGS, i);
        if (n == -1) break;
        if (n < 0)
            return s_respond_error (conn, 400, "A query parameter is too long.", "invalid_value");
        char *eq = strchr (arg, '=');
        if (!eq) continue;
        *eq = '\0';
        if (sb_admin_logs_filter_arg (&filter, arg, eq + 1, err, sizeof err))
            return s_respond_error (conn, 400, err, "invalid_value");
    }
    return s_wait (conn, sb_admin_redis_list (ctx->redis, &filter));
}

void
sb_admin_http_logs_done (sb_admin_http_ctx_t *ctx, sb_admin_redis_result_t **result_p)
{
    sb_admin_redis_result_t *r = *result_p;
    for (size_t i = 0; r && i < SB_ADMIN_REDIS_MAX_JOBS; i++) {
        if (ctx->waiting_ticket[i] != r->ticket) continue;
        s_conn_t *conn = ctx->waiting_conn[i];
        ctx->waiting_ticket[i] = 0;
        ctx->waiting_conn[i] = NULL;
        conn->ticket = 0;
        int rc = r->body ? s_respond (conn, r->status, r->body, r->len)
                         : s_respond_error (conn, 500, "Out of memory", "internal_error");
        if (rc) lws_set_timeout (conn->wsi, PENDING_TIMEOUT_USER_REASON_BASE, LWS_TO_KILL_ASYNC);
        break;
    }
    sb_admin_redis_result_destroy (result_p);
}

static int
s_on_http (s_conn_t *conn, const char *path)
{
    s_reset (conn);
    const char *method_name;
    conn->method = s_method (conn->wsi, &method_name);

    if (strcmp (path, "/healthz") == 0) {
        if (conn->method != SB_ADMIN_GET)
            return s_respond_error (conn, 405, "Use GET for /healthz.", "method_not_allowed");
        char body[96];
        int n = snprintf (body, sizeof body, "{\"status\":\"ok\",\"seq\":%llu}",
                          (unsigned long long)sb_admin_clone_seq (s_ctx (conn->wsi)->clone));
        return s_respond (conn, 200, body, (size_t)n);
    }
    bool has_body = conn->method == SB_ADMIN_POST || conn->method == SB_ADMIN_PUT ||
                    conn->method == SB_ADMIN_PATCH || conn->method == SB_ADMIN_DELETE;
    //  Whatever we answer before reading a body, the unread body must not be
    //  parsed as the next request: close after answering.
    char clen[32];
    unsigned long long declared = 0;
    if (lws_hdr_copy (conn->wsi, clen, sizeof clen, WSI_TOKEN_HTTP_CONTENT_LENGTH) > 0)
        declared = strtoull (clen, NULL, 10);
    const sb_admin_page_file_t *file = sb_admin_page_find (path);
    if (file) {
        conn->close_after = declared > 0;
        if (conn->method != SB_ADMIN_GET)
            return s_respond_error (conn, 405, "Use GET for the dashboard.", "method_not_allowed");
        return s_respond_as (conn, 200, file->content_type, true, file->data, file->len);
    }
    if (strcmp (path, "/metrics") == 0) {
        conn->close_after = declared > 0;
        return s_handle_metrics (conn);
    }
    if (strncmp (path, "/api/", 5) != 0) {
        char msg[200];
        snprintf (msg, sizeof msg, "Invalid URL (%s %.100s)", method_name, path);
        conn->close_after = declared > 0;
        return s_respond_error (conn, 404, msg, "unknown_url");
    }
    if (!s_authorized (conn)) {
        conn->close_after = declared > 0;
        return s_respond_error (conn, 401,
                                "Missing or invalid admin token (Authorization: Bearer <token>).",
                                "invalid_admin_token");
    }
    if (conn->method == SB_ADMIN_OTHER) {
        conn->close_after = declared > 0;
        return s_respond_error (conn, 405, "Method not allowed.", "method_not_allowed");
    }
    size_t plen = strlen (path + 5);
    if (plen > S_MAX_PATH) {
        conn->close_after = declared > 0;
        return s_respond_error (conn, 414, "URL too long.", "uri_too_long");
    }
    memcpy (conn->path, path + 5, plen + 1);
    if (declared > SB_ADMIN_MAX_BODY) {
        conn->close_after = true;
        char msg[128];
        snprintf (msg, sizeof msg, "Request body too large: the limit is %u bytes.",
                  SB_ADMIN_MAX_BODY);
        return s_respond_error (conn, 413, msg, "request_too_large");
    }
    if (has_body && declared == 0 &&
        lws_hdr_total_length (conn->wsi, WSI_TOKEN_HTTP_TRANSFER_ENCODING) > 0) {
        //  lws 4.1 does not decode chunked request bodies: ask for a length.
        conn->close_after = true;
        return s_respond_error (conn, 411, "Send the body with a Content-Length.",
                                "length_required");
    }
    if (strcmp (conn->path, "logs") == 0 || strncmp (conn->path, "logs/", 5) == 0) {
        conn->close_after = declared > 0;
        return s_handle_logs (conn);
    }
    if (has_body && declared > 0) {
        conn->state = S_BODY; // answered at LWS_CALLBACK_HTTP_BODY_COMPLETION
        return 0;
    }
    return s_handle_api (conn);
}

static int
s_on_body (s_conn_t *conn, const void *in, size_t len)
{
    if (conn->too_large) return 0;
    if (!conn->body) {
        //  Content-Length was checked against the limit: allocate it once.
        char clen[32];
        unsigned long long declared = 0;
        if (lws_hdr_copy (conn->wsi, clen, sizeof clen, WSI_TOKEN_HTTP_CONTENT_LENGTH) > 0)
            declared = strtoull (clen, NULL, 10);
        conn->body_cap =
            declared > 0 && declared <= SB_ADMIN_MAX_BODY ? (size_t)declared : SB_ADMIN_MAX_BODY;
        conn->body = malloc (conn->body_cap);
        if (!conn->body) return -1;
    }
    if (len > conn->body_cap - conn->body_len) {
        //  More than the limit (or than Content-Length said): drop it, answer 413
        //  at the end.
        conn->too_large = true;
        return 0;
    }
    memcpy (conn->body + conn->body_len, in, len);
    conn->body_len += len;
    return 0;
}

static int
s_on_body_done (s_conn_t *conn)
{
    if (conn->too_large) {
        conn->close_after = true;
        s_reset (conn);
        char msg[128];
        snprintf (msg, sizeof msg, "Request body too large: the limit is %u bytes.",
                  SB_ADMIN_MAX_BODY);
        return s_respond_error (conn, 413, msg, "request_too_large");
    }
    return s_handle_api (conn);
}

static int
s_on_writeable (s_conn_t *conn)
{
    if (conn->state != S_RESPONDING) return 0;
    if (conn->out_len &&
        lws_write (conn->wsi, conn->out + LWS_PRE, conn->out_len, LWS_WRITE_HTTP_FINAL) < 0)
        return -1;
    conn->out_len = 0;
    //  Give back a buffer that grew for one large response.
    if (conn->out_cap > (64u << 10)) s_free_out (conn);
    s_reset (conn);
    if (conn->close_after) return -1;
    if (lws_http_transaction_completed (conn->wsi)) return -1;
    return 0;
}

int
sb_admin_http_callback (struct lws *wsi, enum lws_callback_reasons reason, void *user, void *in,
                        size_t len)
{
    s_conn_t *conn = user;
    if (!conn) return lws_callback_http_dummy (wsi, reason, user, in, len);
    switch (reason) {
        case LWS_CALLBACK_HTTP:
            conn->wsi = wsi;
            conn->close_after = false;
            if (s_on_http (conn, (const char *)in)) return -1;
            return 0;
        case LWS_CALLBACK_HTTP_BODY:
            if (conn->state != S_BODY) return 0;
            return s_on_body (conn, in, len);
        case LWS_CALLBACK_HTTP_BODY_COMPLETION:
            if (conn->state != S_BODY) return 0;
            return s_on_body_done (conn) ? -1 : 0;
        case LWS_CALLBACK_HTTP_WRITEABLE:
            return s_on_writeable (conn);
        case LWS_CALLBACK_CLOSED_HTTP:
        case LWS_CALLBACK_HTTP_DROP_PROTOCOL:
            if (conn->wsi) s_unwait (conn);
            s_reset (conn);
            s_free_out (conn);
            return 0;
        default:
            break;
    }
    return lws_callback_http_dummy (wsi, reason, user, in, len);
}

int
sb_admin_http_clone_callback (struct lws *wsi, enum lws_callback_reasons reason, void *user,
                              void *in, size_t len)
{
    if (reason == LWS_CALLBACK_RAW_RX_FILE) {
        sb_admin_http_ctx_t *ctx = (sb_admin_http_ctx_t *)lws_get_protocol (wsi)->user;
        if (ctx && ctx->clone) sb_admin_clone_drain (ctx->clone);
    }
    return 0;
}
