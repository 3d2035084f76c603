/*  sb_router_main — starts the router: config snapshot, per-channel curl state,
    the ZeroMQ sockets (ingress ROUTER, validator ROUTER, logger PUSH), and the one
    loop: curl_multi_poll on curl's sockets plus the ZMQ_FDs, then drain.  */

#include "sb_router.h"
#include "sb_anthropic.h"
#include "sb_clock.h"
#include "sb_metrics.h"
#include "sb_zmsg.h"
#include "sb_clone.h"

#include <errno.h>
#include <sys/epoll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

sb_router_t sb_router;
static volatile sig_atomic_t s_interrupted;

static void
s_on_signal (int sig)
{
    s_interrupted = 1;
    if (sb_router.multi) curl_multi_wakeup (sb_router.multi);
}

static const char *
s_env (const char *name, const char *fallback)
{
    const char *v = getenv (name);
    return v && *v ? v : fallback;
}

static int
s_env_uint (const char *name, unsigned long fallback, unsigned long max, uint32_t *out)
{
    const char *v = getenv (name);
    if (!v || !*v) {
        *out = (uint32_t)fallback;
        return 0;
    }
    char *end;
    errno = 0;
    unsigned long n = strtoul (v, &end, 10);
    if (errno || *end || n == 0 || n > max) {
        fprintf (stderr, "router: %s=%s is not a number from 1 to %lu\n", name, v, max);
        return -1;
    }
    *out = (uint32_t)n;
    return 0;
}

int
sb_router_send (const void *ident, size_t ident_len, const sb_msg_t *msg)
{
    sb_router_t *self = &sb_router;
    const void *data;
    size_t size;
    if (sb_msg_encode (self->writer, msg, &data, &size) != 0) return -1;
    self->frontend_dirty = true;
    if (zmq_send (self->frontend, ident, ident_len, ZMQ_SNDMORE | ZMQ_DONTWAIT) < 0) return -1;
    if (zmq_send (self->frontend, data, size, ZMQ_DONTWAIT) < 0) return -1;
    return 0;
}

void
sb_router_log_bodies (const char *request_id, const char *json, size_t len, sb_bytes_t request,
                      sb_bytes_t response, sb_bytes_t chunks)
{
    sb_router_t *self = &sb_router;
    sb_msg_t msg = {.type = SB_MSG_LOG_EVENT};
    msg.log_event.kind = sb_bytes_str ("request");
    msg.log_event.request_id = sb_bytes_str (request_id);
    msg.log_event.ts_us = sb_wall_us ();
    msg.log_event.data = sb_bytes (json, len);
    msg.log_event.request_body = request;
    msg.log_event.response_body = response;
    msg.log_event.chunks = chunks;
    if (sb_zmsg_send (self->logger, self->writer, &msg) != 0)
        self->log_dropped++; // never block the data path on the logger
}

void
sb_router_log (const char *kind, const char *request_id, const char *json, size_t len)
{
    sb_router_t *self = &sb_router;
    sb_msg_t msg = {.type = SB_MSG_LOG_EVENT};
    msg.log_event.kind = sb_bytes_str (kind);
    msg.log_event.request_id = sb_bytes_str (request_id);
    msg.log_event.ts_us = sb_wall_us ();
    msg.log_event.data = sb_bytes (json, len);
    if (sb_zmsg_send (self->logger, self->writer, &msg) != 0) self->log_dropped++;
}

static void
s_drain_frontend (void)
{
    sb_router_t *self = &sb_router;
    zmq_msg_t ident, frame;
    zmq_msg_init (&ident);
    zmq_msg_init (&frame);
    for (int i = 0; i < 1024; i++) {
        if (zmq_msg_recv (&ident, self->frontend, ZMQ_DONTWAIT) < 0) {
            //  Read to EAGAIN: the fd will wake us for the next message.
            if (zmq_errno () == EAGAIN) self->frontend_dirty = false;
            break;
        }
        if (!zmq_msg_more (&ident) || zmq_msg_recv (&frame, self->frontend, ZMQ_DONTWAIT) < 0) {
            self->bad_messages++;
            continue;
        }
        while (zmq_msg_more (&frame)) // a third frame: malformed, skip the rest
            if (zmq_msg_recv (&frame, self->frontend, ZMQ_DONTWAIT) < 0) break;
        sb_msg_t msg;
        if (sb_msg_decode (zmq_msg_data (&frame), zmq_msg_size (&frame), &msg, NULL) != 0) {
            self->bad_messages++;
            continue;
        }
        switch (msg.type) {
            case SB_MSG_CHAT:
                sb_router_on_chat (zmq_msg_data (&ident), zmq_msg_size (&ident), &frame, &msg.chat);
                zmq_msg_init (&frame); // ownership moved into the request
                break;
            case SB_MSG_CANCEL:
                sb_router_on_cancel (zmq_msg_data (&ident), zmq_msg_size (&ident), msg.cancel.id);
                break;
            case SB_MSG_HEARTBEAT: {
                //  Echo, so the ingress knows a router is alive.
                sb_msg_t hb = {.type = SB_MSG_HEARTBEAT};
                hb.heartbeat.instance = sb_bytes_str ("router");
                sb_router_send (zmq_msg_data (&ident), zmq_msg_size (&ident), &hb);
                break;
            }
            default:
                self->bad_messages++;
                break;
        }
    }
    zmq_msg_close (&ident);
    zmq_msg_close (&frame);
}

static void
s_publish_metrics (void)
{
    sb_router_t *self = &sb_router;
    sb_metrics_t *m = self->metrics;
    sb_metrics_set (m, "sb_router_active_requests", "", (double)sb_router_active ());
    sb_metrics_set (m, "sb_validator_workers", "", (double)sb_broker_workers ());
    sb_metrics_set (m, "sb_log_dropped", "", (double)self->log_dropped);
    sb_metrics_set (m, "sb_bad_messages", "",
                    (double)(self->bad_messages + sb_msg_decode_errors ()));
    sb_metrics_set (m, "sb_validation_timeouts", "", (double)self->validation_timeouts);
    sb_metrics_set (m, "sb_upstream_timeouts", "", (double)self->timeouts);
    sb_metrics_set (m, "sb_cancels", "", (double)self->cancels);
    sb_router_publish_channel_gauges ();
    char instance[160];
    sb_metrics_instance (instance, sizeof instance, "router");
    sb_metrics_publish (m, self->metrics_pub, self->writer, "router", instance);
}

static void
s_read_curl (void)
{
    CURLMsg *m;
    int left;
    while ((m = curl_multi_info_read (sb_router.multi, &left)))
        if (m->msg == CURLMSG_DONE) sb_router_on_transfer_done (m->easy_handle, m->data.result);
}

//  curl + epoll (router loop thread). ZeroMQ fds carry a tag bit in the epoll data
//  (and which socket it is); curl sockets carry their fd.
#define S_TAG_ZMQ      (1ull << 40)
#define S_TAG_FRONTEND (1ull << 41)
#define S_TAG_BACKEND  (1ull << 42)
#define S_TAG_CLONE    (1ull << 43)
static int s_epoll = -1;
static long s_curl_timeout_ms = -1; // -1: curl wants no timer
static uint64_t s_curl_deadline_us;

static void
s_epoll_add_tagged (int fd, uint64_t tag)
{
    struct epoll_event ev = {.events = EPOLLIN, .data.u64 = (uint64_t)fd | tag};
    epoll_ctl (s_epoll, EPOLL_CTL_ADD, fd, &ev);
}

static int
s_on_curl_socket (CURL *easy, curl_socket_t s, int what, void *userp, void *socketp)
{
    if (what == CURL_POLL_REMOVE) {
        epoll_ctl (s_epoll, EPOLL_CTL_DEL, s, NULL);
        return 0;
    }
    struct epoll_event ev = {.events = 0, .data.u64 = (uint64_t)s};
    if (what & CURL_POLL_IN) ev.events |= EPOLLIN;
    if (what & CURL_POLL_OUT) ev.events |= EPOLLOUT;
    //  Add, or modify when curl already told us of this socket.
    if (epoll_ctl (s_epoll, EPOLL_CTL_MOD, s, &ev) != 0 && errno == ENOENT)
        epoll_ctl (s_epoll, EPOLL_CTL_ADD, s, &ev);
    return 0;
}

static int
s_on_curl_timer (CURLM *multi, long timeout_ms, void *userp)
{
    s_curl_timeout_ms = timeout_ms;
    if (timeout_ms >= 0) s_curl_deadline_us = sb_mono_us () + (uint64_t)timeout_ms * 1000u;
    return 0;
}

//  Runs curl's timer when it is due.
static void
s_curl_timeouts (void)
{
    int running = 0;
    if (s_curl_timeout_ms >= 0 && sb_mono_us () >= s_curl_deadline_us) {
        s_curl_timeout_ms = -1;
        curl_multi_socket_action (sb_router.multi, CURL_SOCKET_TIMEOUT, 0, &running);
    }
}

//  A newer config from admin, if one came.
static void
s_clone_poll (void)
{
    sb_router_t *self = &sb_router;
    if (!self->clone) return;
    sb_config_t *fresh = sb_clone_process (self->clone);
    if (!fresh) return;
    uint64_t seq = sb_clone_seq (self->clone);
    if (sb_router_install_config (&fresh) == 0)
        printf ("router: config %llu from admin\n", (unsigned long long)seq);
    else {
        fprintf (stderr, "router: config %llu refused: a bad channel URL\n",
                 (unsigned long long)seq);
        sb_config_destroy (&fresh);
    }
    fflush (stdout);
}

int
main (int argc, char **argv)
{
    sb_router_t *self = &sb_router;
    self->settings.frontend_bind = s_env ("SB_ROUTER_BIND", "tcp://127.0.0.1:5555");
    self->settings.backend_bind = s_env ("SB_VALIDATOR_BIND", "tcp://127.0.0.1:5556");
    self->settings.logger_endpoint = s_env ("SB_LOGGER_ENDPOINT", "tcp://127.0.0.1:5557");
    self->settings.config_path = s_env ("SB_CONFIG", "config/demo.json");
    if (s_env_uint ("SB_VALIDATOR_BUDGET_MS", 2000, 600000, &self->settings.validator_budget_ms) ||
        s_env_uint ("SB_LOG_BODY_MAX", 65536, 16u << 20, &self->settings.log_body_max))
        return 1;

    char err[512];
    sb_config_t *config = sb_config_load_file (self->settings.config_path, err, sizeof err);
    if (!config) {
        fprintf (stderr, "router: config: %s\n", err);
        return 1;
    }
    curl_global_init (CURL_GLOBAL_DEFAULT);
    self->multi = curl_multi_init ();
    curl_multi_setopt (self->multi, CURLMOPT_MAXCONNECTS, 1024L);
    curl_multi_setopt (self->multi, CURLMOPT_PIPELINING, CURLPIPE_MULTIPLEX);
    self->writer = sb_msg_writer_new ();
    if (sb_router_install_config (&config) != 0) {
        fprintf (stderr, "router: config: a channel's base_url is not a URL\n");
        return 1;
    }

    self->zmq_ctx = zmq_ctx_new ();
    zmq_ctx_set (self->zmq_ctx, ZMQ_BLOCKY, 0); // shutting down never waits on peers
    //  Config from admin (Clone pattern), when admin's endpoints are given: the
    //  cached snapshot (if newer than nothing) replaces the seed file right away.
    const char *pub_ep = getenv ("SB_ADMIN_PUB_ENDPOINT");
    const char *snap_ep = getenv ("SB_ADMIN_SNAPSHOT_ENDPOINT");
    if (pub_ep && *pub_ep && snap_ep && *snap_ep) {
        char cache[512];
        snprintf (cache, sizeof cache, "%s/router-config.json", s_env ("SB_DATA_DIR", "data"));
        self->clone = sb_clone_new (self->zmq_ctx, pub_ep, snap_ep, cache);
        sb_config_t *cached =
            self->clone ? sb_clone_load_cache (self->clone, err, sizeof err) : NULL;
        if (cached && sb_router_install_config (&cached) != 0) sb_config_destroy (&cached);
    }
    self->frontend = zmq_socket (self->zmq_ctx, ZMQ_ROUTER);
    int one = 1, zero = 0, sndhwm = 200000, rcvhwm = 20000;
    int hb_ivl = 1000, hb_timeout = 3000;
    zmq_setsockopt (self->frontend, ZMQ_ROUTER_MANDATORY, &one, sizeof one);
    zmq_setsockopt (self->frontend, ZMQ_LINGER, &zero, sizeof zero);
    zmq_setsockopt (self->frontend, ZMQ_SNDHWM, &sndhwm, sizeof sndhwm);
    zmq_setsockopt (self->frontend, ZMQ_RCVHWM, &rcvhwm, sizeof rcvhwm);
    zmq_setsockopt (self->frontend, ZMQ_HEARTBEAT_IVL, &hb_ivl, sizeof hb_ivl);
    zmq_setsockopt (self->frontend, ZMQ_HEARTBEAT_TIMEOUT, &hb_timeout, sizeof hb_timeout);
    if (zmq_bind (self->frontend, self->settings.frontend_bind) != 0) {
        fprintf (stderr, "router: cannot bind %s: %s\n", self->settings.frontend_bind,
                 zmq_strerror (errno));
        return 1;
    }
    if (sb_broker_start () != 0) return 1;
    //  Metrics: PUB to admin once a second (a slow or absent admin just misses some).
    self->metrics = sb_metrics_new ();
    self->metrics_pub = zmq_socket (self->zmq_ctx, ZMQ_PUB);
    int metrics_hwm = 100;
    zmq_setsockopt (self->metrics_pub, ZMQ_LINGER, &zero, sizeof zero);
    zmq_setsockopt (self->metrics_pub, ZMQ_SNDHWM, &metrics_hwm, sizeof metrics_hwm);
    zmq_connect (self->metrics_pub, s_env ("SB_METRICS_ENDPOINT", "tcp://127.0.0.1:5562"));
    self->logger = zmq_socket (self->zmq_ctx, ZMQ_PUSH);
    int log_hwm = 50000;
    zmq_setsockopt (self->logger, ZMQ_LINGER, &zero, sizeof zero);
    zmq_setsockopt (self->logger, ZMQ_SNDHWM, &log_hwm, sizeof log_hwm);
    zmq_setsockopt (self->logger, ZMQ_IMMEDIATE, &one, sizeof one);
    zmq_connect (self->logger, self->settings.logger_endpoint);

    signal (SIGINT, s_on_signal);
    signal (SIGTERM, s_on_signal);
    signal (SIGPIPE, SIG_IGN);

    //  One epoll set for everything: curl's sockets (curl says which through the
    //  socket callback and when through the timer callback) and the ZMQ_FDs. A
    //  round costs only the sockets that are ready, not every transfer in flight.
    s_epoll = epoll_create1 (EPOLL_CLOEXEC);
    if (s_epoll < 0) return 1;
    curl_multi_setopt (self->multi, CURLMOPT_SOCKETFUNCTION, s_on_curl_socket);
    curl_multi_setopt (self->multi, CURLMOPT_TIMERFUNCTION, s_on_curl_timer);
    int fd;
    size_t fd_size = sizeof fd;
    zmq_getsockopt (self->frontend, ZMQ_FD, &fd, &fd_size);
    s_epoll_add_tagged (fd, S_TAG_ZMQ | S_TAG_FRONTEND);
    zmq_getsockopt (self->backend, ZMQ_FD, &fd, &fd_size);
    s_epoll_add_tagged (fd, S_TAG_ZMQ | S_TAG_BACKEND);
    if (self->clone) s_epoll_add_tagged (sb_clone_poll_fd (self->clone), S_TAG_ZMQ | S_TAG_CLONE);
    printf ("router: ingress on %s, validators on %s, logger at %s\n", self->settings.frontend_bind,
            self->settings.backend_bind, self->settings.logger_endpoint);
    fflush (stdout);

    self->frontend_dirty = self->backend_dirty = true;
    uint64_t last_timers = 0, last_metrics = 0;
    struct epoll_event events[256];
    while (!s_interrupted) {
        //  ZMQ_FD is edge-triggered: only wait when both sockets are drained.
        int timeout = sb_router_active () ? 10 : 200;
        if (s_curl_timeout_ms >= 0) {
            uint64_t now = sb_mono_us ();
            int left =
                s_curl_deadline_us > now ? (int)((s_curl_deadline_us - now + 999) / 1000) : 0;
            if (left < timeout) timeout = left;
        }
        //  ZMQ_FD is edge-triggered: a socket touched since it was last read to
        //  EAGAIN may hold messages its fd will not announce. Reading to EAGAIN
        //  costs two syscalls (libzmq's getpid + poll), so only those are read.
        if (self->frontend_dirty || self->backend_dirty) timeout = 0;
        int n = epoll_wait (s_epoll, events, 256, timeout);
        int running = 0;
        for (int k = 0; k < n; k++) {
            if (events[k].data.u64 & S_TAG_ZMQ) {
                if (events[k].data.u64 & S_TAG_FRONTEND) self->frontend_dirty = true;
                if (events[k].data.u64 & S_TAG_BACKEND) self->backend_dirty = true;
                if (events[k].data.u64 & S_TAG_CLONE) s_clone_poll ();
                continue; // drained below
            }
            int flags = 0;
            if (events[k].events & EPOLLIN) flags |= CURL_CSELECT_IN;
            if (events[k].events & EPOLLOUT) flags |= CURL_CSELECT_OUT;
            if (events[k].events & (EPOLLERR | EPOLLHUP)) flags |= CURL_CSELECT_ERR;
            curl_multi_socket_action (self->multi, (curl_socket_t)events[k].data.u64, flags,
                                      &running);
        }
        s_curl_timeouts ();
        s_read_curl ();
        if (self->frontend_dirty) s_drain_frontend ();
        if (self->backend_dirty) sb_broker_drain ();
        s_curl_timeouts (); // start what the drain added (curl asked for a 0 ms timer)
        s_read_curl ();
        uint64_t now = sb_mono_us ();
        if (now - last_timers >= 10000) {
            last_timers = now;
            sb_router_check_timers (now);
            sb_broker_tick (now);
            s_clone_poll (); // also on a timer: the clone's own snapshot retries
            if (now - last_metrics >= 1000000u) {
                last_metrics = now;
                s_publish_metrics ();
                sb_router_tools_flush ();
            }
        }
    }
    printf ("router: requests=%llu failovers=%llu upstream_errors=%llu timeouts=%llu cancels=%llu "
            "log_dropped=%llu bad_messages=%llu validations=%llu validation_timeouts=%llu\n",
            (unsigned long long)self->requests, (unsigned long long)self->failovers,
            (unsigned long long)self->upstream_errors, (unsigned long long)self->timeouts,
            (unsigned long long)self->cancels, (unsigned long long)self->log_dropped,
            (unsigned long long)(self->bad_messages + sb_msg_decode_errors ()),
            (unsigned long long)self->validations, (unsigned long long)self->validation_timeouts);
    fflush (stdout);
    sb_clone_destroy (&self->clone);
    close (s_epoll);
    zmq_close (self->frontend);
    zmq_close (self->backend);
    //  Records already queued for the logger get a second to go out (the socket only
    //  queues while the logger is connected, so this waits only on a live logger).
    int log_linger = 1000;
    zmq_setsockopt (self->logger, ZMQ_LINGER, &log_linger, sizeof log_linger);
    zmq_close (self->logger);
    zmq_close (self->metrics_pub);
    sb_metrics_destroy (&self->metrics);
    zmq_ctx_term (self->zmq_ctx);
    curl_multi_cleanup (self->multi);
    sb_msg_writer_destroy (&self->writer);
    if (self->gen) {
        self->gen->retired = true;
        self->gen->refs++;
        sb_rgen_release (self->gen);
    }
    return 0;
}
