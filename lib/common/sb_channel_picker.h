/*  sb_channel_picker — chooses the upstream channel for each request of one model group.
    Channels sit in priority tiers (the lowest number serves; the next tier only when every
    channel of a tier is unavailable); within a tier a strategy picks: round_robin, weighted
    (nginx's smooth weighted round-robin), random (weighted), least_latency (EWMA with
    exploration). Each channel has a passive circuit breaker (sb_breaker) fed by the
    outcomes the router reports. Pure logic, no I/O, no clock (time is passed in), no
    allocation in pick/report/cancel. Used from the router's event-loop thread only.  */

#ifndef SB_CHANNEL_PICKER_H_INCLUDED
#define SB_CHANNEL_PICKER_H_INCLUDED

#include "sb_breaker.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct _sb_picker_t sb_picker_t;

//  The per-request exclusion set is a uint64_t bitmask (bit i = channel index i), so a
//  group holds at most 64 channels; sb_picker_add_channel refuses the 65th.
#define SB_PICKER_MAX_CHANNELS 64
//  Longest channel name accepted, in bytes (without the NUL).
#define SB_PICKER_NAME_MAX 127
//  Weights are 1..SB_PICKER_WEIGHT_MAX, so sums over 64 channels never overflow.
#define SB_PICKER_WEIGHT_MAX 1000000

typedef enum {
    SB_LB_ROUND_ROBIN = 0, // each available channel of the tier in turn; weights ignored
    SB_LB_WEIGHTED,        // smooth weighted round-robin (nginx): spread out, not bursty
    SB_LB_RANDOM,          // weighted random, from the picker's own seeded PRNG
    SB_LB_LEAST_LATENCY,   // lowest latency estimate, with exploration; weights ignored
} sb_lb_strategy_t;

//  Accepts "round_robin" (alias "roundrobin", "round-robin"), "weighted", "random",
//  "least_latency" (alias "least-latency", "leastlatency"); exact, case-sensitive.
//  Returns 0 and sets *out, or -1 (leaving *out alone) for any other name or NULL.
int sb_lb_strategy_from_name (const char *name, sb_lb_strategy_t *out);
//  The canonical name (static string), or "unknown".
const char *sb_lb_strategy_name (sb_lb_strategy_t strategy);

typedef struct {
    sb_breaker_config_t breaker; // every channel's breaker (see sb_breaker.h)
    //  least_latency only. The estimate is an EWMA of time to first byte when the report
    //  has it (>= 0), else of total latency; report one or the other consistently.
    double latency_alpha;             // weight of a new sample (default 0.3; (0,1])
    uint64_t latency_half_life_ms;    // an estimate this old keeps half its weight against
                                      // the next sample, so a stale figure is quickly
                                      // replaced (default 10000; > 0)
    uint64_t latency_probe_ms;        // a channel with no sample for this long (or never)
                                      // gets one request as a probe, again at most every
                                      // latency_probe_ms until a sample arrives (default 15000)
    uint32_t latency_probe_min_picks; // re-probes (not a never-measured channel's first)
                                      // are at most one per this many picks, so they take
                                      // at most 1/N of the traffic (default 20; >= 1)
    double explore_epsilon;           // share of picks sent to a random non-best channel
                                      // (default 0.05; [0, 0.5])
} sb_picker_config_t;

//  Fills `config` with the defaults listed above (breaker: sb_breaker_config_default).
void sb_picker_config_default (sb_picker_config_t *config);
//  Returns 0 when `config` is usable, else -1 with a reason in err (if err_size > 0).
int sb_picker_config_check (const sb_picker_config_t *config, char *err, size_t err_size);

//  An empty picker. `seed` seeds its private PRNG (random, least_latency exploration):
//  the same seed and the same calls give the same picks. `config` is copied; NULL means
//  the defaults. Returns NULL for an unknown strategy, a config failing
//  sb_picker_config_check, or out of memory. Caller owns the result.
sb_picker_t *sb_picker_new (sb_lb_strategy_t strategy, uint64_t seed,
                            const sb_picker_config_t *config);
void sb_picker_destroy (sb_picker_t **self_p);

//  Adds a channel; `name` is copied. weight: 1..SB_PICKER_WEIGHT_MAX; priority: any int,
//  lower serves first. Returns the channel's index (0, 1, ... in order of adding), or -1
//  when the picker already holds SB_PICKER_MAX_CHANNELS, the name is NULL, empty, longer
//  than SB_PICKER_NAME_MAX or already present, the weight is out of range, or memory runs
//  out; the picker is then unchanged.
int sb_picker_add_channel (sb_picker_t *self, const char *name, int weight, int priority);

//  Picks a channel for a request at now_ms, skipping channels whose bit is set in
//  excluded_mask (those that already failed for this request) and channels whose
//  breaker is unavailable. Only the lowest priority tier with an available channel is
//  considered. Returns the index, or -1 when no channel is available. A picked channel
//  whose breaker was open with its cooldown over becomes the half-open probe: it is
//  skipped by further picks until its outcome is reported or cancelled (or the probe
//  times out). Keep now_ms: sb_picker_report and sb_picker_cancel want it back.
int sb_picker_pick (sb_picker_t *self, uint64_t now_ms, uint64_t excluded_mask);

//  Reports the outcome of a request sent to channel `idx`, picked at `picked_ms`
//  (the now_ms given to sb_picker_pick), ending at now_ms. latency_ms: pick to end;
//  ttfb_ms: pick to first byte; either < 0 when unknown. Feeds the channel's breaker
//  and its latency estimate (a failure counts as at least twice the current estimate,
//  so a channel that fails fast does not look fast). idx must be a valid index.
void sb_picker_report (sb_picker_t *self, int idx, uint64_t picked_ms, uint64_t now_ms, bool ok,
                       double latency_ms, double ttfb_ms);

//  The request picked at `picked_ms` for channel `idx` ended without telling anything
//  about the channel (client went away, request rejected locally). Frees the half-open
//  probe slot if it was the probe. idx must be a valid index.
void sb_picker_cancel (sb_picker_t *self, int idx, uint64_t picked_ms);

//  Number of channels.
int sb_picker_size (const sb_picker_t *self);
//  The index of the channel named `name`, or -1.
int sb_picker_find (const sb_picker_t *self, const char *name);
//  Accessors for metrics; idx must be a valid index. Results are borrowed and live as
//  long as the picker.
const char *sb_picker_name (const sb_picker_t *self, int idx);
int sb_picker_weight (const sb_picker_t *self, int idx);
int sb_picker_priority (const sb_picker_t *self, int idx);
const sb_breaker_t *sb_picker_breaker (const sb_picker_t *self, int idx);
//  A new config's picker takes over what the old one learnt about the channels it
//  keeps (matched by name; `same` may say a namesake is really another endpoint):
//  breakers and latency estimates. Weights, tiers and strategy are the new config's.
void sb_picker_inherit (sb_picker_t *self, const sb_picker_t *old,
                        bool (*same) (const char *name, void *arg), void *arg);
//  The least_latency estimate in ms (kept under every strategy), or -1 when unknown.
double sb_picker_latency_ms (const sb_picker_t *self, int idx);
sb_lb_strategy_t sb_picker_strategy (const sb_picker_t *self);

#endif
