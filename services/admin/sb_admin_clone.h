/*  sb_admin_clone — the server side of config distribution (the ZeroMQ Guide's
    Clone pattern, full-state): a PUB sends each new config as a numbered update
    and republishes the current one every second (heartbeat for staleness checks,
    and how a late joiner or a lost message converges); a ROUTER answers snapshot
    requests with the current config. Clients: lib/common/sb_clone.
    Runs on admin's lws thread; the ROUTER's ZMQ_FD is adopted into that loop.  */

#ifndef SB_ADMIN_CLONE_H_INCLUDED
#define SB_ADMIN_CLONE_H_INCLUDED

#include <stddef.h>
#include <stdint.h>

typedef struct _sb_admin_clone_t sb_admin_clone_t;

typedef struct {
    uint64_t updates;         // new configs published
    uint64_t republished;     // heartbeats (current config again)
    uint64_t snapshots;       // snapshot requests answered
    uint64_t bad_requests;    // frames on the ROUTER that are not snapshot requests
    uint64_t dropped_replies; // replies that could not be sent (peer gone, queue full)
} sb_admin_clone_stats_t;

//  Binds both sockets on zmq_ctx (borrowed). Returns NULL and writes why into err
//  when an endpoint cannot be bound.
sb_admin_clone_t *sb_admin_clone_new (void *zmq_ctx, const char *pub_bind,
                                      const char *snapshot_bind, char *err, size_t err_size);
void sb_admin_clone_destroy (sb_admin_clone_t **self_p);

//  Makes `json` (copied) the current config at `seq` and publishes it at once.
//  Returns -1 when it is too large to encode or memory runs out (nothing changes).
int sb_admin_clone_set (sb_admin_clone_t *self, uint64_t seq, const char *json, size_t len);

//  Publishes the current config again (call about once a second).
void sb_admin_clone_republish (sb_admin_clone_t *self);

//  Answers the snapshot requests waiting on the ROUTER, without blocking.
void sb_admin_clone_drain (sb_admin_clone_t *self);

//  The ROUTER's ZMQ_FD (owned by ZeroMQ: adopt a dup() of it).
int sb_admin_clone_fd (sb_admin_clone_t *self);

uint64_t sb_admin_clone_seq (const sb_admin_clone_t *self);
void sb_admin_clone_stats (const sb_admin_clone_t *self, sb_admin_clone_stats_t *stats);

#endif
