/*  sb_metrics — a service's live metrics: counters, gauges and latency histograms,
    each a named series with a label set, kept in memory on the service's loop
    thread and published once a second (as JSON inside a METRICS message) to
    admin, which aggregates instances and serves Prometheus text and the dashboard.
    Series are bounded (SB_METRICS_MAX_SERIES); past that, new label sets are
    counted under the label set "overflow" instead of growing memory.  */

#ifndef SB_METRICS_H_INCLUDED
#define SB_METRICS_H_INCLUDED

#include <stddef.h>
#include <stdint.h>

#define SB_METRICS_MAX_SERIES 2048
#define SB_METRICS_BUCKETS    15

typedef struct _sb_metrics_t sb_metrics_t;

//  The histogram bucket upper bounds, in milliseconds (the last is +Inf).
extern const double sb_metrics_bounds_ms[SB_METRICS_BUCKETS];

sb_metrics_t *sb_metrics_new (void);
void sb_metrics_destroy (sb_metrics_t **self_p);

//  `labels` is a canonical label string such as "status=200,model=gpt-4o" (or ""):
//  the caller keeps the order stable; values may not contain ',' or '='.
void sb_metrics_add (sb_metrics_t *self, const char *name, const char *labels, uint64_t n);
void sb_metrics_set (sb_metrics_t *self, const char *name, const char *labels, double value);
void sb_metrics_observe (sb_metrics_t *self, const char *name, const char *labels, double ms);

//  Reads a counter (0 when absent), for tests and for services' own use.
uint64_t sb_metrics_counter (const sb_metrics_t *self, const char *name, const char *labels);

//  The whole state as JSON: {"counters":[{"name","labels":{..},"value"}],
//  "gauges":[...], "histograms":[{"name","labels","buckets":[..],"sum","count"}]}.
//  Caller frees. NULL when memory runs out.
char *sb_metrics_json (const sb_metrics_t *self, size_t *len);

//  Publishes the whole state as one METRICS message (service, instance, JSON) on a
//  ZeroMQ PUB socket, without blocking: a missing or slow admin just misses a second.
//  `writer` is the caller's message encoder (sb_msg_writer_t). Returns 0, or -1 when
//  nothing went out.
int sb_metrics_publish (const sb_metrics_t *self, void *pub_socket, void *writer,
                        const char *service, const char *instance);

//  Writes "<service>-<host>-<pid>" into out: an id unique across hosts and containers
//  (replicas in containers all run as pid 1).
void sb_metrics_instance (char *out, size_t size, const char *service);

//  Copies a value into a label-safe form (',' '=' '"' '\\' and controls become '_').
void sb_metrics_label_value (char *out, size_t size, const char *value);

#endif
