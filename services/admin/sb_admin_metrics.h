/*  sb_admin_metrics — admin's view of every service's live metrics. Keeps the
    last snapshot of each (service, instance) as published once a second
    (lib/common/sb_metrics JSON), renders them as Prometheus text (counters and
    histograms summed per service, gauges per instance) and computes the
    dashboard's live summary (rates from counter deltas, latency percentiles
    from histogram deltas). Pure: no sockets, no clock of its own (callers pass
    admin's monotonic milliseconds). Runs on admin's lws thread.

    Instances that vanish: after SB_ADMIN_METRICS_STALE_MS without a snapshot
    an instance is retired. Its gauges disappear; its counters and histograms
    are folded into the service's "retired" totals, so the summed series never
    go backwards (a Prometheus counter that drops reads as a reset). The same
    happens when an instance's counters go back under the same id (it
    restarted): the old values are retired, the new ones count from there.  */

#ifndef SB_ADMIN_METRICS_H_INCLUDED
#define SB_ADMIN_METRICS_H_INCLUDED

#include <stddef.h>
#include <stdint.h>

#define SB_ADMIN_METRICS_STALE_MS      10000 // silent this long: retired
#define SB_ADMIN_METRICS_WINDOW_MS     5000  // dashboard rates and percentiles
#define SB_ADMIN_METRICS_MAX_INSTANCES 256   // more: new instances are rejected
#define SB_ADMIN_METRICS_MAX_SERVICES  32
#define SB_ADMIN_METRICS_MAX_SERIES    8192       // per instance (sb_metrics keeps 2048 + overflow)
#define SB_ADMIN_METRICS_MAX_RETIRED   65536      // retired series per service
#define SB_ADMIN_METRICS_MAX_DOC       (8u << 20) // one snapshot's JSON
#define SB_ADMIN_METRICS_MAX_TEXT      (64u << 20) // the Prometheus page

typedef struct _sb_admin_metrics_t sb_admin_metrics_t;

typedef struct {
    uint64_t reports;        // snapshots taken
    uint64_t rejected;       // not JSON, wrong shape, bad names, too many instances
    uint64_t resets;         // an instance's counters went back (restart under the same id)
    uint64_t expired;        // instances retired for silence
    uint64_t dropped_series; // series past a bound (per instance or retired)
    uint64_t type_conflicts; // series skipped in /metrics: name already used with another type
    size_t instances;        // live now
} sb_admin_metrics_stats_t;

sb_admin_metrics_t *sb_admin_metrics_new (void);
void sb_admin_metrics_destroy (sb_admin_metrics_t **self_p);

//  Takes one snapshot of (service, instance), received at now_ms. `json` is
//  sb_metrics_json's document (not NUL-terminated). Returns 0, or -1 when the
//  document or the names are unusable or the instance limit is reached (counted
//  in `rejected`; the instance's previous snapshot stays).
int sb_admin_metrics_ingest (sb_admin_metrics_t *self, const char *service, const char *instance,
                             const char *json, size_t len, uint64_t now_ms);

//  Retires instances last heard before now_ms - SB_ADMIN_METRICS_STALE_MS.
void sb_admin_metrics_expire (sb_admin_metrics_t *self, uint64_t now_ms);

//  Prometheus text exposition format 0.0.4: families sorted by name, each with
//  # TYPE (and # HELP for known names); counters and histograms carry
//  service="…", gauges service="…",instance="…". Histograms are cumulative
//  _bucket{le=…} series with _sum and _count. Caller frees (free). NULL when
//  memory runs out or the text would pass SB_ADMIN_METRICS_MAX_TEXT.
char *sb_admin_metrics_prometheus (sb_admin_metrics_t *self, size_t *len);

//  The dashboard's summary as a JSON object (see docs/admin.md, "Live"):
//  rates over the last SB_ADMIN_METRICS_WINDOW_MS, totals, gauges, channels,
//  instances. Caller frees (free). NULL when memory runs out.
char *sb_admin_metrics_live (sb_admin_metrics_t *self, uint64_t now_ms, size_t *len);

void sb_admin_metrics_stats (const sb_admin_metrics_t *self, sb_admin_metrics_stats_t *stats);

#endif
