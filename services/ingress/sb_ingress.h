/*  sb_ingress — the client-facing service: OpenAI-compatible HTTP + SSE on
    libwebsockets, one thread, bridged to the router over a ZeroMQ DEALER whose
    ZMQ_FD is adopted into the lws loop. Shared state of the service's modules.  */

#ifndef SB_INGRESS_H_INCLUDED
#define SB_INGRESS_H_INCLUDED

#include <libwebsockets.h>
#include <stdbool.h>
#include <stdint.h>

#include "sb_config.h"
#include "sb_msg.h"

typedef struct _sb_conn_t sb_conn_t;

//  Settings read once from the environment at start.
typedef struct {
    int http_port;
    const char *router_endpoint;
    size_t max_body;          // request body limit (413 above)
    uint32_t max_header;      // lws's store for one request's line and headers (431 above)
    size_t max_client_buffer; // bytes queued for one slow client before it is dropped
    uint32_t max_inflight;    // requests at once (503 above)
    uint32_t ping_ms;         // SSE comment ping when a stream is idle this long
    const char *config_path;
} sb_ingress_settings_t;

//  Process-wide state of the ingress (owned by the lws service thread).
typedef struct {
    sb_ingress_settings_t settings;
    struct lws_context *context;
    struct lws_vhost *vhost;
    sb_config_t *config; // current snapshot; replaced whole
    uint64_t config_gen; // counts replacements (caches keyed on the snapshot check it)
    void *zmq_ctx;
    void *router; // DEALER
    void *logger; // PUSH (records of requests refused here)
    sb_msg_writer_t *writer;
    struct _sb_metrics_t *metrics; // this instance's metrics (lws thread)
    void *metrics_pub;             // PUB to admin
    uint64_t router_seen_us;       // last reply from any router (heartbeat echo or data)
    bool router_up;
    //  request slot table: id = generation << 32 | slot
    sb_conn_t **slots;
    uint32_t *generations;
    uint32_t *free_list;
    uint32_t free_count;
    //  counters
    uint64_t requests, rejected, cancelled, slow_clients_dropped, router_unavailable;
    uint64_t bad_messages, log_dropped;
} sb_ingress_t;

extern sb_ingress_t sb_ingress;

//  http side (sb_ingress_http.c), runs on the lws thread
int sb_ingress_http_callback (struct lws *wsi, enum lws_callback_reasons reason, void *user,
                              void *in, size_t len);
size_t sb_ingress_conn_size (void);
//  Sets lws's log level and emitter (before the context is created).
void sb_ingress_http_log_start (void);
//  The lws log emitter: errors and warnings to stderr; lws's report of request
//  headers that overflow its store is followed to the connection, which gets a 431.
void sb_ingress_http_log (int level, const char *line);
//  Call after each lws_service round (ends the following of such a report).
void sb_ingress_http_round_done (void);
void sb_ingress_on_chunk (sb_conn_t *conn, const sb_chunk_t *chunk);
void sb_ingress_on_end (sb_conn_t *conn, const sb_end_t *end);
void sb_ingress_on_router_lost (sb_conn_t *conn);

//  router link (sb_ingress_link.c), runs on the lws thread
int sb_ingress_link_start (void);
void sb_ingress_link_stop (void);
int sb_ingress_link_callback (struct lws *wsi, enum lws_callback_reasons reason, void *user,
                              void *in, size_t len);
//  Sends a message to the router without blocking: 0, or -1 (no router / queue full).
int sb_ingress_link_send (const sb_msg_t *msg);
//  Drains every message waiting from the router (call after each service round).
void sb_ingress_link_drain (void);
//  For callbacks lws runs from its timer phase, before it polls: a send made there
//  may have taken the wake-up of a reply already waiting, and the poll would then
//  sleep on it (until the next timer, up to a second). Ends that poll at once.
void sb_ingress_link_kick (void);
//  Sends a request record to the logger without blocking (drops are counted).
void sb_ingress_link_log (const char *request_id, const char *json, size_t len, const char *body,
                          size_t body_len);
void sb_ingress_link_tick (void); // once a second: heartbeat + liveness + config
int sb_ingress_config_callback (struct lws *wsi, enum lws_callback_reasons reason, void *user,
                                void *in, size_t len);

//  slot table
int sb_ingress_slot_acquire (sb_conn_t *conn, uint64_t *id);
void sb_ingress_slot_release (uint64_t id);
sb_conn_t *sb_ingress_slot_lookup (uint64_t id);

#endif
