/*  sb_router_broker — the router's side of the validator pool: a load-balancing
    broker on a ROUTER socket (the ZeroMQ Guide's Paranoid Pirate). Workers say
    READY with a capacity, heartbeat both ways, and take jobs. A worker silent for
    S_WORKER_DEAD_US is dropped and its jobs go to another worker, inside each
    job's deadline; a job nobody answers in time is handed back to its request as
    a timeout (the request then passes through: fail-open).  */

#include "sb_router.h"
#include "sb_clock.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define S_MAX_WORKERS    256
#define S_MAX_JOBS       4096     // queued + in flight; more is "queue full"
#define S_WORKER_DEAD_US 3000000u // 3 missed heartbeats
#define S_IDENT_MAX      64

typedef struct {
    unsigned char ident[S_IDENT_MAX];
    size_t ident_len;
    char instance[SB_MAX_NAME + 1];
    uint64_t seen_us;
    uint32_t capacity, inflight;
    uint64_t jobs_done;
    uint64_t last_job; // dispatch number of its latest job (least recently used first)
    bool live;
} s_worker_t;

typedef struct {
    uint64_t job_id; // 0 = free slot
    bool toon;       // a TOON job (else a validation job)
    sb_rreq_t *req;
    uint64_t deadline_us;
    int worker;  // -1 queued
    char *frame; // encoded VALIDATE_JOB, kept for a retry
    size_t frame_len;
    uint32_t tries;
} s_job_t;

static s_worker_t s_workers[S_MAX_WORKERS];
static s_job_t s_jobs[S_MAX_JOBS];
static uint64_t s_next_job = 1;
static uint64_t s_dispatches;
static uint64_t s_last_heartbeat_us;
static uint64_t s_retried, s_expired, s_workers_lost;

//  With no live worker for this long (and the router past its own start), a job
//  would only wait out its budget: requests skip the pool at once instead.
#define S_POOL_GRACE_US (3 * 1000000u)
static uint64_t s_started_us, s_last_live_us;

bool
sb_broker_down (void)
{
    if (sb_broker_workers ()) return false;
    uint64_t since = s_last_live_us > s_started_us ? s_last_live_us : s_started_us;
    return sb_mono_us () - since >= S_POOL_GRACE_US;
}

size_t
sb_broker_workers (void)
{
    size_t n = 0;
    for (int i = 0; i < S_MAX_WORKERS; i++)
        n += s_workers[i].live;
    return n;
}

int
sb_broker_start (void)
{
    sb_router_t *r = &sb_router;
    s_started_us = sb_mono_us ();
    r->backend = zmq_socket (r->zmq_ctx, ZMQ_ROUTER);
    int one = 1, zero = 0, hwm = 10000;
    zmq_setsockopt (r->backend, ZMQ_ROUTER_MANDATORY, &one, sizeof one);
    zmq_setsockopt (r->backend, ZMQ_LINGER, &zero, sizeof zero);
    zmq_setsockopt (r->backend, ZMQ_SNDHWM, &hwm, sizeof hwm);
    zmq_setsockopt (r->backend, ZMQ_RCVHWM, &hwm, sizeof hwm);
    if (zmq_bind (r->backend, r->settings.backend_bind) != 0) {
        fprintf (stderr, "router: cannot bind %s: %s\n", r->settings.backend_bind,
                 zmq_strerror (zmq_errno ()));
        return -1;
    }
    return 0;
}

static int
s_send_to (int w, const void *data, size_t len)
{
    s_worker_t *worker = &s_workers[w];
    sb_router.backend_dirty = true;
    if (zmq_send (sb_router.backend, worker->ident, worker->ident_len, ZMQ_SNDMORE | ZMQ_DONTWAIT) <
        0)
        return -1;
    if (zmq_send (sb_router.backend, data, len, ZMQ_DONTWAIT) < 0) return -1;
    return 0;
}

//  A worker is gone (silent too long, or unroutable): its jobs go back to the queue
//  for another worker, still inside their deadlines.
static void
s_worker_lost (int i)
{
    s_worker_t *w = &s_workers[i];
    if (!w->live) return;
    w->live = false;
    s_workers_lost++;
    s_last_live_us = sb_mono_us (); // live until now
    for (int j = 0; j < S_MAX_JOBS; j++)
        if (s_jobs[j].job_id && s_jobs[j].worker == i) {
            s_jobs[j].worker = -1;
            s_retried++;
        }
    w->inflight = 0;
}

//  The live worker with the most spare capacity, or -1; among equals, the one that
//  got a job least recently, so idle workers share the load instead of the first
//  one in the table taking nearly all of it.
static int
s_pick_worker (void)
{
    int best = -1;
    uint32_t best_spare = 0;
    uint64_t best_last = 0;
    for (int i = 0; i < S_MAX_WORKERS; i++) {
        s_worker_t *w = &s_workers[i];
        if (!w->live || w->inflight >= w->capacity) continue;
        uint32_t spare = w->capacity - w->inflight;
        if (best < 0 || spare > best_spare || (spare == best_spare && w->last_job < best_last)) {
            best = i;
            best_spare = spare;
            best_last = w->last_job;
        }
    }
    if (best >= 0) s_workers[best].last_job = ++s_dispatches;
    return best;
}

static void
s_dispatch_queued (void)
{
    for (int j = 0; j < S_MAX_JOBS; j++) {
        s_job_t *job = &s_jobs[j];
        if (!job->job_id || job->worker >= 0) continue;
        int w = s_pick_worker ();
        if (w < 0) return;
        if (s_send_to (w, job->frame, job->frame_len) == 0) {
            job->worker = w;
            job->tries++;
            s_workers[w].inflight++;
        } else {
            s_worker_lost (w); // unroutable: gone; try this job on the next worker
            j--;
        }
    }
}

static void
s_free_job (s_job_t *job)
{
    if (job->worker >= 0 && s_workers[job->worker].inflight) s_workers[job->worker].inflight--;
    free (job->frame);
    memset (job, 0, sizeof *job);
    job->worker = -1;
}

static int
s_free_slot (void)
{
    for (int j = 0; j < S_MAX_JOBS; j++)
        if (!s_jobs[j].job_id) return j;
    return -1;
}

//  Keeps an encoded job (for a retry on another worker) and dispatches it.
static uint64_t
s_enqueue (int slot, sb_rreq_t *req, uint64_t deadline_us, bool toon, const void *data, size_t size)
{
    s_job_t *job = &s_jobs[slot];
    job->frame = malloc (size);
    if (!job->frame) return 0;
    memcpy (job->frame, data, size);
    job->frame_len = size;
    job->job_id = s_next_job++;
    job->req = req;
    job->toon = toon;
    job->deadline_us = deadline_us;
    job->worker = -1;
    s_dispatch_queued ();
    return job->job_id;
}

//  Workers see wall-clock deadlines (their clocks are not ours).
static uint64_t
s_wall_deadline (uint64_t deadline_us)
{
    uint64_t now = sb_mono_us ();
    return sb_wall_ms () + (deadline_us > now ? (deadline_us - now) / 1000 : 0);
}

uint64_t
sb_broker_submit (sb_rreq_t *req, uint64_t deadline_us, int mode, const char *tools,
                  size_t tools_len, const char *calls, size_t calls_len)
{
    int slot = sb_broker_down () ? -1 : s_free_slot ();
    if (slot < 0) return 0;
    sb_msg_t msg = {.type = SB_MSG_VALIDATE_JOB};
    msg.validate_job.job_id = s_next_job;
    msg.validate_job.deadline_ms = s_wall_deadline (deadline_us);
    msg.validate_job.mode = (uint64_t)mode;
    msg.validate_job.tools = sb_bytes (tools, tools_len);
    msg.validate_job.calls = sb_bytes (calls, calls_len);
    const void *data;
    size_t size;
    if (sb_msg_encode (sb_router.writer, &msg, &data, &size) != 0) return 0;
    return s_enqueue (slot, req, deadline_us, false, data, size);
}

uint64_t
sb_broker_submit_toon (sb_rreq_t *req, uint64_t deadline_us, int mode, const char *body,
                       size_t body_len)
{
    int slot = sb_broker_down () ? -1 : s_free_slot ();
    if (slot < 0) return 0;
    sb_msg_t msg = {.type = SB_MSG_TOON_JOB};
    msg.toon_job.job_id = s_next_job;
    msg.toon_job.deadline_ms = s_wall_deadline (deadline_us);
    msg.toon_job.mode = (uint64_t)mode;
    msg.toon_job.body = sb_bytes (body, body_len);
    const void *data;
    size_t size;
    if (sb_msg_encode (sb_router.writer, &msg, &data, &size) != 0) return 0;
    return s_enqueue (slot, req, deadline_us, true, data, size);
}

void
sb_broker_cancel (uint64_t job_id)
{
    for (int j = 0; j < S_MAX_JOBS; j++)
        if (s_jobs[j].job_id == job_id) {
            s_free_job (&s_jobs[j]);
            return;
        }
}

static int
s_find_worker (const void *ident, size_t len, bool create)
{
    int free_slot = -1;
    for (int i = 0; i < S_MAX_WORKERS; i++) {
        if (s_workers[i].ident_len == len && memcmp (s_workers[i].ident, ident, len) == 0) return i;
        if (free_slot < 0 && !s_workers[i].live && s_workers[i].inflight == 0) free_slot = i;
    }
    if (!create || free_slot < 0 || len > S_IDENT_MAX) return -1;
    s_worker_t *w = &s_workers[free_slot];
    memset (w, 0, sizeof *w);
    memcpy (w->ident, ident, len);
    w->ident_len = len;
    return free_slot;
}

static void
s_on_message (const void *ident, size_t ident_len, const void *data, size_t size)
{
    sb_msg_t msg;
    if (sb_msg_decode (data, size, &msg, NULL) != 0) {
        sb_router.bad_messages++;
        return;
    }
    uint64_t now = sb_mono_us ();
    int w = s_find_worker (ident, ident_len, msg.type == SB_MSG_READY);
    if (w < 0) return; // unknown worker: it will say READY after our silence
    s_worker_t *worker = &s_workers[w];
    worker->seen_us = now;
    s_last_live_us = now;
    switch (msg.type) {
        case SB_MSG_READY:
            worker->live = true;
            worker->capacity = msg.ready.capacity ? (uint32_t)msg.ready.capacity : 1;
            if (worker->capacity > 1024) worker->capacity = 1024;
            snprintf (worker->instance, sizeof worker->instance, "%.*s",
                      (int)msg.ready.instance.size,
                      msg.ready.instance.data ? msg.ready.instance.data : "");
            s_dispatch_queued ();
            break;
        case SB_MSG_HEARTBEAT:
            if (!worker->live) {
                worker->live = true;
                worker->capacity = worker->capacity ? worker->capacity : 1;
            }
            break;
        case SB_MSG_TOON_RESULT:
            for (int j = 0; j < S_MAX_JOBS; j++) {
                s_job_t *job = &s_jobs[j];
                if (job->job_id != msg.toon_result.job_id || !job->toon) continue;
                sb_rreq_t *req = job->req;
                worker->jobs_done++;
                s_free_job (job);
                sb_router_on_toon (req, &msg.toon_result);
                break;
            }
            s_dispatch_queued ();
            break;
        case SB_MSG_VALIDATE_RESULT:
            for (int j = 0; j < S_MAX_JOBS; j++) {
                s_job_t *job = &s_jobs[j];
                if (job->job_id != msg.validate_result.job_id) continue;
                sb_rreq_t *req = job->req;
                worker->jobs_done++;
                s_free_job (job);
                sb_router_on_validation (req, &msg.validate_result);
                break;
            }
            s_dispatch_queued ();
            break;
        default:
            sb_router.bad_messages++;
            break;
    }
}

void
sb_broker_drain (void)
{
    zmq_msg_t ident, frame;
    zmq_msg_init (&ident);
    zmq_msg_init (&frame);
    for (int i = 0; i < 1024; i++) {
        if (zmq_msg_recv (&ident, sb_router.backend, ZMQ_DONTWAIT) < 0) {
            if (zmq_errno () == EAGAIN) sb_router.backend_dirty = false;
            break;
        }
        if (!zmq_msg_more (&ident) || zmq_msg_recv (&frame, sb_router.backend, ZMQ_DONTWAIT) < 0) {
            sb_router.bad_messages++;
            continue;
        }
        //  Drop any further frames of a malformed multi-part message.
        while (zmq_msg_more (&frame))
            if (zmq_msg_recv (&frame, sb_router.backend, ZMQ_DONTWAIT) < 0) break;
        s_on_message (zmq_msg_data (&ident), zmq_msg_size (&ident), zmq_msg_data (&frame),
                      zmq_msg_size (&frame));
    }
    zmq_msg_close (&ident);
    zmq_msg_close (&frame);
}

void
sb_broker_tick (uint64_t now)
{
    //  Workers that went quiet are dead; their jobs go back to the queue.
    for (int i = 0; i < S_MAX_WORKERS; i++) {
        s_worker_t *w = &s_workers[i];
        if (w->live && now - w->seen_us >= S_WORKER_DEAD_US) s_worker_lost (i);
    }
    //  Jobs past their deadline go back to their request (pass-through).
    for (int j = 0; j < S_MAX_JOBS; j++) {
        s_job_t *job = &s_jobs[j];
        if (job->job_id && now >= job->deadline_us) {
            sb_rreq_t *req = job->req;
            s_expired++;
            bool toon = job->toon;
            s_free_job (job);
            if (toon)
                sb_router_on_toon_timeout (req);
            else
                sb_router_on_validation_timeout (req);
        }
    }
    s_dispatch_queued ();
    if (now - s_last_heartbeat_us >= 1000000u) {
        s_last_heartbeat_us = now;
        sb_msg_t hb = {.type = SB_MSG_HEARTBEAT};
        hb.heartbeat.instance = sb_bytes_str ("router");
        const void *data;
        size_t size;
        if (sb_msg_encode (sb_router.writer, &hb, &data, &size) == 0)
            for (int i = 0; i < S_MAX_WORKERS; i++)
                if (s_workers[i].live && s_send_to (i, data, size) != 0) s_worker_lost (i);
    }
}
