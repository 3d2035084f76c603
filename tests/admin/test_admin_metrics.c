/*  test_admin_metrics — sb_admin_metrics with fake instances: counters and
    histograms summed per service (cumulative buckets, _sum, _count), gauges per
    instance, escaping and reserved labels, a vanished instance's counters kept
    and its gauges dropped, a restart under the same id, bad documents refused
    without changing anything, and the live summary's rates and percentiles.  */

#include "sb_admin_metrics.h"
#include "sb_test.h"

#include <jansson.h>
#include <math.h>
#include <regex.h>
#include <stdbool.h>
#include <stdlib.h>

static sb_admin_metrics_t *s_m;

//  A router snapshot: one request counter, one duration histogram (`fast`
//  requests in the 1 ms bucket, `slow` in the 250 ms one), one gauge.
static int
s_router (const char *instance, uint64_t now_ms, int ok, int failed, int fast, int slow,
          double active)
{
    char doc[2048];
    snprintf (doc, sizeof doc,
              "{\"counters\":["
              "{\"name\":\"sb_requests_total\",\"labels\":{\"status\":\"200\",\"model\":\"m\","
              "\"channel\":\"c\"},\"value\":%d},"
              "{\"name\":\"sb_requests_total\",\"labels\":{\"status\":\"502\",\"model\":\"m\","
              "\"channel\":\"c\"},\"value\":%d},"
              "{\"name\":\"sb_prompt_tokens_total\",\"labels\":{\"model\":\"m\"},\"value\":%d}],"
              "\"gauges\":[{\"name\":\"sb_router_active_requests\",\"labels\":{},\"value\":%g},"
              "{\"name\":\"sb_channel_breaker_state\",\"labels\":{\"group\":\"g\",\"channel\":"
              "\"c\"},\"value\":%d}],"
              "\"histograms\":[{\"name\":\"sb_request_duration_ms\",\"labels\":{\"model\":\"m\"},"
              "\"buckets\":[%d,0,0,0,0,0,0,%d,0,0,0,0,0,0,0],\"sum\":%d,\"count\":%d}]}",
              ok, failed, 10 * (ok + failed), active, failed ? 1 : 0, fast, slow,
              fast * 1 + slow * 200, fast + slow);
    return sb_admin_metrics_ingest (s_m, "router", instance, doc, strlen (doc), now_ms);
}

static char *
s_text (void)
{
    size_t len = 0;
    char *text = sb_admin_metrics_prometheus (s_m, &len);
    CHECK (text != NULL);
    CHECK (text && strlen (text) == len);
    return text;
}

static bool
s_has (const char *text, const char *line)
{
    char want[1024];
    snprintf (want, sizeof want, "\n%s\n", line);
    //  Every line is preceded by a newline except the first.
    return strstr (text, want) || strncmp (text, line, strlen (line)) == 0;
}

static void
s_check_has (const char *text, const char *line)
{
    bool ok = s_has (text, line);
    if (!ok) fprintf (stderr, "missing line: %s\n--- text:\n%s---\n", line, text);
    CHECK (ok);
}

//  Every line is a comment or `name{labels} value`, and each family's TYPE
//  comes once, before its samples.
static void
s_check_format (const char *text)
{
    regex_t sample, comment;
    CHECK (regcomp (&sample,
                    "^[a-zA-Z_:][a-zA-Z0-9_:]*(\\{([a-zA-Z_][a-zA-Z0-9_]*=\"([^\"\\\\]|\\\\.)*\","
                    "?)*\\})? ([-+]?[0-9.eE+-]+|NaN|[+-]Inf)$",
                    REG_EXTENDED | REG_NOSUB) == 0);
    CHECK (regcomp (&comment, "^# (HELP|TYPE) [a-zA-Z_:][a-zA-Z0-9_:]* .+$",
                    REG_EXTENDED | REG_NOSUB) == 0);
    int bad = 0, types = 0;
    char seen[64][128];
    const char *p = text;
    while (*p) {
        const char *nl = strchr (p, '\n');
        CHECK (nl != NULL); // the text ends with a newline
        if (!nl) break;
        char line[2048];
        snprintf (line, sizeof line, "%.*s", (int)(nl - p), p);
        bool ok = regexec (line[0] == '#' ? &comment : &sample, line, 0, NULL, 0) == 0;
        if (!ok && bad++ < 5) fprintf (stderr, "bad line: %s\n", line);
        if (strncmp (line, "# TYPE ", 7) == 0 && types < 64) {
            char name[128];
            sscanf (line + 7, "%127s", name);
            for (int i = 0; i < types; i++)
                if (strcmp (seen[i], name) == 0) {
                    fprintf (stderr, "TYPE twice: %s\n", name);
                    bad++;
                }
            snprintf (seen[types++], sizeof seen[0], "%s", name);
        }
        p = nl + 1;
    }
    CHECK (bad == 0);
    CHECK (types > 0);
    regfree (&sample);
    regfree (&comment);
}

static json_t *
s_live (uint64_t now_ms)
{
    size_t len = 0;
    char *text = sb_admin_metrics_live (s_m, now_ms, &len);
    CHECK (text != NULL);
    json_t *doc = text ? json_loads (text, 0, NULL) : NULL;
    CHECK (doc != NULL);
    free (text);
    return doc;
}

static double
s_get (json_t *doc, const char *path)
{
    char buf[128];
    snprintf (buf, sizeof buf, "%s", path);
    json_t *at = doc;
    for (char *save = NULL, *part = strtok_r (buf, ".", &save); part && at;
         part = strtok_r (NULL, ".", &save))
        at = json_object_get (at, part);
    return json_is_number (at) ? json_number_value (at) : NAN;
}

static void
s_test_two_instances (void)
{
    printf ("two router instances + one ingress: summed counters and histograms, gauges per "
            "instance\n");
    CHECK (s_router ("router-1", 1000, 3, 1, 2, 1, 2) == 0);
    CHECK (s_router ("router-2", 1000, 4, 0, 1, 3, 5) == 0);
    const char *ingress = "{\"counters\":[{\"name\":\"sb_http_responses_total\",\"labels\":"
                          "{\"status\":\"200\"},\"value\":9}],\"gauges\":[{\"name\":"
                          "\"sb_bad_messages\",\"labels\":{},\"value\":0}],\"histograms\":[]}";
    CHECK (sb_admin_metrics_ingest (s_m, "ingress", "ingress-7", ingress, strlen (ingress), 1000) ==
           0);
    char *text = s_text ();
    if (!text) return;
    s_check_format (text);
    s_check_has (text, "# TYPE sb_requests_total counter");
    s_check_has (
        text, "sb_requests_total{service=\"router\",status=\"200\",model=\"m\",channel=\"c\"} 7");
    s_check_has (
        text, "sb_requests_total{service=\"router\",status=\"502\",model=\"m\",channel=\"c\"} 1");
    s_check_has (text, "sb_prompt_tokens_total{service=\"router\",model=\"m\"} 80");
    //  Histograms: per-bucket counts 3 (1 ms) and 4 (250 ms) become cumulative.
    s_check_has (text, "# TYPE sb_request_duration_ms histogram");
    s_check_has (text, "sb_request_duration_ms_bucket{service=\"router\",model=\"m\",le=\"1\"} 3");
    s_check_has (text,
                 "sb_request_duration_ms_bucket{service=\"router\",model=\"m\",le=\"100\"} 3");
    s_check_has (text,
                 "sb_request_duration_ms_bucket{service=\"router\",model=\"m\",le=\"250\"} 7");
    s_check_has (text,
                 "sb_request_duration_ms_bucket{service=\"router\",model=\"m\",le=\"+Inf\"} 7");
    s_check_has (text, "sb_request_duration_ms_sum{service=\"router\",model=\"m\"} 803");
    s_check_has (text, "sb_request_duration_ms_count{service=\"router\",model=\"m\"} 7");
    //  Gauges: one line per instance.
    s_check_has (text, "# TYPE sb_router_active_requests gauge");
    s_check_has (text, "sb_router_active_requests{service=\"router\",instance=\"router-1\"} 2");
    s_check_has (text, "sb_router_active_requests{service=\"router\",instance=\"router-2\"} 5");
    //  The same gauge name in two services: one family, both services.
    s_check_has (text, "sb_bad_messages{service=\"ingress\",instance=\"ingress-7\"} 0");
    s_check_has (text, "sb_http_responses_total{service=\"ingress\",status=\"200\"} 9");
    CHECK (strstr (text, "# HELP sb_requests_total ") != NULL);
    //  Families sorted by name.
    CHECK (strstr (text, "# TYPE sb_bad_messages") < strstr (text, "# TYPE sb_requests_total"));
    free (text);
}

static void
s_test_live (void)
{
    printf ("live summary: rates from deltas over the window, percentiles from bucket deltas\n");
    //  One second later both routers served 10 more requests: 8 fast, 2 slow.
    CHECK (s_router ("router-1", 2000, 3 + 10, 1, 2 + 8, 1 + 2, 1) == 0);
    CHECK (s_router ("router-2", 2000, 4 + 10, 0, 1 + 8, 3 + 2, 0) == 0);
    json_t *live = s_live (2000);
    if (!live) return;
    CHECK (fabs (s_get (live, "rps") - 20) < 0.01);
    CHECK (s_get (live, "errors_per_s") == 0);
    CHECK (fabs (s_get (live, "tokens_per_s.prompt") - 200) < 0.01);
    CHECK (s_get (live, "totals.requests") == 28);
    CHECK (s_get (live, "totals.errors") == 1);
    CHECK (s_get (live, "active_requests") == 1);
    //  16 of 20 in the 1 ms bucket: p50 inside it, p99 inside (100, 250].
    double p50 = s_get (live, "latency_ms.p50"), p99 = s_get (live, "latency_ms.p99");
    CHECK (p50 > 0 && p50 <= 1);
    CHECK (p99 > 100 && p99 <= 250);
    json_t *channels = json_object_get (live, "channels");
    CHECK (json_array_size (channels) == 1);
    //  router-1 had a failure, so its breaker reads open: the worst state wins.
    CHECK_STR (json_string_value (json_object_get (json_array_get (channels, 0), "state")), "open");
    CHECK (json_array_size (json_object_get (live, "instances")) == 3);
    json_decref (live);

    //  No traffic for a window: rates drop to zero, totals stay.
    for (uint64_t t = 3000; t <= 8000; t += 1000) {
        s_router ("router-1", t, 13, 1, 10, 3, 0);
        s_router ("router-2", t, 14, 0, 9, 5, 0);
    }
    live = s_live (8000);
    CHECK (s_get (live, "rps") == 0);
    CHECK (s_get (live, "totals.requests") == 28);
    CHECK (json_is_null (json_object_get (json_object_get (live, "latency_ms"), "p50")));
    json_decref (live);
}

static void
s_test_vanished (void)
{
    printf ("a vanished instance: gauges gone, counters kept; a restart under the same id\n");
    //  router-2 and ingress-7 go quiet; router-1 keeps reporting.
    for (uint64_t t = 9000; t <= 19000; t += 1000)
        s_router ("router-1", t, 13, 1, 10, 3, 0);
    sb_admin_metrics_expire (s_m, 19000);
    sb_admin_metrics_stats_t stats;
    sb_admin_metrics_stats (s_m, &stats);
    CHECK (stats.instances == 1);
    CHECK (stats.expired == 2);
    char *text = s_text ();
    if (!text) return;
    s_check_format (text);
    CHECK (strstr (text, "instance=\"router-2\"") == NULL);
    CHECK (strstr (text, "instance=\"ingress-7\"") == NULL);
    s_check_has (
        text, "sb_requests_total{service=\"router\",status=\"200\",model=\"m\",channel=\"c\"} 27");
    s_check_has (text, "sb_http_responses_total{service=\"ingress\",status=\"200\"} 9");
    free (text);

    //  router-1 restarts under the same id: its counters start again at 2.
    CHECK (s_router ("router-1", 20000, 2, 0, 2, 0, 0) == 0);
    sb_admin_metrics_stats (s_m, &stats);
    CHECK (stats.resets == 1);
    text = s_text ();
    if (!text) return;
    s_check_has (
        text, "sb_requests_total{service=\"router\",status=\"200\",model=\"m\",channel=\"c\"} 29");
    s_check_has (text,
                 "sb_request_duration_ms_bucket{service=\"router\",model=\"m\",le=\"+Inf\"} 29");
    free (text);
    json_t *live = s_live (20000);
    CHECK (s_get (live, "totals.requests") == 30); // 27 ok + 1 failed retired, 2 new
    CHECK (s_get (live, "rps") == 0);              // one sample since the restart: no rate yet
    json_decref (live);
}

static void
s_test_labels (void)
{
    printf ("label values escaped, reserved label names renamed, names sanitized\n");
    const char *doc =
        "{\"counters\":[{\"name\":\"weird-name.total\",\"labels\":{\"model\":\"a\\\"b\\\\c\\nd\","
        "\"instance\":\"x\",\"bad key\":\"v\"},\"value\":1}],\"gauges\":[],\"histograms\":[]}";
    CHECK (sb_admin_metrics_ingest (s_m, "validator", "validator-1", doc, strlen (doc), 20000) ==
           0);
    char *text = s_text ();
    if (!text) return;
    s_check_format (text);
    s_check_has (text, "weird_name_total{service=\"validator\",model=\"a\\\"b\\\\c\\nd\","
                       "exported_instance=\"x\",bad_key=\"v\"} 1");
    free (text);
}

static void
s_test_rejected (void)
{
    printf ("bad documents and names are refused and change nothing\n");
    sb_admin_metrics_stats_t before, after;
    sb_admin_metrics_stats (s_m, &before);
    const char *bad[] = {
        "not json",
        "[]",
        "{\"counters\":{}}",
        "{\"counters\":[{\"labels\":{},\"value\":1}]}",
        "{\"counters\":[{\"name\":\"x\",\"labels\":{},\"value\":-1}]}",
        "{\"counters\":[{\"name\":\"x\",\"labels\":{},\"value\":\"1\"}]}",
        "{\"histograms\":[{\"name\":\"h\",\"labels\":{},\"buckets\":[1,2],\"sum\":1,\"count\":3}]}",
        "{\"gauges\":[{\"name\":\"g\",\"labels\":[],\"value\":1}]}",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        CHECK (sb_admin_metrics_ingest (s_m, "router", "router-1", bad[i], strlen (bad[i]),
                                        21000) == -1);
    const char *ok = "{\"counters\":[],\"gauges\":[],\"histograms\":[]}";
    CHECK (sb_admin_metrics_ingest (s_m, "Router!", "r", ok, strlen (ok), 21000) == -1);
    CHECK (sb_admin_metrics_ingest (s_m, "router", "", ok, strlen (ok), 21000) == -1);
    CHECK (sb_admin_metrics_ingest (s_m, "router", "tab\there", ok, strlen (ok), 21000) == -1);
    sb_admin_metrics_stats (s_m, &after);
    CHECK (after.rejected == before.rejected + 11);
    CHECK (after.reports == before.reports);
    char *text = s_text ();
    if (text)
        s_check_has (text, "sb_requests_total{service=\"router\",status=\"200\",model=\"m\","
                           "channel=\"c\"} 29");
    free (text);
}

static void
s_test_limits (void)
{
    printf ("instance limit: the one past SB_ADMIN_METRICS_MAX_INSTANCES is refused\n");
    sb_admin_metrics_t *m = sb_admin_metrics_new ();
    const char *ok = "{\"counters\":[{\"name\":\"c_total\",\"labels\":{},\"value\":1}]}";
    int accepted = 0;
    for (int i = 0; i < SB_ADMIN_METRICS_MAX_INSTANCES + 5; i++) {
        char name[32];
        snprintf (name, sizeof name, "w-%d", i);
        if (sb_admin_metrics_ingest (m, "worker", name, ok, strlen (ok), 1000) == 0) accepted++;
    }
    CHECK (accepted == SB_ADMIN_METRICS_MAX_INSTANCES);
    size_t len;
    char *text = sb_admin_metrics_prometheus (m, &len);
    char want[64];
    snprintf (want, sizeof want, "c_total{service=\"worker\"} %d", SB_ADMIN_METRICS_MAX_INSTANCES);
    CHECK (text && strstr (text, want));
    free (text);
    //  All silent: retired; room for new ones again, totals kept.
    sb_admin_metrics_expire (m, 1000 + SB_ADMIN_METRICS_STALE_MS);
    CHECK (sb_admin_metrics_ingest (m, "worker", "w-new", ok, strlen (ok), 20000) == 0);
    text = sb_admin_metrics_prometheus (m, &len);
    snprintf (want, sizeof want, "c_total{service=\"worker\"} %d",
              SB_ADMIN_METRICS_MAX_INSTANCES + 1);
    CHECK (text && strstr (text, want));
    free (text);
    sb_admin_metrics_destroy (&m);
    CHECK (m == NULL);
    sb_admin_metrics_destroy (&m);
}

int
main (void)
{
    s_m = sb_admin_metrics_new ();
    CHECK (s_m != NULL);
    s_test_two_instances ();
    s_test_live ();
    s_test_vanished ();
    s_test_labels ();
    s_test_rejected ();
    s_test_limits ();
    sb_admin_metrics_destroy (&s_m);
    return SB_TEST_DONE ();
}
