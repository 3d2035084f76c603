/*  sb_admin_redis — a thread with one hiredis connection, a bounded job queue
    in, a bounded result queue out (mutex + condition variable; the lws side
    is woken by the caller's `wake`).  */

#include "sb_admin_redis.h"
#include "sb_clock.h"
#include "sb_oai_error.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define S_MAX_RESULTS (SB_ADMIN_REDIS_MAX_JOBS + SB_ADMIN_REDIS_MAX_TAILS)

typedef struct {
    sb_admin_redis_kind_t kind;
    uint64_t ticket;
    sb_admin_logs_filter_t filter;
    char id[SB_ADMIN_LOGS_MAX_ID + 1];
    sb_admin_redis_result_t *result; // allocated when queued: answering never needs memory
} s_job_t;

//  Invariants (under lock): job_count <= in_flight <= SB_ADMIN_REDIS_MAX_JOBS,
//  where in_flight counts queries queued, running, or answered and not yet
//  taken, so the result ring always has room for an answer; tails_pending <=
//  SB_ADMIN_REDIS_MAX_TAILS.
struct _sb_admin_redis_t {
    char host[256];
    int port;
    char user[128];
    char password[256];
    int db;
    void (*wake) (void *arg);
    void *wake_arg;

    pthread_t thread;
    pthread_mutex_t lock;
    pthread_cond_t cond;
    bool stop;
    s_job_t jobs[SB_ADMIN_REDIS_MAX_JOBS];
    size_t job_head, job_count, in_flight;
    sb_admin_redis_result_t *results[S_MAX_RESULTS];
    size_t result_head, result_count, tails_pending;
    bool tail_on, up;
    uint64_t next_ticket;
    sb_admin_redis_stats_t stats;

    //  Redis thread only.
    redisContext *ctx;
    uint64_t last_attempt_us;
    char last_id[64]; // tail position; "" = start from the newest record
};

//  redis://[[user]:password@]host[:port][/db]
static int
s_parse_url (sb_admin_redis_t *self, const char *url)
{
    snprintf (self->host, sizeof self->host, "127.0.0.1");
    self->port = 6379;
    if (strncmp (url, "redis://", 8) != 0) return -1;
    const char *p = url + 8;
    const char *slash = strchr (p, '/');
    const char *end = slash ? slash : p + strlen (p);
    const char *at = memchr (p, '@', (size_t)(end - p));
    if (at) {
        const char *colon = memchr (p, ':', (size_t)(at - p));
        if (colon) {
            snprintf (self->user, sizeof self->user, "%.*s", (int)(colon - p), p);
            snprintf (self->password, sizeof self->password, "%.*s", (int)(at - colon - 1),
                      colon + 1);
        } else
            snprintf (self->password, sizeof self->password, "%.*s", (int)(at - p), p);
        p = at + 1;
    }
    const char *colon = memchr (p, ':', (size_t)(end - p));
    size_t host_len = (size_t)((colon ? colon : end) - p);
    if (host_len >= sizeof self->host) return -1;
    if (host_len) snprintf (self->host, sizeof self->host, "%.*s", (int)host_len, p);
    if (colon) {
        char *stop;
        long port = strtol (colon + 1, &stop, 10);
        if (stop != end || port < 1 || port > 65535) return -1;
        self->port = (int)port;
    }
    if (slash && slash[1]) {
        char *stop;
        long db = strtol (slash + 1, &stop, 10);
        if (*stop || db < 0 || db > 1000000) return -1;
        self->db = (int)db;
    }
    return 0;
}

static void
s_drop_connection (sb_admin_redis_t *self)
{
    if (self->ctx) redisFree (self->ctx);
    self->ctx = NULL;
    pthread_mutex_lock (&self->lock);
    self->up = false;
    pthread_mutex_unlock (&self->lock);
}

static bool
s_command_ok (redisContext *c, const char *fmt, const char *a, const char *b)
{
    redisReply *r = b   ? redisCommand (c, fmt, a, b)
                    : a ? redisCommand (c, fmt, a)
                        : redisCommand (c, fmt);
    bool ok = r && r->type != REDIS_REPLY_ERROR;
    freeReplyObject (r);
    return ok;
}

//  A usable connection, or NULL (tried at most once a second).
static redisContext *
s_connection (sb_admin_redis_t *self)
{
    if (self->ctx && !self->ctx->err) return self->ctx;
    if (self->ctx) s_drop_connection (self);
    uint64_t now = sb_mono_us ();
    if (self->last_attempt_us && now - self->last_attempt_us < 1000000u) return NULL;
    self->last_attempt_us = now;
    struct timeval connect_tv = {0, SB_ADMIN_REDIS_CONNECT_MS * 1000};
    redisContext *c = redisConnectWithTimeout (self->host, self->port, connect_tv);
    if (!c || c->err) {
        if (c) redisFree (c);
        return NULL;
    }
    struct timeval tv = {SB_ADMIN_REDIS_COMMAND_MS / 1000,
                         (SB_ADMIN_REDIS_COMMAND_MS % 1000) * 1000};
    redisSetTimeout (c, tv);
    char db[16];
    snprintf (db, sizeof db, "%d", self->db);
    if ((self->password[0] &&
         !(self->user[0] ? s_command_ok (c, "AUTH %s %s", self->user, self->password)
                         : s_command_ok (c, "AUTH %s", self->password, NULL))) ||
        (self->db && !s_command_ok (c, "SELECT %s", db, NULL))) {
        redisFree (c);
        return NULL;
    }
    self->ctx = c;
    self->last_id[0] = '\0'; // the tail starts again from the newest record
    pthread_mutex_lock (&self->lock);
    self->up = true;
    self->stats.connects++;
    pthread_mutex_unlock (&self->lock);
    return c;
}

//  Queues a result and wakes the lws thread. Takes ownership of `result`.
static void
s_push (sb_admin_redis_t *self, sb_admin_redis_result_t *result)
{
    pthread_mutex_lock (&self->lock);
    bool room =
        self->result_count < S_MAX_RESULTS &&
        (result->kind != SB_ADMIN_REDIS_TAIL || self->tails_pending < SB_ADMIN_REDIS_MAX_TAILS);
    if (room) {
        self->results[(self->result_head + self->result_count) % S_MAX_RESULTS] = result;
        self->result_count++;
        if (result->kind == SB_ADMIN_REDIS_TAIL) {
            self->tails_pending++;
            self->stats.tail_batches++;
        } else {
            self->stats.queries++;
            if (result->status == 503) self->stats.failures++;
        }
    } else
        self->stats.tail_dropped++; // only tails can be refused: see the invariants
    pthread_mutex_unlock (&self->lock);
    if (room)
        self->wake (self->wake_arg);
    else
        sb_admin_redis_result_destroy (&result);
}

static void
s_run_job (sb_admin_redis_t *self, const s_job_t *job)
{
    sb_admin_redis_result_t *r = job->result;
    r->kind = job->kind;
    r->ticket = job->ticket;
    redisContext *c = s_connection (self);
    if (!c) {
        char msg[512], buf[1024];
        snprintf (msg, sizeof msg, "Request logs are unavailable: Redis at %s:%d is not reachable.",
                  self->host, self->port);
        size_t n = sb_oai_error_body (buf, sizeof buf, 503, msg, NULL, "logs_unavailable");
        r->status = 503;
        r->body = strndup (buf, n);
        r->len = r->body ? n : 0;
    } else if (job->kind == SB_ADMIN_REDIS_LIST)
        r->status = sb_admin_logs_list (
            c, &job->filter, sb_mono_us () + SB_ADMIN_REDIS_LIST_MS * 1000u, &r->body, &r->len);
    else
        r->status = sb_admin_logs_get (c, job->id, &r->body, &r->len);
    if (c && c->err) s_drop_connection (self);
    s_push (self, r);
}

static void
s_run_tail (sb_admin_redis_t *self)
{
    redisContext *c = s_connection (self);
    if (!c) return;
    char *msg = NULL;
    size_t len = 0;
    if (sb_admin_logs_tail (c, self->last_id, sizeof self->last_id, &msg, &len) != 0) {
        if (c->err) s_drop_connection (self);
        return;
    }
    if (!msg) return;
    sb_admin_redis_result_t *r = calloc (1, sizeof *r);
    if (!r) {
        free (msg);
        return;
    }
    r->kind = SB_ADMIN_REDIS_TAIL;
    r->status = 200;
    r->body = msg;
    r->len = len;
    s_push (self, r);
}

static void *
s_thread (void *arg)
{
    sb_admin_redis_t *self = arg;
    uint64_t next_tail = 0, next_check = 0;
    bool tailing = false;
    pthread_mutex_lock (&self->lock);
    while (!self->stop) {
        if (self->job_count) {
            s_job_t job = self->jobs[self->job_head];
            self->job_head = (self->job_head + 1) % SB_ADMIN_REDIS_MAX_JOBS;
            self->job_count--;
            pthread_mutex_unlock (&self->lock);
            s_run_job (self, &job);
            pthread_mutex_lock (&self->lock);
            continue;
        }
        uint64_t now = sb_mono_us ();
        if (self->tail_on != tailing) {
            tailing = self->tail_on;
            //  Nobody watched for a while: start from the newest record again.
            pthread_mutex_unlock (&self->lock);
            self->last_id[0] = '\0';
            pthread_mutex_lock (&self->lock);
            next_tail = now;
            continue;
        }
        if (tailing && now >= next_tail) {
            pthread_mutex_unlock (&self->lock);
            s_run_tail (self);
            pthread_mutex_lock (&self->lock);
            next_tail = now + SB_ADMIN_REDIS_TAIL_MS * 1000u;
            continue;
        }
        if (now >= next_check) {
            //  Keeps "up" true to the facts while nobody asks (the dashboard shows it).
            pthread_mutex_unlock (&self->lock);
            redisContext *c = s_connection (self);
            if (c && !s_command_ok (c, "PING", NULL, NULL)) s_drop_connection (self);
            pthread_mutex_lock (&self->lock);
            next_check = now + 2000000u;
            continue;
        }
        uint64_t wait_us = tailing ? next_tail - now : next_check - now;
        struct timespec until;
        clock_gettime (CLOCK_MONOTONIC, &until);
        until.tv_sec += (time_t)(wait_us / 1000000u);
        until.tv_nsec += (long)(wait_us % 1000000u) * 1000;
        if (until.tv_nsec >= 1000000000L) {
            until.tv_sec++;
            until.tv_nsec -= 1000000000L;
        }
        pthread_cond_timedwait (&self->cond, &self->lock, &until);
    }
    pthread_mutex_unlock (&self->lock);
    return NULL;
}

sb_admin_redis_t *
sb_admin_redis_new (const char *url, void (*wake) (void *arg), void *arg)
{
    sb_admin_redis_t *self = calloc (1, sizeof *self);
    if (!self) return NULL;
    if (s_parse_url (self, url)) {
        free (self);
        return NULL;
    }
    self->wake = wake;
    self->wake_arg = arg;
    self->next_ticket = 1;
    pthread_condattr_t attr;
    pthread_condattr_init (&attr);
    pthread_condattr_setclock (&attr, CLOCK_MONOTONIC);
    pthread_cond_init (&self->cond, &attr);
    pthread_condattr_destroy (&attr);
    pthread_mutex_init (&self->lock, NULL);
    if (pthread_create (&self->thread, NULL, s_thread, self) != 0) {
        pthread_cond_destroy (&self->cond);
        pthread_mutex_destroy (&self->lock);
        free (self);
        return NULL;
    }
    return self;
}

void
sb_admin_redis_destroy (sb_admin_redis_t **self_p)
{
    if (!self_p || !*self_p) return;
    sb_admin_redis_t *self = *self_p;
    pthread_mutex_lock (&self->lock);
    self->stop = true;
    pthread_cond_signal (&self->cond);
    pthread_mutex_unlock (&self->lock);
    pthread_join (self->thread, NULL);
    if (self->ctx) redisFree (self->ctx);
    for (size_t i = 0; i < self->job_count; i++)
        sb_admin_redis_result_destroy (
            &self->jobs[(self->job_head + i) % SB_ADMIN_REDIS_MAX_JOBS].result);
    while (self->result_count) {
        sb_admin_redis_result_destroy (&self->results[self->result_head]);
        self->result_head = (self->result_head + 1) % S_MAX_RESULTS;
        self->result_count--;
    }
    pthread_cond_destroy (&self->cond);
    pthread_mutex_destroy (&self->lock);
    memset (self->password, 0, sizeof self->password);
    free (self);
    *self_p = NULL;
}

static uint64_t
s_queue (sb_admin_redis_t *self, const s_job_t *job)
{
    pthread_mutex_lock (&self->lock);
    uint64_t ticket = 0;
    sb_admin_redis_result_t *result =
        self->in_flight < SB_ADMIN_REDIS_MAX_JOBS ? calloc (1, sizeof *result) : NULL;
    if (result) {
        s_job_t *slot = &self->jobs[(self->job_head + self->job_count) % SB_ADMIN_REDIS_MAX_JOBS];
        *slot = *job;
        slot->result = result;
        slot->ticket = ticket = self->next_ticket++;
        self->job_count++;
        self->in_flight++;
        pthread_cond_signal (&self->cond);
    } else
        self->stats.refused++;
    pthread_mutex_unlock (&self->lock);
    return ticket;
}

uint64_t
sb_admin_redis_list (sb_admin_redis_t *self, const sb_admin_logs_filter_t *filter)
{
    s_job_t job;
    memset (&job, 0, sizeof job);
    job.kind = SB_ADMIN_REDIS_LIST;
    job.filter = *filter;
    return s_queue (self, &job);
}

uint64_t
sb_admin_redis_get (sb_admin_redis_t *self, const char *request_id)
{
    s_job_t job;
    memset (&job, 0, sizeof job);
    job.kind = SB_ADMIN_REDIS_GET;
    snprintf (job.id, sizeof job.id, "%s", request_id);
    return s_queue (self, &job);
}

void
sb_admin_redis_tail (sb_admin_redis_t *self, bool on)
{
    pthread_mutex_lock (&self->lock);
    if (self->tail_on != on) {
        self->tail_on = on;
        pthread_cond_signal (&self->cond);
    }
    pthread_mutex_unlock (&self->lock);
}

sb_admin_redis_result_t *
sb_admin_redis_take (sb_admin_redis_t *self)
{
    sb_admin_redis_result_t *r = NULL;
    pthread_mutex_lock (&self->lock);
    if (self->result_count) {
        r = self->results[self->result_head];
        self->results[self->result_head] = NULL;
        self->result_head = (self->result_head + 1) % S_MAX_RESULTS;
        self->result_count--;
        if (r->kind == SB_ADMIN_REDIS_TAIL)
            self->tails_pending--;
        else
            self->in_flight--;
    }
    pthread_mutex_unlock (&self->lock);
    return r;
}

void
sb_admin_redis_result_destroy (sb_admin_redis_result_t **result_p)
{
    if (!result_p || !*result_p) return;
    free ((*result_p)->body);
    free (*result_p);
    *result_p = NULL;
}

bool
sb_admin_redis_up (sb_admin_redis_t *self)
{
    pthread_mutex_lock (&self->lock);
    bool up = self->up;
    pthread_mutex_unlock (&self->lock);
    return up;
}

void
sb_admin_redis_stats (sb_admin_redis_t *self, sb_admin_redis_stats_t *stats)
{
    pthread_mutex_lock (&self->lock);
    *stats = self->stats;
    pthread_mutex_unlock (&self->lock);
}
