/*  test_sb_metrics — counters, gauges, histograms, the JSON shape, and the bound.  */

#include "sb_metrics.h"
#include "sb_test.h"

#include <jansson.h>
#include <stdlib.h>

int
main (void)
{
    sb_metrics_t *m = sb_metrics_new ();
    sb_metrics_add (m, "requests", "status=200,model=a", 2);
    sb_metrics_add (m, "requests", "status=200,model=a", 1);
    sb_metrics_add (m, "requests", "status=502,model=a", 1);
    sb_metrics_set (m, "active", "", 7);
    sb_metrics_observe (m, "latency_ms", "", 0.5);
    sb_metrics_observe (m, "latency_ms", "", 3);
    sb_metrics_observe (m, "latency_ms", "", 100000);
    CHECK (sb_metrics_counter (m, "requests", "status=200,model=a") == 3);
    CHECK (sb_metrics_counter (m, "requests", "status=404,model=a") == 0);

    size_t len = 0;
    char *text = sb_metrics_json (m, &len);
    json_error_t err;
    json_t *doc = json_loadb (text, len, 0, &err);
    CHECK (doc != NULL);
    CHECK (json_array_size (json_object_get (doc, "counters")) == 2);
    json_t *h = json_array_get (json_object_get (doc, "histograms"), 0);
    CHECK (json_integer_value (json_object_get (h, "count")) == 3);
    json_t *buckets = json_object_get (h, "buckets");
    CHECK (json_integer_value (json_array_get (buckets, 0)) == 1); // 0.5 <= 1
    CHECK (json_integer_value (json_array_get (buckets, 2)) == 1); // 3 <= 5
    CHECK (json_integer_value (json_array_get (buckets, SB_METRICS_BUCKETS - 1)) == 1);
    json_t *g = json_array_get (json_object_get (doc, "gauges"), 0);
    CHECK (json_real_value (json_object_get (g, "value")) == 7.0 ||
           json_integer_value (json_object_get (g, "value")) == 7);
    json_t *c = json_array_get (json_object_get (doc, "counters"), 0);
    CHECK_STR (json_string_value (json_object_get (json_object_get (c, "labels"), "model")), "a");
    json_decref (doc);
    free (text);

    //  Past the bound, new label sets land in one overflow series.
    char labels[64];
    for (int i = 0; i < SB_METRICS_MAX_SERIES + 100; i++) {
        snprintf (labels, sizeof labels, "k=%d", i);
        sb_metrics_add (m, "many", labels, 1);
    }
    CHECK (sb_metrics_counter (m, "many", "overflow=true") >= 100);

    char safe[32];
    sb_metrics_label_value (safe, sizeof safe, "a,b=c\"d");
    CHECK_STR (safe, "a_b_c_d");
    sb_metrics_destroy (&m);
    CHECK (m == NULL);
    return SB_TEST_DONE ();
}
