/*  sb_clone — the client side of admin's config distribution (the ZeroMQ Guide's
    Clone pattern, with full-state messages): a SUB socket receives numbered
    updates, a DEALER asks admin's ROUTER for a snapshot on start, on a gap, on a
    sequence that goes backwards (admin's store was reset) and on a link that has
    been silent too long. Every accepted config is written to a cache file
    (temp + rename) so that a service can start while admin is down.

    Integration: the service polls sb_clone_poll_fd (readable when either socket
    may have input; level-triggered, so lws RAW_FILE adoption of a dup() or
    curl_multi_poll extra fds both work) and calls sb_clone_process when it is
    readable AND at least once a second (timers: snapshot retries, staleness).
    sb_clone_process never blocks on the network; it writes the cache file (a few
    KB, once per config change) on the caller's thread.

    An sb_clone_t and its sockets belong to the thread that created it.  */

#ifndef SB_CLONE_H_INCLUDED
#define SB_CLONE_H_INCLUDED

#include "sb_config.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct _sb_clone_t sb_clone_t;

//  Largest config document accepted (from admin or from the cache file).
#define SB_CLONE_MAX_CONFIG (32u << 20)

typedef struct {
    uint64_t snapshots;       // snapshot replies accepted
    uint64_t updates;         // numbered updates accepted
    uint64_t heartbeats;      // republished state at the current seq (nothing to do)
    uint64_t gaps;            // update seq > current + 1: re-snapshot
    uint64_t resets;          // update seq < current (admin store reset): re-snapshot
    uint64_t stale;           // nothing from admin for stale_ms: re-snapshot
    uint64_t requests;        // snapshot requests sent (first one included)
    uint64_t request_retries; // requests that timed out and were re-sent on a new socket
    uint64_t malformed;       // dropped: not a CONFIG frame, or a config that does not load
    uint64_t cache_writes;
    uint64_t cache_errors; // cache file could not be written
} sb_clone_stats_t;

//  Connects a SUB to sub_endpoint (admin's PUB) and a DEALER to snapshot_endpoint
//  (admin's ROUTER) on `zmq_ctx` (borrowed, must outlive the clone) and sends the
//  first snapshot request. cache_path may be NULL (no cache). Returns NULL when a
//  socket cannot be created or an endpoint is malformed.
sb_clone_t *sb_clone_new (void *zmq_ctx, const char *sub_endpoint, const char *snapshot_endpoint,
                          const char *cache_path);
void sb_clone_destroy (sb_clone_t **self_p);

//  Loads the cached config (the last one this clone, or another process with the
//  same cache_path, accepted). Returns NULL and writes why into err when there is
//  no cache or it does not load. On success the clone continues from the cached
//  sequence number. Caller owns the result.
sb_config_t *sb_clone_load_cache (sb_clone_t *self, char *err, size_t err_size);

//  A file descriptor that becomes readable when there may be input to process.
//  Owned by the clone: do not close it (lws adoption wants a dup()).
int sb_clone_poll_fd (sb_clone_t *self);

//  Drains both sockets without blocking and runs the timers. Returns a config that
//  is newer than the last one returned (caller owns it), or NULL when nothing
//  changed. When several updates are queued, only the newest is returned.
sb_config_t *sb_clone_process (sb_clone_t *self);

//  Sequence number of the last config returned or loaded from the cache (0: none).
uint64_t sb_clone_seq (const sb_clone_t *self);

//  True when the clone follows admin's live stream: it has a snapshot and heard
//  from admin within the stale interval. For readiness checks and metrics.
bool sb_clone_synced (const sb_clone_t *self);

void sb_clone_stats (const sb_clone_t *self, sb_clone_stats_t *stats);

//  Tuning (tests use short intervals): silence after which the link counts as
//  stale (default 3000 ms; admin republishes every second) and the first snapshot
//  request timeout (default 2000 ms, doubling on each retry up to 8x). 0 keeps the
//  current value.
void sb_clone_set_timing (sb_clone_t *self, uint32_t stale_ms, uint32_t request_timeout_ms);

#endif
