/*  sb_metrics — open-addressing table of series keyed by (kind, name, labels).  */

#include "sb_metrics.h"
#include "sb_zmsg.h"
#include "sb_clock.h"
#include "sb_msg.h"
#include "sb_oai_error.h"

#include <unistd.h>
#include <zmq.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

const double sb_metrics_bounds_ms[SB_METRICS_BUCKETS] = {
    1, 2.5, 5, 10, 25, 50, 100, 250, 500, 1000, 2500, 5000, 10000, 30000, 1e300};

typedef enum { S_COUNTER = 1, S_GAUGE, S_HISTOGRAM } s_kind_t;

#define S_SLOTS (SB_METRICS_MAX_SERIES * 2) // load factor <= 0.5

typedef struct {
    s_kind_t kind; // 0 = empty slot
    char *name;
    char *labels;
    uint64_t count;                       // counter value / histogram count
    double value;                         // gauge value / histogram sum
    uint64_t buckets[SB_METRICS_BUCKETS]; // histograms: per-bucket (not cumulative)
} s_series_t;

struct _sb_metrics_t {
    s_series_t slots[S_SLOTS];
    size_t used;
};

sb_metrics_t *
sb_metrics_new (void)
{
    return calloc (1, sizeof (sb_metrics_t));
}

void
sb_metrics_destroy (sb_metrics_t **self_p)
{
    if (!self_p || !*self_p) return;
    sb_metrics_t *self = *self_p;
    for (size_t i = 0; i < S_SLOTS; i++) {
        free (self->slots[i].name);
        free (self->slots[i].labels);
    }
    free (self);
    *self_p = NULL;
}

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

//  The series, created if absent; past the bound, the "overflow" series of the
//  name; NULL only when memory runs out.
static s_series_t *
s_series (sb_metrics_t *self, s_kind_t kind, const char *name, const char *labels)
{
    if (!labels) labels = "";
    for (int pass = 0; pass < 2; pass++) {
        size_t i = (size_t)(s_hash (kind, name, labels) % S_SLOTS);
        for (;;) {
            s_series_t *s = &self->slots[i];
            if (!s->kind) break;
            if (s->kind == kind && strcmp (s->name, name) == 0 && strcmp (s->labels, labels) == 0)
                return s;
            i = (i + 1) % S_SLOTS;
        }
        if (self->used < SB_METRICS_MAX_SERIES || (pass == 1 && self->used < S_SLOTS - 1)) {
            s_series_t *s = &self->slots[i];
            s->name = strdup (name);
            s->labels = strdup (labels);
            if (!s->name || !s->labels) {
                free (s->name);
                free (s->labels);
                s->name = s->labels = NULL;
                return NULL;
            }
            s->kind = kind;
            self->used++;
            return s;
        }
        labels = "overflow=true";
    }
    return NULL;
}

void
sb_metrics_add (sb_metrics_t *self, const char *name, const char *labels, uint64_t n)
{
    s_series_t *s = s_series (self, S_COUNTER, name, labels);
    if (s) s->count += n;
}

void
sb_metrics_set (sb_metrics_t *self, const char *name, const char *labels, double value)
{
    s_series_t *s = s_series (self, S_GAUGE, name, labels);
    if (s) s->value = value;
}

void
sb_metrics_observe (sb_metrics_t *self, const char *name, const char *labels, double ms)
{
    s_series_t *s = s_series (self, S_HISTOGRAM, name, labels);
    if (!s) return;
    int b = 0;
    while (b < SB_METRICS_BUCKETS - 1 && ms > sb_metrics_bounds_ms[b])
        b++;
    s->buckets[b]++;
    s->count++;
    s->value += ms;
}

uint64_t
sb_metrics_counter (const sb_metrics_t *self, const char *name, const char *labels)
{
    if (!labels) labels = "";
    size_t i = (size_t)(s_hash (S_COUNTER, name, labels) % S_SLOTS);
    for (;;) {
        const s_series_t *s = &self->slots[i];
        if (!s->kind) return 0;
        if (s->kind == S_COUNTER && strcmp (s->name, name) == 0 && strcmp (s->labels, labels) == 0)
            return s->count;
        i = (i + 1) % S_SLOTS;
    }
}

void
sb_metrics_label_value (char *out, size_t size, const char *value)
{
    size_t n = 0;
    for (const char *p = value ? value : ""; *p && n + 1 < size; p++) {
        char c = *p;
        out[n++] =
            (c == ',' || c == '=' || c == '"' || c == '\\' || (unsigned char)c < 0x20) ? '_' : c;
    }
    if (size) out[n] = '\0';
}

typedef struct {
    char *data;
    size_t len, cap;
    int failed;
} s_buf_t;

static void
s_put (s_buf_t *b, const char *text, size_t len)
{
    if (b->failed) return;
    if (b->len + len + 1 > b->cap) {
        size_t cap = b->cap ? b->cap : 4096;
        while (cap < b->len + len + 1)
            cap *= 2;
        char *d = realloc (b->data, cap);
        if (!d) {
            b->failed = 1;
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

static void
s_put_escaped (s_buf_t *b, const char *text)
{
    char tmp[512];
    size_t n = 0;
    sb_json_escape_append (tmp, sizeof tmp, &n, text, strlen (text));
    s_put (b, tmp, n);
}

//  labels "a=1,b=2" → {"a":"1","b":"2"}
static void
s_put_labels (s_buf_t *b, const char *labels)
{
    s_puts (b, "{");
    const char *p = labels;
    int first = 1;
    while (*p) {
        const char *comma = strchr (p, ',');
        size_t len = comma ? (size_t)(comma - p) : strlen (p);
        const char *eq = memchr (p, '=', len);
        if (eq) {
            char key[128], val[384];
            snprintf (key, sizeof key, "%.*s", (int)(eq - p), p);
            snprintf (val, sizeof val, "%.*s", (int)(len - (size_t)(eq - p) - 1), eq + 1);
            s_puts (b, first ? "\"" : ",\"");
            s_put_escaped (b, key);
            s_puts (b, "\":\"");
            s_put_escaped (b, val);
            s_puts (b, "\"");
            first = 0;
        }
        p += len;
        if (*p == ',') p++;
    }
    s_puts (b, "}");
}

char *
sb_metrics_json (const sb_metrics_t *self, size_t *len)
{
    s_buf_t b = {0};
    static const char *const sections[] = {NULL, "counters", "gauges", "histograms"};
    s_puts (&b, "{");
    for (int kind = S_COUNTER; kind <= S_HISTOGRAM; kind++) {
        char head[32];
        snprintf (head, sizeof head, "%s\"%s\":[", kind == S_COUNTER ? "" : ",", sections[kind]);
        s_puts (&b, head);
        int first = 1;
        for (size_t i = 0; i < S_SLOTS; i++) {
            const s_series_t *s = &self->slots[i];
            if (s->kind != (s_kind_t)kind) continue;
            s_puts (&b, first ? "{\"name\":\"" : ",{\"name\":\"");
            first = 0;
            s_put_escaped (&b, s->name);
            s_puts (&b, "\",\"labels\":");
            s_put_labels (&b, s->labels);
            char num[64];
            if (kind == S_COUNTER) {
                snprintf (num, sizeof num, ",\"value\":%llu}", (unsigned long long)s->count);
                s_puts (&b, num);
            } else if (kind == S_GAUGE) {
                snprintf (num, sizeof num, ",\"value\":%.17g}", s->value);
                s_puts (&b, num);
            } else {
                s_puts (&b, ",\"buckets\":[");
                for (int k = 0; k < SB_METRICS_BUCKETS; k++) {
                    snprintf (num, sizeof num, "%s%llu", k ? "," : "",
                              (unsigned long long)s->buckets[k]);
                    s_puts (&b, num);
                }
                snprintf (num, sizeof num, "],\"sum\":%.17g,\"count\":%llu}", s->value,
                          (unsigned long long)s->count);
                s_puts (&b, num);
            }
        }
        s_puts (&b, "]");
    }
    s_puts (&b, "}");
    if (b.failed) {
        free (b.data);
        return NULL;
    }
    if (len) *len = b.len;
    return b.data;
}

int
sb_metrics_publish (const sb_metrics_t *self, void *pub_socket, void *writer, const char *service,
                    const char *instance)
{
    size_t len = 0;
    char *json = sb_metrics_json (self, &len);
    if (!json) return -1;
    sb_msg_t msg = {.type = SB_MSG_METRICS};
    msg.metrics_report.service = sb_bytes_str (service);
    msg.metrics_report.instance = sb_bytes_str (instance);
    msg.metrics_report.ts_ms = sb_wall_ms ();
    msg.metrics_report.data = sb_bytes (json, len);
    int rc = sb_zmsg_send (pub_socket, writer, &msg);
    free (json);
    return rc;
}

void
sb_metrics_instance (char *out, size_t size, const char *service)
{
    char host[64] = "local";
    gethostname (host, sizeof host - 1);
    host[sizeof host - 1] = '\0';
    snprintf (out, size, "%s-%s-%d", service, host, (int)getpid ());
}
