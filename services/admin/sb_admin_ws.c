/*  sb_admin_ws — sessions in a list, shared reference-counted messages, one
    lws_write per WRITEABLE.  */

#include "sb_admin_ws.h"

#include <jansson.h>
#include <openssl/crypto.h>
#include <stdbool.h>
#include <sys/socket.h>
#include <stdlib.h>
#include <string.h>

//  A message as lws wants it: LWS_PRE bytes of headroom, then the text. Shared
//  by every queue it is in; freed when the last one lets go. lws writes the
//  frame header into the headroom at each write; all writes happen on the lws
//  thread, one after another, so sharing it is safe (no extensions: the
//  payload itself is never modified on the server side).
typedef struct {
    int refs;
    size_t len;
    unsigned char data[]; // LWS_PRE + len
} s_msg_t;

typedef struct s_session {
    struct lws *wsi;
    struct s_session *prev, *next; // sb_admin_ws_t.sessions
    bool linked;
    bool authed;
    bool dropping; // queue overflowed: being closed
    s_msg_t *queue[SB_ADMIN_WS_MAX_QUEUE];
    size_t head, count, bytes; // invariant: bytes = sum of queued lengths
} s_session_t;

struct _sb_admin_ws_t {
    const sb_admin_auth_t *auth;
    size_t max_queue; // messages per client
    void (*on_watchers) (void *arg, size_t clients);
    void *arg;
    s_session_t *sessions; // every established session
    size_t session_count, authed_count;
    s_msg_t *latest;
    sb_admin_ws_stats_t stats;
};

static s_msg_t *
s_msg_new (const char *text, size_t len)
{
    s_msg_t *m = malloc (sizeof *m + LWS_PRE + len);
    if (!m) return NULL;
    m->refs = 1;
    m->len = len;
    memcpy (m->data + LWS_PRE, text, len);
    return m;
}

static void
s_msg_release (s_msg_t **m_p)
{
    if (*m_p && --(*m_p)->refs == 0) free (*m_p);
    *m_p = NULL;
}

sb_admin_ws_t *
sb_admin_ws_new (const sb_admin_auth_t *auth, size_t max_queue,
                 void (*on_watchers) (void *arg, size_t clients), void *arg)
{
    sb_admin_ws_t *self = calloc (1, sizeof *self);
    if (!self) return NULL;
    self->auth = auth;
    self->max_queue =
        max_queue && max_queue < SB_ADMIN_WS_MAX_QUEUE ? max_queue : SB_ADMIN_WS_MAX_QUEUE;
    self->on_watchers = on_watchers;
    self->arg = arg;
    return self;
}

void
sb_admin_ws_destroy (sb_admin_ws_t **self_p)
{
    if (!self_p || !*self_p) return;
    sb_admin_ws_t *self = *self_p;
    //  Sessions belong to lws (closed with the context, before this).
    s_msg_release (&self->latest);
    free (self);
    *self_p = NULL;
}

size_t
sb_admin_ws_session_size (void)
{
    return sizeof (s_session_t);
}

size_t
sb_admin_ws_clients (const sb_admin_ws_t *self)
{
    return self->authed_count;
}

void
sb_admin_ws_stats (const sb_admin_ws_t *self, sb_admin_ws_stats_t *stats)
{
    *stats = self->stats;
}

static void
s_clear_queue (s_session_t *s)
{
    while (s->count) {
        s_msg_release (&s->queue[s->head]);
        s->head = (s->head + 1) % SB_ADMIN_WS_MAX_QUEUE;
        s->count--;
    }
    s->bytes = 0;
}

//  Queues a shared message (takes a reference). A full queue drops the client.
static void
s_enqueue (sb_admin_ws_t *self, s_session_t *s, s_msg_t *m)
{
    if (s->dropping) return;
    if (s->count >= self->max_queue || s->bytes + m->len > SB_ADMIN_WS_MAX_QUEUE_BYTES) {
        //  It cannot keep up: let it go now rather than hold its backlog.
        s->dropping = true;
        s_clear_queue (s);
        self->stats.dropped_slow++;
        lws_set_timeout (s->wsi, PENDING_TIMEOUT_USER_REASON_BASE + 1, LWS_TO_KILL_ASYNC);
        return;
    }
    m->refs++;
    s->queue[(s->head + s->count) % SB_ADMIN_WS_MAX_QUEUE] = m;
    s->count++;
    s->bytes += m->len;
    lws_callback_on_writable (s->wsi);
}

static void
s_enqueue_text (sb_admin_ws_t *self, s_session_t *s, const char *text)
{
    s_msg_t *m = s_msg_new (text, strlen (text));
    if (!m) return;
    s_enqueue (self, s, m);
    s_msg_release (&m);
}

void
sb_admin_ws_broadcast (sb_admin_ws_t *self, const char *text, size_t len)
{
    if (!self->authed_count) return;
    s_msg_t *m = s_msg_new (text, len);
    if (!m) return;
    for (s_session_t *s = self->sessions; s; s = s->next)
        if (s->authed) s_enqueue (self, s, m);
    s_msg_release (&m);
}

void
sb_admin_ws_set_latest (sb_admin_ws_t *self, const char *text, size_t len)
{
    s_msg_t *m = s_msg_new (text, len);
    if (!m) return;
    s_msg_release (&self->latest);
    self->latest = m;
}

static void
s_watchers_changed (sb_admin_ws_t *self)
{
    if (self->on_watchers) self->on_watchers (self->arg, self->authed_count);
}

static void
s_authenticated (sb_admin_ws_t *self, s_session_t *s)
{
    s->authed = true;
    self->authed_count++;
    self->stats.accepted++;
    lws_set_timeout (s->wsi, NO_PENDING_TIMEOUT, 0);
    s_enqueue_text (self, s, "{\"type\":\"hello\",\"version\":1}");
    if (self->latest) s_enqueue (self, s, self->latest);
    s_watchers_changed (self);
}

//  The token from ?token=, if any: its length (0: none). An argument too long
//  for buf is skipped (no token is that long).
static int
s_url_token (struct lws *wsi, char *buf, int size)
{
    for (int i = 0;; i++) {
        int n = lws_hdr_copy_fragment (wsi, buf, size, WSI_TOKEN_HTTP_URI_ARGS, i);
        if (n == -1) break;
        if (n < 6 || strncmp (buf, "token=", 6) != 0) continue;
        memmove (buf, buf + 6, (size_t)n - 6 + 1);
        return n - 6;
    }
    buf[0] = '\0';
    return 0;
}

static int
s_on_filter (sb_admin_ws_t *self, struct lws *wsi)
{
    char uri[64];
    if (lws_hdr_copy (wsi, uri, sizeof uri, WSI_TOKEN_GET_URI) <= 0 ||
        strcmp (uri, SB_ADMIN_WS_PATH) != 0)
        return 1;
    if (self->session_count >= SB_ADMIN_WS_MAX_CLIENTS) return 1;
    char token[600];
    int n = s_url_token (wsi, token, sizeof token);
    bool bad = n > 0 && !sb_admin_auth_check_token (self->auth, token, (size_t)n);
    OPENSSL_cleanse (token, sizeof token);
    if (bad) {
        self->stats.auth_failures++;
        return 1; // refused before the upgrade: the browser sees a failed handshake
    }
    return 0;
}

static void
s_on_established (sb_admin_ws_t *self, s_session_t *s, struct lws *wsi)
{
    memset (s, 0, sizeof *s);
    s->wsi = wsi;
    s->next = self->sessions;
    if (self->sessions) self->sessions->prev = s;
    self->sessions = s;
    s->linked = true;
    self->session_count++;
    //  What the kernel holds for a client that stopped reading counts towards
    //  the bound too: without a cap, autotuning lets it grow to megabytes.
    int sndbuf = SB_ADMIN_WS_SNDBUF;
    setsockopt (lws_get_socket_fd (wsi), SOL_SOCKET, SO_SNDBUF, &sndbuf, sizeof sndbuf);
    char token[600];
    int n = s_url_token (wsi, token, sizeof token);
    if (n > 0 && sb_admin_auth_check_token (self->auth, token, (size_t)n))
        s_authenticated (self, s);
    else
        lws_set_timeout (wsi, PENDING_TIMEOUT_USER_OK, SB_ADMIN_WS_AUTH_S);
    OPENSSL_cleanse (token, sizeof token);
}

static void
s_on_closed (sb_admin_ws_t *self, s_session_t *s)
{
    if (!s->linked) return;
    if (s->prev)
        s->prev->next = s->next;
    else
        self->sessions = s->next;
    if (s->next) s->next->prev = s->prev;
    s->linked = false;
    self->session_count--;
    s_clear_queue (s);
    if (s->authed) {
        s->authed = false;
        self->authed_count--;
        s_watchers_changed (self);
    }
}

//  The first message must be {"type":"auth","token":"…"}. Returns -1 to close.
static int
s_on_receive (sb_admin_ws_t *self, s_session_t *s, const char *in, size_t len)
{
    if (s->authed) return 0; // nothing else is expected from a client; ignored
    bool ok = false;
    if (lws_is_first_fragment (s->wsi) && lws_is_final_fragment (s->wsi) &&
        len <= SB_ADMIN_WS_MAX_RX) {
        json_t *doc = json_loadb (in, len, 0, NULL);
        const char *type = json_string_value (json_object_get (doc, "type"));
        json_t *token = json_object_get (doc, "token");
        ok = type && strcmp (type, "auth") == 0 && json_is_string (token) &&
             sb_admin_auth_check_token (self->auth, json_string_value (token),
                                        json_string_length (token));
        json_decref (doc);
    }
    if (!ok) {
        self->stats.auth_failures++;
        static const char reason[] = "invalid admin token";
        lws_close_reason (s->wsi, LWS_CLOSE_STATUS_POLICY_VIOLATION, (unsigned char *)reason,
                          sizeof reason - 1);
        return -1;
    }
    s_authenticated (self, s);
    return 0;
}

static int
s_on_writeable (sb_admin_ws_t *self, s_session_t *s)
{
    if (s->dropping) return -1;
    if (!s->count) return 0;
    s_msg_t *m = s->queue[s->head];
    s->queue[s->head] = NULL;
    s->head = (s->head + 1) % SB_ADMIN_WS_MAX_QUEUE;
    s->count--;
    s->bytes -= m->len;
    int n = lws_write (s->wsi, m->data + LWS_PRE, m->len, LWS_WRITE_TEXT);
    s_msg_release (&m);
    if (n < 0) return -1;
    self->stats.sent++;
    if (s->count) lws_callback_on_writable (s->wsi);
    return 0;
}

int
sb_admin_ws_callback (struct lws *wsi, enum lws_callback_reasons reason, void *user, void *in,
                      size_t len)
{
    const struct lws_protocols *protocol = lws_get_protocol (wsi);
    sb_admin_ws_t *self = protocol ? protocol->user : NULL;
    s_session_t *s = user;
    if (!self) return 0;
    switch (reason) {
        case LWS_CALLBACK_FILTER_PROTOCOL_CONNECTION:
            return s_on_filter (self, wsi);
        case LWS_CALLBACK_ESTABLISHED:
            if (s) s_on_established (self, s, wsi);
            return 0;
        case LWS_CALLBACK_RECEIVE:
            return s ? s_on_receive (self, s, in, len) : -1;
        case LWS_CALLBACK_SERVER_WRITEABLE:
            return s ? s_on_writeable (self, s) : 0;
        case LWS_CALLBACK_CLOSED:
            if (s) s_on_closed (self, s);
            return 0;
        default:
            break;
    }
    return 0;
}
