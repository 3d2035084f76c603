/*  sb_clone_watch — a tiny Clone subscriber for the admin tests: follows admin's
    config stream with sb_clone and prints one line per config handed out:
        seq=N wall_us=T json=<the config, compact>
    It exits 0 after COUNT configs, 1 when TIMEOUT_MS pass first.

    usage: sb-clone-watch SUB_ENDPOINT SNAPSHOT_ENDPOINT COUNT TIMEOUT_MS [CACHE_PATH]  */

#include "sb_clock.h"
#include "sb_clone.h"

#include <errno.h>
#include <inttypes.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <zmq.h>

static int
s_number (const char *text, long max, long *out)
{
    char *end;
    errno = 0;
    long n = strtol (text, &end, 10);
    if (errno || *end || n < 1 || n > max) return -1;
    *out = n;
    return 0;
}

int
main (int argc, char **argv)
{
    long count, timeout_ms;
    if (argc < 5 || s_number (argv[3], 1000000, &count) ||
        s_number (argv[4], 3600000, &timeout_ms)) {
        fprintf (stderr, "usage: %s SUB SNAPSHOT COUNT TIMEOUT_MS [CACHE_PATH]\n", argv[0]);
        return 2;
    }
    void *ctx = zmq_ctx_new ();
    sb_clone_t *clone = sb_clone_new (ctx, argv[1], argv[2], argc > 5 ? argv[5] : NULL);
    if (!clone) {
        fprintf (stderr, "sb-clone-watch: cannot connect\n");
        return 2;
    }
    int rc = 1;
    uint64_t until = sb_mono_us () + (uint64_t)timeout_ms * 1000u;
    while (count > 0 && sb_mono_us () < until) {
        struct pollfd p = {sb_clone_poll_fd (clone), POLLIN, 0};
        poll (&p, 1, 50);
        sb_config_t *config = sb_clone_process (clone);
        if (!config) continue;
        char *json = json_dumps (sb_config_json (config), JSON_COMPACT);
        printf ("seq=%" PRIu64 " wall_us=%" PRIu64 " json=%s\n", sb_clone_seq (clone),
                sb_wall_us (), json ? json : "null");
        fflush (stdout);
        free (json);
        sb_config_destroy (&config);
        if (--count == 0) rc = 0;
    }
    sb_clone_stats_t st;
    sb_clone_stats (clone, &st);
    fprintf (stderr,
             "sb-clone-watch: snapshots=%" PRIu64 " updates=%" PRIu64 " heartbeats=%" PRIu64
             " gaps=%" PRIu64 " malformed=%" PRIu64 "\n",
             st.snapshots, st.updates, st.heartbeats, st.gaps, st.malformed);
    sb_clone_destroy (&clone);
    zmq_ctx_term (ctx);
    return rc;
}
