/*  sb_ingress_link — the ingress side of ingress → router: a DEALER socket whose
    ZMQ_FD (a dup of it) is adopted into the lws loop as a raw file, so one thread
    serves both. ZMQ_FD is edge-triggered, so every wake-up drains until EAGAIN, and
    the main loop drains again after every lws service round (a send made inside a
    callback can consume the edge of a message that then arrived).  */

#include "sb_ingress.h"
#include "sb_clock.h"
#include "sb_metrics.h"
#include "sb_clone.h"
#include "sb_zmsg.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>
#include <zmq.h>

#define S_ROUTER_DEAD_US (3 * 1000000u) // no echo for this long: router considered gone

static struct lws *s_bridge;
//  True when the router socket may hold messages its fd will not announce: a zmq
//  call on it can consume the fd's wake-up, and only reading to EAGAIN re-arms it.
static bool s_dirty = true;
static struct lws *s_config_bridge;
static sb_clone_t *s_clone;

//  A newer config from admin replaces the current snapshot whole. Nothing on the
//  lws thread keeps pointers into a snapshot between callbacks, so the old one can
//  go at once.
static void
s_config_poll (void)
{
    if (!s_clone) return;
    sb_config_t *fresh = sb_clone_process (s_clone);
    if (!fresh) return;
    sb_config_destroy (&sb_ingress.config);
    sb_ingress.config = fresh;
    sb_ingress.config_gen++;
    printf ("ingress: config %llu from admin\n", (unsigned long long)sb_clone_seq (s_clone));
    fflush (stdout);
}

int
sb_ingress_config_callback (struct lws *wsi, enum lws_callback_reasons reason, void *user, void *in,
                            size_t len)
{
    if (reason == LWS_CALLBACK_RAW_RX_FILE)
        s_config_poll ();
    else if (reason == LWS_CALLBACK_RAW_CLOSE_FILE)
        s_config_bridge = NULL;
    return 0;
}
static char s_instance[160];

int
sb_ingress_link_start (void)
{
    sb_ingress_t *self = &sb_ingress;
    self->zmq_ctx = zmq_ctx_new ();
    zmq_ctx_set (self->zmq_ctx, ZMQ_BLOCKY, 0); // shutting down never waits on peers
    self->router = zmq_socket (self->zmq_ctx, ZMQ_DEALER);
    if (!self->router) return -1;
    //  IMMEDIATE: never queue requests for a router that isn't connected, so a
    //  send fails at once (503) instead of waiting for one to appear.
    int one = 1, zero = 0;
    int sndhwm = 20000, rcvhwm = 200000;
    int hb_ivl = 1000, hb_timeout = 3000;
    zmq_setsockopt (self->router, ZMQ_IMMEDIATE, &one, sizeof one);
    zmq_setsockopt (self->router, ZMQ_LINGER, &zero, sizeof zero);
    zmq_setsockopt (self->router, ZMQ_SNDHWM, &sndhwm, sizeof sndhwm);
    zmq_setsockopt (self->router, ZMQ_RCVHWM, &rcvhwm, sizeof rcvhwm);
    zmq_setsockopt (self->router, ZMQ_HEARTBEAT_IVL, &hb_ivl, sizeof hb_ivl);
    zmq_setsockopt (self->router, ZMQ_HEARTBEAT_TIMEOUT, &hb_timeout, sizeof hb_timeout);
    sb_metrics_instance (s_instance, sizeof s_instance, "ingress");
    if (zmq_connect (self->router, self->settings.router_endpoint) != 0) {
        fprintf (stderr, "ingress: cannot connect to %s: %s\n", self->settings.router_endpoint,
                 zmq_strerror (errno));
        return -1;
    }
    const char *pub_ep = getenv ("SB_ADMIN_PUB_ENDPOINT");
    const char *snap_ep = getenv ("SB_ADMIN_SNAPSHOT_ENDPOINT");
    if (pub_ep && *pub_ep && snap_ep && *snap_ep) {
        const char *dir = getenv ("SB_DATA_DIR");
        char cache[512], err[256];
        snprintf (cache, sizeof cache, "%s/ingress-config.json", dir && *dir ? dir : "data");
        s_clone = sb_clone_new (self->zmq_ctx, pub_ep, snap_ep, cache);
        sb_config_t *cached = s_clone ? sb_clone_load_cache (s_clone, err, sizeof err) : NULL;
        if (cached) {
            sb_config_destroy (&self->config);
            self->config = cached;
            self->config_gen++;
        }
        if (s_clone) {
            lws_sock_file_fd_type cdesc;
            cdesc.filefd = dup (sb_clone_poll_fd (s_clone));
            s_config_bridge = lws_adopt_descriptor_vhost (self->vhost, LWS_ADOPT_RAW_FILE_DESC,
                                                          cdesc, "sb-config", NULL);
            if (!s_config_bridge) close (cdesc.filefd);
        }
    }
    self->logger = zmq_socket (self->zmq_ctx, ZMQ_PUSH);
    int log_hwm = 10000;
    zmq_setsockopt (self->logger, ZMQ_LINGER, &zero, sizeof zero);
    zmq_setsockopt (self->logger, ZMQ_SNDHWM, &log_hwm, sizeof log_hwm);
    zmq_setsockopt (self->logger, ZMQ_IMMEDIATE, &one, sizeof one);
    const char *lep = getenv ("SB_LOGGER_ENDPOINT");
    zmq_connect (self->logger, lep && *lep ? lep : "tcp://127.0.0.1:5557");
    self->metrics = sb_metrics_new ();
    self->metrics_pub = zmq_socket (self->zmq_ctx, ZMQ_PUB);
    int metrics_hwm = 100;
    zmq_setsockopt (self->metrics_pub, ZMQ_LINGER, &zero, sizeof zero);
    zmq_setsockopt (self->metrics_pub, ZMQ_SNDHWM, &metrics_hwm, sizeof metrics_hwm);
    const char *mep = getenv ("SB_METRICS_ENDPOINT");
    zmq_connect (self->metrics_pub, mep && *mep ? mep : "tcp://127.0.0.1:5562");
    int fd;
    size_t fd_size = sizeof fd;
    if (zmq_getsockopt (self->router, ZMQ_FD, &fd, &fd_size) != 0) return -1;
    //  lws closes what it adopts; ZeroMQ owns ZMQ_FD, so lws gets a duplicate.
    lws_sock_file_fd_type desc;
    desc.filefd = dup (fd);
    s_bridge = lws_adopt_descriptor_vhost (self->vhost, LWS_ADOPT_RAW_FILE_DESC, desc,
                                           "sb-router-link", NULL);
    if (!s_bridge) {
        close (desc.filefd);
        return -1;
    }
    return 0;
}

void
sb_ingress_link_stop (void)
{
    sb_ingress_t *self = &sb_ingress;
    sb_clone_destroy (&s_clone);
    if (self->logger) {
        int linger = 1000; // queued records get a second to reach a connected logger
        zmq_setsockopt (self->logger, ZMQ_LINGER, &linger, sizeof linger);
        zmq_close (self->logger);
    }
    self->logger = NULL;
    if (self->router) zmq_close (self->router);
    self->router = NULL;
    if (self->metrics_pub) zmq_close (self->metrics_pub);
    self->metrics_pub = NULL;
    sb_metrics_destroy (&self->metrics);
    if (self->zmq_ctx) zmq_ctx_term (self->zmq_ctx);
    self->zmq_ctx = NULL;
}

int
sb_ingress_link_callback (struct lws *wsi, enum lws_callback_reasons reason, void *user, void *in,
                          size_t len)
{
    switch (reason) {
        case LWS_CALLBACK_RAW_RX_FILE:
            s_dirty = true;
            sb_ingress_link_drain ();
            break;
        case LWS_CALLBACK_RAW_CLOSE_FILE:
            s_bridge = NULL;
            break;
        default:
            break;
    }
    return 0;
}

int
sb_ingress_link_send (const sb_msg_t *msg)
{
    sb_ingress_t *self = &sb_ingress;
    s_dirty = true; // the send may have taken the fd's wake-up
    return sb_zmsg_send (self->router, self->writer, msg);
}

static void
s_dispatch (const void *data, size_t size)
{
    sb_ingress_t *self = &sb_ingress;
    sb_msg_t msg;
    const char *why;
    if (sb_msg_decode (data, size, &msg, &why) != 0) {
        self->bad_messages++;
        return;
    }
    self->router_seen_us = sb_mono_us ();
    self->router_up = true;
    sb_conn_t *conn;
    switch (msg.type) {
        case SB_MSG_CHUNK:
            conn = sb_ingress_slot_lookup (msg.chunk.id);
            if (conn) sb_ingress_on_chunk (conn, &msg.chunk);
            break;
        case SB_MSG_END:
            conn = sb_ingress_slot_lookup (msg.end.id);
            if (conn) sb_ingress_on_end (conn, &msg.end);
            break;
        case SB_MSG_HEARTBEAT:
            break;
        default:
            self->bad_messages++;
            break;
    }
}

void
sb_ingress_link_drain (void)
{
    sb_ingress_t *self = &sb_ingress;
    //  Reading to EAGAIN costs two syscalls (libzmq's getpid + poll): only when
    //  the fd fired or the socket was used since.
    if (!self->router || !s_dirty) return;
    zmq_msg_t frame;
    zmq_msg_init (&frame);
    //  Bounded per round so a flood from the router cannot starve client I/O.
    for (int i = 0; i < 4096; i++) {
        if (zmq_msg_recv (&frame, self->router, ZMQ_DONTWAIT) < 0) {
            if (zmq_errno () == EAGAIN) s_dirty = false; // the fd is armed again
            break;
        }
        s_dispatch (zmq_msg_data (&frame), zmq_msg_size (&frame));
    }
    zmq_msg_close (&frame);
    if (s_dirty && s_bridge) lws_cancel_service (self->context); // more waiting: come round again
}

void
sb_ingress_link_kick (void)
{
    if (s_dirty && s_bridge) lws_cancel_service (sb_ingress.context);
}

static void
s_publish_metrics (void)
{
    sb_ingress_t *self = &sb_ingress;
    sb_metrics_t *m = self->metrics;
    uint32_t inflight = self->settings.max_inflight - self->free_count;
    sb_metrics_set (m, "sb_ingress_inflight", "", (double)inflight);
    sb_metrics_set (m, "sb_ingress_router_up", "", self->router_up ? 1 : 0);
    sb_metrics_set (m, "sb_ingress_cancelled", "", (double)self->cancelled);
    sb_metrics_set (m, "sb_ingress_slow_clients_dropped", "", (double)self->slow_clients_dropped);
    sb_metrics_set (m, "sb_ingress_router_unavailable", "", (double)self->router_unavailable);
    sb_metrics_set (m, "sb_log_dropped", "", (double)self->log_dropped);
    sb_metrics_set (m, "sb_bad_messages", "",
                    (double)(self->bad_messages + sb_msg_decode_errors ()));
    sb_metrics_publish (m, self->metrics_pub, self->writer, "ingress", s_instance);
}

void
sb_ingress_link_log (const char *request_id, const char *json, size_t len, const char *body,
                     size_t body_len)
{
    sb_ingress_t *self = &sb_ingress;
    sb_msg_t msg = {.type = SB_MSG_LOG_EVENT};
    msg.log_event.kind = sb_bytes_str ("request");
    msg.log_event.request_id = sb_bytes_str (request_id);
    msg.log_event.ts_us = sb_wall_us ();
    msg.log_event.data = sb_bytes (json, len);
    msg.log_event.request_body = sb_bytes (body, body_len);
    if (sb_zmsg_send (self->logger, self->writer, &msg) != 0) self->log_dropped++;
}

void
sb_ingress_link_tick (void)
{
    sb_ingress_t *self = &sb_ingress;
    s_publish_metrics ();
    s_config_poll ();
    sb_msg_t hb = {.type = SB_MSG_HEARTBEAT};
    hb.heartbeat.instance = sb_bytes_str (s_instance);
    sb_ingress_link_send (&hb);
    uint64_t now = sb_mono_us ();
    if (self->router_up && now - self->router_seen_us > S_ROUTER_DEAD_US) {
        //  The router went quiet: requests waiting on it would only time out.
        self->router_up = false;
        for (uint32_t i = 0; i < self->settings.max_inflight; i++)
            if (self->slots[i]) sb_ingress_on_router_lost (self->slots[i]);
    }
}
