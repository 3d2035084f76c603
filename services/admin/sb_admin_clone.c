/*  sb_admin_clone — PUB of numbered full-state updates + ROUTER of snapshots.
    Both messages for the current config are encoded once, when it is set, and
    re-sent as they are: a republish or a snapshot reply costs one copy.  */

#include "sb_admin_clone.h"
#include "sb_clone.h"
#include "sb_msg.h"

#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zmq.h>

#define S_PUB_HWM     64   // per subscriber; a slow one loses updates and re-snapshots
#define S_ROUTER_HWM  256  // replies queued per client at most (one is outstanding)
#define S_MAX_REQUEST 4096 // snapshot requests are a few bytes; bigger peers are cut off
#define S_DRAIN_MAX   256  // requests answered per drain call
//  Republishing the whole state every second is cheap for a few hundred KB; past
//  that the heartbeat carries only the seq, and a subscriber that finds it missed
//  an update asks for a snapshot.
#define S_REPUBLISH_FULL_MAX (256u << 10)

typedef struct {
    void *data;
    size_t size;
} s_frame_t;

//  Invariant: update and snapshot hold the encodings of the config at seq (both
//  empty before the first sb_admin_clone_set).
struct _sb_admin_clone_t {
    void *pub;
    void *router;
    uint64_t seq;
    s_frame_t update;   // SB_MSG_CONFIG {seq, snapshot=false, data}
    s_frame_t snapshot; // SB_MSG_CONFIG {seq, snapshot=true, data}
    s_frame_t beat;     // what the 1 s republish sends: update, or {seq, false, ""}
    sb_msg_writer_t *writer;
    sb_admin_clone_stats_t stats;
};

static int
s_bind (void *socket, const char *endpoint, char *err, size_t err_size)
{
    if (zmq_bind (socket, endpoint) == 0) return 0;
    snprintf (err, err_size, "cannot bind %s: %s", endpoint, zmq_strerror (errno));
    return -1;
}

sb_admin_clone_t *
sb_admin_clone_new (void *zmq_ctx, const char *pub_bind, const char *snapshot_bind, char *err,
                    size_t err_size)
{
    sb_admin_clone_t *self = calloc (1, sizeof *self);
    if (!self) return NULL;
    self->writer = sb_msg_writer_new ();
    self->pub = zmq_socket (zmq_ctx, ZMQ_PUB);
    self->router = zmq_socket (zmq_ctx, ZMQ_ROUTER);
    if (!self->writer || !self->pub || !self->router) {
        snprintf (err, err_size, "cannot create sockets: %s", zmq_strerror (errno));
        goto fail;
    }
    int zero = 0, one = 1, pub_hwm = S_PUB_HWM, router_hwm = S_ROUTER_HWM;
    int64_t max_request = S_MAX_REQUEST;
    zmq_setsockopt (self->pub, ZMQ_LINGER, &zero, sizeof zero);
    zmq_setsockopt (self->pub, ZMQ_SNDHWM, &pub_hwm, sizeof pub_hwm);
    zmq_setsockopt (self->router, ZMQ_LINGER, &zero, sizeof zero);
    zmq_setsockopt (self->router, ZMQ_SNDHWM, &router_hwm, sizeof router_hwm);
    zmq_setsockopt (self->router, ZMQ_RCVHWM, &router_hwm, sizeof router_hwm);
    zmq_setsockopt (self->router, ZMQ_MAXMSGSIZE, &max_request, sizeof max_request);
    //  A reply to a client that went away fails at once (counted) instead of
    //  being dropped silently.
    zmq_setsockopt (self->router, ZMQ_ROUTER_MANDATORY, &one, sizeof one);
    if (s_bind (self->pub, pub_bind, err, err_size) ||
        s_bind (self->router, snapshot_bind, err, err_size))
        goto fail;
    return self;

fail:
    sb_admin_clone_destroy (&self);
    return NULL;
}

void
sb_admin_clone_destroy (sb_admin_clone_t **self_p)
{
    if (!self_p || !*self_p) return;
    sb_admin_clone_t *self = *self_p;
    if (self->pub) zmq_close (self->pub);
    if (self->router) zmq_close (self->router);
    free (self->update.data);
    free (self->snapshot.data);
    free (self->beat.data);
    sb_msg_writer_destroy (&self->writer);
    free (self);
    *self_p = NULL;
}

static int
s_encode (sb_admin_clone_t *self, uint64_t seq, bool snapshot, const char *json, size_t len,
          s_frame_t *out)
{
    sb_msg_t msg;
    memset (&msg, 0, sizeof msg);
    msg.type = SB_MSG_CONFIG;
    msg.config_update.seq = seq;
    msg.config_update.snapshot = snapshot;
    msg.config_update.data = sb_bytes (json, len);
    const void *data;
    size_t size;
    if (sb_msg_encode (self->writer, &msg, &data, &size) != 0) return -1;
    out->data = malloc (size);
    if (!out->data) return -1;
    memcpy (out->data, data, size);
    out->size = size;
    return 0;
}

static void
s_send (sb_admin_clone_t *self, const s_frame_t *frame)
{
    //  PUB never blocks: at the high-water mark it drops for that subscriber,
    //  which then sees a gap and asks for a snapshot.
    if (frame->size) zmq_send (self->pub, frame->data, frame->size, ZMQ_DONTWAIT);
}

int
sb_admin_clone_set (sb_admin_clone_t *self, uint64_t seq, const char *json, size_t len)
{
    //  Clients refuse configs over SB_CLONE_MAX_CONFIG; so does the source.
    if (len > SB_CLONE_MAX_CONFIG) return -1;
    s_frame_t update = {0}, snapshot = {0}, beat = {0};
    bool ok = s_encode (self, seq, false, json, len, &update) == 0 &&
              s_encode (self, seq, true, json, len, &snapshot) == 0;
    if (ok && len > S_REPUBLISH_FULL_MAX)
        ok = s_encode (self, seq, false, "", 0, &beat) == 0;
    else if (ok && (beat.data = malloc (update.size)) != NULL) { // the beat is the update
        memcpy (beat.data, update.data, update.size);
        beat.size = update.size;
    } else
        ok = false;
    if (!ok) {
        free (update.data);
        free (snapshot.data);
        free (beat.data);
        return -1;
    }
    free (self->update.data);
    free (self->snapshot.data);
    free (self->beat.data);
    self->update = update;
    self->snapshot = snapshot;
    self->beat = beat;
    self->seq = seq;
    self->stats.updates++;
    s_send (self, &self->update);
    return 0;
}

void
sb_admin_clone_republish (sb_admin_clone_t *self)
{
    if (!self->beat.size) return;
    self->stats.republished++;
    s_send (self, &self->beat);
}

void
sb_admin_clone_drain (sb_admin_clone_t *self)
{
    for (int i = 0; i < S_DRAIN_MAX; i++) {
        zmq_msg_t identity, frame;
        zmq_msg_init (&identity);
        if (zmq_msg_recv (&identity, self->router, ZMQ_DONTWAIT) < 0) {
            zmq_msg_close (&identity);
            return;
        }
        //  [identity][request]: anything else is dropped whole.
        zmq_msg_init (&frame);
        bool ok = zmq_msg_more (&identity) && zmq_msg_recv (&frame, self->router, 0) >= 0 &&
                  !zmq_msg_more (&frame);
        while (zmq_msg_more (&frame)) {
            zmq_msg_close (&frame);
            zmq_msg_init (&frame);
            if (zmq_msg_recv (&frame, self->router, 0) < 0) break;
        }
        sb_msg_t msg;
        ok = ok && sb_msg_decode (zmq_msg_data (&frame), zmq_msg_size (&frame), &msg, NULL) == 0 &&
             msg.type == SB_MSG_CONFIG && msg.config_update.snapshot;
        zmq_msg_close (&frame);
        if (!ok) {
            self->stats.bad_requests++;
            zmq_msg_close (&identity);
            continue;
        }
        if (!self->snapshot.size) { // nothing to give yet: the client retries
            zmq_msg_close (&identity);
            continue;
        }
        if (zmq_msg_send (&identity, self->router, ZMQ_SNDMORE | ZMQ_DONTWAIT) < 0 ||
            zmq_send (self->router, self->snapshot.data, self->snapshot.size, ZMQ_DONTWAIT) < 0) {
            zmq_msg_close (&identity);
            self->stats.dropped_replies++;
            continue;
        }
        self->stats.snapshots++;
    }
}

int
sb_admin_clone_fd (sb_admin_clone_t *self)
{
    int fd = -1;
    size_t size = sizeof fd;
    zmq_getsockopt (self->router, ZMQ_FD, &fd, &size);
    return fd;
}

uint64_t
sb_admin_clone_seq (const sb_admin_clone_t *self)
{
    return self->seq;
}

void
sb_admin_clone_stats (const sb_admin_clone_t *self, sb_admin_clone_stats_t *stats)
{
    *stats = self->stats;
}
