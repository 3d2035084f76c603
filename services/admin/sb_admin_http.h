/*  sb_admin_http — admin's HTTP server on lws: GET /healthz, everything under
    /api/ behind the bearer token (sb_admin_auth) and handed to sb_admin_api.
    Bodies are read up to SB_ADMIN_MAX_BODY (413 above); each response goes out
    in one lws_write. Also the lws side of the Clone bridge: the snapshot
    ROUTER's ZMQ_FD, adopted as a raw file, wakes the loop to answer requests.
    Runs on admin's lws service thread.  */

#ifndef SB_ADMIN_HTTP_H_INCLUDED
#define SB_ADMIN_HTTP_H_INCLUDED

#include "sb_admin_api.h"
#include "sb_admin_auth.h"
#include "sb_admin_clone.h"

#include <libwebsockets.h>

#define SB_ADMIN_MAX_BODY (1u << 20)

//  What the HTTP protocol serves with; set as the lws protocol's `user` pointer.
typedef struct {
    sb_admin_api_t *api;
    sb_admin_auth_t *auth;
    sb_admin_clone_t *clone;
} sb_admin_http_ctx_t;

size_t sb_admin_http_conn_size (void);

int sb_admin_http_callback (struct lws *wsi, enum lws_callback_reasons reason, void *user, void *in,
                            size_t len);

//  Protocol of the adopted ROUTER ZMQ_FD (user pointer: the sb_admin_http_ctx_t).
int sb_admin_http_clone_callback (struct lws *wsi, enum lws_callback_reasons reason, void *user,
                                  void *in, size_t len);

#endif
