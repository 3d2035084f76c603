/*  sb_clone — follows admin's config stream (Clone pattern, full-state messages).
    One explicit state machine: WAITING for a snapshot reply (requested on start,
    on a gap, on a reset and on staleness) or LIVE (applying numbered updates).
    Admin republishes its state every second at the current seq, which serves as
    the heartbeat that staleness is measured against.

    Wire: admin's PUB sends one-frame SB_MSG_CONFIG {seq, snapshot=false, data}
    (the republish of a large config leaves data empty: a bare heartbeat); a
    snapshot request is SB_MSG_CONFIG {seq = ours, snapshot=true, data empty} on
    the DEALER, answered by SB_MSG_CONFIG {seq, snapshot=true, data}.  */

#include "sb_clone.h"
#include "sb_clock.h"
#include "sb_msg.h"

#include <assert.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <openssl/sha.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zmq.h>

#define S_CACHE_FORMAT   "switchboard-clone-cache/1"
#define S_SUB_HWM        64  // full-state messages: a few queued is plenty; drops become gaps
#define S_MAX_BACKOFF    8   // request timeout grows to at most 8x the first one
#define S_DRAIN_MAX      256 // messages per socket per process call (bounded work)
#define S_DEFAULT_STALE  3000
#define S_DEFAULT_TIMEOU 2000

typedef enum {
    S_WAITING = 0, // snapshot requested, reply not yet accepted; updates ignored
    S_LIVE,        // have a snapshot; updates with seq == current + 1 apply
} s_state_t;

//  Invariants: sub and dealer are open and registered in epoll_fd; in S_WAITING,
//  request_us is when the outstanding request went out; seq is the sequence
//  number of the last config handed out (or loaded from the cache).
struct _sb_clone_t {
    void *ctx; // borrowed
    char *sub_endpoint;
    char *snapshot_endpoint;
    char *cache_path; // NULL: no cache
    void *sub;
    void *dealer; // replaced by a fresh socket whenever a request times out
    int epoll_fd;
    s_state_t state;
    uint64_t seq;
    bool have_digest; // digest is the SHA-256 of the config bytes last accepted
    unsigned char digest[32];
    uint64_t last_rx_us; // monotonic: last valid message from admin
    uint64_t request_us; // monotonic: when the outstanding request went out
    uint32_t backoff;    // current request timeout = request_timeout_ms * backoff
    uint32_t stale_ms;
    uint32_t request_timeout_ms;
    sb_msg_writer_t *writer;
    sb_clone_stats_t stats;
};

static int
s_socket_fd (void *socket)
{
    int fd = -1;
    size_t size = sizeof fd;
    if (zmq_getsockopt (socket, ZMQ_FD, &fd, &size) != 0) return -1;
    return fd;
}

static int
s_events (void *socket)
{
    int events = 0;
    size_t size = sizeof events;
    if (zmq_getsockopt (socket, ZMQ_EVENTS, &events, &size) != 0) return 0;
    return events;
}

static void
s_set_common (void *socket)
{
    int zero = 0;
    int64_t max = (int64_t)SB_CLONE_MAX_CONFIG + 4096; // msgpack framing headroom
    zmq_setsockopt (socket, ZMQ_LINGER, &zero, sizeof zero);
    zmq_setsockopt (socket, ZMQ_MAXMSGSIZE, &max, sizeof max);
}

static void *
s_dealer_open (sb_clone_t *self)
{
    void *dealer = zmq_socket (self->ctx, ZMQ_DEALER);
    if (!dealer) return NULL;
    s_set_common (dealer);
    //  One request is outstanding at a time; a tiny queue bounds what piles up
    //  while admin is unreachable (requests wait there until it connects).
    int hwm = 4;
    zmq_setsockopt (dealer, ZMQ_SNDHWM, &hwm, sizeof hwm);
    zmq_setsockopt (dealer, ZMQ_RCVHWM, &hwm, sizeof hwm);
    if (zmq_connect (dealer, self->snapshot_endpoint) != 0) {
        zmq_close (dealer);
        return NULL;
    }
    struct epoll_event ev = {.events = EPOLLIN, .data.u32 = 1};
    int fd = s_socket_fd (dealer);
    if (fd < 0 || epoll_ctl (self->epoll_fd, EPOLL_CTL_ADD, fd, &ev) != 0) {
        zmq_close (dealer);
        return NULL;
    }
    return dealer;
}

static void
s_dealer_close (sb_clone_t *self)
{
    if (!self->dealer) return;
    int fd = s_socket_fd (self->dealer);
    if (fd >= 0) epoll_ctl (self->epoll_fd, EPOLL_CTL_DEL, fd, NULL);
    zmq_close (self->dealer);
    self->dealer = NULL;
}

//  Sends a snapshot request and enters S_WAITING. A failed send (queue full,
//  which only happens while admin is unreachable) is retried by the timer.
static void
s_request_snapshot (sb_clone_t *self, uint64_t now)
{
    sb_msg_t msg;
    memset (&msg, 0, sizeof msg);
    msg.type = SB_MSG_CONFIG;
    msg.config_update.seq = self->seq;
    msg.config_update.snapshot = true;
    const void *data;
    size_t size;
    if (self->dealer && sb_msg_encode (self->writer, &msg, &data, &size) == 0 &&
        zmq_send (self->dealer, data, size, ZMQ_DONTWAIT) >= 0)
        self->stats.requests++;
    self->state = S_WAITING;
    self->request_us = now;
}

sb_clone_t *
sb_clone_new (void *zmq_ctx, const char *sub_endpoint, const char *snapshot_endpoint,
              const char *cache_path)
{
    if (!zmq_ctx || !sub_endpoint || !snapshot_endpoint) return NULL;
    sb_clone_t *self = calloc (1, sizeof *self);
    if (!self) return NULL;
    self->ctx = zmq_ctx;
    self->epoll_fd = epoll_create1 (EPOLL_CLOEXEC);
    self->sub_endpoint = strdup (sub_endpoint);
    self->snapshot_endpoint = strdup (snapshot_endpoint);
    self->cache_path = cache_path ? strdup (cache_path) : NULL;
    self->writer = sb_msg_writer_new ();
    self->stale_ms = S_DEFAULT_STALE;
    self->request_timeout_ms = S_DEFAULT_TIMEOU;
    self->backoff = 1;
    if (self->epoll_fd < 0 || !self->sub_endpoint || !self->snapshot_endpoint ||
        (cache_path && !self->cache_path) || !self->writer)
        goto fail;

    //  SUB first, then the request (as in the Guide): no update published after the
    //  snapshot was taken can slip between the two.
    self->sub = zmq_socket (zmq_ctx, ZMQ_SUB);
    if (!self->sub) goto fail;
    s_set_common (self->sub);
    int hwm = S_SUB_HWM;
    zmq_setsockopt (self->sub, ZMQ_RCVHWM, &hwm, sizeof hwm);
    zmq_setsockopt (self->sub, ZMQ_SUBSCRIBE, "", 0);
    if (zmq_connect (self->sub, sub_endpoint) != 0) goto fail;
    struct epoll_event ev = {.events = EPOLLIN, .data.u32 = 0};
    int fd = s_socket_fd (self->sub);
    if (fd < 0 || epoll_ctl (self->epoll_fd, EPOLL_CTL_ADD, fd, &ev) != 0) goto fail;
    self->dealer = s_dealer_open (self);
    if (!self->dealer) goto fail;
    s_request_snapshot (self, sb_mono_us ());
    return self;

fail:
    sb_clone_destroy (&self);
    return NULL;
}

void
sb_clone_destroy (sb_clone_t **self_p)
{
    if (!self_p || !*self_p) return;
    sb_clone_t *self = *self_p;
    if (self->epoll_fd >= 0) s_dealer_close (self);
    if (self->sub) zmq_close (self->sub);
    if (self->epoll_fd >= 0) close (self->epoll_fd);
    sb_msg_writer_destroy (&self->writer);
    free (self->sub_endpoint);
    free (self->snapshot_endpoint);
    free (self->cache_path);
    free (self);
    *self_p = NULL;
}

int
sb_clone_poll_fd (sb_clone_t *self)
{
    return self->epoll_fd;
}

uint64_t
sb_clone_seq (const sb_clone_t *self)
{
    return self->seq;
}

bool
sb_clone_synced (const sb_clone_t *self)
{
    return self->state == S_LIVE && sb_mono_us () - self->last_rx_us < self->stale_ms * 1000ull;
}

void
sb_clone_stats (const sb_clone_t *self, sb_clone_stats_t *stats)
{
    *stats = self->stats;
}

void
sb_clone_set_timing (sb_clone_t *self, uint32_t stale_ms, uint32_t request_timeout_ms)
{
    if (stale_ms) self->stale_ms = stale_ms;
    if (request_timeout_ms) self->request_timeout_ms = request_timeout_ms;
}

//  -------------------------------------------------------------------------
//  Cache file: {"format":..., "seq":N, "config":<the bytes admin sent>}. The config
//  carries provider secrets, so the file is created 0600.

static int
s_write_all (int fd, const void *data, size_t size)
{
    const char *p = data;
    while (size > 0) {
        ssize_t n = write (fd, p, size);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) return -1;
        p += n;
        size -= (size_t)n;
    }
    return 0;
}

static void
s_write_cache (sb_clone_t *self, uint64_t seq, const char *data, size_t size)
{
    if (!self->cache_path) return;
    char tmp[4096];
    int n = snprintf (tmp, sizeof tmp, "%s.tmp.%d", self->cache_path, (int)getpid ());
    if (n < 0 || (size_t)n >= sizeof tmp) {
        self->stats.cache_errors++;
        return;
    }
    int fd = open (tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    if (fd < 0) {
        self->stats.cache_errors++;
        return;
    }
    char head[128];
    int hn = snprintf (head, sizeof head,
                       "{\"format\":\"%s\",\"seq\":%" PRIu64 ",\"config\":", S_CACHE_FORMAT, seq);
    //  fsync before rename: after a crash the cache is the old file or the new one,
    //  never a truncated new one.
    bool ok = s_write_all (fd, head, (size_t)hn) == 0 && s_write_all (fd, data, size) == 0 &&
              s_write_all (fd, "}\n", 2) == 0 && fsync (fd) == 0;
    ok = close (fd) == 0 && ok;
    if (!ok || rename (tmp, self->cache_path) != 0) {
        unlink (tmp);
        self->stats.cache_errors++;
        return;
    }
    self->stats.cache_writes++;
}

sb_config_t *
sb_clone_load_cache (sb_clone_t *self, char *err, size_t err_size)
{
    if (!self->cache_path) {
        snprintf (err, err_size, "no cache path configured");
        return NULL;
    }
    sb_config_t *config = NULL;
    char *text = NULL;
    json_t *root = NULL;
    int fd = open (self->cache_path, O_RDONLY | O_CLOEXEC);
    struct stat st;
    if (fd < 0) {
        snprintf (err, err_size, "%s: %s", self->cache_path, strerror (errno));
        goto cleanup;
    }
    if (fstat (fd, &st) != 0 || !S_ISREG (st.st_mode) || st.st_size <= 0 ||
        (uint64_t)st.st_size > SB_CLONE_MAX_CONFIG + 4096u) {
        snprintf (err, err_size, "%s: not a regular file of 1 to %u bytes", self->cache_path,
                  SB_CLONE_MAX_CONFIG + 4096u);
        goto cleanup;
    }
    size_t size = (size_t)st.st_size, got = 0;
    text = malloc (size);
    if (!text) {
        snprintf (err, err_size, "out of memory");
        goto cleanup;
    }
    while (got < size) {
        ssize_t n = read (fd, text + got, size - got);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) break;
        got += (size_t)n;
    }
    json_error_t jerr;
    root = json_loadb (text, got, 0, &jerr);
    if (!root) {
        snprintf (err, err_size, "%s: not JSON: %s", self->cache_path, jerr.text);
        goto cleanup;
    }
    const json_t *seq = json_object_get (root, "seq");
    const char *format = json_string_value (json_object_get (root, "format"));
    if (!format || strcmp (format, S_CACHE_FORMAT) != 0 || !json_is_integer (seq) ||
        json_integer_value (seq) < 0) {
        snprintf (err, err_size, "%s: not a %s file", self->cache_path, S_CACHE_FORMAT);
        goto cleanup;
    }
    char cerr[400];
    config = sb_config_from_json (json_object_get (root, "config"), cerr, sizeof cerr);
    if (!config) {
        snprintf (err, err_size, "%s: %s", self->cache_path, cerr);
        goto cleanup;
    }
    self->seq = (uint64_t)json_integer_value (seq);
    //  The bytes admin sent are not kept, so the next snapshot is applied even at
    //  the same seq: one redundant swap rather than a missed change.
    self->have_digest = false;

cleanup:
    if (fd >= 0) close (fd);
    json_decref (root);
    free (text);
    return config;
}

//  -------------------------------------------------------------------------
//  Receiving

//  Loads a config from a message's data. Returns it (caller owns) and records seq
//  and digest, or NULL (counted as malformed) when it does not load.
static sb_config_t *
s_accept (sb_clone_t *self, const sb_config_update_t *m)
{
    char err[256];
    sb_config_t *config =
        m->data.size ? sb_config_from_text (m->data.data, m->data.size, err, sizeof err) : NULL;
    if (!config) {
        self->stats.malformed++;
        return NULL;
    }
    self->seq = m->seq;
    SHA256 ((const unsigned char *)m->data.data, m->data.size, self->digest);
    self->have_digest = true;
    s_write_cache (self, m->seq, m->data.data, m->data.size);
    return config;
}

//  Replaces the pending result with a newer config.
static void
s_take (sb_config_t **result, sb_config_t *config)
{
    if (!config) return;
    sb_config_destroy (result);
    *result = config;
}

//  Receives one single-frame message into `frame`. Returns 1 with a decoded CONFIG,
//  0 when the socket is drained, -1 for a frame that was dropped (counted).
static int
s_recv (sb_clone_t *self, void *socket, zmq_msg_t *frame, sb_config_update_t *out)
{
    if (!socket || zmq_msg_recv (frame, socket, ZMQ_DONTWAIT) < 0) return 0;
    bool multipart = zmq_msg_more (frame);
    while (zmq_msg_more (frame)) { // drain the rest of an unexpected multipart message
        zmq_msg_close (frame);
        zmq_msg_init (frame);
        if (zmq_msg_recv (frame, socket, ZMQ_DONTWAIT) < 0) break;
    }
    sb_msg_t msg;
    const char *why;
    if (multipart || sb_msg_decode (zmq_msg_data (frame), zmq_msg_size (frame), &msg, &why) != 0 ||
        msg.type != SB_MSG_CONFIG) {
        self->stats.malformed++;
        return -1;
    }
    *out = msg.config_update;
    return 1;
}

static void
s_on_snapshot (sb_clone_t *self, const sb_config_update_t *m, uint64_t now, sb_config_t **result)
{
    if (!m->snapshot) {
        self->stats.malformed++;
        return;
    }
    self->last_rx_us = now;
    if (self->state != S_WAITING) return; // a late answer to a request we gave up on
    unsigned char digest[32];
    SHA256 ((const unsigned char *)m->data.data, m->data.size, digest);
    if (self->have_digest && m->seq == self->seq && memcmp (digest, self->digest, 32) == 0) {
        //  Nothing changed since the config we handed out (e.g. a staleness check).
        self->state = S_LIVE;
        self->backoff = 1;
        self->stats.snapshots++;
        return;
    }
    sb_config_t *config = s_accept (self, m);
    if (!config) return; // stay WAITING: the request timer asks again
    s_take (result, config);
    self->state = S_LIVE;
    self->backoff = 1;
    self->stats.snapshots++;
}

static void
s_on_update (sb_clone_t *self, const sb_config_update_t *m, uint64_t now, sb_config_t **result)
{
    if (m->snapshot) {
        self->stats.malformed++;
        return;
    }
    self->last_rx_us = now;
    //  While waiting for a snapshot, updates are dropped: the snapshot reply carries
    //  the state, and anything newer shows up in the next republish (within a
    //  second) as seq == current + 1.
    if (self->state != S_LIVE) return;
    if (m->seq == self->seq) {
        self->stats.heartbeats++;
    } else if (m->data.size == 0 && m->seq > self->seq) {
        //  A heartbeat without the state (admin sends those for large configs)
        //  numbered past ours: we missed an update.
        self->stats.gaps++;
        s_request_snapshot (self, now);
    } else if (m->seq == self->seq + 1) {
        sb_config_t *config = s_accept (self, m);
        if (config) {
            s_take (result, config);
            self->stats.updates++;
        }
    } else if (m->seq > self->seq) {
        self->stats.gaps++;
        s_request_snapshot (self, now);
    } else {
        self->stats.resets++;
        s_request_snapshot (self, now);
    }
}

static void
s_timers (sb_clone_t *self, uint64_t now)
{
    if (self->state == S_WAITING) {
        uint64_t timeout_us = (uint64_t)self->request_timeout_ms * self->backoff * 1000u;
        if (now - self->request_us < timeout_us) return;
        //  Lazy Pirate: the request (or its reply) may be lost with a peer that went
        //  away; a fresh socket drops whatever the old one had queued.
        s_dealer_close (self);
        self->dealer = s_dealer_open (self);
        if (!self->dealer) {
            //  Out of sockets or memory: try again after the next timeout.
            self->request_us = now;
            return;
        }
        if (self->backoff < S_MAX_BACKOFF) self->backoff *= 2;
        self->stats.request_retries++;
        s_request_snapshot (self, now);
    } else if (now - self->last_rx_us >= self->stale_ms * 1000ull) {
        self->stats.stale++;
        s_request_snapshot (self, now);
    }
}

sb_config_t *
sb_clone_process (sb_clone_t *self)
{
    assert (self);
    sb_config_t *result = NULL;
    uint64_t now = sb_mono_us ();
    zmq_msg_t frame;
    sb_config_update_t m;
    //  ZMQ_FD is edge-triggered underneath: keep going until both sockets report no
    //  input, so that no wake-up is lost (a send on the DEALER can consume one).
    //  Work per call is bounded; anything left waits for the next call (the caller
    //  calls at least once a second), and the SUB queue holds only S_SUB_HWM.
    for (int round = 0; round < 4; round++) {
        for (int i = 0; i < S_DRAIN_MAX; i++) {
            zmq_msg_init (&frame);
            int rc = s_recv (self, self->dealer, &frame, &m);
            if (rc == 1) s_on_snapshot (self, &m, now, &result);
            zmq_msg_close (&frame);
            if (rc == 0) break;
        }
        for (int i = 0; i < S_DRAIN_MAX; i++) {
            zmq_msg_init (&frame);
            int rc = s_recv (self, self->sub, &frame, &m);
            if (rc == 1) s_on_update (self, &m, now, &result);
            zmq_msg_close (&frame);
            if (rc == 0) break;
        }
        s_timers (self, now);
        if (!(s_events (self->sub) & ZMQ_POLLIN) &&
            !(self->dealer && (s_events (self->dealer) & ZMQ_POLLIN)))
            break;
    }
    return result;
}
