/*  sb_channel_picker — per-model-group channel selection (see sb_channel_picker.h).
    A pick narrows the channels to a candidate bitmask (not excluded, breaker available,
    lowest tier), then the strategy chooses one bit. Channels live in a fixed array sized
    for the 64-bit mask, so pick and report never allocate.  */

#include "sb_channel_picker.h"

#include <assert.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

//  One channel. Invariants: 1 <= weight <= SB_PICKER_WEIGHT_MAX; breaker not NULL;
//  lat_est is meaningful only when lat_known.
typedef struct {
    char *name;            // owned copy, at most SB_PICKER_NAME_MAX bytes
    int weight;            // configured weight
    int priority;          // tier; lower serves first
    int64_t current;       // smooth WRR running weight (nginx's current_weight)
    sb_breaker_t *breaker; // owned
    double lat_est;        // least_latency estimate, ms
    bool lat_known;        // lat_est holds at least one sample
    uint64_t lat_at_ms;    // when the last sample arrived
    bool probed;           // least_latency sent a staleness probe at probe_at_ms
    uint64_t probe_at_ms;  // when that probe was sent
} s_channel_t;

//  Invariants: 0 <= size <= SB_PICKER_MAX_CHANNELS; channels[0..size) are initialised;
//  0 <= rr_next < max (size, 1); names are unique.
struct _sb_picker_t {
    sb_lb_strategy_t strategy;
    sb_picker_config_t config;
    uint64_t rng[4];            // xoshiro256** state, never all zero
    int size;                   // channels in use
    int rr_next;                // round_robin: index to try first
    uint32_t picks_since_probe; // least_latency: picks since the last staleness probe
    s_channel_t channels[SB_PICKER_MAX_CHANNELS];
};

//  --------------------------------------------------------------------------
//  PRNG: xoshiro256** seeded through splitmix64 (Blackman & Vigna). A private,
//  seedable generator so picks are reproducible and rand()'s global state is untouched.

static uint64_t
s_splitmix64 (uint64_t *x)
{
    uint64_t z = (*x += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

static uint64_t
s_rotl (uint64_t x, int k)
{
    return (x << k) | (x >> (64 - k));
}

static uint64_t
s_rng_next (sb_picker_t *self)
{
    uint64_t *s = self->rng;
    uint64_t result = s_rotl (s[1] * 5, 7) * 9;
    uint64_t t = s[1] << 17;
    s[2] ^= s[0];
    s[3] ^= s[1];
    s[1] ^= s[2];
    s[0] ^= s[3];
    s[2] ^= t;
    s[3] = s_rotl (s[3], 45);
    return result;
}

//  Uniform in [0, 1).
static double
s_rng_double (sb_picker_t *self)
{
    return (double)(s_rng_next (self) >> 11) * 0x1.0p-53;
}

//  Uniform in [0, n), n < 2^32. Multiply-shift on the top 32 bits: the bias is below
//  n / 2^32, far under anything the ±5% weight tolerance could see.
static uint32_t
s_rng_below (sb_picker_t *self, uint32_t n)
{
    assert (n > 0);
    return (uint32_t)(((s_rng_next (self) >> 32) * (uint64_t)n) >> 32);
}

//  --------------------------------------------------------------------------

int
sb_lb_strategy_from_name (const char *name, sb_lb_strategy_t *out)
{
    static const struct {
        const char *name;
        sb_lb_strategy_t strategy;
    } names[] = {
        {"round_robin", SB_LB_ROUND_ROBIN},
        {"roundrobin", SB_LB_ROUND_ROBIN},
        {"round-robin", SB_LB_ROUND_ROBIN},
        {"weighted", SB_LB_WEIGHTED},
        {"random", SB_LB_RANDOM},
        {"least_latency", SB_LB_LEAST_LATENCY},
        {"least-latency", SB_LB_LEAST_LATENCY},
        {"leastlatency", SB_LB_LEAST_LATENCY},
    };
    if (!name || !out) return -1;
    for (size_t i = 0; i < sizeof (names) / sizeof (names[0]); i++) {
        if (strcmp (name, names[i].name) == 0) {
            *out = names[i].strategy;
            return 0;
        }
    }
    return -1;
}

const char *
sb_lb_strategy_name (sb_lb_strategy_t strategy)
{
    switch (strategy) {
        case SB_LB_ROUND_ROBIN:
            return "round_robin";
        case SB_LB_WEIGHTED:
            return "weighted";
        case SB_LB_RANDOM:
            return "random";
        case SB_LB_LEAST_LATENCY:
            return "least_latency";
    }
    return "unknown";
}

void
sb_picker_config_default (sb_picker_config_t *config)
{
    assert (config);
    memset (config, 0, sizeof (*config));
    sb_breaker_config_default (&config->breaker);
    config->latency_alpha = 0.3;
    config->latency_half_life_ms = 10000;
    config->latency_probe_ms = 15000;
    config->latency_probe_min_picks = 20;
    config->explore_epsilon = 0.05;
}

int
sb_picker_config_check (const sb_picker_config_t *config, char *err, size_t err_size)
{
    assert (config);
    const char *reason = NULL;
    if (sb_breaker_config_check (&config->breaker, err, err_size) != 0) return -1;
    //  Comparisons are written so that NaN fails them.
    if (!(config->latency_alpha > 0.0 && config->latency_alpha <= 1.0))
        reason = "latency_alpha must be within (0, 1]";
    else if (config->latency_half_life_ms == 0)
        reason = "latency_half_life_ms must be > 0";
    else if (config->latency_probe_ms == 0)
        reason = "latency_probe_ms must be > 0";
    else if (config->latency_probe_min_picks < 1)
        reason = "latency_probe_min_picks must be >= 1";
    else if (!(config->explore_epsilon >= 0.0 && config->explore_epsilon <= 0.5))
        reason = "explore_epsilon must be within [0, 0.5]";
    if (!reason) return 0;
    if (err && err_size > 0) snprintf (err, err_size, "%s", reason);
    return -1;
}

sb_picker_t *
sb_picker_new (sb_lb_strategy_t strategy, uint64_t seed, const sb_picker_config_t *config)
{
    sb_picker_config_t defaults;
    if (!config) {
        sb_picker_config_default (&defaults);
        config = &defaults;
    }
    if (strategy != SB_LB_ROUND_ROBIN && strategy != SB_LB_WEIGHTED && strategy != SB_LB_RANDOM &&
        strategy != SB_LB_LEAST_LATENCY)
        return NULL;
    if (sb_picker_config_check (config, NULL, 0) != 0) return NULL;
    sb_picker_t *self = calloc (1, sizeof (*self));
    if (!self) return NULL;
    self->strategy = strategy;
    self->config = *config;
    //  splitmix64 outputs are never all four zero, which xoshiro requires.
    uint64_t x = seed;
    for (int i = 0; i < 4; i++)
        self->rng[i] = s_splitmix64 (&x);
    return self;
}

void
sb_picker_destroy (sb_picker_t **self_p)
{
    if (!self_p || !*self_p) return;
    sb_picker_t *self = *self_p;
    for (int i = 0; i < self->size; i++) {
        free (self->channels[i].name);
        sb_breaker_destroy (&self->channels[i].breaker);
    }
    free (self);
    *self_p = NULL;
}

int
sb_picker_add_channel (sb_picker_t *self, const char *name, int weight, int priority)
{
    assert (self);
    if (self->size >= SB_PICKER_MAX_CHANNELS || !name) return -1;
    size_t len = strnlen (name, SB_PICKER_NAME_MAX + 1);
    if (len == 0 || len > SB_PICKER_NAME_MAX) return -1;
    if (weight < 1 || weight > SB_PICKER_WEIGHT_MAX) return -1;
    if (sb_picker_find (self, name) >= 0) return -1;

    char *copy = malloc (len + 1);
    sb_breaker_t *breaker = sb_breaker_new (&self->config.breaker);
    if (!copy || !breaker) {
        free (copy);
        sb_breaker_destroy (&breaker);
        return -1;
    }
    memcpy (copy, name, len + 1);
    int idx = self->size;
    s_channel_t *ch = &self->channels[idx];
    memset (ch, 0, sizeof (*ch));
    ch->name = copy;
    ch->weight = weight;
    ch->priority = priority;
    ch->breaker = breaker;
    self->size++;
    return idx;
}

//  --------------------------------------------------------------------------
//  Strategies. Each gets a non-empty candidate mask (bits < size) and returns one
//  of its bits.

static int
s_pick_round_robin (sb_picker_t *self, uint64_t candidates)
{
    //  One cursor over all channels: restricted to any tier, the scan still visits that
    //  tier's candidates in cyclic order, so each takes its turn.
    for (int k = 0; k < self->size; k++) {
        int i = (self->rr_next + k) % self->size;
        if (candidates & ((uint64_t)1 << i)) {
            self->rr_next = (i + 1) % self->size;
            return i;
        }
    }
    assert (false);
    return -1;
}

//  nginx's ngx_http_upstream_get_peer: every candidate gains its weight, the largest
//  running weight wins (first one on ties) and gives back the total. Channels outside
//  the candidates keep their running weight, as nginx's tried/down peers do.
static int
s_pick_weighted (sb_picker_t *self, uint64_t candidates)
{
    int best = -1;
    int64_t total = 0;
    for (int i = 0; i < self->size; i++) {
        if (!(candidates & ((uint64_t)1 << i))) continue;
        s_channel_t *ch = &self->channels[i];
        ch->current += ch->weight;
        total += ch->weight;
        if (best < 0 || ch->current > self->channels[best].current) best = i;
    }
    assert (best >= 0);
    self->channels[best].current -= total;
    return best;
}

static int
s_pick_random (sb_picker_t *self, uint64_t candidates)
{
    uint32_t total = 0; // <= 64 * SB_PICKER_WEIGHT_MAX < 2^32
    for (int i = 0; i < self->size; i++)
        if (candidates & ((uint64_t)1 << i)) total += (uint32_t)self->channels[i].weight;
    uint32_t r = s_rng_below (self, total);
    int last = -1;
    for (int i = 0; i < self->size; i++) {
        if (!(candidates & ((uint64_t)1 << i))) continue;
        uint32_t w = (uint32_t)self->channels[i].weight;
        if (r < w) return i;
        r -= w;
        last = i;
    }
    assert (false);
    return last;
}

//  The k-th set bit (k from 0) of mask.
static int
s_nth_bit (uint64_t mask, uint32_t k)
{
    for (int i = 0; i < 64; i++) {
        if (mask & ((uint64_t)1 << i)) {
            if (k == 0) return i;
            k--;
        }
    }
    assert (false);
    return -1;
}

static int
s_popcount (uint64_t mask)
{
    int n = 0;
    for (; mask; mask &= mask - 1)
        n++;
    return n;
}

static bool
s_probe_due (const sb_picker_t *self, const s_channel_t *ch, uint64_t now_ms)
{
    uint64_t every = self->config.latency_probe_ms;
    //  Written so that a now_ms earlier than a stored time counts as age 0.
    bool stale = !ch->lat_known || (now_ms >= ch->lat_at_ms && now_ms - ch->lat_at_ms >= every);
    bool may_probe =
        !ch->probed || (now_ms >= ch->probe_at_ms && now_ms - ch->probe_at_ms >= every);
    //  First contact with a never-measured channel is not rationed; re-probes are, so
    //  that with many channels and little traffic probes do not crowd out the best one.
    bool first_contact = !ch->lat_known && !ch->probed;
    return stale && may_probe &&
           (first_contact || self->picks_since_probe >= self->config.latency_probe_min_picks);
}

//  Exploration has two parts. A channel with no estimate, or one older than
//  latency_probe_ms, is sent one probe request (then no more than one per
//  latency_probe_ms until a sample arrives, and picker-wide no more than one re-probe
//  per latency_probe_min_picks picks): this finds new and recovered channels even when
//  epsilon is 0. Otherwise epsilon-greedy: with probability epsilon a uniformly
//  chosen non-best candidate, so estimates of the others keep moving under load.
static int
s_pick_least_latency (sb_picker_t *self, uint64_t candidates, uint64_t now_ms)
{
    int probe = -1;
    int best = -1;
    for (int i = 0; i < self->size; i++) {
        if (!(candidates & ((uint64_t)1 << i))) continue;
        s_channel_t *ch = &self->channels[i];
        if (s_probe_due (self, ch, now_ms)) {
            //  Never-probed first, then the longest ago.
            if (probe < 0 || (self->channels[probe].probed &&
                              (!ch->probed || ch->probe_at_ms < self->channels[probe].probe_at_ms)))
                probe = i;
        }
        if (ch->lat_known && (best < 0 || ch->lat_est < self->channels[best].lat_est)) best = i;
    }
    if (self->picks_since_probe < UINT32_MAX) self->picks_since_probe++;
    if (probe >= 0) {
        self->picks_since_probe = 0;
        self->channels[probe].probed = true;
        self->channels[probe].probe_at_ms = now_ms;
        return probe;
    }
    int n = s_popcount (candidates);
    if (best < 0) // no estimates yet (the probes are still out): spread evenly
        return s_nth_bit (candidates, s_rng_below (self, (uint32_t)n));
    if (n > 1 && self->config.explore_epsilon > 0 &&
        s_rng_double (self) < self->config.explore_epsilon) {
        uint64_t others = candidates & ~((uint64_t)1 << best);
        return s_nth_bit (others, s_rng_below (self, (uint32_t)(n - 1)));
    }
    return best;
}

//  --------------------------------------------------------------------------

int
sb_picker_pick (sb_picker_t *self, uint64_t now_ms, uint64_t excluded_mask)
{
    assert (self);
    uint64_t candidates = 0;
    int tier = 0;
    for (int i = 0; i < self->size; i++) {
        uint64_t bit = (uint64_t)1 << i;
        s_channel_t *ch = &self->channels[i];
        if ((excluded_mask & bit) || !sb_breaker_available (ch->breaker, now_ms)) continue;
        if (!candidates || ch->priority < tier) {
            tier = ch->priority;
            candidates = bit;
        } else if (ch->priority == tier)
            candidates |= bit;
    }
    if (!candidates) return -1;

    int idx = -1;
    switch (self->strategy) {
        case SB_LB_ROUND_ROBIN:
            idx = s_pick_round_robin (self, candidates);
            break;
        case SB_LB_WEIGHTED:
            idx = s_pick_weighted (self, candidates);
            break;
        case SB_LB_RANDOM:
            idx = s_pick_random (self, candidates);
            break;
        case SB_LB_LEAST_LATENCY:
            idx = s_pick_least_latency (self, candidates, now_ms);
            break;
    }
    assert (idx >= 0 && idx < self->size);
    //  Cannot fail: the breaker said available at this same now_ms.
    int rc = sb_breaker_dispatch (self->channels[idx].breaker, now_ms);
    assert (rc == 0);
    (void)rc;
    return idx;
}

//  Time-aware EWMA: the new sample's weight is latency_alpha, or more when the estimate
//  is old (1 - 2^(-age / half_life)), so a stale estimate is mostly replaced by the
//  first fresh sample instead of being nudged by it.
static void
s_latency_update (sb_picker_t *self, s_channel_t *ch, uint64_t now_ms, bool ok, double sample)
{
    if (!(sample >= 0) || !isfinite (sample)) return;
    if (!ok) {
        if (!ch->lat_known)
            return; // a fast failure of an unmeasured channel says nothing about speed
        if (sample < 2.0 * ch->lat_est) sample = 2.0 * ch->lat_est;
    }
    if (!ch->lat_known) {
        ch->lat_est = sample;
        ch->lat_known = true;
    } else {
        double alpha = self->config.latency_alpha;
        if (now_ms > ch->lat_at_ms) {
            double age = (double)(now_ms - ch->lat_at_ms);
            double stale = 1.0 - exp2 (-age / (double)self->config.latency_half_life_ms);
            if (stale > alpha) alpha = stale;
        }
        ch->lat_est += alpha * (sample - ch->lat_est);
    }
    ch->lat_at_ms = now_ms;
    ch->probed = false; // the estimate is fresh again
}

void
sb_picker_report (sb_picker_t *self, int idx, uint64_t picked_ms, uint64_t now_ms, bool ok,
                  double latency_ms, double ttfb_ms)
{
    assert (self);
    assert (idx >= 0 && idx < self->size);
    s_channel_t *ch = &self->channels[idx];
    sb_breaker_report (ch->breaker, picked_ms, now_ms, ok, latency_ms);
    s_latency_update (self, ch, now_ms, ok, ttfb_ms >= 0 ? ttfb_ms : latency_ms);
}

void
sb_picker_cancel (sb_picker_t *self, int idx, uint64_t picked_ms)
{
    assert (self);
    assert (idx >= 0 && idx < self->size);
    sb_breaker_cancel (self->channels[idx].breaker, picked_ms);
}

int
sb_picker_size (const sb_picker_t *self)
{
    assert (self);
    return self->size;
}

int
sb_picker_find (const sb_picker_t *self, const char *name)
{
    assert (self);
    if (!name) return -1;
    for (int i = 0; i < self->size; i++)
        if (strcmp (self->channels[i].name, name) == 0) return i;
    return -1;
}

const char *
sb_picker_name (const sb_picker_t *self, int idx)
{
    assert (self);
    assert (idx >= 0 && idx < self->size);
    return self->channels[idx].name;
}

int
sb_picker_weight (const sb_picker_t *self, int idx)
{
    assert (self);
    assert (idx >= 0 && idx < self->size);
    return self->channels[idx].weight;
}

int
sb_picker_priority (const sb_picker_t *self, int idx)
{
    assert (self);
    assert (idx >= 0 && idx < self->size);
    return self->channels[idx].priority;
}

void
sb_picker_inherit (sb_picker_t *self, const sb_picker_t *old,
                   bool (*same) (const char *name, void *arg), void *arg)
{
    assert (self && old);
    for (int i = 0; i < self->size; i++) {
        s_channel_t *c = &self->channels[i];
        for (int j = 0; j < old->size; j++) {
            const s_channel_t *o = &old->channels[j];
            if (strcmp (c->name, o->name) != 0) continue;
            if (same && !same (c->name, arg)) break;
            sb_breaker_inherit (c->breaker, o->breaker);
            c->lat_est = o->lat_est;
            c->lat_known = o->lat_known;
            c->lat_at_ms = o->lat_at_ms;
            break;
        }
    }
}

const sb_breaker_t *
sb_picker_breaker (const sb_picker_t *self, int idx)
{
    assert (self);
    assert (idx >= 0 && idx < self->size);
    return self->channels[idx].breaker;
}

double
sb_picker_latency_ms (const sb_picker_t *self, int idx)
{
    assert (self);
    assert (idx >= 0 && idx < self->size);
    const s_channel_t *ch = &self->channels[idx];
    return ch->lat_known ? ch->lat_est : -1.0;
}

sb_lb_strategy_t
sb_picker_strategy (const sb_picker_t *self)
{
    assert (self);
    return self->strategy;
}
