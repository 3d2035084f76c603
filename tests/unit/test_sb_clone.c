/*  test_sb_clone — sb_clone against an in-process fake admin (PUB + ROUTER on
    inproc): snapshot on connect, numbered updates, heartbeats, garbage dropped and
    counted, gap / reset / staleness → re-snapshot, request retry on a fresh
    socket, and the cache file (atomic, 0600, loadable by a later process).  */

#include "sb_clone.h"
#include "sb_msg.h"
#include "sb_test.h"

#include <dirent.h>
#include <poll.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include <zmq.h>

#define PUB_EP  "inproc://test-clone-pub"
#define SNAP_EP "inproc://test-clone-snap"

static void *s_pub, *s_router;
static sb_msg_writer_t *s_writer;

//  A valid config whose single channel is named `name`.
static const char *
s_config (const char *name)
{
    static char buf[512];
    snprintf (buf, sizeof buf,
              "{\"channels\":[{\"name\":\"%s\",\"base_url\":\"http://127.0.0.1:1/v1\","
              "\"api_key\":\"sk-x\"}],\"model_groups\":[{\"name\":\"g\",\"channels\":[\"%s\"]}],"
              "\"api_keys\":[{\"name\":\"k\",\"key_sha256\":"
              "\"0000000000000000000000000000000000000000000000000000000000000001\","
              "\"model_groups\":[\"g\"]}],\"settings\":{}}",
              name, name);
    return buf;
}

static void
s_send_config (void *socket, uint64_t seq, bool snapshot, const char *json)
{
    sb_msg_t msg;
    memset (&msg, 0, sizeof msg);
    msg.type = SB_MSG_CONFIG;
    msg.config_update.seq = seq;
    msg.config_update.snapshot = snapshot;
    msg.config_update.data = sb_bytes (json, strlen (json));
    const void *data;
    size_t size;
    if (sb_msg_encode (s_writer, &msg, &data, &size) != 0) abort ();
    zmq_send (socket, data, size, 0);
}

static void
s_publish (uint64_t seq, const char *json)
{
    s_send_config (s_pub, seq, false, json);
}

static long
s_now_ms (void)
{
    struct timespec ts;
    clock_gettime (CLOCK_MONOTONIC, &ts);
    return ts.tv_sec * 1000L + ts.tv_nsec / 1000000L;
}

static sb_clone_t *s_clone; // the clone under test, processed while the fake admin waits

//  Waits for a snapshot request at the fake ROUTER, processing the clone meanwhile
//  (its timers send retries). Returns 0 and fills identity (and the client's
//  seq), or -1 after timeout_ms.
static int
s_expect_request (int timeout_ms, zmq_msg_t *identity, uint64_t *seq)
{
    zmq_pollitem_t item = {s_router, 0, ZMQ_POLLIN, 0};
    long until = s_now_ms () + timeout_ms;
    while (zmq_poll (&item, 1, 10) <= 0) {
        if (s_now_ms () >= until) return -1;
        if (s_clone) {
            sb_config_t *config = sb_clone_process (s_clone);
            sb_config_destroy (&config);
        }
    }
    zmq_msg_init (identity);
    zmq_msg_recv (identity, s_router, 0);
    zmq_msg_t frame;
    zmq_msg_init (&frame);
    zmq_msg_recv (&frame, s_router, 0);
    sb_msg_t msg;
    int rc = sb_msg_decode (zmq_msg_data (&frame), zmq_msg_size (&frame), &msg, NULL);
    bool ok = rc == 0 && msg.type == SB_MSG_CONFIG && msg.config_update.snapshot &&
              msg.config_update.data.size == 0;
    if (ok && seq) *seq = msg.config_update.seq;
    zmq_msg_close (&frame);
    return ok ? 0 : -1;
}

static void
s_reply (zmq_msg_t *identity, uint64_t seq, const char *json)
{
    zmq_msg_send (identity, s_router, ZMQ_SNDMORE);
    s_send_config (s_router, seq, true, json);
}

//  Processes the clone until it hands out a config or timeout_ms pass.
static sb_config_t *
s_wait_config (sb_clone_t *clone, int timeout_ms)
{
    long until = s_now_ms () + timeout_ms;
    while (s_now_ms () < until) {
        struct pollfd p = {sb_clone_poll_fd (clone), POLLIN, 0};
        poll (&p, 1, 20);
        sb_config_t *config = sb_clone_process (clone);
        if (config) return config;
    }
    return NULL;
}

//  Processes the clone for ms, destroying (and counting) what it hands out.
static int
s_pump (sb_clone_t *clone, int ms)
{
    int configs = 0;
    long until = s_now_ms () + ms;
    while (s_now_ms () < until) {
        struct pollfd p = {sb_clone_poll_fd (clone), POLLIN, 0};
        poll (&p, 1, 10);
        sb_config_t *config = sb_clone_process (clone);
        if (config) configs++;
        sb_config_destroy (&config);
    }
    return configs;
}

static const char *
s_channel (const sb_config_t *config)
{
    return config ? sb_config_channel (config, 0)->name : NULL;
}

static char *
s_read_file (const char *path)
{
    FILE *f = fopen (path, "rb");
    if (!f) return NULL;
    static char buf[8192];
    size_t n = fread (buf, 1, sizeof buf - 1, f);
    buf[n] = '\0';
    fclose (f);
    return buf;
}

static int
s_count_files (const char *dir)
{
    DIR *d = opendir (dir);
    int n = 0;
    struct dirent *e;
    while (d && (e = readdir (d)))
        if (e->d_name[0] != '.') n++;
    if (d) closedir (d);
    return n;
}

int
main (void)
{
    void *ctx = zmq_ctx_new ();
    s_writer = sb_msg_writer_new ();
    s_pub = zmq_socket (ctx, ZMQ_PUB);
    s_router = zmq_socket (ctx, ZMQ_ROUTER);
    CHECK (zmq_bind (s_pub, PUB_EP) == 0);
    CHECK (zmq_bind (s_router, SNAP_EP) == 0);

    char dir[] = "/tmp/test_sb_clone.XXXXXX";
    CHECK (mkdtemp (dir) != NULL);
    char cache[256];
    snprintf (cache, sizeof cache, "%s/config.json", dir);

    //  1. Snapshot on connect.
    sb_clone_t *clone = sb_clone_new (ctx, PUB_EP, SNAP_EP, cache);
    s_clone = clone;
    CHECK (clone != NULL);
    if (!clone) return 1;
    sb_clone_set_timing (clone, 400, 300);
    zmq_msg_t id;
    uint64_t req_seq = 99;
    CHECK (s_expect_request (1000, &id, &req_seq) == 0);
    CHECK (req_seq == 0);
    s_reply (&id, 5, s_config ("five"));
    sb_config_t *config = s_wait_config (clone, 1000);
    CHECK_STR (s_channel (config), "five");
    sb_config_destroy (&config);
    CHECK (sb_clone_seq (clone) == 5);
    sb_clone_stats_t st;
    sb_clone_stats (clone, &st);
    CHECK (st.snapshots == 1 && st.requests == 1 && st.malformed == 0);
    printf ("snapshot on connect: seq 5 applied\n");

    //  The cache: written atomically (no temp file left), mode 0600, seq and bytes.
    struct stat sb;
    CHECK (stat (cache, &sb) == 0 && (sb.st_mode & 0777) == 0600);
    const char *text = s_read_file (cache);
    CHECK (text && strstr (text, "\"seq\":5,") && strstr (text, "\"name\":\"five\""));
    CHECK (s_count_files (dir) == 1);

    //  2. Republished state at the current seq is a heartbeat (and warms up the SUB:
    //  a PUB drops what it sends before the subscription arrives).
    for (int i = 0; i < 100 && (sb_clone_stats (clone, &st), st.heartbeats == 0); i++) {
        s_publish (5, s_config ("five"));
        CHECK (s_pump (clone, 10) == 0);
    }
    CHECK (st.heartbeats >= 1);
    CHECK (sb_clone_synced (clone));

    //  3. The next update applies; the poll fd wakes up for it.
    s_publish (6, s_config ("six"));
    struct pollfd p = {sb_clone_poll_fd (clone), POLLIN, 0};
    CHECK (poll (&p, 1, 1000) == 1);
    config = s_wait_config (clone, 1000);
    CHECK_STR (s_channel (config), "six");
    sb_config_destroy (&config);
    CHECK (sb_clone_seq (clone) == 6);
    CHECK (strstr (s_read_file (cache), "\"seq\":6,") != NULL);

    //  Two queued updates: one call hands out only the newest.
    s_publish (7, s_config ("seven"));
    s_publish (8, s_config ("eight"));
    usleep (50 * 1000);
    config = sb_clone_process (clone);
    CHECK_STR (s_channel (config), "eight");
    sb_config_destroy (&config);
    CHECK (sb_clone_seq (clone) == 8);
    printf ("updates: 6, then 7+8 queued -> newest handed out\n");

    //  4. Garbage is counted and dropped; nothing changes.
    sb_clone_stats (clone, &st);
    uint64_t malformed = st.malformed;
    zmq_send (s_pub, "garbage", 7, 0);                      // not msgpack
    s_publish (9, "{\"channels\": not json");               // not JSON
    s_publish (9, "{\"channels\":[{\"name\":\"x\"}]}");     // JSON, not a valid config
    s_send_config (s_pub, 9, true, s_config ("wrongflag")); // snapshot flag on PUB
    zmq_send (s_pub, "part1", 5, ZMQ_SNDMORE);              // multipart
    zmq_send (s_pub, "part2", 5, 0);
    sb_msg_t other;
    memset (&other, 0, sizeof other);
    other.type = SB_MSG_CANCEL; // a valid message of another type
    other.cancel.id = 42;
    const void *mdata;
    size_t msize;
    CHECK (sb_msg_encode (s_writer, &other, &mdata, &msize) == 0);
    zmq_send (s_pub, mdata, msize, 0);
    CHECK (s_pump (clone, 150) == 0);
    sb_clone_stats (clone, &st);
    CHECK (st.malformed == malformed + 6);
    CHECK (sb_clone_seq (clone) == 8);
    printf ("garbage: %llu dropped and counted\n", (unsigned long long)(st.malformed - malformed));

    //  5. A gap asks for a snapshot; updates are ignored until it arrives.
    uint64_t requests = st.requests;
    s_publish (12, s_config ("twelve"));
    CHECK (s_pump (clone, 50) == 0);
    CHECK (s_expect_request (1000, &id, &req_seq) == 0);
    CHECK (req_seq == 8);
    sb_clone_stats (clone, &st);
    CHECK (st.gaps == 1 && st.requests == requests + 1);
    s_reply (&id, 12, s_config ("twelve"));
    config = s_wait_config (clone, 1000);
    CHECK_STR (s_channel (config), "twelve");
    sb_config_destroy (&config);
    CHECK (sb_clone_seq (clone) == 12);
    printf ("gap 8 -> 12: re-snapshot applied\n");

    //  Bare heartbeats (admin's republish of a large config has no data): at the
    //  current seq nothing happens; past it, an update was missed: re-snapshot.
    sb_clone_stats (clone, &st);
    uint64_t beats = st.heartbeats, gaps = st.gaps;
    s_publish (12, "");
    CHECK (s_pump (clone, 50) == 0);
    sb_clone_stats (clone, &st);
    CHECK (st.heartbeats == beats + 1 && st.malformed == malformed + 6);
    s_publish (13, "");
    CHECK (s_pump (clone, 50) == 0);
    CHECK (s_expect_request (1000, &id, &req_seq) == 0);
    CHECK (req_seq == 12);
    sb_clone_stats (clone, &st);
    CHECK (st.gaps == gaps + 1);
    s_reply (&id, 13, s_config ("thirteen"));
    config = s_wait_config (clone, 1000);
    CHECK_STR (s_channel (config), "thirteen");
    sb_config_destroy (&config);
    printf ("bare heartbeat: same seq ignored, next seq -> re-snapshot\n");

    //  6. A lower seq means admin's store was reset: re-snapshot, take it whole.
    s_publish (3, s_config ("three"));
    CHECK (s_pump (clone, 50) == 0);
    CHECK (s_expect_request (1000, &id, NULL) == 0);
    s_reply (&id, 3, s_config ("three"));
    config = s_wait_config (clone, 1000);
    CHECK_STR (s_channel (config), "three");
    sb_config_destroy (&config);
    sb_clone_stats (clone, &st);
    CHECK (st.resets == 1 && sb_clone_seq (clone) == 3);

    //  7. Silence: stale after 400 ms → snapshot request; the same state again is
    //  not handed out twice.
    long t0 = s_now_ms ();
    CHECK (s_pump (clone, 500) == 0);
    CHECK (s_expect_request (1000, &id, &req_seq) == 0);
    long waited = s_now_ms () - t0;
    CHECK (waited >= 350);
    CHECK (req_seq == 3);
    sb_clone_stats (clone, &st);
    CHECK (st.stale >= 1);
    s_reply (&id, 3, s_config ("three"));
    CHECK (s_pump (clone, 100) == 0);
    CHECK (sb_clone_seq (clone) == 3);
    printf ("stale after %ld ms: re-snapshot, unchanged state not handed out\n", waited);

    //  8. An unanswered request is re-sent on a fresh socket (a new identity); an
    //  invalid snapshot is dropped and the clone keeps asking.
    sb_clone_stats (clone, &st);
    uint64_t stale = st.stale;
    for (int i = 0; i < 100 && st.stale == stale; i++) {
        s_pump (clone, 10);
        sb_clone_stats (clone, &st);
    }
    zmq_msg_t id1, id2;
    CHECK (s_expect_request (1000, &id1, NULL) == 0); // not answered
    CHECK (s_pump (clone, 400) == 0);
    CHECK (s_expect_request (1000, &id2, NULL) == 0);
    CHECK (zmq_msg_size (&id1) != zmq_msg_size (&id2) ||
           memcmp (zmq_msg_data (&id1), zmq_msg_data (&id2), zmq_msg_size (&id1)) != 0);
    sb_clone_stats (clone, &st);
    CHECK (st.request_retries >= 1);
    malformed = st.malformed;
    s_reply (&id2, 20, "{\"channels\":[]}"); // not a valid config (no model_groups)
    CHECK (s_pump (clone, 100) == 0);
    sb_clone_stats (clone, &st);
    CHECK (st.malformed == malformed + 1);
    CHECK (sb_clone_seq (clone) == 3);
    zmq_msg_t id3;
    CHECK (s_expect_request (2000, &id3, NULL) == 0); // retried after the timeout
    s_reply (&id3, 21, s_config ("twentyone"));
    config = s_wait_config (clone, 1000);
    CHECK_STR (s_channel (config), "twentyone");
    sb_config_destroy (&config);
    zmq_msg_close (&id1);
    zmq_msg_close (&id2);
    printf ("unanswered request retried on a new socket; bad snapshot dropped\n");
    s_clone = NULL;
    sb_clone_destroy (&clone);
    CHECK (clone == NULL);

    //  9. A later process starts from the cache while admin is away.
    sb_clone_t *later = sb_clone_new (ctx, "inproc://nobody-pub", "inproc://nobody-snap", cache);
    char err[512] = "";
    config = sb_clone_load_cache (later, err, sizeof err);
    CHECK_STR (s_channel (config), "twentyone");
    CHECK (sb_clone_seq (later) == 21);
    CHECK (!sb_clone_synced (later));
    sb_config_destroy (&config);
    FILE *f = fopen (cache, "wb");
    fputs ("{\"format\":\"switchboard-clone-cache/1\",\"seq\":4,\"config\":{", f);
    fclose (f);
    config = sb_clone_load_cache (later, err, sizeof err);
    CHECK (config == NULL && strstr (err, "not JSON"));
    unlink (cache);
    config = sb_clone_load_cache (later, err, sizeof err);
    CHECK (config == NULL && strstr (err, "No such file"));
    sb_clone_destroy (&later);
    sb_clone_destroy (&later); // NULL-safe
    printf ("cache: loads in a new clone, corrupt/missing file reported\n");

    rmdir (dir);
    zmq_msg_close (&id);
    zmq_close (s_pub);
    zmq_close (s_router);
    sb_msg_writer_destroy (&s_writer);
    zmq_ctx_term (ctx);
    return SB_TEST_DONE ();
}
