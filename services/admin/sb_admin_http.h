/*  sb_admin_http — admin's HTTP server on lws: GET /healthz, the dashboard's
    static files (GET /), Prometheus text (GET /metrics), the request logs
    (GET /api/logs…, answered from admin's Redis thread), and everything else
    under /api/ behind the bearer token (sb_admin_auth), handed to sb_admin_api.
    Bodies are read up to SB_ADMIN_MAX_BODY (413 above); each response goes out
    in one lws_write. Also the lws side of the Clone bridge: the snapshot
    ROUTER's ZMQ_FD, adopted as a raw file, wakes the loop to answer requests.
    Runs on admin's lws service thread.  */

#ifndef SB_ADMIN_HTTP_H_INCLUDED
#define SB_ADMIN_HTTP_H_INCLUDED

#include "sb_admin_api.h"
#include "sb_admin_auth.h"
#include "sb_admin_clone.h"
#include "sb_admin_metrics.h"
#include "sb_admin_redis.h"
#include "sb_metrics.h"

#include <libwebsockets.h>

#define SB_ADMIN_MAX_BODY (1u << 20)

//  What the HTTP protocol serves with; set as the lws protocol's `user` pointer.
//  Every pointer is borrowed; metrics, redis and own may be NULL (not served).
typedef struct {
    sb_admin_api_t *api;
    sb_admin_auth_t *auth;
    sb_admin_clone_t *clone;
    sb_admin_metrics_t *metrics; // GET /metrics
    bool metrics_need_token;     // SB_ADMIN_METRICS_AUTH=token
    void (*refresh) (void *arg); // called before /metrics renders (admin's own series)
    void *refresh_arg;
    sb_admin_redis_t *redis; // /api/logs
    sb_metrics_t *own;       // admin's own counters (responses by status)
    //  Connections waiting for a logs answer: ticket and connection, 0 = free.
    uint64_t waiting_ticket[SB_ADMIN_REDIS_MAX_JOBS];
    void *waiting_conn[SB_ADMIN_REDIS_MAX_JOBS];
} sb_admin_http_ctx_t;

size_t sb_admin_http_conn_size (void);

int sb_admin_http_callback (struct lws *wsi, enum lws_callback_reasons reason, void *user, void *in,
                            size_t len);

//  Answers the connection waiting for `result` (taken: freed here). A result
//  whose connection has gone is dropped.
void sb_admin_http_logs_done (sb_admin_http_ctx_t *ctx, sb_admin_redis_result_t **result_p);

//  Protocol of the adopted ROUTER ZMQ_FD (user pointer: the sb_admin_http_ctx_t).
int sb_admin_http_clone_callback (struct lws *wsi, enum lws_callback_reasons reason, void *user,
                                  void *in, size_t len);

#endif
