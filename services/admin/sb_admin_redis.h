/*  sb_admin_redis — admin's Redis thread: the one place admin talks to Redis,
    so the lws loop never waits on it. The lws thread queues logs queries and
    switches the live tail on or off; the thread runs the queries
    (sb_admin_logs) with bounded timeouts, polls the request stream every
    SB_ADMIN_REDIS_TAIL_MS while the tail is on, and hands results back through
    a bounded queue, waking the lws loop with the `wake` callback (admin passes
    one that calls lws_cancel_service).

    While Redis is down, a query is answered 503 at once (reconnects are tried
    at most once a second); a query never takes longer than about
    SB_ADMIN_REDIS_CONNECT_MS + a few SB_ADMIN_REDIS_COMMAND_MS.  */

#ifndef SB_ADMIN_REDIS_H_INCLUDED
#define SB_ADMIN_REDIS_H_INCLUDED

#include "sb_admin_logs.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define SB_ADMIN_REDIS_CONNECT_MS 300
#define SB_ADMIN_REDIS_COMMAND_MS 1000
#define SB_ADMIN_REDIS_LIST_MS    2000 // a listing's scan stops here (returns a cursor)
#define SB_ADMIN_REDIS_TAIL_MS    250
#define SB_ADMIN_REDIS_MAX_JOBS   32 // queries queued or running; more are refused
#define SB_ADMIN_REDIS_MAX_TAILS  4  // tail batches waiting for the lws thread; more are dropped

typedef struct _sb_admin_redis_t sb_admin_redis_t;

typedef enum {
    SB_ADMIN_REDIS_LIST = 1, // a listing (body: the HTTP answer)
    SB_ADMIN_REDIS_GET,      // one record (body: the HTTP answer)
    SB_ADMIN_REDIS_TAIL,     // new records (body: the dashboard message)
} sb_admin_redis_kind_t;

typedef struct {
    sb_admin_redis_kind_t kind;
    uint64_t ticket; // as returned when queued (0 for TAIL)
    int status;      // HTTP status (LIST, GET)
    char *body;      // JSON text, owned by the result
    size_t len;
} sb_admin_redis_result_t;

typedef struct {
    uint64_t queries;      // answered
    uint64_t refused;      // queue full
    uint64_t failures;     // answered 503
    uint64_t connects;     // successful connections
    uint64_t tail_batches; // handed to the lws thread
    uint64_t tail_dropped; // dropped because the lws thread had not taken earlier ones
} sb_admin_redis_stats_t;

//  Starts the thread. `url` is redis://[[user]:password@]host[:port][/db].
//  `wake` is called on the Redis thread after a result is queued. NULL when the
//  URL is invalid or the thread cannot start.
sb_admin_redis_t *sb_admin_redis_new (const char *url, void (*wake) (void *arg), void *arg);

//  Stops and joins the thread; results not taken are freed.
void sb_admin_redis_destroy (sb_admin_redis_t **self_p);

//  Queue a query (filter / id copied). Return its ticket, or 0 when
//  SB_ADMIN_REDIS_MAX_JOBS are already queued or running.
uint64_t sb_admin_redis_list (sb_admin_redis_t *self, const sb_admin_logs_filter_t *filter);
uint64_t sb_admin_redis_get (sb_admin_redis_t *self, const char *request_id);

//  Whether anyone watches the live feed (the stream is polled only then).
void sb_admin_redis_tail (sb_admin_redis_t *self, bool on);

//  The next result, or NULL. Caller owns it (sb_admin_redis_result_destroy).
sb_admin_redis_result_t *sb_admin_redis_take (sb_admin_redis_t *self);
void sb_admin_redis_result_destroy (sb_admin_redis_result_t **result_p);

//  Connected at the last attempt (any thread).
bool sb_admin_redis_up (sb_admin_redis_t *self);
void sb_admin_redis_stats (sb_admin_redis_t *self, sb_admin_redis_stats_t *stats);

#endif
