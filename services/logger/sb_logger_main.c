/*  sb_logger_main — the record plane's writer. PULLs log events from every
    service and writes them to Redis streams, many per round trip (pipelined).
    The data path never waits on this: services PUSH without blocking and count
    what the socket refuses. Here nothing is lost while Redis is away: events wait
    in a bounded memory queue, then in a bounded disk spool, and are replayed in
    order when Redis returns. A request's record is written at most once: the
    write is a script that checks a per-request key first (so a batch replayed
    after a half-finished round trip adds nothing twice).

    Keys (one hash tag, so all of it sits in one Redis Cluster slot):
      sb:{log}:requests      stream of request records (fields: request_id, ts_us,
                             data = JSON metadata, request_body, response_body, chunks)
      sb:{log}:req:<id>      the stream entry id of request <id> (expires with age)
      sb:{log}:<kind>        streams of other event kinds (tool_validation, ...)  */

#include "sb_clock.h"
#include "sb_logger_spool.h"
#include "sb_metrics.h"
#include "sb_msg.h"

#include <errno.h>
#include <hiredis/hiredis.h>
#include <jansson.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zmq.h>

#define S_BATCH 256

//  KEYS[1] stream, KEYS[2] per-request key; ARGV: maxlen, ttl, then field/value pairs.
static const char s_script[] =
    "if redis.call('EXISTS', KEYS[2]) == 1 then return false end "
    "local fields = {} for i = 3, #ARGV do fields[#fields + 1] = ARGV[i] end "
    "local id = redis.call('XADD', KEYS[1], 'MAXLEN', '~', ARGV[1], '*', unpack(fields)) "
    "redis.call('SET', KEYS[2], id, 'EX', ARGV[2]) return id";

//  The tool registry (auto-detection). KEYS: tool hash, versions hash, names set;
//  ARGV: name, definition hash, ts_ms, count, definition ("" when not sent).
static const char s_tool_script[] =
    "redis.call('HSETNX', KEYS[1], 'first_seen', ARGV[3]) "
    "redis.call('HSET', KEYS[1], 'last_seen', ARGV[3], 'current_hash', ARGV[2]) "
    "redis.call('HINCRBY', KEYS[1], 'count', ARGV[4]) "
    "if redis.call('HEXISTS', KEYS[2], ARGV[2]) == 0 then "
    "  local n = redis.call('HLEN', KEYS[2]) + 1 "
    "  redis.call('HSET', KEYS[2], ARGV[2], cjson.encode({version = n, first_seen = ARGV[3], "
    "definition = ARGV[5]})) "
    "  redis.call('HSET', KEYS[1], 'version', n) "
    "elseif ARGV[5] ~= '' then "
    "  local v = cjson.decode(redis.call('HGET', KEYS[2], ARGV[2])) "
    "  if v.definition == '' then v.definition = ARGV[5] "
    "    redis.call('HSET', KEYS[2], ARGV[2], cjson.encode(v)) end "
    "end "
    "redis.call('SADD', KEYS[3], ARGV[1]) return 1";

typedef struct {
    char *frame;
    size_t len;
} s_item_t;

typedef struct {
    const char *redis_url;
    uint64_t max_records; // stream length bound (approximate, MAXLEN ~)
    uint64_t max_age_s;   // records older than this are trimmed
    size_t queue_max;     // events held in memory
} s_settings_t;

static volatile sig_atomic_t s_interrupted;
static s_settings_t s_cfg;
static s_item_t *s_queue;
static size_t s_head, s_count;
static sb_logger_spool_t *s_spool;
static uint64_t s_written, s_dropped, s_bad, s_spooled, s_duplicates;

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

//  Appends the command that writes one frame. Returns 0, or -1 for a frame that
//  is not a log event (dropped and counted).
static int
s_append (redisContext *redis, const void *frame, size_t len)
{
    sb_msg_t msg;
    if (sb_msg_decode (frame, len, &msg, NULL) != 0 || msg.type != SB_MSG_LOG_EVENT) {
        s_bad++;
        return -1;
    }
    const sb_log_event_t *ev = &msg.log_event;
    char kind[SB_MAX_NAME + 1], id[SB_MAX_TEXT + 1], ts[32], stream[SB_MAX_NAME + 32],
        key[SB_MAX_TEXT + 32], maxlen[32], ttl[32];
    snprintf (kind, sizeof kind, "%.*s", (int)ev->kind.size, ev->kind.data ? ev->kind.data : "");
    snprintf (id, sizeof id, "%.*s", (int)ev->request_id.size,
              ev->request_id.data ? ev->request_id.data : "");
    snprintf (ts, sizeof ts, "%llu", (unsigned long long)ev->ts_us);
    snprintf (maxlen, sizeof maxlen, "%llu", (unsigned long long)s_cfg.max_records);
    snprintf (ttl, sizeof ttl, "%llu", (unsigned long long)s_cfg.max_age_s);
    if (strcmp (kind, "tool_seen") == 0) {
        json_error_t jerr;
        json_t *d = json_loadb (ev->data.data ? ev->data.data : "", ev->data.size, 0, &jerr);
        const char *name = json_string_value (json_object_get (d, "name"));
        const char *hash = json_string_value (json_object_get (d, "hash"));
        const char *def = json_string_value (json_object_get (d, "definition"));
        const char *tsv = json_string_value (json_object_get (d, "ts_ms"));
        json_int_t count = json_integer_value (json_object_get (d, "count"));
        if (!name || !hash || !tsv) {
            json_decref (d);
            s_bad++;
            return -1;
        }
        char k1[SB_MAX_NAME + 32], k2[SB_MAX_NAME + 32], cnt[32];
        snprintf (k1, sizeof k1, "sb:{tools}:tool:%s", name);
        snprintf (k2, sizeof k2, "sb:{tools}:versions:%s", name);
        snprintf (cnt, sizeof cnt, "%lld", (long long)count);
        const char *argv[] = {
            "EVAL", s_tool_script, "3",           k1, k2, "sb:{tools}:names", name, hash,
            tsv,    cnt,           def ? def : ""};
        size_t lens[] = {4,
                         strlen (s_tool_script),
                         1,
                         strlen (k1),
                         strlen (k2),
                         16,
                         strlen (name),
                         strlen (hash),
                         strlen (tsv),
                         strlen (cnt),
                         def ? strlen (def) : 0};
        redisAppendCommandArgv (redis, 11, argv, lens);
        json_decref (d);
    } else if (strcmp (kind, "request") == 0) {
        snprintf (stream, sizeof stream, "sb:{log}:requests");
        snprintf (key, sizeof key, "sb:{log}:req:%s", id);
        const char *argv[] = {"EVAL",
                              s_script,
                              "2",
                              stream,
                              key,
                              maxlen,
                              ttl,
                              "request_id",
                              id,
                              "ts_us",
                              ts,
                              "data",
                              ev->data.data ? ev->data.data : "",
                              "request_body",
                              ev->request_body.data ? ev->request_body.data : "",
                              "response_body",
                              ev->response_body.data ? ev->response_body.data : "",
                              "chunks",
                              ev->chunks.data ? ev->chunks.data : ""};
        size_t lens[] = {4,
                         strlen (s_script),
                         1,
                         strlen (stream),
                         strlen (key),
                         strlen (maxlen),
                         strlen (ttl),
                         10,
                         strlen (id),
                         5,
                         strlen (ts),
                         4,
                         ev->data.size,
                         12,
                         ev->request_body.size,
                         13,
                         ev->response_body.size,
                         6,
                         ev->chunks.size};
        redisAppendCommandArgv (redis, 19, argv, lens);
    } else {
        snprintf (stream, sizeof stream, "sb:{log}:%s", kind[0] ? kind : "event");
        const char *argv[] = {"XADD",  stream, "MAXLEN",     "~",
                              maxlen,  "*",    "request_id", id,
                              "ts_us", ts,     "data",       ev->data.data ? ev->data.data : ""};
        size_t lens[] = {
            4, strlen (stream), 6, 1, strlen (maxlen), 1, 10, strlen (id), 5, strlen (ts),
            4, ev->data.size};
        redisAppendCommandArgv (redis, 12, argv, lens);
    }
    return 0;
}

//  Reads the replies of `n` appended commands. -1 when the connection failed.
static int
s_replies (redisContext *redis, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        redisReply *reply = NULL;
        if (redisGetReply (redis, (void **)&reply) != REDIS_OK) return -1;
        if (reply && reply->type == REDIS_REPLY_NIL) s_duplicates++;
        if (reply && reply->type == REDIS_REPLY_ERROR)
            fprintf (stderr, "logger: redis: %s\n", reply->str);
        freeReplyObject (reply);
    }
    return 0;
}

static int
s_flush_memory (redisContext *redis)
{
    size_t n = s_count < S_BATCH ? s_count : S_BATCH, sent = 0;
    for (size_t i = 0; i < n; i++) {
        s_item_t *it = &s_queue[(s_head + i) % s_cfg.queue_max];
        if (s_append (redis, it->frame, it->len) == 0) sent++;
    }
    if (s_replies (redis, sent) != 0)
        return -1; // nothing consumed: the batch is retried (the script keeps it single)
    for (size_t i = 0; i < n; i++) {
        free (s_queue[s_head].frame);
        s_queue[s_head].frame = NULL;
        s_head = (s_head + 1) % s_cfg.queue_max;
    }
    s_count -= n;
    s_written += sent;
    return 0;
}

typedef struct {
    redisContext *redis;
    size_t sent;
} s_replay_t;

static void
s_replay_one (void *arg, const void *frame, size_t len)
{
    s_replay_t *r = arg;
    if (s_append (r->redis, frame, len) == 0) r->sent++;
}

static int
s_flush_spool (redisContext *redis)
{
    s_replay_t r = {redis, 0};
    size_t n = sb_logger_spool_peek (s_spool, S_BATCH, s_replay_one, &r);
    if (s_replies (redis, r.sent) != 0) return -1;
    sb_logger_spool_commit (s_spool, n);
    s_written += r.sent;
    return 0;
}

//  Redis is away: everything in memory goes to the spool (in order).
static void
s_memory_to_spool (void)
{
    while (s_count) {
        s_item_t *it = &s_queue[s_head];
        if (sb_logger_spool_push (s_spool, it->frame, it->len) == 0)
            s_spooled++;
        else
            s_dropped++;
        free (it->frame);
        it->frame = NULL;
        s_head = (s_head + 1) % s_cfg.queue_max;
        s_count--;
    }
}

static void
s_accept (const void *data, size_t size, bool redis_up)
{
    //  Order: while the spool holds anything, new events go behind it.
    if (s_spool && (!redis_up || sb_logger_spool_pending (s_spool) > 0)) {
        //  Whatever still waits in memory is older: it goes to the spool first.
        if (s_count) s_memory_to_spool ();
        if (sb_logger_spool_push (s_spool, data, size) == 0)
            s_spooled++;
        else
            s_dropped++;
        return;
    }
    if (s_count == s_cfg.queue_max) {
        s_dropped++;
        return;
    }
    s_item_t *it = &s_queue[(s_head + s_count) % s_cfg.queue_max];
    it->frame = malloc (size);
    if (!it->frame) {
        s_dropped++;
        return;
    }
    memcpy (it->frame, data, size);
    it->len = size;
    s_count++;
}

static uint64_t
s_env_u64 (const char *name, uint64_t fallback)
{
    const char *v = getenv (name);
    if (!v || !*v) return fallback;
    char *end;
    errno = 0;
    unsigned long long n = strtoull (v, &end, 10);
    if (errno || *end || n == 0) {
        fprintf (stderr, "logger: %s=%s is not a positive number; using %llu\n", name, v,
                 (unsigned long long)fallback);
        return fallback;
    }
    return n;
}

int
main (int argc, char **argv)
{
    const char *bind = getenv ("SB_LOGGER_BIND");
    bind = bind && *bind ? bind : "tcp://127.0.0.1:5557";
    const char *url = getenv ("SB_REDIS_URL");
    s_cfg.redis_url = url && *url ? url : "redis://127.0.0.1:6379";
    s_cfg.max_records = s_env_u64 ("SB_LOG_MAX_RECORDS", 100000);
    s_cfg.max_age_s = s_env_u64 ("SB_LOG_MAX_AGE_S", 7 * 86400);
    s_cfg.queue_max = (size_t)s_env_u64 ("SB_LOGGER_QUEUE", 50000);
    uint64_t spool_max = s_env_u64 ("SB_SPOOL_MAX_BYTES", 512ull << 20);
    const char *data_dir = getenv ("SB_DATA_DIR");
    char spool_dir[512];
    snprintf (spool_dir, sizeof spool_dir, "%s/spool", data_dir && *data_dir ? data_dir : "data");
    {
        char parent[512];
        snprintf (parent, sizeof parent, "%s", data_dir && *data_dir ? data_dir : "data");
        mkdir (parent, 0700);
    }
    s_spool = sb_logger_spool_new (spool_dir, spool_max);
    if (!s_spool)
        fprintf (stderr, "logger: no spool at %s: events will be dropped while Redis is down\n",
                 spool_dir);
    s_queue = calloc (s_cfg.queue_max, sizeof (s_item_t));
    if (!s_queue) return 1;

    signal (SIGPIPE, SIG_IGN); // a connection Redis reset must not kill the logger
    signal (SIGINT, s_on_signal);
    signal (SIGTERM, s_on_signal);
    void *ctx = zmq_ctx_new ();
    zmq_ctx_set (ctx, ZMQ_BLOCKY, 0); // shutting down never waits on peers
    //  Its own metrics go to admin like every service's: the queue, the spool and
    //  every drop are visible in /metrics, never silent.
    void *pub = zmq_socket (ctx, ZMQ_PUB);
    int pub_hwm = 100, pub_linger = 0;
    zmq_setsockopt (pub, ZMQ_LINGER, &pub_linger, sizeof pub_linger);
    zmq_setsockopt (pub, ZMQ_SNDHWM, &pub_hwm, sizeof pub_hwm);
    const char *mep = getenv ("SB_METRICS_ENDPOINT");
    zmq_connect (pub, mep && *mep ? mep : "tcp://127.0.0.1:5562");
    sb_metrics_t *metrics = sb_metrics_new ();
    sb_msg_writer_t *writer = sb_msg_writer_new ();
    char instance[160];
    sb_metrics_instance (instance, sizeof instance, "logger");
    uint64_t last_metrics = 0;
    void *pull = zmq_socket (ctx, ZMQ_PULL);
    int zero = 0, hwm = 100000;
    zmq_setsockopt (pull, ZMQ_LINGER, &zero, sizeof zero);
    zmq_setsockopt (pull, ZMQ_RCVHWM, &hwm, sizeof hwm);
    if (zmq_bind (pull, bind) != 0) {
        fprintf (stderr, "logger: cannot bind %s\n", bind);
        return 1;
    }
    redisContext *redis = s_connect (s_cfg.redis_url);
    printf ("logger: pulling on %s, Redis %s (%s), spool %s (%llu pending)\n", bind,
            s_cfg.redis_url, redis ? "connected" : "down", spool_dir,
            (unsigned long long)(s_spool ? sb_logger_spool_pending (s_spool) : 0));
    fflush (stdout);
    uint64_t last_try = sb_mono_us (), last_trim = 0, last_report = sb_mono_us ();
    zmq_msg_t frame;
    zmq_msg_init (&frame);
    while (!s_interrupted) {
        bool work = redis && (s_count || (s_spool && sb_logger_spool_pending (s_spool)));
        zmq_pollitem_t item = {pull, 0, ZMQ_POLLIN, 0};
        zmq_poll (&item, 1, work ? 0 : 100);
        for (int i = 0; i < 4 * S_BATCH && zmq_msg_recv (&frame, pull, ZMQ_DONTWAIT) >= 0; i++)
            s_accept (zmq_msg_data (&frame), zmq_msg_size (&frame), redis != NULL);
        uint64_t now = sb_mono_us ();
        if (now - last_metrics >= 1000000u) {
            last_metrics = now;
            sb_metrics_set (metrics, "sb_logger_written", "", (double)s_written);
            sb_metrics_set (metrics, "sb_logger_queue", "", (double)s_count);
            sb_metrics_set (metrics, "sb_logger_spool_pending", "",
                            (double)(s_spool ? sb_logger_spool_pending (s_spool) : 0));
            sb_metrics_set (metrics, "sb_logger_spooled", "", (double)s_spooled);
            sb_metrics_set (metrics, "sb_logger_dropped", "", (double)s_dropped);
            sb_metrics_set (metrics, "sb_bad_messages", "", (double)s_bad);
            sb_metrics_set (metrics, "sb_logger_redis_up", "", redis ? 1 : 0);
            sb_metrics_publish (metrics, pub, writer, "logger", instance);
        }
        if (!redis) {
            if (s_spool) s_memory_to_spool ();
            if (now - last_try > 1000000u) {
                last_try = now;
                redis = s_connect (s_cfg.redis_url);
                if (redis)
                    printf ("logger: Redis back; replaying %llu spooled events\n",
                            (unsigned long long)(s_spool ? sb_logger_spool_pending (s_spool) : 0));
                fflush (stdout);
            }
            continue;
        }
        int rc = 0;
        if (s_spool && sb_logger_spool_pending (s_spool))
            rc = s_flush_spool (redis);
        else if (s_count)
            rc = s_flush_memory (redis);
        if (rc == 0 && now - last_trim > 60000000u) {
            last_trim = now;
            redisReply *r =
                redisCommand (redis, "XTRIM sb:{log}:requests MINID ~ %llu",
                              (unsigned long long)(sb_wall_ms () - s_cfg.max_age_s * 1000));
            if (!r) rc = -1;
            freeReplyObject (r);
        }
        if (rc != 0) {
            fprintf (stderr, "logger: Redis went away; spooling\n");
            redisFree (redis);
            redis = NULL;
            last_try = now;
        }
        if (now - last_report > 10000000u) {
            last_report = now;
            printf (
                "logger: written %llu, spooled %llu, pending %llu, dropped %llu, malformed %llu\n",
                (unsigned long long)s_written, (unsigned long long)s_spooled,
                (unsigned long long)(s_spool ? sb_logger_spool_pending (s_spool) : 0),
                (unsigned long long)s_dropped, (unsigned long long)s_bad);
            fflush (stdout);
        }
    }
    //  Stopping: what senders have already handed over is taken in too (bounded:
    //  until a quiet 50 ms or 300 ms in all) and written while Redis is there; the
    //  rest goes to the spool below.
    uint64_t stop_by = sb_mono_us () + 300000u;
    while (sb_mono_us () < stop_by) {
        zmq_pollitem_t item = {pull, 0, ZMQ_POLLIN, 0};
        if (zmq_poll (&item, 1, 50) <= 0) break;
        for (int i = 0; i < 4 * S_BATCH && zmq_msg_recv (&frame, pull, ZMQ_DONTWAIT) >= 0; i++)
            s_accept (zmq_msg_data (&frame), zmq_msg_size (&frame), redis != NULL);
    }
    while (redis && s_count && sb_mono_us () < stop_by + 700000u)
        if (s_flush_memory (redis) != 0) break;
    zmq_msg_close (&frame);
    //  What is still in memory goes to the spool, so a restart loses nothing.
    if (s_spool) {
        s_memory_to_spool ();
        sb_logger_spool_destroy (&s_spool);
    }
    if (redis) redisFree (redis);
    zmq_close (pull);
    zmq_close (pub);
    sb_metrics_destroy (&metrics);
    sb_msg_writer_destroy (&writer);
    zmq_ctx_term (ctx);
    printf ("logger: %llu written, %llu spooled, %llu dropped, %llu malformed, %llu duplicates "
            "skipped\n",
            (unsigned long long)s_written, (unsigned long long)s_spooled,
            (unsigned long long)s_dropped, (unsigned long long)s_bad,
            (unsigned long long)s_duplicates);
    return 0;
}
