/*  sb_admin_feed — where the services' metrics come in: a SUB socket bound at
    SB_METRICS_BIND (services connect their PUB), each frame a METRICS message
    (proto/sb_msg.h) handed to sb_admin_metrics. Its ZMQ_FD is adopted into
    admin's lws loop; sb_admin_feed_drain takes what is waiting without
    blocking. Runs on admin's lws thread.  */

#ifndef SB_ADMIN_FEED_H_INCLUDED
#define SB_ADMIN_FEED_H_INCLUDED

#include "sb_admin_metrics.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define SB_ADMIN_FEED_HWM       1000 // snapshots queued in ZeroMQ; more are dropped by it
#define SB_ADMIN_FEED_MAX_DRAIN 512  // messages per drain call
#define SB_ADMIN_FEED_BUDGET_US 2000 // a drain call stops taking messages after this

typedef struct _sb_admin_feed_t sb_admin_feed_t;

typedef struct {
    uint64_t received; // frames taken
    uint64_t bad;      // not a METRICS message, multipart, or refused by the aggregator
} sb_admin_feed_stats_t;

//  Binds on zmq_ctx (borrowed); `metrics` is borrowed and must outlive the
//  feed. NULL and why in err when the endpoint cannot be bound.
sb_admin_feed_t *sb_admin_feed_new (void *zmq_ctx, const char *bind, sb_admin_metrics_t *metrics,
                                    char *err, size_t err_size);
void sb_admin_feed_destroy (sb_admin_feed_t **self_p);

//  The SUB's ZMQ_FD (owned by ZeroMQ: adopt a dup() of it).
int sb_admin_feed_fd (sb_admin_feed_t *self);

//  Takes waiting snapshots, received at now_ms, until none is left, or
//  SB_ADMIN_FEED_MAX_DRAIN were taken, or SB_ADMIN_FEED_BUDGET_US went by (a
//  maximal snapshot, 2048 series, costs ~7 ms to parse; a router's usual one
//  ~0.1 ms), so the lws loop serves its other events in between. Returns true
//  when more are waiting: the caller should come round again soon
//  (lws_cancel_service), since ZMQ_FD will not signal them again.
bool sb_admin_feed_drain (sb_admin_feed_t *self, uint64_t now_ms);

void sb_admin_feed_stats (const sb_admin_feed_t *self, sb_admin_feed_stats_t *stats);

#endif
