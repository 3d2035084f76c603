/*  sb_logger_main — the record plane's writer: PULLs log events from every service
    and appends them to Redis streams with pipelined XADDs (one round trip per
    batch). Redis being down never reaches the data path: the services PUSH without
    blocking; here, records wait in a bounded queue while Redis reconnects, and the
    overflow is counted.  */

#include "sb_clock.h"
#include "sb_msg.h"

#include <hiredis/hiredis.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zmq.h>

#define S_BATCH      512
#define S_QUEUE_MAX  100000 // events held while Redis is away
#define S_STREAM_LEN "100000"

typedef struct {
    char *kind, *request_id, *data;
    size_t data_len;
    uint64_t ts_us;
} s_event_t;

static volatile sig_atomic_t s_interrupted;
static s_event_t s_queue[S_QUEUE_MAX];
static size_t s_head, s_count;
static uint64_t s_written, s_dropped, s_bad;

static void
s_on_signal (int sig)
{
    s_interrupted = 1;
}

static redisContext *
s_connect (const char *url)
{
    char host[256] = "127.0.0.1";
    int port = 6379;
    if (strncmp (url, "redis://", 8) == 0) {
        const char *h = url + 8;
        const char *colon = strchr (h, ':');
        size_t hl = colon ? (size_t)(colon - h) : strcspn (h, "/");
        if (hl && hl < sizeof host) {
            memcpy (host, h, hl);
            host[hl] = '\0';
        }
        if (colon) port = (int)strtol (colon + 1, NULL, 10);
    }
    struct timeval tv = {1, 0};
    redisContext *c = redisConnectWithTimeout (host, port, tv);
    if (!c || c->err) {
        if (c) redisFree (c);
        return NULL;
    }
    redisSetTimeout (c, tv);
    return c;
}

static void
s_free_event (s_event_t *e)
{
    free (e->kind);
    free (e->request_id);
    free (e->data);
    memset (e, 0, sizeof *e);
}

//  Writes up to S_BATCH queued events in one pipeline. Returns -1 if Redis failed
//  (the events stay queued, in order).
static int
s_flush (redisContext *redis)
{
    size_t n = s_count < S_BATCH ? s_count : S_BATCH;
    for (size_t i = 0; i < n; i++) {
        s_event_t *e = &s_queue[(s_head + i) % S_QUEUE_MAX];
        char ts[32];
        snprintf (ts, sizeof ts, "%llu", (unsigned long long)e->ts_us);
        //  One stream per kind; the hash tag keeps them in one Cluster slot.
        char stream[96];
        snprintf (stream, sizeof stream, "sb:{log}:%s", e->kind);
        const char *argv[] = {"XADD",       stream,        "MAXLEN", "~", S_STREAM_LEN, "*",
                              "request_id", e->request_id, "ts_us",  ts,  "data",       e->data};
        size_t lens[] = {
            4, strlen (stream), 6, 1,          strlen (S_STREAM_LEN), 1, 10, strlen (e->request_id),
            5, strlen (ts),     4, e->data_len};
        redisAppendCommandArgv (redis, 12, argv, lens);
    }
    for (size_t i = 0; i < n; i++) {
        redisReply *reply = NULL;
        if (redisGetReply (redis, (void **)&reply) != REDIS_OK) return -1;
        freeReplyObject (reply);
    }
    for (size_t i = 0; i < n; i++) {
        s_free_event (&s_queue[s_head]);
        s_head = (s_head + 1) % S_QUEUE_MAX;
    }
    s_count -= n;
    s_written += n;
    return 0;
}

static void
s_enqueue (const sb_log_event_t *ev)
{
    if (s_count == S_QUEUE_MAX) {
        s_dropped++;
        return;
    }
    s_event_t *e = &s_queue[(s_head + s_count) % S_QUEUE_MAX];
    e->kind = strndup (ev->kind.data ? ev->kind.data : "event", ev->kind.size ? ev->kind.size : 5);
    e->request_id = strndup (ev->request_id.data ? ev->request_id.data : "", ev->request_id.size);
    e->data = malloc (ev->data.size + 1);
    if (!e->kind || !e->request_id || !e->data) {
        s_free_event (e);
        s_dropped++;
        return;
    }
    memcpy (e->data, ev->data.data ? ev->data.data : "", ev->data.size);
    e->data[ev->data.size] = '\0';
    e->data_len = ev->data.size;
    e->ts_us = ev->ts_us;
    s_count++;
}

int
main (int argc, char **argv)
{
    const char *bind = getenv ("SB_LOGGER_BIND");
    const char *url = getenv ("SB_REDIS_URL");
    bind = bind && *bind ? bind : "tcp://127.0.0.1:5557";
    url = url && *url ? url : "redis://127.0.0.1:6379";
    signal (SIGINT, s_on_signal);
    signal (SIGTERM, s_on_signal);
    void *ctx = zmq_ctx_new ();
    void *pull = zmq_socket (ctx, ZMQ_PULL);
    int zero = 0, hwm = 100000;
    zmq_setsockopt (pull, ZMQ_LINGER, &zero, sizeof zero);
    zmq_setsockopt (pull, ZMQ_RCVHWM, &hwm, sizeof hwm);
    if (zmq_bind (pull, bind) != 0) {
        fprintf (stderr, "logger: cannot bind %s\n", bind);
        return 1;
    }
    redisContext *redis = s_connect (url);
    printf ("logger: pulling on %s, Redis %s (%s)\n", bind, url, redis ? "connected" : "down");
    fflush (stdout);
    uint64_t last_try = sb_mono_us ();
    zmq_msg_t frame;
    zmq_msg_init (&frame);
    while (!s_interrupted) {
        zmq_pollitem_t item = {pull, 0, ZMQ_POLLIN, 0};
        zmq_poll (&item, 1, s_count && redis ? 0 : 100);
        for (int i = 0; i < S_BATCH && zmq_msg_recv (&frame, pull, ZMQ_DONTWAIT) >= 0; i++) {
            sb_msg_t msg;
            if (sb_msg_decode (zmq_msg_data (&frame), zmq_msg_size (&frame), &msg, NULL) != 0 ||
                msg.type != SB_MSG_LOG_EVENT) {
                s_bad++;
                continue;
            }
            s_enqueue (&msg.log_event);
        }
        if (!redis && sb_mono_us () - last_try > 1000000u) {
            last_try = sb_mono_us ();
            redis = s_connect (url);
        }
        if (redis && s_count && s_flush (redis) != 0) {
            redisFree (redis);
            redis = NULL;
            last_try = sb_mono_us ();
        }
    }
    zmq_msg_close (&frame);
    if (redis) redisFree (redis);
    zmq_close (pull);
    zmq_ctx_term (ctx);
    printf ("logger: %llu written, %llu dropped, %llu malformed\n", (unsigned long long)s_written,
            (unsigned long long)s_dropped, (unsigned long long)s_bad);
    return 0;
}
