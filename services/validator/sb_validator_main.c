/*  sb_validator_main — a validator process: N worker threads, each a DEALER that
    connects to the router's broker (Paranoid Pirate: READY, heartbeats both ways,
    reconnect with backoff when the broker goes quiet), takes validation jobs and
    answers them with sb_validator_job. Scale out with more processes
    (docker compose --scale validator=N) or more threads (SB_VALIDATOR_THREADS).  */

#include "sb_validator_job.h"
#include "sb_validator_toon.h"
#include "sb_clock.h"
#include "sb_msg.h"
#include "sb_metrics.h"

#include <stdatomic.h>

#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <zmq.h>

#define S_HEARTBEAT_US   1000000u
#define S_BROKER_DEAD_US 3000000u
#define S_BACKOFF_MAX_MS 8000

static volatile sig_atomic_t s_interrupted;
//  SB_VALIDATOR_TEST_DELAY_MS: a worker that takes this long per validation job, so
//  the fault tests can kill one mid-job. Unset (0) in any real deployment.
static long s_test_delay_ms;
static atomic_uint_fast64_t s_jobs_validate, s_jobs_toon, s_calls_fixed, s_calls_invalid;
static void *s_ctx;
static const char *s_endpoint;

static void
s_on_signal (int sig)
{
    s_interrupted = 1;
}

static void *
s_connect (const char *identity)
{
    void *sock = zmq_socket (s_ctx, ZMQ_DEALER);
    int zero = 0, hwm = 1000;
    zmq_setsockopt (sock, ZMQ_LINGER, &zero, sizeof zero);
    zmq_setsockopt (sock, ZMQ_SNDHWM, &hwm, sizeof hwm);
    zmq_setsockopt (sock, ZMQ_RCVHWM, &hwm, sizeof hwm);
    zmq_setsockopt (sock, ZMQ_ROUTING_ID, identity, strlen (identity));
    zmq_connect (sock, s_endpoint);
    return sock;
}

static void
s_send (void *sock, sb_msg_writer_t *writer, const sb_msg_t *msg)
{
    const void *data;
    size_t size;
    if (sb_msg_encode (writer, msg, &data, &size) == 0) zmq_send (sock, data, size, ZMQ_DONTWAIT);
}

static void
s_send_ready (void *sock, sb_msg_writer_t *writer, const char *instance)
{
    sb_msg_t ready = {.type = SB_MSG_READY};
    ready.ready.instance = sb_bytes_str (instance);
    ready.ready.capacity = 1;
    s_send (sock, writer, &ready);
}

typedef struct {
    int index;
} s_thread_arg_t;

static void *
s_worker (void *arg_)
{
    s_thread_arg_t *arg = arg_;
    char instance[128], host[64] = "local";
    gethostname (host, sizeof host - 1);
    snprintf (instance, sizeof instance, "validator-%s-%d-%d", host, (int)getpid (), arg->index);
    sb_msg_writer_t *writer = sb_msg_writer_new ();
    sb_validator_job_t *engine = sb_validator_job_new ();
    void *sock = s_connect (instance);
    s_send_ready (sock, writer, instance);
    uint64_t broker_seen = sb_mono_us (), last_hb = 0;
    int backoff_ms = 250;
    uint64_t jobs = 0;

    while (!s_interrupted) {
        zmq_pollitem_t item = {sock, 0, ZMQ_POLLIN, 0};
        zmq_poll (&item, 1, 200);
        uint64_t now = sb_mono_us ();
        if (item.revents & ZMQ_POLLIN) {
            zmq_msg_t frame;
            zmq_msg_init (&frame);
            while (zmq_msg_recv (&frame, sock, ZMQ_DONTWAIT) >= 0) {
                broker_seen = now;
                backoff_ms = 250;
                sb_msg_t msg;
                if (sb_msg_decode (zmq_msg_data (&frame), zmq_msg_size (&frame), &msg, NULL) != 0)
                    continue; // counted by the codec
                if (msg.type == SB_MSG_TOON_JOB) {
                    sb_msg_t result = {.type = SB_MSG_TOON_RESULT};
                    char *body = NULL;
                    size_t len = 0;
                    uint64_t saved = 0;
                    int status = sb_validator_toon_run (&msg.toon_job, &body, &len, &saved);
                    result.toon_result.job_id = msg.toon_job.job_id;
                    result.toon_result.status = (uint64_t)status;
                    result.toon_result.body = sb_bytes (body, len);
                    result.toon_result.bytes_saved = saved;
                    s_send (sock, writer, &result);
                    free (body);
                    jobs++;
                    atomic_fetch_add (&s_jobs_toon, 1);
                }
                if (msg.type == SB_MSG_VALIDATE_JOB && s_test_delay_ms)
                    usleep ((useconds_t)s_test_delay_ms * 1000u); // fault tests only
                if (msg.type == SB_MSG_VALIDATE_JOB) {
                    sb_msg_t result = {.type = SB_MSG_VALIDATE_RESULT};
                    char *calls = NULL, *report = NULL;
                    size_t calls_len = 0, report_len = 0;
                    int status = sb_validator_job_run (engine, &msg.validate_job, &calls,
                                                       &calls_len, &report, &report_len);
                    result.validate_result.job_id = msg.validate_job.job_id;
                    result.validate_result.status = (uint64_t)status;
                    result.validate_result.calls = sb_bytes (calls, calls_len);
                    result.validate_result.report = sb_bytes (report, report_len);
                    s_send (sock, writer, &result);
                    if (calls) {
                        //  Count outcomes for metrics without parsing: states are fixed words.
                        for (const char *p = calls; (p = strstr (p, "\"state\":\"")); p += 9) {
                            if (strncmp (p + 9, "fixed", 5) == 0)
                                atomic_fetch_add (&s_calls_fixed, 1);
                            else if (strncmp (p + 9, "invalid", 7) == 0)
                                atomic_fetch_add (&s_calls_invalid, 1);
                        }
                    }
                    free (calls);
                    free (report);
                    jobs++;
                    atomic_fetch_add (&s_jobs_validate, 1);
                }
            }
            zmq_msg_close (&frame);
        }
        if (now - last_hb >= S_HEARTBEAT_US) {
            last_hb = now;
            sb_msg_t hb = {.type = SB_MSG_HEARTBEAT};
            hb.heartbeat.instance = sb_bytes_str (instance);
            s_send (sock, writer, &hb);
        }
        if (now - broker_seen > S_BROKER_DEAD_US) {
            //  The broker went quiet: reconnect with a fresh socket, backing off.
            zmq_close (sock);
            usleep ((useconds_t)backoff_ms * 1000u);
            if (backoff_ms < S_BACKOFF_MAX_MS) backoff_ms *= 2;
            sock = s_connect (instance);
            s_send_ready (sock, writer, instance);
            broker_seen = sb_mono_us ();
        }
    }
    zmq_close (sock);
    sb_validator_job_destroy (&engine);
    sb_msg_writer_destroy (&writer);
    return NULL;
}

int
main (int argc, char **argv)
{
    const char *ep = getenv ("SB_VALIDATOR_ENDPOINT");
    s_endpoint = ep && *ep ? ep : "tcp://127.0.0.1:5556";
    const char *t = getenv ("SB_VALIDATOR_THREADS");
    long threads = t ? strtol (t, NULL, 10) : 2;
    if (threads < 1 || threads > 64) {
        fprintf (stderr, "validator: SB_VALIDATOR_THREADS must be 1..64\n");
        return 1;
    }
    const char *delay = getenv ("SB_VALIDATOR_TEST_DELAY_MS");
    s_test_delay_ms = delay ? strtol (delay, NULL, 10) : 0;
    if (s_test_delay_ms < 0 || s_test_delay_ms > 60000) s_test_delay_ms = 0;
    signal (SIGPIPE, SIG_IGN);
    signal (SIGINT, s_on_signal);
    signal (SIGTERM, s_on_signal);
    s_ctx = zmq_ctx_new ();
    zmq_ctx_set (s_ctx, ZMQ_BLOCKY, 0); // shutting down never waits on peers
    pthread_t tids[64];
    s_thread_arg_t args[64];
    for (long i = 0; i < threads; i++) {
        args[i].index = (int)i;
        pthread_create (&tids[i], NULL, s_worker, &args[i]);
    }
    printf ("validator: %ld workers connected to %s (engine: %s)\n", threads, s_endpoint,
            sb_validator_job_engine ());
    fflush (stdout);
    //  The main thread publishes this process's metrics once a second and says
    //  how many jobs it has done every 10 s (so `docker compose logs` shows each
    //  instance working).
    char instance[160];
    sb_metrics_instance (instance, sizeof instance, "validator");
    void *pub = zmq_socket (s_ctx, ZMQ_PUB);
    int zero = 0, hwm = 100;
    zmq_setsockopt (pub, ZMQ_LINGER, &zero, sizeof zero);
    zmq_setsockopt (pub, ZMQ_SNDHWM, &hwm, sizeof hwm);
    const char *mep = getenv ("SB_METRICS_ENDPOINT");
    zmq_connect (pub, mep && *mep ? mep : "tcp://127.0.0.1:5562");
    sb_metrics_t *metrics = sb_metrics_new ();
    sb_msg_writer_t *writer = sb_msg_writer_new ();
    uint64_t reported = 0;
    for (int tick = 1; !s_interrupted; tick++) {
        usleep (1000000);
        uint64_t v = atomic_load (&s_jobs_validate), tj = atomic_load (&s_jobs_toon);
        sb_metrics_set (metrics, "sb_validator_jobs", "kind=validate", (double)v);
        sb_metrics_set (metrics, "sb_validator_jobs", "kind=toon", (double)tj);
        sb_metrics_set (metrics, "sb_validator_calls", "result=fixed",
                        (double)atomic_load (&s_calls_fixed));
        sb_metrics_set (metrics, "sb_validator_calls", "result=invalid",
                        (double)atomic_load (&s_calls_invalid));
        sb_metrics_set (metrics, "sb_validator_threads", "", (double)threads);
        sb_metrics_publish (metrics, pub, writer, "validator", instance);
        if (tick % 10 == 0 && v + tj != reported) {
            reported = v + tj;
            printf ("validator: %s: %llu validation jobs, %llu TOON jobs done\n", instance,
                    (unsigned long long)v, (unsigned long long)tj);
            fflush (stdout);
        }
    }
    for (long i = 0; i < threads; i++)
        pthread_join (tids[i], NULL);
    printf ("validator: %s: %llu validation jobs, %llu TOON jobs done\n", instance,
            (unsigned long long)atomic_load (&s_jobs_validate),
            (unsigned long long)atomic_load (&s_jobs_toon));
    zmq_close (pub);
    sb_metrics_destroy (&metrics);
    sb_msg_writer_destroy (&writer);
    zmq_ctx_term (s_ctx);
    return 0;
}
