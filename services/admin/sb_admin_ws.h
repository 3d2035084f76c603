/*  sb_admin_ws — the dashboard's WebSocket (lws protocol "sb-dashboard" on
    admin's vhost, path /ws). A client authenticates with the admin token, as
    `?token=` or (better: no token in URLs) as its first message
    {"type":"auth","token":"…"} within SB_ADMIN_WS_AUTH_S seconds; then it gets
    {"type":"hello"}, the latest snapshot, and whatever admin broadcasts (a
    snapshot a second, request batches from the tail).

    Each client has a bounded send queue (max_queue messages, at most
    SB_ADMIN_WS_MAX_QUEUE_BYTES) behind a kernel send buffer capped at
    SB_ADMIN_WS_SNDBUF; a client that lets both fill up is dropped, never
    buffered without limit. Messages are shared between clients
    (reference counted), so a broadcast copies its text once.
    Runs on admin's lws thread.  */

#ifndef SB_ADMIN_WS_H_INCLUDED
#define SB_ADMIN_WS_H_INCLUDED

#include "sb_admin_auth.h"

#include <libwebsockets.h>
#include <stddef.h>
#include <stdint.h>

#define SB_ADMIN_WS_PROTOCOL        "sb-dashboard"
#define SB_ADMIN_WS_PATH            "/ws"
#define SB_ADMIN_WS_MAX_CLIENTS     64
#define SB_ADMIN_WS_MAX_QUEUE       64 // default; SB_ADMIN_WS_QUEUE sets 1 … this
#define SB_ADMIN_WS_MAX_QUEUE_BYTES (4u << 20)
#define SB_ADMIN_WS_SNDBUF          (128u << 10) // kernel send buffer per client (doubled by Linux)
#define SB_ADMIN_WS_AUTH_S          5
#define SB_ADMIN_WS_MAX_RX          1024 // what a client may send in one message

typedef struct _sb_admin_ws_t sb_admin_ws_t;

typedef struct {
    uint64_t accepted;      // clients authenticated
    uint64_t auth_failures; // wrong token, no auth in time, bad first message
    uint64_t dropped_slow;  // clients dropped for a full send queue
    uint64_t sent;          // messages written
} sb_admin_ws_stats_t;

//  `auth` is borrowed. `max_queue`: messages per client, 1 … SB_ADMIN_WS_MAX_QUEUE
//  (0: the maximum). `on_watchers` (may be NULL) is called with the number of
//  authenticated clients whenever it changes.
sb_admin_ws_t *sb_admin_ws_new (const sb_admin_auth_t *auth, size_t max_queue,
                                void (*on_watchers) (void *arg, size_t clients), void *arg);
void sb_admin_ws_destroy (sb_admin_ws_t **self_p);

//  The protocol's per-session size and callback (user pointer: the sb_admin_ws_t).
size_t sb_admin_ws_session_size (void);
int sb_admin_ws_callback (struct lws *wsi, enum lws_callback_reasons reason, void *user, void *in,
                          size_t len);

//  Queues `text` (copied once) for every authenticated client.
void sb_admin_ws_broadcast (sb_admin_ws_t *self, const char *text, size_t len);

//  Keeps `text` (copied) as the message a newly authenticated client gets first
//  (the latest snapshot).
void sb_admin_ws_set_latest (sb_admin_ws_t *self, const char *text, size_t len);

size_t sb_admin_ws_clients (const sb_admin_ws_t *self);
void sb_admin_ws_stats (const sb_admin_ws_t *self, sb_admin_ws_stats_t *stats);

#endif
