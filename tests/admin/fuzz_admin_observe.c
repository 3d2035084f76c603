/*  fuzz_admin_observe — admin's parsers of what services and clients send for
    observability: a metrics snapshot from the SUB (sb_admin_metrics_ingest, then
    both renderings, a restart and an expiry), a stream capture from Redis
    (sb_admin_logs_decode_chunks) and logs query arguments
    (sb_admin_logs_filter_arg). The first byte picks which; the rest is input.  */

#include "sb_admin_logs.h"
#include "sb_admin_metrics.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput (const uint8_t *data, size_t size);

static void
s_metrics (const char *doc, size_t len)
{
    sb_admin_metrics_t *m = sb_admin_metrics_new ();
    if (!m) return;
    sb_admin_metrics_ingest (m, "router", "r-1", doc, len, 1000);
    sb_admin_metrics_ingest (m, "router", "r-2", doc, len, 1000);
    //  The same document later (rates) and an empty one (a restart).
    sb_admin_metrics_ingest (m, "router", "r-1", doc, len, 2000);
    sb_admin_metrics_ingest (m, "router", "r-2", "{}", 2, 2000);
    size_t n;
    free (sb_admin_metrics_prometheus (m, &n));
    free (sb_admin_metrics_live (m, 2000, &n));
    sb_admin_metrics_expire (m, 2000 + SB_ADMIN_METRICS_STALE_MS);
    free (sb_admin_metrics_prometheus (m, &n));
    free (sb_admin_metrics_live (m, 30000, &n));
    sb_admin_metrics_destroy (&m);
}

int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size)
{
    if (size < 1 || size > (1u << 20)) return 0;
    const char *in = (const char *)data + 1;
    size_t len = size - 1;
    switch (data[0] % 3) {
        case 0:
            s_metrics (in, len);
            break;
        case 1: {
            bool truncated = false, malformed = false;
            json_t *chunks = sb_admin_logs_decode_chunks (in, len, &truncated, &malformed);
            char *text = chunks ? json_dumps (chunks, JSON_COMPACT) : NULL;
            free (text);
            json_decref (chunks);
            break;
        }
        default: {
            //  "name\0value"
            char *copy = malloc (len + 2);
            if (!copy) return 0;
            memcpy (copy, in, len);
            copy[len] = copy[len + 1] = '\0';
            sb_admin_logs_filter_t f;
            sb_admin_logs_filter_init (&f);
            char err[300];
            sb_admin_logs_filter_arg (&f, copy, copy + strlen (copy) + (strlen (copy) < len), err,
                                      sizeof err);
            sb_admin_logs_valid_id (copy);
            free (copy);
            break;
        }
    }
    return 0;
}
