/*  sb_router — the service between ingress and the providers: one thread runs a
    libcurl multi handle and the ZeroMQ sockets together (curl_multi_poll waits on
    curl's sockets and on the ZMQ_FDs). It picks a channel, rewrites the request
    for it, streams the answer back as CHUNKs, fails over before the first byte,
    and brokers tool-call validation jobs to the validator pool.  */

#ifndef SB_ROUTER_H_INCLUDED
#define SB_ROUTER_H_INCLUDED

#include <curl/curl.h>
#include <stdbool.h>
#include <stdint.h>
#include <zmq.h>

#include "sb_config.h"
#include "sb_msg.h"

typedef struct _sb_rreq_t sb_rreq_t;

//  Router-side state of one channel of the current config (parallel array).
typedef struct {
    CURLU *url;                    // base_url + "/chat/completions", parsed once
    struct curl_slist *headers;    // auth, content type, extra headers
    uint64_t unavailable_until_us; // Retry-After from the provider (monotonic)
    uint64_t requests, failures;
    double ewma_ms;
} sb_rchannel_t;

//  One generation of config + per-channel state (sb_router_gen.c). Invariant: refs
//  counts the requests holding it; a retired generation is freed at refs == 0.
typedef struct {
    sb_config_t *config;
    sb_rchannel_t *channels; // parallel to the config's channels
    size_t channel_count;
    struct _sb_picker_t **pickers; // one per model group
    size_t group_count;
    int refs;
    bool retired;
} sb_rgen_t;

//  Builds a generation, taking ownership of *config_p. NULL on a bad channel URL.
sb_rgen_t *sb_rgen_new (sb_config_t **config_p);
struct _sb_picker_t *sb_rgen_picker (sb_rgen_t *gen, size_t group_index);
void sb_rgen_release (sb_rgen_t *gen);
//  Makes a new config current (taking ownership); requests in flight keep theirs.
int sb_router_install_config (sb_config_t **config_p);

typedef struct {
    const char *frontend_bind; // ingress ROUTER
    const char *backend_bind;  // validator ROUTER
    const char *logger_endpoint;
    const char *config_path;
    uint32_t validator_budget_ms; // longest a response waits for the pool
    uint32_t max_requests;
    uint32_t log_body_max; // bytes of each body kept in a record (SB_LOG_BODY_MAX)
} sb_router_settings_t;

typedef struct {
    sb_router_settings_t settings;
    void *zmq_ctx;
    void *frontend; // ROUTER, ingress connects
    void *backend;  // ROUTER, validators connect
    void *logger;   // PUSH
    //  A zmq call on a socket may consume the wake-up of its ZMQ_FD; until the
    //  socket is read to EAGAIN again its fd cannot be trusted to wake us.
    bool frontend_dirty, backend_dirty;
    CURLM *multi;
    sb_rgen_t *gen;            // current config generation
    struct _sb_clone_t *clone; // admin's config stream (NULL: SB_CONFIG only)
    uint64_t *group_rr;        // per group round-robin cursor
    sb_msg_writer_t *writer;
    struct _sb_metrics_t *metrics; // this instance's metrics (loop thread)
    void *metrics_pub;             // PUB to admin
    //  counters
    uint64_t requests, failovers, upstream_errors, timeouts, cancels, bad_messages;
    uint64_t log_dropped, client_gone, validations, validation_timeouts, toon_bytes_saved;
} sb_router_t;

extern sb_router_t sb_router;

//  requests (sb_router_request.c)
void sb_router_on_chat (const void *ident, size_t ident_len, zmq_msg_t *frame,
                        const sb_chat_t *chat);
void sb_router_on_cancel (const void *ident, size_t ident_len, uint64_t id);
void sb_router_on_transfer_done (CURL *easy, CURLcode result);
void sb_router_check_timers (uint64_t now_us);
size_t sb_router_active (void);
void sb_router_on_validation (sb_rreq_t *req, const sb_validate_result_t *result);
void sb_router_on_validation_timeout (sb_rreq_t *req);
void sb_router_on_toon (sb_rreq_t *req, const sb_toon_result_t *result);
void sb_router_on_toon_timeout (sb_rreq_t *req);

void sb_router_publish_channel_gauges (void);

//  sending to ingress: identity frame + message; -1 when the peer is gone/full
int sb_router_send (const void *ident, size_t ident_len, const sb_msg_t *msg);
void sb_router_log (const char *kind, const char *request_id, const char *json, size_t len);
//  The same with the request's bodies (raw bytes, already capped by the caller).
void sb_router_log_bodies (const char *request_id, const char *json, size_t len, sb_bytes_t request,
                           sb_bytes_t response, sb_bytes_t chunks);

//  tool auto-detection (sb_router_tools.c)
void sb_router_tools_seen (const char *tools_json, size_t len);
void sb_router_tools_flush (void);

//  validator broker (sb_router_broker.c)
int sb_broker_start (void);
void sb_broker_drain (void);
void sb_broker_tick (uint64_t now_us);
//  Queues a validation job for req; the broker calls sb_router_on_validation or
//  sb_router_on_validation_timeout exactly once unless cancelled. Returns job id or 0.
uint64_t sb_broker_submit (sb_rreq_t *req, uint64_t deadline_us, int mode, const char *tools,
                           size_t tools_len, const char *calls, size_t calls_len);
//  Queues a TOON job (the request body); the broker calls sb_router_on_toon or
//  sb_router_on_toon_timeout exactly once unless cancelled. Returns job id or 0.
uint64_t sb_broker_submit_toon (sb_rreq_t *req, uint64_t deadline_us, int mode, const char *body,
                                size_t body_len);
void sb_broker_cancel (uint64_t job_id);
size_t sb_broker_workers (void);
//  No worker live for a few seconds (past the router's start): jobs are not taken
//  (submit returns 0) and requests skip the pool at once.
bool sb_broker_down (void);

#endif
