/*  sb_breaker — passive circuit breaker for one upstream channel (see sb_breaker.h).
    The state machine lives in one transition function, s_step; the public calls only
    translate into events. No allocation after sb_breaker_new.  */

#include "sb_breaker.h"

#include <assert.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef enum {
    EV_DISPATCH, // a request is being sent
    EV_SUCCESS,  // a fresh request succeeded
    EV_FAILURE,  // a fresh request failed
    EV_CANCEL,   // a request ended without an outcome
} s_event_t;

//  Invariants: state_since_ms is when the current state began — for HALF_OPEN, when the
//  latest probe was sent — and a report counts only for requests sent at or after it.
//  window_failures == popcount of the window_count newest bits of window_bits.
//  cooldown_ms is within [config.cooldown_ms, config.cooldown_max_ms].
struct _sb_breaker_t {
    sb_breaker_config_t config;
    sb_breaker_state_t state;
    uint64_t state_since_ms;
    uint64_t open_until_ms; // end of the open period (OPEN)
    uint64_t cooldown_ms;   // length of the next/current open period
    bool probe_in_flight;   // HALF_OPEN: a probe was sent, no outcome yet
    int consecutive;        // consecutive fresh failures (CLOSED)
    uint64_t window_bits;   // bit i = 1: outcome at ring slot i was a failure
    int window_count;       // outcomes in the ring, <= window_size
    int window_pos;         // ring slot the next outcome goes to
    int window_failures;    // failures among the window_count outcomes
    double latency_ewma;    // successful requests' latency, ms
    bool has_latency;       // latency_ewma holds at least one sample
    uint64_t open_count;    // times opened
};

void
sb_breaker_config_default (sb_breaker_config_t *config)
{
    assert (config);
    memset (config, 0, sizeof (*config));
    config->failure_threshold = 5;
    config->window_size = 20;
    config->window_min_requests = 10;
    config->error_ratio = 0.5;
    config->cooldown_ms = 10000;
    config->cooldown_max_ms = 60000;
    config->cooldown_multiplier = 2.0;
    config->probe_timeout_ms = 30000;
    config->latency_alpha = 0.2;
}

static int
s_fail (char *err, size_t err_size, const char *reason)
{
    if (err && err_size > 0) snprintf (err, err_size, "%s", reason);
    return -1;
}

int
sb_breaker_config_check (const sb_breaker_config_t *config, char *err, size_t err_size)
{
    assert (config);
    if (config->failure_threshold < 0)
        return s_fail (err, err_size, "failure_threshold must be >= 0");
    if (config->window_size < 0 || config->window_size > SB_BREAKER_WINDOW_MAX)
        return s_fail (err, err_size, "window_size must be within 0..64");
    if (config->window_size > 0) {
        if (config->window_min_requests < 1 || config->window_min_requests > config->window_size)
            return s_fail (err, err_size, "window_min_requests must be within 1..window_size");
        //  Written so that NaN fails too.
        if (!(config->error_ratio > 0.0 && config->error_ratio <= 1.0))
            return s_fail (err, err_size, "error_ratio must be within (0, 1]");
    }
    if (config->failure_threshold == 0 && config->window_size == 0)
        return s_fail (err, err_size, "failure_threshold and window_size are both off");
    if (config->cooldown_ms == 0) return s_fail (err, err_size, "cooldown_ms must be > 0");
    if (config->cooldown_max_ms < config->cooldown_ms)
        return s_fail (err, err_size, "cooldown_max_ms must be >= cooldown_ms");
    if (!(config->cooldown_multiplier >= 1.0 && isfinite (config->cooldown_multiplier)))
        return s_fail (err, err_size, "cooldown_multiplier must be >= 1");
    if (config->probe_timeout_ms == 0)
        return s_fail (err, err_size, "probe_timeout_ms must be > 0");
    if (!(config->latency_alpha > 0.0 && config->latency_alpha <= 1.0))
        return s_fail (err, err_size, "latency_alpha must be within (0, 1]");
    return 0;
}

sb_breaker_t *
sb_breaker_new (const sb_breaker_config_t *config)
{
    sb_breaker_config_t defaults;
    if (!config) {
        sb_breaker_config_default (&defaults);
        config = &defaults;
    }
    if (sb_breaker_config_check (config, NULL, 0) != 0) return NULL;
    sb_breaker_t *self = calloc (1, sizeof (*self));
    if (!self) return NULL;
    self->config = *config;
    self->state = SB_BREAKER_CLOSED;
    self->cooldown_ms = config->cooldown_ms;
    return self;
}

void
sb_breaker_destroy (sb_breaker_t **self_p)
{
    if (!self_p || !*self_p) return;
    free (*self_p);
    *self_p = NULL;
}

static uint64_t
s_add_sat (uint64_t a, uint64_t b)
{
    return a > UINT64_MAX - b ? UINT64_MAX : a + b;
}

static void
s_window_reset (sb_breaker_t *self)
{
    self->window_bits = 0;
    self->window_count = 0;
    self->window_pos = 0;
    self->window_failures = 0;
}

static void
s_window_push (sb_breaker_t *self, bool failed)
{
    int size = self->config.window_size;
    if (size == 0) return;
    uint64_t bit = (uint64_t)1 << self->window_pos;
    if (self->window_count == size) {
        if (self->window_bits & bit)
            self->window_failures--; // the oldest outcome leaves the window
    } else
        self->window_count++;
    if (failed) {
        self->window_bits |= bit;
        self->window_failures++;
    } else
        self->window_bits &= ~bit;
    self->window_pos = (self->window_pos + 1) % size;
}

static bool
s_should_trip (const sb_breaker_t *self)
{
    const sb_breaker_config_t *c = &self->config;
    if (c->failure_threshold > 0 && self->consecutive >= c->failure_threshold) return true;
    if (c->window_size > 0 && self->window_count >= c->window_min_requests &&
        (double)self->window_failures >= c->error_ratio * (double)self->window_count)
        return true;
    return false;
}

static void
s_enter_open (sb_breaker_t *self, uint64_t now_ms)
{
    self->state = SB_BREAKER_OPEN;
    self->state_since_ms = now_ms;
    self->open_until_ms = s_add_sat (now_ms, self->cooldown_ms);
    self->probe_in_flight = false;
    self->open_count++;
}

static void
s_enter_closed (sb_breaker_t *self, uint64_t now_ms)
{
    self->state = SB_BREAKER_CLOSED;
    self->state_since_ms = now_ms;
    self->probe_in_flight = false;
    self->consecutive = 0;
    self->cooldown_ms = self->config.cooldown_ms;
    //  A fresh start: the failures that opened the breaker are history now.
    s_window_reset (self);
}

static bool
s_probe_slot_free (const sb_breaker_t *self, uint64_t now_ms)
{
    return !self->probe_in_flight ||
           now_ms >= s_add_sat (self->state_since_ms, self->config.probe_timeout_ms);
}

//  The one transition function. `at_ms` is the dispatch time of the request the event
//  is about (EV_DISPATCH: now). Returns 0, or -1 when a dispatch is refused.
static int
s_step (sb_breaker_t *self, s_event_t event, uint64_t at_ms, uint64_t now_ms)
{
    switch (self->state) {
        case SB_BREAKER_CLOSED:
            if (event == EV_DISPATCH) return 0;
            if (at_ms < self->state_since_ms)
                return 0; // sent before the breaker last closed: stale
            if (event == EV_SUCCESS) {
                self->consecutive = 0;
                s_window_push (self, false);
            } else if (event == EV_FAILURE) {
                self->consecutive++;
                s_window_push (self, true);
                if (s_should_trip (self)) s_enter_open (self, now_ms);
            }
            return 0;

        case SB_BREAKER_OPEN:
            if (event == EV_DISPATCH) {
                if (now_ms < self->open_until_ms) return -1;
                self->state = SB_BREAKER_HALF_OPEN;
                self->state_since_ms = now_ms;
                self->probe_in_flight = true;
                return 0;
            }
            //  Every outcome here belongs to a request sent before the breaker opened.
            return 0;

        case SB_BREAKER_HALF_OPEN:
            if (event == EV_DISPATCH) {
                if (!s_probe_slot_free (self, now_ms)) return -1;
                //  A new probe; the lost one's outcome, if it ever comes, is stale.
                self->state_since_ms = now_ms;
                self->probe_in_flight = true;
                return 0;
            }
            if (!self->probe_in_flight || at_ms < self->state_since_ms)
                return 0; // not the current probe
            if (event == EV_SUCCESS)
                s_enter_closed (self, now_ms);
            else if (event == EV_FAILURE) {
                double grown = (double)self->cooldown_ms * self->config.cooldown_multiplier;
                self->cooldown_ms = grown >= (double)self->config.cooldown_max_ms
                                        ? self->config.cooldown_max_ms
                                        : (uint64_t)grown;
                s_enter_open (self, now_ms);
            } else if (event == EV_CANCEL)
                self->probe_in_flight = false;
            return 0;
    }
    assert (false);
    return -1;
}

bool
sb_breaker_available (const sb_breaker_t *self, uint64_t now_ms)
{
    assert (self);
    switch (self->state) {
        case SB_BREAKER_CLOSED:
            return true;
        case SB_BREAKER_OPEN:
            return now_ms >= self->open_until_ms;
        case SB_BREAKER_HALF_OPEN:
            return s_probe_slot_free (self, now_ms);
    }
    return false;
}

void
sb_breaker_inherit (sb_breaker_t *self, const sb_breaker_t *old)
{
    assert (self && old);
    sb_breaker_config_t config = self->config;
    *self = *old;
    self->config = config;
    if (self->cooldown_ms < config.cooldown_ms) self->cooldown_ms = config.cooldown_ms;
    if (self->cooldown_ms > config.cooldown_max_ms) self->cooldown_ms = config.cooldown_max_ms;
    if (old->config.window_size != config.window_size) {
        self->window_bits = 0;
        self->window_count = self->window_pos = self->window_failures = 0;
    }
}

uint64_t
sb_breaker_wait_ms (const sb_breaker_t *self, uint64_t now_ms)
{
    assert (self);
    if (sb_breaker_available (self, now_ms)) return 0;
    if (self->state == SB_BREAKER_OPEN) return self->open_until_ms - now_ms;
    return 1000;
}

int
sb_breaker_dispatch (sb_breaker_t *self, uint64_t now_ms)
{
    assert (self);
    return s_step (self, EV_DISPATCH, now_ms, now_ms);
}

void
sb_breaker_report (sb_breaker_t *self, uint64_t dispatched_ms, uint64_t now_ms, bool ok,
                   double latency_ms)
{
    assert (self);
    if (ok && latency_ms >= 0 && isfinite (latency_ms)) {
        if (self->has_latency)
            self->latency_ewma += self->config.latency_alpha * (latency_ms - self->latency_ewma);
        else
            self->latency_ewma = latency_ms;
        self->has_latency = true;
    }
    s_step (self, ok ? EV_SUCCESS : EV_FAILURE, dispatched_ms, now_ms);
}

void
sb_breaker_cancel (sb_breaker_t *self, uint64_t dispatched_ms)
{
    assert (self);
    s_step (self, EV_CANCEL, dispatched_ms, dispatched_ms);
}

sb_breaker_state_t
sb_breaker_state (const sb_breaker_t *self)
{
    assert (self);
    return self->state;
}

const char *
sb_breaker_state_name (sb_breaker_state_t state)
{
    switch (state) {
        case SB_BREAKER_CLOSED:
            return "closed";
        case SB_BREAKER_OPEN:
            return "open";
        case SB_BREAKER_HALF_OPEN:
            return "half_open";
    }
    return "unknown";
}

int
sb_breaker_consecutive_failures (const sb_breaker_t *self)
{
    assert (self);
    return self->consecutive;
}

double
sb_breaker_error_rate (const sb_breaker_t *self)
{
    assert (self);
    if (self->window_count == 0) return 0.0;
    return (double)self->window_failures / (double)self->window_count;
}

int
sb_breaker_window_count (const sb_breaker_t *self)
{
    assert (self);
    return self->window_count;
}

double
sb_breaker_latency_ewma (const sb_breaker_t *self)
{
    assert (self);
    return self->has_latency ? self->latency_ewma : -1.0;
}

uint64_t
sb_breaker_cooldown_ms (const sb_breaker_t *self)
{
    assert (self);
    return self->cooldown_ms;
}

uint64_t
sb_breaker_open_until_ms (const sb_breaker_t *self)
{
    assert (self);
    return self->open_until_ms;
}

uint64_t
sb_breaker_open_count (const sb_breaker_t *self)
{
    assert (self);
    return self->open_count;
}
