/*  sb_admin_metrics — per-instance series sets (dense array + open-addressing
    index), per-service retired totals, a short ring of summary samples per
    instance for the dashboard's rates, and the two renderings (Prometheus text,
    live JSON).  */

#include "sb_admin_metrics.h"
#include "sb_metrics.h"

#include <jansson.h>
#include <math.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef enum { S_COUNTER = 1, S_GAUGE, S_HISTOGRAM } s_kind_t;

#define S_MAX_NAME     200  // metric name, after sanitizing
#define S_MAX_LABELS   2048 // one series' rendered label pairs
#define S_MAX_SERVICE  64   // service name: [a-z0-9_-]
#define S_MAX_INSTANCE 128  // instance id: printable ASCII
#define S_RING         16   // summary samples per instance (about 16 s at 1 Hz)
#define S_MAX_CHANNELS 256  // per instance and in the live summary

//  One series. `name` and `labels` share one allocation (name first). labels
//  is the rendered Prometheus pair list `a="x",b="y"` (escaped) or "".
typedef struct {
    s_kind_t kind;
    char *name;
    char *labels;
    uint64_t count;                       // counter value / histogram count
    double value;                         // gauge value / histogram sum
    uint64_t buckets[SB_METRICS_BUCKETS]; // histograms: per bucket, not cumulative
} s_series_t;

//  A set of series. Invariants: slots is 0 or a power of two >= 2 * (count + 1);
//  index[i] is 0 (empty) or 1 + the position of a series in items.
typedef struct {
    s_series_t *items;
    size_t count, cap;
    uint32_t *index;
    size_t slots;
} s_set_t;

//  What the dashboard derives from one snapshot (cumulative values).
#define S_SUMMARY_FIELDS(X)                                                                        \
    X (requests)                                                                                   \
    X (errors)                                                                                     \
    X (server_errors)                                                                              \
    X (prompt_tokens)                                                                              \
    X (completion_tokens)                                                                          \
    X (failovers)                                                                                  \
    X (tool_valid)                                                                                 \
    X (tool_fixed)                                                                                 \
    X (tool_invalid)                                                                               \
    X (tool_skipped)                                                                               \
    X (toon_bytes_saved)                                                                           \
    X (http_responses)                                                                             \
    X (http_errors)                                                                                \
    X (duration_count)                                                                             \
    X (duration_sum)

enum {
#define S_ENUM(f) S_##f,
    S_SUMMARY_FIELDS (S_ENUM)
#undef S_ENUM
        S_NSUM
};

typedef struct {
    double v[S_NSUM];
    double buckets[SB_METRICS_BUCKETS]; // sb_request_duration_ms, all models
} s_summary_t;

typedef struct {
    uint64_t t_ms; // admin's clock when received
    s_summary_t sum;
} s_sample_t;

typedef struct {
    char group[128];
    char channel[128];
    double state; // 0 closed, 1 open, 2 half-open (sb_breaker)
    double error_rate;
    double latency_ms;
} s_channel_t;

//  One live instance. Invariants: ring holds ring_len samples, the newest at
//  ring_head; a counter reset clears it.
typedef struct {
    int service;
    char name[S_MAX_INSTANCE + 1];
    uint64_t seen_ms;
    s_set_t series;
    s_sample_t ring[S_RING];
    size_t ring_len, ring_head;
    double active, inflight, workers; // gauges the dashboard shows (summed per instance)
    s_channel_t *channels;
    size_t channel_count;
} s_instance_t;

typedef struct {
    char name[S_MAX_SERVICE + 1];
    s_set_t retired;         // counters and histograms of instances gone or reset
    s_summary_t retired_sum; // the same, as dashboard totals
} s_service_t;

struct _sb_admin_metrics_t {
    s_service_t services[SB_ADMIN_METRICS_MAX_SERVICES];
    size_t service_count;
    s_instance_t *instances[SB_ADMIN_METRICS_MAX_INSTANCES]; // NULL = free
    sb_admin_metrics_stats_t stats;
};

//  -------------------------------------------------------------------------
//  Series sets

static uint64_t
s_hash (s_kind_t kind, const char *name, const char *labels)
{
    uint64_t h = 1469598103934665603ULL ^ (uint64_t)kind;
    for (const char *p = name; *p; p++)
        h = (h ^ (unsigned char)*p) * 1099511628211ULL;
    h = (h ^ 0xff) * 1099511628211ULL;
    for (const char *p = labels; *p; p++)
        h = (h ^ (unsigned char)*p) * 1099511628211ULL;
    return h;
}

static void
s_set_clear (s_set_t *set)
{
    for (size_t i = 0; i < set->count; i++)
        free (set->items[i].name);
    free (set->items);
    free (set->index);
    memset (set, 0, sizeof *set);
}

static s_series_t *
s_set_find (const s_set_t *set, s_kind_t kind, const char *name, const char *labels)
{
    if (!set->slots) return NULL;
    size_t mask = set->slots - 1;
    for (size_t i = (size_t)s_hash (kind, name, labels) & mask;; i = (i + 1) & mask) {
        uint32_t at = set->index[i];
        if (!at) return NULL;
        s_series_t *s = &set->items[at - 1];
        if (s->kind == kind && strcmp (s->name, name) == 0 && strcmp (s->labels, labels) == 0)
            return s;
    }
}

static int
s_set_reindex (s_set_t *set, size_t slots)
{
    uint32_t *index = calloc (slots, sizeof *index);
    if (!index) return -1;
    for (size_t k = 0; k < set->count; k++) {
        const s_series_t *s = &set->items[k];
        size_t i = (size_t)s_hash (s->kind, s->name, s->labels) & (slots - 1);
        while (index[i])
            i = (i + 1) & (slots - 1);
        index[i] = (uint32_t)(k + 1);
    }
    free (set->index);
    set->index = index;
    set->slots = slots;
    return 0;
}

//  The series (found or added with zero values). NULL when the set holds `max`
//  series already or memory runs out.
static s_series_t *
s_set_get (s_set_t *set, s_kind_t kind, const char *name, const char *labels, size_t max)
{
    s_series_t *s = s_set_find (set, kind, name, labels);
    if (s) return s;
    if (set->count >= max) return NULL;
    if (set->count == set->cap) {
        size_t cap = set->cap ? set->cap * 2 : 64;
        s_series_t *items = realloc (set->items, cap * sizeof *items);
        if (!items) return NULL;
        set->items = items;
        set->cap = cap;
    }
    if (2 * (set->count + 1) > set->slots && s_set_reindex (set, set->slots ? set->slots * 2 : 128))
        return NULL;
    size_t nlen = strlen (name), llen = strlen (labels);
    char *text = malloc (nlen + llen + 2);
    if (!text) return NULL;
    memcpy (text, name, nlen + 1);
    memcpy (text + nlen + 1, labels, llen + 1);
    s = &set->items[set->count];
    memset (s, 0, sizeof *s);
    s->kind = kind;
    s->name = text;
    s->labels = text + nlen + 1;
    size_t i = (size_t)s_hash (kind, name, labels) & (set->slots - 1);
    while (set->index[i])
        i = (i + 1) & (set->slots - 1);
    set->index[i] = (uint32_t)(++set->count);
    return s;
}

//  Adds the counters and histograms of src into dst. Returns how many series
//  did not fit.
static uint64_t
s_set_fold (s_set_t *dst, const s_set_t *src, size_t max)
{
    uint64_t dropped = 0;
    for (size_t i = 0; i < src->count; i++) {
        const s_series_t *s = &src->items[i];
        if (s->kind == S_GAUGE) continue;
        s_series_t *d = s_set_get (dst, s->kind, s->name, s->labels, max);
        if (!d) {
            dropped++;
            continue;
        }
        d->count += s->count;
        d->value += s->value;
        for (int b = 0; b < SB_METRICS_BUCKETS; b++)
            d->buckets[b] += s->buckets[b];
    }
    return dropped;
}

//  -------------------------------------------------------------------------
//  Parsing a snapshot

static bool
s_valid_service (const char *name)
{
    size_t n = strlen (name);
    if (n == 0 || n > S_MAX_SERVICE) return false;
    for (const char *p = name; *p; p++)
        if (!((*p >= 'a' && *p <= 'z') || (*p >= '0' && *p <= '9') || *p == '_' || *p == '-'))
            return false;
    return true;
}

static bool
s_valid_instance (const char *name)
{
    size_t n = strlen (name);
    if (n == 0 || n > S_MAX_INSTANCE) return false;
    for (const char *p = name; *p; p++)
        if ((unsigned char)*p < 0x20 || (unsigned char)*p > 0x7e) return false;
    return true;
}

//  Metric and label names: [a-zA-Z_][a-zA-Z0-9_]* (':' too for metrics).
static void
s_sanitize_name (char *out, size_t size, const char *in, bool metric)
{
    size_t n = 0;
    if ((*in >= '0' && *in <= '9') || !*in) out[n++] = '_';
    for (const char *p = in; *p && n + 1 < size; p++) {
        char c = *p;
        bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                  c == '_' || (metric && c == ':');
        out[n++] = ok ? c : '_';
    }
    out[n] = '\0';
}

//  Appends `"value"` escaped for the exposition format. Returns -1 when it
//  does not fit.
static int
s_append_label_value (char *out, size_t size, size_t *n, const char *value)
{
    if (*n + 1 >= size) return -1;
    out[(*n)++] = '"';
    for (const char *p = value; *p; p++) {
        const char *esc = *p == '\\' ? "\\\\" : *p == '"' ? "\\\"" : *p == '\n' ? "\\n" : NULL;
        size_t k = esc ? 2 : 1;
        if (*n + k + 1 >= size) return -1;
        if (esc)
            memcpy (out + *n, esc, 2);
        else
            out[*n] = *p;
        *n += k;
    }
    if (*n + 2 >= size) return -1;
    out[(*n)++] = '"';
    out[*n] = '\0';
    return 0;
}

static int
s_append_label (char *out, size_t size, size_t *n, const char *name, const char *value)
{
    int k = snprintf (out + *n, size - *n, "%s%s=", *n ? "," : "", name);
    if (k < 0 || (size_t)k >= size - *n) return -1;
    *n += (size_t)k;
    return s_append_label_value (out, size, n, value);
}

//  Renders a labels object. Names admin adds itself (service, instance, le)
//  become exported_<name>, as Prometheus does on a clash. -1: too long.
static int
s_render_labels (char *out, size_t size, const json_t *labels)
{
    size_t n = 0;
    out[0] = '\0';
    const char *key;
    json_t *value;
    json_object_foreach ((json_t *)labels, key, value)
    {
        char name[128], text[64];
        const char *v = json_string_value (value);
        if (!v) {
            if (!json_is_integer (value)) continue;
            snprintf (text, sizeof text, "%lld", (long long)json_integer_value (value));
            v = text;
        }
        if (strcmp (key, "service") == 0 || strcmp (key, "instance") == 0 ||
            strcmp (key, "le") == 0) {
            char prefixed[128];
            snprintf (prefixed, sizeof prefixed, "exported_%s", key);
            s_sanitize_name (name, sizeof name, prefixed, false);
        } else
            s_sanitize_name (name, sizeof name, key, false);
        if (s_append_label (out, size, &n, name, v)) return -1;
    }
    return 0;
}

static long
s_label_long (const json_t *labels, const char *name)
{
    const char *v = json_string_value (json_object_get (labels, name));
    if (!v) return 0;
    char *end;
    long n = strtol (v, &end, 10);
    return end == v ? 0 : n;
}

static const char *
s_label_str (const json_t *labels, const char *name)
{
    const char *v = json_string_value (json_object_get (labels, name));
    return v ? v : "";
}

static s_channel_t *
s_channel (s_instance_t *inst, const json_t *labels)
{
    const char *group = s_label_str (labels, "group"), *channel = s_label_str (labels, "channel");
    for (size_t i = 0; i < inst->channel_count; i++)
        if (strcmp (inst->channels[i].group, group) == 0 &&
            strcmp (inst->channels[i].channel, channel) == 0)
            return &inst->channels[i];
    if (inst->channel_count == S_MAX_CHANNELS) return NULL;
    if (!inst->channels) {
        inst->channels = calloc (S_MAX_CHANNELS, sizeof (s_channel_t));
        if (!inst->channels) return NULL;
    }
    s_channel_t *c = &inst->channels[inst->channel_count++];
    snprintf (c->group, sizeof c->group, "%s", group);
    snprintf (c->channel, sizeof c->channel, "%s", channel);
    return c;
}

//  What one series adds to the dashboard's summary and gauges.
static void
s_summarize (s_instance_t *inst, s_summary_t *sum, s_kind_t kind, const char *name,
             const json_t *labels, const s_series_t *s)
{
    double v = (double)s->count;
    if (kind == S_COUNTER) {
        if (strcmp (name, "sb_requests_total") == 0) {
            long status = s_label_long (labels, "status");
            sum->v[S_requests] += v;
            if (status >= 400) sum->v[S_errors] += v;
            if (status >= 500) sum->v[S_server_errors] += v;
        } else if (strcmp (name, "sb_prompt_tokens_total") == 0)
            sum->v[S_prompt_tokens] += v;
        else if (strcmp (name, "sb_completion_tokens_total") == 0)
            sum->v[S_completion_tokens] += v;
        else if (strcmp (name, "sb_failovers_total") == 0)
            sum->v[S_failovers] += v;
        else if (strcmp (name, "sb_tool_calls_total") == 0) {
            const char *result = s_label_str (labels, "result");
            if (strcmp (result, "valid") == 0) sum->v[S_tool_valid] += v;
            if (strcmp (result, "fixed") == 0) sum->v[S_tool_fixed] += v;
            if (strcmp (result, "invalid") == 0) sum->v[S_tool_invalid] += v;
        } else if (strcmp (name, "sb_tool_validation_skipped_total") == 0)
            sum->v[S_tool_skipped] += v;
        else if (strcmp (name, "sb_toon_bytes_saved_total") == 0)
            sum->v[S_toon_bytes_saved] += v;
        else if (strcmp (name, "sb_http_responses_total") == 0) {
            sum->v[S_http_responses] += v;
            if (s_label_long (labels, "status") >= 400) sum->v[S_http_errors] += v;
        }
    } else if (kind == S_HISTOGRAM) {
        if (strcmp (name, "sb_request_duration_ms") == 0) {
            for (int b = 0; b < SB_METRICS_BUCKETS; b++)
                sum->buckets[b] += (double)s->buckets[b];
            sum->v[S_duration_count] += v;
            sum->v[S_duration_sum] += s->value;
        }
    } else {
        if (strcmp (name, "sb_router_active_requests") == 0)
            inst->active = (isnan (inst->active) ? 0 : inst->active) + s->value;
        else if (strcmp (name, "sb_ingress_inflight") == 0)
            inst->inflight = (isnan (inst->inflight) ? 0 : inst->inflight) + s->value;
        else if (strcmp (name, "sb_validator_workers") == 0)
            inst->workers = (isnan (inst->workers) ? 0 : inst->workers) + s->value;
        else if (strncmp (name, "sb_channel_", 11) == 0) {
            s_channel_t *c = NULL;
            if (strcmp (name + 11, "breaker_state") == 0 && (c = s_channel (inst, labels)))
                c->state = s->value;
            else if (strcmp (name + 11, "error_rate") == 0 && (c = s_channel (inst, labels)))
                c->error_rate = s->value;
            else if (strcmp (name + 11, "latency_ms") == 0 && (c = s_channel (inst, labels)))
                c->latency_ms = s->value;
        }
    }
}

//  Reads one section ("counters", ...) of the document into `set`, and the
//  summary. Returns -1 on a shape error.
static int
s_parse_section (sb_admin_metrics_t *self, s_instance_t *inst, s_set_t *set, s_summary_t *sum,
                 const json_t *doc, const char *section, s_kind_t kind)
{
    const json_t *list = json_object_get (doc, section);
    if (!list) return 0;
    if (!json_is_array (list)) return -1;
    size_t i;
    const json_t *item;
    json_array_foreach (list, i, item)
    {
        const char *raw = json_string_value (json_object_get (item, "name"));
        const json_t *labels = json_object_get (item, "labels");
        if (!raw || (labels && !json_is_object (labels))) return -1;
        char name[S_MAX_NAME + 1], rendered[S_MAX_LABELS];
        s_sanitize_name (name, sizeof name, raw, true);
        if (s_render_labels (rendered, sizeof rendered, labels)) {
            self->stats.dropped_series++;
            continue;
        }
        s_series_t *s = s_set_get (set, kind, name, rendered, SB_ADMIN_METRICS_MAX_SERIES);
        if (!s) {
            self->stats.dropped_series++;
            continue;
        }
        if (kind == S_GAUGE) {
            const json_t *v = json_object_get (item, "value");
            if (!json_is_number (v)) return -1;
            s->value = json_number_value (v);
        } else if (kind == S_COUNTER) {
            const json_t *v = json_object_get (item, "value");
            if (!json_is_integer (v) || json_integer_value (v) < 0) return -1;
            s->count = (uint64_t)json_integer_value (v);
        } else {
            const json_t *buckets = json_object_get (item, "buckets");
            const json_t *count = json_object_get (item, "count");
            const json_t *total = json_object_get (item, "sum");
            if (!json_is_array (buckets) || json_array_size (buckets) != SB_METRICS_BUCKETS ||
                !json_is_integer (count) || json_integer_value (count) < 0 ||
                !json_is_number (total))
                return -1;
            for (int b = 0; b < SB_METRICS_BUCKETS; b++) {
                const json_t *n = json_array_get (buckets, (size_t)b);
                if (!json_is_integer (n) || json_integer_value (n) < 0) return -1;
                s->buckets[b] = (uint64_t)json_integer_value (n);
            }
            s->count = (uint64_t)json_integer_value (count);
            s->value = json_number_value (total);
        }
        s_summarize (inst, sum, kind, name, labels, s);
    }
    return 0;
}

//  -------------------------------------------------------------------------
//  Instances

sb_admin_metrics_t *
sb_admin_metrics_new (void)
{
    return calloc (1, sizeof (sb_admin_metrics_t));
}

static void
s_instance_free (s_instance_t *inst)
{
    if (!inst) return;
    s_set_clear (&inst->series);
    free (inst->channels);
    free (inst);
}

void
sb_admin_metrics_destroy (sb_admin_metrics_t **self_p)
{
    if (!self_p || !*self_p) return;
    sb_admin_metrics_t *self = *self_p;
    for (size_t i = 0; i < SB_ADMIN_METRICS_MAX_INSTANCES; i++)
        s_instance_free (self->instances[i]);
    for (size_t i = 0; i < self->service_count; i++)
        s_set_clear (&self->services[i].retired);
    free (self);
    *self_p = NULL;
}

static int
s_service (sb_admin_metrics_t *self, const char *name)
{
    for (size_t i = 0; i < self->service_count; i++)
        if (strcmp (self->services[i].name, name) == 0) return (int)i;
    if (self->service_count == SB_ADMIN_METRICS_MAX_SERVICES) return -1;
    s_service_t *s = &self->services[self->service_count];
    memset (s, 0, sizeof *s);
    snprintf (s->name, sizeof s->name, "%s", name);
    return (int)self->service_count++;
}

//  Moves an instance's counters and histograms into its service's retired totals.
static void
s_retire (sb_admin_metrics_t *self, s_instance_t *inst)
{
    s_service_t *svc = &self->services[inst->service];
    self->stats.dropped_series +=
        s_set_fold (&svc->retired, &inst->series, SB_ADMIN_METRICS_MAX_RETIRED);
    if (inst->ring_len) {
        const s_summary_t *last = &inst->ring[inst->ring_head].sum;
        for (int i = 0; i < S_NSUM; i++)
            svc->retired_sum.v[i] += last->v[i];
        for (int b = 0; b < SB_METRICS_BUCKETS; b++)
            svc->retired_sum.buckets[b] += last->buckets[b];
    }
    inst->ring_len = 0;
}

//  True when a counter or histogram of `old` is missing from `fresh` or lower:
//  sb_metrics never removes a series, so the instance started again.
static bool
s_went_back (const s_set_t *old, const s_set_t *fresh)
{
    for (size_t i = 0; i < old->count; i++) {
        const s_series_t *o = &old->items[i];
        if (o->kind == S_GAUGE) continue;
        const s_series_t *n = s_set_find (fresh, o->kind, o->name, o->labels);
        if (!n || n->count < o->count) return true;
    }
    return false;
}

int
sb_admin_metrics_ingest (sb_admin_metrics_t *self, const char *service, const char *instance,
                         const char *json, size_t len, uint64_t now_ms)
{
    if (!s_valid_service (service) || !s_valid_instance (instance) ||
        len > SB_ADMIN_METRICS_MAX_DOC) {
        self->stats.rejected++;
        return -1;
    }
    json_t *doc = json_loadb (json, len, 0, NULL);
    if (!json_is_object (doc)) {
        json_decref (doc);
        self->stats.rejected++;
        return -1;
    }
    //  Parse into a scratch instance first: a bad document changes nothing.
    s_instance_t *fresh = calloc (1, sizeof *fresh);
    if (!fresh) {
        json_decref (doc);
        self->stats.rejected++;
        return -1;
    }
    fresh->active = fresh->inflight = fresh->workers = NAN;
    s_summary_t sum;
    memset (&sum, 0, sizeof sum);
    int rc = 0;
    if (s_parse_section (self, fresh, &fresh->series, &sum, doc, "counters", S_COUNTER) ||
        s_parse_section (self, fresh, &fresh->series, &sum, doc, "gauges", S_GAUGE) ||
        s_parse_section (self, fresh, &fresh->series, &sum, doc, "histograms", S_HISTOGRAM))
        rc = -1;
    json_decref (doc);

    s_instance_t *inst = NULL;
    int svc = rc ? -1 : s_service (self, service);
    size_t free_slot = SB_ADMIN_METRICS_MAX_INSTANCES;
    for (size_t i = 0; svc >= 0 && i < SB_ADMIN_METRICS_MAX_INSTANCES; i++) {
        s_instance_t *it = self->instances[i];
        if (!it) {
            if (free_slot == SB_ADMIN_METRICS_MAX_INSTANCES) free_slot = i;
        } else if (it->service == svc && strcmp (it->name, instance) == 0) {
            inst = it;
            break;
        }
    }
    if (rc || svc < 0 || (!inst && free_slot == SB_ADMIN_METRICS_MAX_INSTANCES)) {
        s_instance_free (fresh);
        self->stats.rejected++;
        return -1;
    }
    if (!inst) {
        inst = calloc (1, sizeof *inst);
        if (!inst) {
            s_instance_free (fresh);
            self->stats.rejected++;
            return -1;
        }
        inst->service = svc;
        snprintf (inst->name, sizeof inst->name, "%s", instance);
        self->instances[free_slot] = inst;
    } else if (s_went_back (&inst->series, &fresh->series)) {
        self->stats.resets++;
        s_retire (self, inst);
    }
    //  Take the fresh series, gauges and channels; keep the ring.
    s_set_clear (&inst->series);
    inst->series = fresh->series;
    memset (&fresh->series, 0, sizeof fresh->series);
    free (inst->channels);
    inst->channels = fresh->channels;
    inst->channel_count = fresh->channel_count;
    fresh->channels = NULL;
    inst->active = fresh->active;
    inst->inflight = fresh->inflight;
    inst->workers = fresh->workers;
    s_instance_free (fresh);

    inst->seen_ms = now_ms;
    inst->ring_head = inst->ring_len ? (inst->ring_head + 1) % S_RING : 0;
    if (inst->ring_len < S_RING) inst->ring_len++;
    inst->ring[inst->ring_head].t_ms = now_ms;
    inst->ring[inst->ring_head].sum = sum;
    self->stats.reports++;
    return 0;
}

void
sb_admin_metrics_expire (sb_admin_metrics_t *self, uint64_t now_ms)
{
    for (size_t i = 0; i < SB_ADMIN_METRICS_MAX_INSTANCES; i++) {
        s_instance_t *inst = self->instances[i];
        if (!inst || now_ms < inst->seen_ms + SB_ADMIN_METRICS_STALE_MS) continue;
        s_retire (self, inst);
        s_instance_free (inst);
        self->instances[i] = NULL;
        self->stats.expired++;
    }
}

void
sb_admin_metrics_stats (const sb_admin_metrics_t *self, sb_admin_metrics_stats_t *stats)
{
    *stats = self->stats;
    stats->instances = 0;
    for (size_t i = 0; i < SB_ADMIN_METRICS_MAX_INSTANCES; i++)
        if (self->instances[i]) stats->instances++;
}

//  -------------------------------------------------------------------------
//  Prometheus text

typedef struct {
    char *data;
    size_t len, cap;
    bool failed; // out of memory or past SB_ADMIN_METRICS_MAX_TEXT
} s_buf_t;

static void
s_put (s_buf_t *b, const char *text, size_t len)
{
    if (b->failed) return;
    if (b->len + len + 1 > b->cap) {
        size_t cap = b->cap ? b->cap : 16384;
        while (cap < b->len + len + 1)
            cap *= 2;
        if (cap > SB_ADMIN_METRICS_MAX_TEXT) {
            b->failed = true;
            return;
        }
        char *d = realloc (b->data, cap);
        if (!d) {
            b->failed = true;
            return;
        }
        b->data = d;
        b->cap = cap;
    }
    memcpy (b->data + b->len, text, len);
    b->len += len;
    b->data[b->len] = '\0';
}

static void
s_puts (s_buf_t *b, const char *text)
{
    s_put (b, text, strlen (text));
}

static void s_putf (s_buf_t *b, const char *fmt, ...) __attribute__ ((format (printf, 2, 3)));

static void
s_putf (s_buf_t *b, const char *fmt, ...)
{
    char tmp[512];
    va_list ap;
    va_start (ap, fmt);
    int n = vsnprintf (tmp, sizeof tmp, fmt, ap);
    va_end (ap);
    if (n < 0 || (size_t)n >= sizeof tmp) {
        b->failed = true;
        return;
    }
    s_put (b, tmp, (size_t)n);
}

static void
s_put_double (s_buf_t *b, double v)
{
    if (isnan (v))
        s_puts (b, "NaN");
    else if (isinf (v))
        s_puts (b, v > 0 ? "+Inf" : "-Inf");
    else
        s_putf (b, "%.15g", v);
}

//  One line of output: a series of a service (summed) or of an instance.
typedef struct {
    const s_series_t *s;
    const char *service;
    const char *instance; // NULL for summed counters and histograms
} s_row_t;

static int
s_row_cmp (const void *a, const void *b)
{
    const s_row_t *x = a, *y = b;
    int c = strcmp (x->s->name, y->s->name);
    if (c) return c;
    if (x->s->kind != y->s->kind) return (int)x->s->kind - (int)y->s->kind;
    if ((c = strcmp (x->service, y->service))) return c;
    if ((c = strcmp (x->instance ? x->instance : "", y->instance ? y->instance : ""))) return c;
    return strcmp (x->s->labels, y->s->labels);
}

static const struct {
    const char *name, *help;
} s_help[] = {
    {"sb_requests_total", "Requests finished by the router, by status, model and channel."},
    {"sb_request_duration_ms", "Request duration in the router (ms), by model."},
    {"sb_prompt_tokens_total", "Prompt tokens, by model."},
    {"sb_completion_tokens_total", "Completion tokens, by model."},
    {"sb_failovers_total", "Extra attempts on another channel, by model."},
    {"sb_toon_bytes_saved_total", "Request bytes saved by TOON, by model."},
    {"sb_upstream_ttfb_ms", "Provider time to first byte (ms), by channel."},
    {"sb_upstream_duration_ms", "Provider response duration (ms), by channel."},
    {"sb_tool_calls_total", "Tool calls validated, by result (valid, fixed, invalid)."},
    {"sb_http_responses_total", "HTTP responses sent by ingress, by status."},
    {"sb_channel_breaker_state", "Circuit breaker: 0 closed, 1 open, 2 half-open."},
    {"sb_admin_metrics_reports_total", "Metrics snapshots admin took from services."},
    {"sb_admin_instances", "Service instances admin hears from."},
    {"sb_admin_ws_clients", "Dashboard WebSocket clients."},
};

static void
s_put_help (s_buf_t *b, const char *name)
{
    for (size_t i = 0; i < sizeof s_help / sizeof s_help[0]; i++)
        if (strcmp (s_help[i].name, name) == 0) {
            s_putf (b, "# HELP %s %s\n", name, s_help[i].help);
            return;
        }
}

//  service="x"[,instance="y"][,labels] into buf.
static int
s_row_labels (char *buf, size_t size, const s_row_t *row, const char *extra)
{
    size_t n = 0;
    buf[0] = '\0';
    if (s_append_label (buf, size, &n, "service", row->service)) return -1;
    if (row->instance && s_append_label (buf, size, &n, "instance", row->instance)) return -1;
    if (row->s->labels[0]) {
        int k = snprintf (buf + n, size - n, ",%s", row->s->labels);
        if (k < 0 || (size_t)k >= size - n) return -1;
        n += (size_t)k;
    }
    if (extra) {
        int k = snprintf (buf + n, size - n, ",%s", extra);
        if (k < 0 || (size_t)k >= size - n) return -1;
    }
    return 0;
}

static void
s_put_row (s_buf_t *b, const s_row_t *row)
{
    char labels[S_MAX_LABELS + 512];
    const s_series_t *s = row->s;
    if (s->kind != S_HISTOGRAM) {
        if (s_row_labels (labels, sizeof labels, row, NULL)) return;
        s_putf (b, "%s{", s->name);
        s_puts (b, labels);
        s_puts (b, "} ");
        if (s->kind == S_COUNTER)
            s_putf (b, "%llu\n", (unsigned long long)s->count);
        else {
            s_put_double (b, s->value);
            s_puts (b, "\n");
        }
        return;
    }
    uint64_t cumulative = 0;
    for (int i = 0; i < SB_METRICS_BUCKETS; i++) {
        char le[48];
        cumulative += s->buckets[i];
        if (i == SB_METRICS_BUCKETS - 1)
            snprintf (le, sizeof le, "le=\"+Inf\"");
        else
            snprintf (le, sizeof le, "le=\"%g\"", sb_metrics_bounds_ms[i]);
        if (s_row_labels (labels, sizeof labels, row, le)) return;
        s_putf (b, "%s_bucket{", s->name);
        s_puts (b, labels);
        s_putf (b, "} %llu\n", (unsigned long long)cumulative);
    }
    if (s_row_labels (labels, sizeof labels, row, NULL)) return;
    s_putf (b, "%s_sum{", s->name);
    s_puts (b, labels);
    s_puts (b, "} ");
    s_put_double (b, s->value);
    s_putf (b, "\n%s_count{", s->name);
    s_puts (b, labels);
    s_putf (b, "} %llu\n", (unsigned long long)s->count);
}

char *
sb_admin_metrics_prometheus (sb_admin_metrics_t *self, size_t *len)
{
    s_set_t sums[SB_ADMIN_METRICS_MAX_SERVICES];
    memset (sums, 0, sizeof sums);
    s_row_t *rows = NULL;
    size_t row_count = 0, row_cap = 0;
    s_buf_t b = {0};

    //  Counters and histograms: every live instance of a service, plus what its
    //  gone instances left. Gauges: one row per instance.
    for (size_t svc = 0; svc < self->service_count; svc++) {
        self->stats.dropped_series +=
            s_set_fold (&sums[svc], &self->services[svc].retired, SIZE_MAX);
        for (size_t i = 0; i < SB_ADMIN_METRICS_MAX_INSTANCES; i++)
            if (self->instances[i] && self->instances[i]->service == (int)svc)
                self->stats.dropped_series +=
                    s_set_fold (&sums[svc], &self->instances[i]->series, SIZE_MAX);
    }
    size_t need = 0;
    for (size_t svc = 0; svc < self->service_count; svc++)
        need += sums[svc].count;
    for (size_t i = 0; i < SB_ADMIN_METRICS_MAX_INSTANCES; i++)
        if (self->instances[i]) need += self->instances[i]->series.count;
    row_cap = need ? need : 1;
    rows = calloc (row_cap, sizeof *rows);
    if (!rows) goto cleanup;
    for (size_t svc = 0; svc < self->service_count; svc++)
        for (size_t k = 0; k < sums[svc].count; k++)
            rows[row_count++] = (s_row_t){&sums[svc].items[k], self->services[svc].name, NULL};
    for (size_t i = 0; i < SB_ADMIN_METRICS_MAX_INSTANCES; i++) {
        const s_instance_t *inst = self->instances[i];
        if (!inst) continue;
        for (size_t k = 0; k < inst->series.count; k++)
            if (inst->series.items[k].kind == S_GAUGE)
                rows[row_count++] = (s_row_t){&inst->series.items[k],
                                              self->services[inst->service].name, inst->name};
    }
    qsort (rows, row_count, sizeof *rows, s_row_cmp);

    s_puts (&b, "");
    const char *family = NULL;
    s_kind_t family_kind = 0;
    for (size_t r = 0; r < row_count && !b.failed; r++) {
        const s_series_t *s = rows[r].s;
        if (!family || strcmp (family, s->name) != 0) {
            family = s->name;
            family_kind = s->kind;
            s_put_help (&b, s->name);
            s_putf (&b, "# TYPE %s %s\n", s->name,
                    s->kind == S_COUNTER ? "counter"
                    : s->kind == S_GAUGE ? "gauge"
                                         : "histogram");
        } else if (s->kind != family_kind) {
            //  The same name used with another type: one family per name.
            self->stats.type_conflicts++;
            continue;
        }
        s_put_row (&b, &rows[r]);
    }

cleanup:
    for (size_t svc = 0; svc < SB_ADMIN_METRICS_MAX_SERVICES; svc++)
        s_set_clear (&sums[svc]);
    free (rows);
    if (!rows || b.failed) {
        free (b.data);
        return NULL;
    }
    if (len) *len = b.len;
    return b.data;
}

//  -------------------------------------------------------------------------
//  Live summary

//  histogram_quantile over per-bucket counts: linear inside the bucket; in the
//  +Inf bucket, the highest finite bound. NAN when there is nothing.
static double
s_quantile (const double *buckets, double q)
{
    double total = 0;
    for (int b = 0; b < SB_METRICS_BUCKETS; b++)
        total += buckets[b];
    if (total <= 0) return NAN;
    double rank = q * total, seen = 0;
    for (int b = 0; b < SB_METRICS_BUCKETS; b++) {
        if (buckets[b] > 0 && seen + buckets[b] >= rank) {
            if (b == SB_METRICS_BUCKETS - 1) return sb_metrics_bounds_ms[b - 1];
            double lower = b ? sb_metrics_bounds_ms[b - 1] : 0, upper = sb_metrics_bounds_ms[b];
            return lower + (upper - lower) * (rank - seen) / buckets[b];
        }
        seen += buckets[b];
    }
    return sb_metrics_bounds_ms[SB_METRICS_BUCKETS - 2];
}

static json_t *
s_num (double v)
{
    if (isnan (v) || isinf (v)) return json_null ();
    //  Three decimals are plenty for a dashboard and keep the JSON short.
    return json_real (round (v * 1000) / 1000);
}

static const char *
s_state_name (double state)
{
    return state == 1 ? "open" : state == 2 ? "half_open" : "closed";
}

//  Worst first: open, half-open, closed.
static int
s_state_rank (double state)
{
    return state == 1 ? 2 : state == 2 ? 1 : 0;
}

char *
sb_admin_metrics_live (sb_admin_metrics_t *self, uint64_t now_ms, size_t *len)
{
    double rate[S_NSUM] = {0}, total[S_NSUM] = {0}, window_buckets[SB_METRICS_BUCKETS] = {0};
    double window_count = 0, window_sum = 0, active = 0, inflight = 0, workers = 0;
    double window_s = 0;
    for (size_t svc = 0; svc < self->service_count; svc++)
        for (int f = 0; f < S_NSUM; f++)
            total[f] += self->services[svc].retired_sum.v[f];

    json_t *root = json_object ();
    json_t *instances = json_array (), *channels = json_array ();
    s_channel_t *merged = calloc (S_MAX_CHANNELS, sizeof *merged);
    int *routers = calloc (S_MAX_CHANNELS, sizeof *routers);
    size_t merged_count = 0;
    char *text = NULL;
    if (!root || !instances || !channels || !merged || !routers) goto cleanup;

    for (size_t i = 0; i < SB_ADMIN_METRICS_MAX_INSTANCES; i++) {
        const s_instance_t *inst = self->instances[i];
        if (!inst || !inst->ring_len) continue;
        const s_sample_t *newest = &inst->ring[inst->ring_head];
        for (int f = 0; f < S_NSUM; f++)
            total[f] += newest->sum.v[f];
        if (!isnan (inst->active)) active += inst->active;
        if (!isnan (inst->inflight)) inflight += inst->inflight;
        if (!isnan (inst->workers)) workers += inst->workers;
        json_array_append_new (
            instances,
            json_pack ("{s:s,s:s,s:I}", "service", self->services[inst->service].name, "instance",
                       inst->name, "age_ms",
                       (json_int_t)(now_ms > inst->seen_ms ? now_ms - inst->seen_ms : 0)));
        //  Rates: newest sample against the oldest one inside the window.
        const s_sample_t *oldest = NULL;
        for (size_t k = 1; k < inst->ring_len; k++) {
            const s_sample_t *s = &inst->ring[(inst->ring_head + S_RING - k) % S_RING];
            oldest = s;
            if (newest->t_ms - s->t_ms >= SB_ADMIN_METRICS_WINDOW_MS) break;
        }
        if (oldest && newest->t_ms > oldest->t_ms) {
            double dt = (double)(newest->t_ms - oldest->t_ms) / 1000.0;
            for (int f = 0; f < S_NSUM; f++)
                rate[f] += fmax (0, newest->sum.v[f] - oldest->sum.v[f]) / dt;
            for (int b = 0; b < SB_METRICS_BUCKETS; b++)
                window_buckets[b] += fmax (0, newest->sum.buckets[b] - oldest->sum.buckets[b]);
            window_count +=
                fmax (0, newest->sum.v[S_duration_count] - oldest->sum.v[S_duration_count]);
            window_sum += fmax (0, newest->sum.v[S_duration_sum] - oldest->sum.v[S_duration_sum]);
            window_s = fmax (window_s, dt);
        }
        for (size_t c = 0; c < inst->channel_count; c++) {
            const s_channel_t *ch = &inst->channels[c];
            size_t m = 0;
            while (m < merged_count && (strcmp (merged[m].group, ch->group) != 0 ||
                                        strcmp (merged[m].channel, ch->channel) != 0))
                m++;
            if (m == merged_count) {
                if (merged_count == S_MAX_CHANNELS) continue;
                merged[merged_count++] = *ch;
                routers[m] = 1;
                continue;
            }
            //  Several routers: each has its own breaker; show the worst.
            if (s_state_rank (ch->state) > s_state_rank (merged[m].state))
                merged[m].state = ch->state;
            merged[m].error_rate = fmax (merged[m].error_rate, ch->error_rate);
            merged[m].latency_ms = fmax (merged[m].latency_ms, ch->latency_ms);
            routers[m]++;
        }
    }
    for (size_t m = 0; m < merged_count; m++)
        json_array_append_new (
            channels, json_pack ("{s:s,s:s,s:s,s:o,s:o,s:i}", "group", merged[m].group, "channel",
                                 merged[m].channel, "state", s_state_name (merged[m].state),
                                 "error_rate", s_num (merged[m].error_rate), "latency_ms",
                                 s_num (merged[m].latency_ms), "routers", routers[m]));

    double requests = rate[S_requests];
    json_object_set_new (root, "window_s", s_num (window_s));
    json_object_set_new (root, "rps", s_num (requests));
    json_object_set_new (root, "errors_per_s", s_num (rate[S_errors]));
    json_object_set_new (root, "server_errors_per_s", s_num (rate[S_server_errors]));
    json_object_set_new (root, "error_rate",
                         requests > 0 ? s_num (rate[S_errors] / requests) : json_real (0));
    json_object_set_new (root, "http_rps", s_num (rate[S_http_responses]));
    json_object_set_new (root, "http_errors_per_s", s_num (rate[S_http_errors]));
    json_object_set_new (root, "tokens_per_s",
                         json_pack ("{s:o,s:o,s:o}", "prompt", s_num (rate[S_prompt_tokens]),
                                    "completion", s_num (rate[S_completion_tokens]), "total",
                                    s_num (rate[S_prompt_tokens] + rate[S_completion_tokens])));
    json_object_set_new (root, "latency_ms",
                         json_pack ("{s:o,s:o,s:o,s:o}", "p50",
                                    s_num (s_quantile (window_buckets, 0.50)), "p95",
                                    s_num (s_quantile (window_buckets, 0.95)), "p99",
                                    s_num (s_quantile (window_buckets, 0.99)), "mean",
                                    s_num (window_count > 0 ? window_sum / window_count : NAN)));
    json_object_set_new (root, "failovers_per_s", s_num (rate[S_failovers]));
    json_object_set_new (root, "tool_calls_per_s",
                         json_pack ("{s:o,s:o,s:o}", "valid", s_num (rate[S_tool_valid]), "fixed",
                                    s_num (rate[S_tool_fixed]), "invalid",
                                    s_num (rate[S_tool_invalid])));
    json_object_set_new (root, "toon_bytes_saved_per_s", s_num (rate[S_toon_bytes_saved]));
    json_object_set_new (root, "totals",
                         json_pack ("{s:I,s:I,s:I,s:I,s:I,s:I,s:I,s:I,s:I,s:I,s:I}", "requests",
                                    (json_int_t)total[S_requests], "errors",
                                    (json_int_t)total[S_errors], "prompt_tokens",
                                    (json_int_t)total[S_prompt_tokens], "completion_tokens",
                                    (json_int_t)total[S_completion_tokens], "failovers",
                                    (json_int_t)total[S_failovers], "tool_calls_valid",
                                    (json_int_t)total[S_tool_valid], "tool_calls_fixed",
                                    (json_int_t)total[S_tool_fixed], "tool_calls_invalid",
                                    (json_int_t)total[S_tool_invalid], "tool_validation_skipped",
                                    (json_int_t)total[S_tool_skipped], "toon_bytes_saved",
                                    (json_int_t)total[S_toon_bytes_saved], "http_responses",
                                    (json_int_t)total[S_http_responses]));
    json_object_set_new (root, "active_requests", s_num (active));
    json_object_set_new (root, "ingress_inflight", s_num (inflight));
    json_object_set_new (root, "validator_workers", s_num (workers));
    json_object_set (root, "channels", channels);
    json_object_set (root, "instances", instances);
    text = json_dumps (root, JSON_COMPACT);
    if (text && len) *len = strlen (text);

cleanup:
    json_decref (root);
    json_decref (instances);
    json_decref (channels);
    free (merged);
    free (routers);
    return text;
}
