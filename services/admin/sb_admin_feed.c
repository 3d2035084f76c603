/*  sb_admin_feed — the metrics SUB socket and its decoding.  */

#include "sb_admin_feed.h"
#include "sb_clock.h"
#include "sb_msg.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zmq.h>

struct _sb_admin_feed_t {
    void *sub;
    sb_admin_metrics_t *metrics; // borrowed
    sb_admin_feed_stats_t stats;
};

sb_admin_feed_t *
sb_admin_feed_new (void *zmq_ctx, const char *bind, sb_admin_metrics_t *metrics, char *err,
                   size_t err_size)
{
    sb_admin_feed_t *self = calloc (1, sizeof *self);
    if (!self) {
        snprintf (err, err_size, "out of memory");
        return NULL;
    }
    self->metrics = metrics;
    self->sub = zmq_socket (zmq_ctx, ZMQ_SUB);
    int zero = 0, hwm = SB_ADMIN_FEED_HWM;
    //  A snapshot is a few KB; sb_metrics caps series, so 8 MiB is far past any
    //  honest one and keeps a broken peer from making admin allocate more.
    int64_t max_size = SB_ADMIN_METRICS_MAX_DOC + 4096;
    if (!self->sub || zmq_setsockopt (self->sub, ZMQ_LINGER, &zero, sizeof zero) ||
        zmq_setsockopt (self->sub, ZMQ_RCVHWM, &hwm, sizeof hwm) ||
        zmq_setsockopt (self->sub, ZMQ_MAXMSGSIZE, &max_size, sizeof max_size) ||
        zmq_setsockopt (self->sub, ZMQ_SUBSCRIBE, "", 0) || zmq_bind (self->sub, bind) != 0) {
        snprintf (err, err_size, "cannot bind metrics SUB on %s: %s", bind,
                  zmq_strerror (zmq_errno ()));
        sb_admin_feed_destroy (&self);
        return NULL;
    }
    return self;
}

void
sb_admin_feed_destroy (sb_admin_feed_t **self_p)
{
    if (!self_p || !*self_p) return;
    sb_admin_feed_t *self = *self_p;
    if (self->sub) zmq_close (self->sub);
    free (self);
    *self_p = NULL;
}

int
sb_admin_feed_fd (sb_admin_feed_t *self)
{
    int fd = -1;
    size_t size = sizeof fd;
    zmq_getsockopt (self->sub, ZMQ_FD, &fd, &size);
    return fd;
}

static void
s_take (sb_admin_feed_t *self, zmq_msg_t *frame, uint64_t now_ms)
{
    sb_msg_t msg;
    if (zmq_msg_more (frame) ||
        sb_msg_decode (zmq_msg_data (frame), zmq_msg_size (frame), &msg, NULL) != 0 ||
        msg.type != SB_MSG_METRICS) {
        self->stats.bad++;
        return;
    }
    const sb_metrics_report_t *m = &msg.metrics_report;
    char service[SB_MAX_NAME + 1], instance[SB_MAX_NAME + 1];
    snprintf (service, sizeof service, "%.*s", (int)m->service.size,
              m->service.data ? m->service.data : "");
    snprintf (instance, sizeof instance, "%.*s", (int)m->instance.size,
              m->instance.data ? m->instance.data : "");
    //  Names with a NUL inside would be cut short by the copies above.
    if (strlen (service) != m->service.size || strlen (instance) != m->instance.size ||
        sb_admin_metrics_ingest (self->metrics, service, instance, m->data.data ? m->data.data : "",
                                 m->data.size, now_ms) != 0)
        self->stats.bad++;
}

bool
sb_admin_feed_drain (sb_admin_feed_t *self, uint64_t now_ms)
{
    zmq_msg_t frame;
    zmq_msg_init (&frame);
    size_t taken = 0;
    uint64_t until = sb_mono_us () + SB_ADMIN_FEED_BUDGET_US;
    while (taken < SB_ADMIN_FEED_MAX_DRAIN && sb_mono_us () < until &&
           zmq_msg_recv (&frame, self->sub, ZMQ_DONTWAIT) >= 0) {
        taken++;
        self->stats.received++;
        bool more = zmq_msg_more (&frame);
        s_take (self, &frame, now_ms);
        //  Skip the rest of a multipart message (already counted as bad).
        while (more && zmq_msg_recv (&frame, self->sub, ZMQ_DONTWAIT) >= 0)
            more = zmq_msg_more (&frame);
    }
    zmq_msg_close (&frame);
    int events = 0;
    size_t size = sizeof events;
    return zmq_getsockopt (self->sub, ZMQ_EVENTS, &events, &size) == 0 && (events & ZMQ_POLLIN);
}

void
sb_admin_feed_stats (const sb_admin_feed_t *self, sb_admin_feed_stats_t *stats)
{
    *stats = self->stats;
}
